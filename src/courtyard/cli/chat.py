"""``courtyard chat``: end-to-end encrypted conversations from the command line.

Every command opens the profile's device crypto store, so it needs the passphrase: from
``COURTYARD_PASSPHRASE`` or a hidden prompt, never an argument.
"""

from __future__ import annotations

import os
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Annotated, TypeVar

import typer
from rich.markup import escape

from courtyard.cli.client_verbs import (
    ProfileOption,
    ServerOption,
    Where,
    err,
    locate,
    out,
    run,
)
from courtyard.client import Client
from courtyard.client.history import Message
from courtyard.client.keysharing import ShareReport
from courtyard.client.messenger import Messenger
from courtyard.client.verification import fingerprint

PASSPHRASE_ENV = "COURTYARD_PASSPHRASE"  # noqa: S105 (the name of a variable)
T = TypeVar("T")

chat_app = typer.Typer(help="End-to-end encrypted conversations.", no_args_is_help=True)
ConversationArg = Annotated[str, typer.Argument(help="The conversation id (see `chat list`).")]
MessageArg = Annotated[str, typer.Argument(help="The message id (see `chat history`).")]


def read_passphrase() -> str:
    from_env = os.environ.get(PASSPHRASE_ENV)
    if from_env:
        return from_env
    passphrase: str = typer.prompt("Crypto passphrase", hide_input=True)
    return passphrase


def with_messenger(
    profile: Path | None, server: str | None, action: Callable[[Messenger], Awaitable[T]]
) -> T:
    """Open the profile's messenger, run ``action``, close it; SDK errors exit with status 1."""
    where: Where = locate(profile, server)
    stored = where.signed_in()
    passphrase = read_passphrase()

    async def work() -> T:
        async with Client(where.server, stored.access_token) as client:
            messenger = await Messenger.open(client, where.profile.directory, passphrase)
            async with messenger:
                return await action(messenger)

    return run(work())


@chat_app.command("new")
def new(
    members: Annotated[list[str], typer.Argument(help="Usernames or user ids to chat with.")],
    name: Annotated[str | None, typer.Option("--name", help="Make it a named group.")] = None,
    profile: ProfileOption = None,
    server: ServerOption = None,
) -> None:
    """Start a 1:1 chat with one user, or a group (with --name or several users)."""
    conversation = with_messenger(
        profile, server, lambda m: m.create_conversation(members, name=name)
    )
    out.print(f"Conversation {conversation.conversation_id} ({conversation.kind}).")


@chat_app.command("list")
def list_conversations(profile: ProfileOption = None, server: ServerOption = None) -> None:
    """Your conversations and invitations."""
    for c in with_messenger(profile, server, lambda m: m.conversations()):
        members = ", ".join(f"{m.user_id} ({m.state})" for m in c.members)
        out.print(f"{c.conversation_id}  {c.kind:<6}  {escape(c.name or '-')}  {members}")


@chat_app.command("join")
def join(
    conversation: ConversationArg, profile: ProfileOption = None, server: ServerOption = None
) -> None:
    """Accept an invitation to a group."""
    with_messenger(profile, server, lambda m: m.join(conversation))
    out.print(f"Joined {conversation}.")


@chat_app.command("send")
def send(
    conversation: ConversationArg,
    text: Annotated[str, typer.Argument(help="The message.")],
    reply_to: Annotated[str | None, typer.Option("--reply-to", help="A message id.")] = None,
    profile: ProfileOption = None,
    server: ServerOption = None,
) -> None:
    """Encrypt and send a text message."""
    sent = with_messenger(profile, server, lambda m: m.send_text(conversation, text, reply_to))
    warn_about(sent.report)
    out.print(f"Sent {sent.event_id}.")


@chat_app.command("send-file")
def send_file(
    conversation: ConversationArg,
    path: Annotated[Path, typer.Argument(help="The file to send.", exists=True, dir_okay=False)],
    profile: ProfileOption = None,
    server: ServerOption = None,
) -> None:
    """Encrypt a file on this device, upload it, and send its key in an encrypted message."""
    sent = with_messenger(profile, server, lambda m: m.send_file(conversation, path))
    warn_about(sent.report)
    out.print(f"Sent {escape(path.name)} as {sent.event_id}.")


@chat_app.command("save")
def save(
    message: MessageArg,
    target: Annotated[Path, typer.Argument(help="Where to write the decrypted file.")],
    profile: ProfileOption = None,
    server: ServerOption = None,
) -> None:
    """Download and decrypt a received file."""
    data = with_messenger(profile, server, lambda m: m.download_file(message))
    target.write_bytes(data)
    out.print(f"Saved {len(data)} bytes to {escape(str(target))}.")


@chat_app.command("read")
def read(
    conversation: Annotated[str | None, typer.Argument(help="Only this conversation.")] = None,
    profile: ProfileOption = None,
    server: ServerOption = None,
) -> None:
    """Fetch what is new, decrypt it, and print the new messages."""
    for message in with_messenger(profile, server, lambda m: m.sync()):
        if conversation is None or message.conversation_id == conversation:
            show(message)


@chat_app.command("sync")
def sync(
    follow: Annotated[
        bool, typer.Option("--follow", "-f", help="Keep going until Ctrl-C.")
    ] = False,
    profile: ProfileOption = None,
    server: ServerOption = None,
) -> None:
    """Fetch and decrypt what is new (with --follow, print messages as they arrive)."""

    async def forever(m: Messenger) -> None:
        async for event in m.client.events():
            for message in await m.process([event]):
                show(message)

    if follow:
        with_messenger(profile, server, forever)
        return
    shown = with_messenger(profile, server, lambda m: m.sync())
    out.print(f"{len(shown)} new messages.")


@chat_app.command("history")
def history(
    conversation: ConversationArg,
    limit: Annotated[int, typer.Option("--limit", min=1, help="How many messages.")] = 50,
    profile: ProfileOption = None,
    server: ServerOption = None,
) -> None:
    """Print the decrypted history held on this device."""

    async def messages(m: Messenger) -> list[Message]:
        return m.messages(conversation, limit)

    for message in with_messenger(profile, server, messages):
        show(message)


@chat_app.command("search")
def search(
    text: Annotated[str, typer.Argument(help="Words to find (any language, 1+ characters).")],
    profile: ProfileOption = None,
    server: ServerOption = None,
) -> None:
    """Search the decrypted history on this device (nothing is sent to the server)."""

    async def found(m: Messenger) -> list[Message]:
        return m.search(text)

    results = with_messenger(profile, server, found)
    for message in results:
        show(message)
    if not results:
        out.print("No messages found.")


@chat_app.command("recall")
def recall(message: MessageArg, profile: ProfileOption = None, server: ServerOption = None) -> None:
    """Recall one of your messages (within 2 minutes) for everyone."""
    with_messenger(profile, server, lambda m: m.recall(message))
    out.print(f"Recalled {message}.")


@chat_app.command("fingerprint")
def own_fingerprint(profile: ProfileOption = None, server: ServerOption = None) -> None:
    """Print this device's fingerprint, for your contacts to verify it."""

    async def read(m: Messenger) -> str:
        return m.fingerprint()

    out.print(with_messenger(profile, server, read))


@chat_app.command("security")
def security(
    conversation: ConversationArg, profile: ProfileOption = None, server: ServerOption = None
) -> None:
    """Every member device of a conversation: fingerprint and verification state."""
    for d in with_messenger(profile, server, lambda m: m.conversation_security(conversation)):
        shown = fingerprint(d.ed25519) if d.ed25519 else "-"
        out.print(f"{d.user_id} {d.device_id}  {d.state:<10}  {shown}")


@chat_app.command("verify")
def verify(
    user_id: Annotated[str, typer.Argument(help="The device owner's user id.")],
    device_id: Annotated[str, typer.Argument(help="The device id (see `chat security`).")],
    typed: Annotated[str, typer.Argument(help="The fingerprint its owner reads out to you.")],
    profile: ProfileOption = None,
    server: ServerOption = None,
) -> None:
    """Mark a device verified after comparing its fingerprint with its owner."""
    with_messenger(profile, server, lambda m: m.verify_device(user_id, device_id, typed))
    out.print(f"Device {device_id} of {user_id} is verified.")


def show(message: Message) -> None:
    if message.recalled:
        body = "(recalled)"
    elif message.attachment is not None:
        size = message.attachment.get("size")
        body = f"[{message.type.removeprefix('m.')}] {message.body} ({size} bytes)"
    else:
        body = message.body or ""
    edited = " (edited)" if message.edits else ""
    reactions = " ".join(f"{k} {len(v)}" for k, v in message.reactions.items())
    out.print(
        f"{message.conversation_id} #{message.seq} {message.event_id} "
        f"{message.sender_user_id}: {escape(body)}{edited} {reactions}".rstrip()
    )


def warn_about(report: ShareReport) -> None:
    """A visible warning when the message key went to devices nobody has verified."""
    if report.unverified:
        devices = ", ".join(f"{d.user_id}/{d.device_id}" for d in report.unverified)
        err.print(f"[yellow]warning:[/yellow] sent to unverified devices: {escape(devices)}")
    if report.new:
        devices = ", ".join(f"{d.user_id}/{d.device_id}" for d in report.new)
        err.print(f"[yellow]warning:[/yellow] devices seen for the first time: {escape(devices)}")
    if report.refused or report.unreachable:
        count = len(report.refused) + len(report.unreachable)
        err.print(f"[yellow]warning:[/yellow] {count} device(s) could not be given the key")
