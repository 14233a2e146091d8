"""P2P transfers: sent as a card in the pair's direct conversation, held in escrow until the
recipient accepts or returns them, refunded by a due job after 24 hours.

Every transition is one transaction: a compare-and-set on the transfer's state, the entry,
the updated card and the balance events. Accept and refund race on ``state = 'pending'``;
exactly one commits (docs/wallet.md, "P2P transfer"). Creations are checked one by one and
committed in batches (``transfer_queue.TransferQueue``); a failed batch falls back to
``_create_alone``, one transaction per transfer.
"""

from __future__ import annotations

import asyncio
from typing import Any

from sqlalchemy import insert, select, update
from sqlalchemy.exc import IntegrityError

from courtyard.core.ids import is_id, new_id
from courtyard.db import Tx
from courtyard.domains.accounts import Identity
from courtyard.domains.jobs import Job, Outcome, schedule
from courtyard.domains.wallet.context import Flow, WalletContext
from courtyard.domains.wallet.errors import (
    InvalidMemo,
    NoDirectConversation,
    NotTransferRecipient,
    RecipientNotFound,
    SelfTransfer,
    TransferExists,
    TransferExpired,
    TransferNotFound,
    TransferNotPending,
)
from courtyard.domains.wallet.flow_models import Transfer, WalletUserFlow
from courtyard.domains.wallet.idempotency import Answer, Request, request_hash, stored_answer
from courtyard.domains.wallet.ledger import EntryDraft, Leg
from courtyard.domains.wallet.transfer_batch import BatchTerms
from courtyard.domains.wallet.transfer_checks import CreationReads
from courtyard.domains.wallet.transfer_queue import TransferQueue
from courtyard.domains.wallet.transfer_shapes import CARD as CARD
from courtyard.domains.wallet.transfer_shapes import REFUND_JOB as REFUND_JOB
from courtyard.domains.wallet.transfer_shapes import PendingTransfer
from courtyard.domains.wallet.transfer_shapes import TransferRequest as TransferRequest
from courtyard.domains.wallet.transfer_shapes import transfer_wire as transfer_wire

# How each resolution moves the escrowed money: (entry kind, who gets it back).
RESOLUTIONS = {
    "accepted": ("transfer_accept", "recipient"),
    "returned": ("transfer_return", "sender"),
    "refunded": ("transfer_refund", "sender"),
}


class Transfers(Flow):
    def __init__(self, context: WalletContext) -> None:
        super().__init__(context)
        terms = BatchTerms(keep=self.idempotency.keep, expiry=self.policy.transfer_expiry)
        self.reads = CreationReads(self.db)
        self.queue = TransferQueue(
            self.db, self.ledger.streams, self.clock, terms, self._create_alone
        )

    async def do_create(self, identity: Identity, key: str, req: TransferRequest) -> Answer:
        """Move ``amount`` from the sender into escrow and post the card; exactly once per
        idempotency key. Checks that need no lock come first and bind nothing; the creation
        itself is committed with whatever others arrive meanwhile (``TransferQueue``)."""
        checked = await self._check_create(identity, key, req)
        if isinstance(checked, Answer):
            return checked
        return await self.queue.submit(checked)

    async def _check_create(
        self, identity: Identity, key: str, req: TransferRequest
    ) -> Answer | PendingTransfer:
        """Everything decided before the transaction, in this order: the request itself, a
        replay (before the PIN: a retry costs no argon2id), the parties, the PIN, the
        accounts. The reads are shared with every creation waiting (``CreationReads``)."""
        if req.to_user_id == identity.user_id:
            raise SelfTransfer()
        self.policy.check_single(req.amount)
        transfer_id = req.transfer_id or new_id()
        if not is_id(transfer_id):
            raise TransferNotFound("transfer_id must be a UUID")
        request = _request(identity, key, req)
        facts = await self.reads.facts(identity.user_id, key, req.to_user_id)
        if facts.stored is not None:
            return stored_answer(request, facts.stored)
        if not is_id(req.to_user_id) or not facts.recipient_exists:
            raise RecipientNotFound()
        conversation_id = facts.conversation_id
        if conversation_id is None:
            raise NoDirectConversation()
        if req.memo_conversation_id is not None or req.memo_seq is not None:
            await self._check_memo(identity, req, conversation_id)
        if not self.pins.check_remembered(identity.user_id, req.pin, facts.pin):
            await self.pins.check(identity.user_id, req.pin)  # argon2id, counted
        currency = req.amount.currency
        return PendingTransfer(
            request=request,
            identity=identity,
            req=req,
            transfer_id=transfer_id,
            conversation_id=conversation_id,
            sender=await self.accounts.ensure_user(identity.user_id, currency),
            escrow=await self.accounts.ensure_system("transfer_escrow", currency),
            daily_limit_minor=self.policy.daily_limit(currency).amount_minor,
            future=asyncio.get_running_loop().create_future(),
        )

    async def _create_alone(self, pending: PendingTransfer) -> Answer:
        """One checked transfer in a transaction of its own: the unbatched path, which a
        failed batch falls back to (its key claim answers a replay if the key is bound)."""

        async def effect(tx: Tx) -> tuple[dict[str, Any], str | None]:
            return await self._send(tx, pending), pending.transfer_id

        try:
            return await self.idempotency.run(pending.request, effect)
        except IntegrityError:
            raise TransferExists() from None  # the same id taken concurrently with another key

    async def _send(self, tx: Tx, pending: PendingTransfer) -> dict[str, Any]:
        identity, req, transfer_id = pending.identity, pending.req, pending.transfer_id
        if await tx.session.get(Transfer, transfer_id) is not None:
            raise TransferExists()
        now = self.clock.now()
        async with self.ledger.book(tx) as book:
            posted = await book.post(
                EntryDraft(
                    "transfer_send",
                    "transfers",
                    (
                        Leg(
                            pending.sender,
                            -req.amount.amount_minor,
                            daily_limit_minor=pending.daily_limit_minor,
                        ),
                        Leg(pending.escrow, req.amount.amount_minor),
                    ),
                    initiator=f"user:{identity.user_id}",
                    flow_kind="transfer",
                    flow_id=transfer_id,
                )
            )
            row = Transfer(
                transfer_id=transfer_id,
                sender_user_id=identity.user_id,
                recipient_user_id=req.to_user_id,
                conversation_id=pending.conversation_id,
                amount_minor=req.amount.amount_minor,
                currency=req.amount.currency,
                state="pending",
                created_at=now,
                expires_at=now + self.policy.transfer_expiry,
                resolved_at=None,
                send_entry_id=posted.entry_id,
                resolve_entry_id=None,
                memo_conversation_id=req.memo_conversation_id,
                memo_seq=req.memo_seq,
                idempotency_key=pending.request.key,
            )
            tx.session.add(row)
            await tx.session.flush()
            await tx.session.execute(
                insert(WalletUserFlow),
                [
                    {"user_id": u, "flow_id": transfer_id, "flow_kind": "transfer",
                     "role": role, "created_at": now}
                    for u, role in ((identity.user_id, "sender"), (req.to_user_id, "recipient"))
                ],
            )  # fmt: skip
            await schedule(tx, REFUND_JOB, transfer_id, row.expires_at, now=now)
            await self._card(tx, row, (identity.user_id, identity.device_id))
        return transfer_wire(row)

    async def _check_memo(
        self, identity: Identity, req: TransferRequest, conversation_id: str
    ) -> None:
        """The memo is the sender's own Megolm message in the pair's conversation."""
        if req.memo_conversation_id != conversation_id or req.memo_seq is None:
            raise InvalidMemo()
        async with self.db.read() as session:
            if not await self.timeline.is_own_encrypted(
                session, conversation_id, req.memo_seq, identity.user_id
            ):
                raise InvalidMemo()

    async def access_transfer(self, identity: Identity, transfer_id: str) -> dict[str, Any]:
        row = await self._party_row(identity, transfer_id)
        return transfer_wire(row)

    async def list_transfers(
        self, identity: Identity, role: str | None, state: str | None, limit: int
    ) -> list[dict[str, Any]]:
        """The caller's transfers, newest first."""
        query = (
            select(Transfer)
            .join(WalletUserFlow, WalletUserFlow.flow_id == Transfer.transfer_id)
            .where(WalletUserFlow.user_id == identity.user_id)
            .order_by(WalletUserFlow.created_at.desc(), Transfer.transfer_id.desc())
            .limit(limit)
        )
        if role is not None:
            query = query.where(WalletUserFlow.role == role)
        if state is not None:
            query = query.where(Transfer.state == state)
        async with self.db.read() as session:
            return [transfer_wire(row) for row in await session.scalars(query)]

    async def do_accept(self, identity: Identity, transfer_id: str) -> Answer:
        return await self._resolve_by_recipient(identity, transfer_id, "accepted")

    async def do_return(self, identity: Identity, transfer_id: str) -> Answer:
        return await self._resolve_by_recipient(identity, transfer_id, "returned")

    async def _resolve_by_recipient(
        self, identity: Identity, transfer_id: str, to_state: str
    ) -> Answer:
        row = await self._party_row(identity, transfer_id)
        if row.recipient_user_id != identity.user_id:
            raise NotTransferRecipient()
        if row.state == to_state:
            return Answer(transfer_wire(row), replayed=True)
        if row.state != "pending":
            raise TransferNotPending(state=row.state)
        if to_state == "accepted" and self.clock.now() >= row.expires_at:
            raise TransferExpired()
        await self._prepare_accounts(row)
        async with self.db.transaction() as tx:
            resolved = await self._resolve(tx, transfer_id, to_state, identity)
        if resolved is None:  # someone else's transition won
            current = await self._party_row(identity, transfer_id)
            if current.state == to_state:
                return Answer(transfer_wire(current), replayed=True)
            raise TransferNotPending(state=current.state)
        return Answer(transfer_wire(resolved), replayed=False)

    async def run_refund(self, tx: Tx, job: Job) -> Outcome:
        """The due job: refund a transfer still pending at its expiry; ``skipped`` otherwise."""
        row = await tx.session.get(Transfer, job.ref_id)
        if row is None or row.state != "pending":
            return "skipped"
        return "applied" if await self._resolve(tx, job.ref_id, "refunded", None) else "skipped"

    async def _prepare_accounts(self, row: Transfer) -> None:
        # Created before the money transaction, never inside it (docs/wallet.md).
        await self.accounts.ensure_user(row.recipient_user_id, row.currency)
        await self.accounts.ensure_system("transfer_escrow", row.currency)

    async def _resolve(
        self, tx: Tx, transfer_id: str, to_state: str, by: Identity | None
    ) -> Transfer | None:
        """Compare-and-set ``pending`` → ``to_state`` and move the escrowed money."""
        now = self.clock.now()
        changed = await tx.session.execute(
            update(Transfer)
            .where(Transfer.transfer_id == transfer_id, Transfer.state == "pending")
            .values(state=to_state, resolved_at=now)
            .returning(Transfer.transfer_id)
        )
        if changed.scalar_one_or_none() is None:
            return None
        row = await tx.session.get(Transfer, transfer_id, populate_existing=True)
        assert row is not None
        kind, beneficiary = RESOLUTIONS[to_state]
        owner = row.recipient_user_id if beneficiary == "recipient" else row.sender_user_id
        account = await self.accounts.existing_user(owner, row.currency)
        escrow = await self.accounts.existing_system("transfer_escrow", row.currency)
        initiator = f"user:{by.user_id}" if by else f"job:{REFUND_JOB}:{transfer_id}"
        async with self.ledger.book(tx) as book:
            posted = await book.post(
                EntryDraft(
                    kind,
                    "transfers",
                    (Leg(escrow, -row.amount_minor), Leg(account, row.amount_minor)),
                    initiator=initiator,
                    flow_kind="transfer",
                    flow_id=transfer_id,
                )
            )
            row.resolve_entry_id = posted.entry_id
            await tx.session.flush()
            sender = (by.user_id, by.device_id) if by else (row.sender_user_id, None)
            await self._card(tx, row, sender)
        return row

    async def _card(self, tx: Tx, row: Transfer, sender: tuple[str, str | None]) -> None:
        await self.timeline.write_card(tx, row.conversation_id, CARD, sender, transfer_wire(row))

    async def _party_row(self, identity: Identity, transfer_id: str) -> Transfer:
        """The transfer if the caller is a party to it; ``transfer_not_found`` otherwise, so
        ids reveal nothing."""
        if not is_id(transfer_id):
            raise TransferNotFound()
        async with self.db.read() as session:
            row = await session.get(Transfer, transfer_id)
        if row is None or identity.user_id not in (row.sender_user_id, row.recipient_user_id):
            raise TransferNotFound()
        return row


def _request(identity: Identity, key: str, req: TransferRequest) -> Request:
    """The key's request: what its hash covers is what a replay must match (never the PIN)."""
    asked = {
        "to": req.to_user_id,
        "amount_minor": req.amount.amount_minor,
        "currency": req.amount.currency,
        "transfer_id": req.transfer_id,
        "memo": [req.memo_conversation_id, req.memo_seq],
    }
    return Request(identity.user_id, key, "transfer.create", request_hash("transfer.create", asked))
