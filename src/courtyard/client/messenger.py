"""``Messenger``: end-to-end encrypted conversations for one device, on top of ``Client``.

One per device and profile directory. It keeps the device's crypto store (pickles encrypted
under the passphrase) and its local decrypted history (see ``history`` for how that file is
protected) in the profile directory, both named after the device id.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import mimetypes
import os
import re
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any, Literal

from courtyard.client import conversations as api
from courtyard.client.attachments import decrypt_attachment, encrypt_attachment
from courtyard.client.client import Client, SyncMode
from courtyard.client.conversations import Conversation
from courtyard.client.crypto import CryptoStore, DeviceCrypto, KdfParams
from courtyard.client.errors import ClientError
from courtyard.client.history import History, Message
from courtyard.client.inbox import Inbox
from courtyard.client.keysharing import (
    ShareReport,
    member_devices,
    new_txn_id,
    share_room_key,
    with_retries,
)
from courtyard.client.membership import Admissions, admission, check_admissions, signers
from courtyard.client.verification import fingerprint, same_fingerprint
from courtyard.core.ids import new_id

LOW_ONE_TIME_KEYS = 10
_USER_ID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
DeviceState = Literal["verified", "unverified", "new", "refused"]


class FingerprintMismatch(ClientError):
    """The fingerprint given is not the device's: do not trust that device."""


class MessengerError(ClientError):
    """A messenger call cannot be done (unknown message, not yours, no attachment)."""


@dataclass(frozen=True)
class Sent:
    """A sent message and whom its key reached (``report`` lists unverified devices)."""

    event_id: str
    seq: int
    report: ShareReport


@dataclass(frozen=True)
class DeviceSecurity:
    """One member device of a conversation and how far it is trusted."""

    user_id: str
    device_id: str
    state: DeviceState
    ed25519: str | None
    reason: str | None = None


class Messenger:
    """Open with ``await Messenger.open(client, profile_dir, passphrase)``."""

    def __init__(self, client: Client, crypto: DeviceCrypto, history: History) -> None:
        self.client = client
        self.crypto = crypto
        self.history = history
        self.user_id = crypto.user_id
        self.device_id = crypto.device_id
        self.inbox = Inbox(client, crypto, history, self.replenish_keys)

    @classmethod
    async def open(
        cls,
        client: Client,
        profile_dir: str | os.PathLike[str],
        passphrase: str,
        *,
        kdf: KdfParams | None = None,
    ) -> Messenger:
        """Open this device's stores (creating and publishing its keys the first time)."""
        account = await client.whoami()

        def open_stores() -> tuple[DeviceCrypto, History]:
            directory = Path(profile_dir).expanduser()
            directory.mkdir(mode=0o700, parents=True, exist_ok=True)
            path = directory / f"crypto-{account.device_id}.db"
            if path.exists():
                store = CryptoStore.open(path, passphrase)
                crypto = DeviceCrypto(store, account.user_id, account.device_id).open()
            else:
                store = CryptoStore.create(path, passphrase, kdf=kdf)
                path.chmod(0o600)
                crypto = DeviceCrypto(store, account.user_id, account.device_id).create()
            return crypto, History.open(directory, f"history-{account.device_id}.db")

        crypto, history = await asyncio.to_thread(open_stores)
        messenger = cls(client, crypto, history)
        try:
            await messenger.publish_keys()
        except BaseException:
            await messenger.close()
            raise
        return messenger

    async def close(self) -> None:
        self.history.close()
        await asyncio.to_thread(self.crypto.store.close)

    async def __aenter__(self) -> Messenger:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:  # fmt: skip
        await self.close()

    # Keys --------------------------------------------------------------------------------

    async def publish_keys(self) -> None:
        """Upload the signed device keys once, then top up one-time and fallback keys."""
        store = self.crypto.store
        if await asyncio.to_thread(store.get_meta, "device_keys_published") is None:
            device_keys = await asyncio.to_thread(self.crypto.device_keys_payload)
            await self.client.upload_keys(device_keys=device_keys)

            def remember() -> None:
                with store.transaction():
                    store.set_meta("device_keys_published", "1")

            await asyncio.to_thread(remember)
        await self.replenish_keys()

    async def replenish_keys(self) -> None:
        """Upload one-time keys when the server holds few, and a fallback key if it has none."""
        counts = await self.client.key_counts()
        wanted = 0
        if counts.one_time_key_count < LOW_ONE_TIME_KEYS:
            wanted = self.crypto.needs_one_time_keys(counts.one_time_key_count)
        if not wanted and counts.fallback_key:
            return

        def generate() -> tuple[list[dict[str, Any]], dict[str, Any] | None]:
            otks = self.crypto.generate_one_time_keys(wanted) if wanted else []
            fallback = None if counts.fallback_key else self.crypto.fallback_key_payload()
            return otks, fallback

        otks, fallback = await asyncio.to_thread(generate)
        await self.client.upload_keys(one_time_keys=otks, fallback_key=fallback)
        await asyncio.to_thread(self.crypto.mark_published)

    # Conversations -----------------------------------------------------------------------

    async def create_conversation(
        self, members: list[str], name: str | None = None
    ) -> Conversation:
        """A 1:1 with one user (and no name), else a group whose members are invited.

        Members are user ids or usernames (looked up on the server).
        """
        kind: Literal["direct", "group"] = "direct" if len(members) == 1 and not name else "group"
        user_ids = [await self.resolve_user(member) for member in members]
        if kind == "direct":
            return await api.create_conversation(self.client, kind, user_ids, name)
        # A group's founding members are admitted under this device's signature.
        conversation_id = new_id()
        signed = await asyncio.to_thread(
            admission, self.crypto, conversation_id, "create", [self.user_id, *user_ids]
        )
        return await api.create_conversation(
            self.client, kind, user_ids, name, conversation_id=conversation_id, admission=signed
        )

    async def resolve_user(self, who: str) -> str:
        """A user id for ``who``: an id as it is, a username through the server's lookup."""
        if _USER_ID.fullmatch(who):
            return who
        return (await self.client.lookup_user(who)).user_id

    async def conversations(self) -> list[Conversation]:
        return await api.list_conversations(self.client)

    async def join(self, conversation_id: str) -> None:
        await api.join(self.client, conversation_id)

    async def invite(self, conversation_id: str, user_ids: list[str]) -> None:
        """Invite users (ids or usernames), signing their admission with this device."""
        resolved = [await self.resolve_user(u) for u in user_ids]
        signed = await asyncio.to_thread(
            admission, self.crypto, conversation_id, "invite", resolved
        )
        await api.invite(self.client, conversation_id, resolved, signed)

    async def remove_member(self, conversation_id: str, user_id: str) -> None:
        await api.remove_member(self.client, conversation_id, user_id)

    async def leave(self, conversation_id: str) -> None:
        await api.leave(self.client, conversation_id)

    def fingerprint(self) -> str:
        """This device's fingerprint, for others to verify it."""
        return fingerprint(self.crypto.identity_keys()["ed25519"])

    async def verify_device(self, user_id: str, device_id: str, typed: str) -> None:
        """Mark a device verified if ``typed`` is its fingerprint (as its owner reads it out)."""
        peer = await asyncio.to_thread(self.crypto.get_peer_device, user_id, device_id)
        if peer is None:
            raise MessengerError(f"device {device_id} is not known here yet")
        if not same_fingerprint(peer.ed25519, typed):
            raise FingerprintMismatch(
                "That is not this device's fingerprint. Do not trust it until you find out why."
            )
        await asyncio.to_thread(self.crypto.mark_verified, user_id, device_id)

    async def conversation_security(self, conversation_id: str) -> list[DeviceSecurity]:
        """Every member device with its state: verified, unverified, new (first seen now) or
        refused (it failed a check, such as a bad signature or a changed identity key)."""
        conversation = await api.get_conversation(self.client, conversation_id)
        admitted = await self._admissions(conversation)
        joined = [u for u in conversation.joined if u in admitted.admitted]
        devices, new, refused = await member_devices(self.client, self.crypto, joined)
        fresh = {(d.user_id, d.device_id) for d in new}
        out: list[DeviceSecurity] = []
        for d in devices:
            state: DeviceState = "verified" if d.verified else "unverified"
            if (d.user_id, d.device_id) in fresh and not d.verified:
                state = "new"
            out.append(DeviceSecurity(d.user_id, d.device_id, state, d.ed25519))
        for r in refused:
            out.append(
                DeviceSecurity(str(r.user_id), str(r.device_id), "refused", None, str(r.error))
            )
        for user_id, reason in sorted(admitted.refused.items()):
            if user_id in conversation.joined:
                out.append(DeviceSecurity(user_id, "-", "refused", None, f"member: {reason}"))
        return out

    async def _admissions(self, conversation: Conversation) -> Admissions:
        """Check the members' signed admissions, learning the signers' device keys first."""
        if conversation.kind == "group":
            needed = sorted(signers(conversation) - {self.user_id})
            if needed:
                await member_devices(self.client, self.crypto, needed)
        return await asyncio.to_thread(check_admissions, self.crypto, conversation)

    # Sending -----------------------------------------------------------------------------

    async def send_text(self, conversation_id: str, text: str, reply_to: str | None = None) -> Sent:
        content: dict[str, Any] = {"type": "m.text", "body": text}
        if reply_to is not None:
            content["reply_to"] = reply_to
        return await self._send(conversation_id, content)

    async def send_file(self, conversation_id: str, path: str | os.PathLike[str]) -> Sent:
        """Encrypt the file on this device, upload the ciphertext, and send its key inside
        the encrypted message (``m.image`` for images, ``m.voice`` for audio, else ``m.file``)."""
        source = Path(path)
        data = await asyncio.to_thread(source.read_bytes)
        mime = mimetypes.guess_type(source.name)[0] or "application/octet-stream"
        ciphertext, info = await asyncio.to_thread(
            lambda: encrypt_attachment(data, name=source.name, mime=mime)
        )
        uploaded = await self.client.upload_media(ciphertext)
        info["media_id"] = uploaded.media_id
        kind = "m.image" if mime.startswith("image/") else "m.file"
        kind = "m.voice" if mime.startswith("audio/") else kind
        return await self._send(
            conversation_id, {"type": kind, "body": source.name, "attachment": info}
        )

    async def edit(self, message_id: str, text: str) -> Sent:
        message = self._own(message_id)
        content = {"type": "m.edit", "target": message_id, "body": text}
        return await self._send(message.conversation_id, content)

    async def react(self, message_id: str, emoji: str) -> Sent:
        message = self._message(message_id)
        content = {"type": "m.reaction", "target": message_id, "key": emoji}
        return await self._send(message.conversation_id, content)

    async def recall(self, message_id: str) -> None:
        """Recall your own message (within 2 minutes); the server deletes its ciphertext."""
        message = self._own(message_id)
        await api.recall(self.client, message.conversation_id, message.seq)
        self.history.recall(message_id, self.user_id)

    async def mark_read(self, conversation_id: str, seq: int | None = None) -> None:
        """Mark read up to ``seq`` (default: the newest message held here)."""
        if seq is None:
            latest = self.history.messages(conversation_id, limit=1)
            if not latest:
                return
            seq = latest[-1].seq
        await api.mark_read(self.client, conversation_id, seq)

    async def _send(self, conversation_id: str, content: dict[str, Any]) -> Sent:
        conversation = await api.get_conversation(self.client, conversation_id)
        admitted = await self._admissions(conversation)
        # Only members whose admission verifies get the key: never one the server added.
        joined = [u for u in conversation.joined if u in admitted.admitted]
        report = await share_room_key(
            self.client, self.crypto, self.history, conversation_id, joined
        )
        envelope = await asyncio.to_thread(self.crypto.encrypt_message, conversation_id, content)
        txn_id = new_txn_id()
        sent = await with_retries(
            lambda: api.send_message(self.client, conversation_id, txn_id, envelope)
        )
        event = {
            "event_id": sent.event_id, "conversation_id": conversation_id, "seq": sent.seq,
            "sender_user_id": self.user_id, "sender_device_id": self.device_id,
            "created_at": dt.datetime.now(dt.UTC).isoformat(),
        }  # fmt: skip
        self.inbox.apply(event, content)
        return Sent(sent.event_id, sent.seq, report)

    # Reading -----------------------------------------------------------------------------

    def messages(self, conversation_id: str, limit: int = 50) -> list[Message]:
        """The newest decrypted messages held on this device, oldest first."""
        return self.history.messages(conversation_id, limit)

    def message(self, message_id: str) -> Message | None:
        return self.history.get(message_id)

    def search(self, text: str, conversation_id: str | None = None) -> list[Message]:
        return self.history.search(text, conversation_id)

    async def download_file(self, message: Message | str) -> bytes:
        """The decrypted bytes of a file, image or voice message (hash checked first)."""
        if isinstance(message, str):
            message = self._message(message)
        info = message.attachment
        if info is None or not isinstance(info.get("media_id"), str):
            raise MessengerError(f"message {message.event_id} carries no attachment")
        ciphertext = await self.client.download_media(info["media_id"])
        return await asyncio.to_thread(decrypt_attachment, ciphertext, info)

    # Sync --------------------------------------------------------------------------------

    async def process(self, events: list[Any]) -> list[Message]:
        """Apply sync events; the messages that became readable."""
        ids = await self.inbox.process(events)
        return [m for m in (self.history.get(i) for i in dict.fromkeys(ids)) if m is not None]

    async def sync(self) -> list[Message]:
        """Fetch and apply everything new (no waiting), acknowledging it; new messages."""
        shown: list[Message] = []
        position: int | None = None
        while True:
            batch, position = await self.client.sync_once(position)
            if not batch:
                return shown  # this last request acknowledged everything applied
            shown += await self.process(batch)

    async def sync_forever(self, mode: SyncMode = "auto") -> None:
        """Apply events as they arrive until cancelled."""
        async for event in self.client.events(mode=mode):
            await self.process([event])

    def _message(self, message_id: str) -> Message:
        message = self.history.get(message_id)
        if message is None:
            raise MessengerError(f"no message {message_id} on this device")
        return message

    def _own(self, message_id: str) -> Message:
        message = self._message(message_id)
        if message.sender_user_id != self.user_id:
            raise MessengerError("only the sender can edit or recall a message")
        return message
