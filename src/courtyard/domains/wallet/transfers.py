"""P2P transfers: sent as a card in the pair's direct conversation, held in escrow until the
recipient accepts or returns them, refunded by a due job after 24 hours.

Every transition is one transaction: a compare-and-set on the transfer's state, the entry,
the updated card and the balance events. Accept and refund race on ``state = 'pending'``;
exactly one commits (docs/wallet.md, "P2P transfer").
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import insert, select, update
from sqlalchemy.exc import IntegrityError

from courtyard.core.ids import is_id, new_id
from courtyard.core.money import Money
from courtyard.db import Tx
from courtyard.domains.accounts import Identity, existing_users
from courtyard.domains.jobs import Job, Outcome, schedule
from courtyard.domains.wallet.context import Flow, iso
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
from courtyard.domains.wallet.idempotency import Answer, Request, request_hash
from courtyard.domains.wallet.ledger import EntryDraft, Leg

CARD = "m.wallet.transfer"
REFUND_JOB = "transfer.refund"
# How each resolution moves the escrowed money: (entry kind, who gets it back).
RESOLUTIONS = {
    "accepted": ("transfer_accept", "recipient"),
    "returned": ("transfer_return", "sender"),
    "refunded": ("transfer_refund", "sender"),
}


def transfer_wire(row: Transfer) -> dict[str, Any]:
    memo = (
        {"conversation_id": row.memo_conversation_id, "seq": row.memo_seq}
        if row.memo_conversation_id
        else None
    )
    return {
        "transfer_id": row.transfer_id,
        "state": row.state,
        "from_user_id": row.sender_user_id,
        "to_user_id": row.recipient_user_id,
        "conversation_id": row.conversation_id,
        "amount": Money(row.amount_minor, row.currency).to_wire(),
        "created_at": iso(row.created_at),
        "expires_at": iso(row.expires_at),
        "resolved_at": iso(row.resolved_at),
        "memo": memo,
    }


@dataclass(frozen=True, slots=True)
class TransferRequest:
    to_user_id: str
    amount: Money
    pin: object
    transfer_id: str | None = None
    memo_conversation_id: str | None = None
    memo_seq: int | None = None


class Transfers(Flow):
    async def do_create(self, identity: Identity, key: str, req: TransferRequest) -> Answer:
        """Move ``amount`` from the sender into escrow and post the card; exactly once per
        idempotency key. Checks that need no lock come first and bind nothing."""
        if req.to_user_id == identity.user_id:
            raise SelfTransfer()
        self.policy.check_single(req.amount)
        transfer_id = req.transfer_id or new_id()
        if not is_id(transfer_id):
            raise TransferNotFound("transfer_id must be a UUID")
        request = Request(
            identity.user_id,
            key,
            "transfer.create",
            request_hash(
                "transfer.create",
                {
                    "to": req.to_user_id,
                    "amount_minor": req.amount.amount_minor,
                    "currency": req.amount.currency,
                    "transfer_id": req.transfer_id,
                    "memo": [req.memo_conversation_id, req.memo_seq],
                },
            ),
        )
        if (replay := await self.idempotency.replay(request)) is not None:
            return replay
        conversation_id = await self._check_parties(identity, req)
        await self.pins.check(identity.user_id, req.pin)
        sender = await self.accounts.ensure_user(identity.user_id, req.amount.currency)
        escrow = await self.accounts.ensure_system("transfer_escrow", req.amount.currency)
        daily = self.policy.daily_limit(req.amount.currency).amount_minor

        async def effect(tx: Tx) -> tuple[dict[str, Any], str | None]:
            if await tx.session.get(Transfer, transfer_id) is not None:
                raise TransferExists()
            now = self.clock.now()
            async with self.ledger.book(tx) as book:
                posted = await book.post(
                    EntryDraft(
                        "transfer_send",
                        "transfers",
                        (
                            Leg(sender, -req.amount.amount_minor, daily_limit_minor=daily),
                            Leg(escrow, req.amount.amount_minor),
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
                    conversation_id=conversation_id,
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
                    idempotency_key=key,
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
            return transfer_wire(row), transfer_id

        try:
            return await self.idempotency.run(request, effect)
        except IntegrityError:
            raise TransferExists() from None  # the same id taken concurrently with another key

    async def _check_parties(self, identity: Identity, req: TransferRequest) -> str:
        async with self.db.read() as session:
            if not is_id(req.to_user_id) or not await existing_users(session, {req.to_user_id}):
                raise RecipientNotFound()
            conversation_id = await self.timeline.direct_conversation(
                session, identity.user_id, req.to_user_id
            )
            if conversation_id is None:
                raise NoDirectConversation()
            if req.memo_conversation_id is not None or req.memo_seq is not None:
                if req.memo_conversation_id != conversation_id or req.memo_seq is None:
                    raise InvalidMemo()
                if not await self.timeline.is_own_encrypted(
                    session, conversation_id, req.memo_seq, identity.user_id
                ):
                    raise InvalidMemo()
        return conversation_id

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
