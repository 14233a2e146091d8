"""Red packets: money in a chat for one person or for a group to grab, in fixed or random
shares; what nobody grabbed goes back to the sender after 24 hours.

Shares are drawn at creation with a CSPRNG (the double-mean method) and stored as rows, so a
grab is deterministic: it claims the lowest free share (``SKIP LOCKED`` on PostgreSQL, so
concurrent grabbers take different rows), and the expiry refunds exactly the unclaimed rows
under an exclusive lock on the packet (docs/wallet.md, "Red packets").
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, insert, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.exc import IntegrityError

from courtyard.core.ids import is_id, new_id
from courtyard.core.money import Money
from courtyard.db import Tx
from courtyard.domains.accounts import Identity
from courtyard.domains.jobs import Job, Outcome, schedule
from courtyard.domains.wallet.context import Flow, iso
from courtyard.domains.wallet.errors import (
    InvalidMemo,
    NotEligible,
    RedPacketCapExceeded,
    RedPacketEmpty,
    RedPacketExists,
    RedPacketExpired,
    RedPacketNotFound,
    RedPacketTooSmall,
    TooManyShares,
)
from courtyard.domains.wallet.flow_models import RedPacket, RedPacketShare, WalletUserFlow
from courtyard.domains.wallet.idempotency import Answer, Request, request_hash
from courtyard.domains.wallet.ledger import EntryDraft, Leg

CARD = "m.wallet.red_packet"
EXPIRE_JOB = "red_packet.expire"
GRABBED = "wallet.red_packet.grabbed"
CLOSED = "wallet.red_packet.closed"


def double_mean_split(total: int, count: int) -> list[int]:
    """Split ``total`` minor units into ``count`` shares of at least 1: each draw uniform in
    ``[1, 2 * remaining // left - 1]``, the last share takes the rest."""
    if count < 1 or total < count:
        raise ValueError("need at least one minor unit per share")
    shares, remaining = [], total
    for left in range(count, 1, -1):
        upper = 2 * remaining // left - 1
        draw = secrets.randbelow(upper) + 1
        shares.append(draw)
        remaining -= draw
    shares.append(remaining)
    return shares


@dataclass(frozen=True, slots=True)
class PacketRequest:
    conversation_id: str
    audience: str  # "person" | "group"
    split: str  # "fixed" | "random"
    count: int
    amount: Money  # per share when fixed, the total when random
    pin: object
    to_user_id: str | None = None
    packet_id: str | None = None
    memo_conversation_id: str | None = None
    memo_seq: int | None = None

    def total(self) -> Money:
        if self.split == "fixed":
            return Money(self.amount.amount_minor * self.count, self.amount.currency)
        return self.amount


def _memo(row: RedPacket) -> dict[str, Any] | None:
    if row.memo_conversation_id is None:
        return None
    return {"conversation_id": row.memo_conversation_id, "seq": row.memo_seq}


def packet_wire(row: RedPacket, shares: list[RedPacketShare], viewer: str) -> dict[str, Any]:
    grabbed = [s for s in shares if s.grabbed_by is not None]
    sees_total = viewer == row.sender_user_id or any(s.grabbed_by == viewer for s in grabbed)
    return {
        "packet_id": row.packet_id,
        "conversation_id": row.conversation_id,
        "sender_user_id": row.sender_user_id,
        "audience": row.audience,
        "to_user_id": row.to_user_id,
        "split": row.split,
        "share_count": row.share_count,
        "currency": row.currency,
        "state": row.state,
        "created_at": iso(row.created_at),
        "expires_at": iso(row.expires_at),
        "memo": _memo(row),
        "grabs": [
            {
                "user_id": s.grabbed_by,
                "amount": Money(s.amount_minor, row.currency).to_wire(),
                "grabbed_at": iso(s.grabbed_at),
            }
            for s in sorted(grabbed, key=lambda s: s.share_no)
        ],
        "remaining_count": row.share_count - len(grabbed),
        "total": Money(row.total_minor, row.currency).to_wire() if sees_total else None,
        "refunded": Money(row.refunded_minor, row.currency).to_wire()
        if row.state != "open"
        else None,
    }


def card_content(row: RedPacket) -> dict[str, Any]:
    """The chat card: who sent it and how it splits, never the amounts (those are what you
    find when you open it)."""
    return {
        "packet_id": row.packet_id,
        "sender_user_id": row.sender_user_id,
        "audience": row.audience,
        "to_user_id": row.to_user_id,
        "split": row.split,
        "share_count": row.share_count,
        "currency": row.currency,
        "expires_at": iso(row.expires_at),
        "memo": _memo(row),
    }


class RedPackets(Flow):
    def _check_shape(self, req: PacketRequest) -> Money:
        if req.count < 1 or req.count > self.policy.red_packet_max_shares:
            raise TooManyShares(f"1 to {self.policy.red_packet_max_shares} shares")
        total = req.total()
        cap = self.policy.red_packet_cap(total.currency)
        if cap < total:
            raise RedPacketCapExceeded(f"A red packet holds at most {cap}", cap=cap.to_wire())
        if total.amount_minor < req.count:
            raise RedPacketTooSmall("Each share needs at least one minor unit")
        self.policy.check_single(total)
        return total

    async def do_create(self, identity: Identity, key: str, req: PacketRequest) -> Answer:
        """Move the total into escrow, store its shares and post the card; once per key."""
        total = self._check_shape(req)
        packet_id = req.packet_id or new_id()
        if not is_id(packet_id):
            raise RedPacketNotFound("packet_id must be a UUID")
        request = Request(
            identity.user_id,
            key,
            "red_packet.create",
            request_hash(
                "red_packet.create",
                {
                    "conversation_id": req.conversation_id, "audience": req.audience,
                    "to": req.to_user_id, "split": req.split, "count": req.count,
                    "amount_minor": req.amount.amount_minor, "currency": req.amount.currency,
                    "packet_id": req.packet_id, "memo": [req.memo_conversation_id, req.memo_seq],
                },
            ),
        )  # fmt: skip
        if (replay := await self.idempotency.replay(request)) is not None:
            return replay
        await self._check_audience(identity, req)
        await self.pins.check(identity.user_id, req.pin)
        sender = await self.accounts.ensure_user(identity.user_id, total.currency)
        escrow = await self.accounts.ensure_system("red_packet_escrow", total.currency)
        daily = self.policy.daily_limit(total.currency).amount_minor
        shares = (
            [req.amount.amount_minor] * req.count
            if req.split == "fixed"
            else double_mean_split(total.amount_minor, req.count)
        )

        async def effect(tx: Tx) -> tuple[dict[str, Any], str | None]:
            if await tx.session.get(RedPacket, packet_id) is not None:
                raise RedPacketExists()
            now = self.clock.now()
            async with self.ledger.book(tx) as book:
                posted = await book.post(
                    EntryDraft(
                        "red_packet_create", "red_packets",
                        (Leg(sender, -total.amount_minor, daily_limit_minor=daily),
                         Leg(escrow, total.amount_minor)),
                        initiator=f"user:{identity.user_id}",
                        flow_kind="red_packet", flow_id=packet_id,
                    )
                )  # fmt: skip
                row = RedPacket(
                    packet_id=packet_id, sender_user_id=identity.user_id,
                    conversation_id=req.conversation_id, audience=req.audience,
                    to_user_id=req.to_user_id, split=req.split, share_count=req.count,
                    total_minor=total.amount_minor, currency=total.currency, state="open",
                    created_at=now, expires_at=now + self.policy.red_packet_expiry,
                    closed_at=None, create_entry_id=posted.entry_id, refund_entry_id=None,
                    refunded_minor=0, memo_conversation_id=req.memo_conversation_id,
                    memo_seq=req.memo_seq, idempotency_key=key,
                )  # fmt: skip
                tx.session.add(row)
                await tx.session.flush()
                await tx.session.execute(
                    insert(RedPacketShare),
                    [
                        {"packet_id": packet_id, "share_no": n, "amount_minor": amount}
                        for n, amount in enumerate(shares, start=1)
                    ],
                )
                await _user_flow(tx, identity.user_id, packet_id, "sender", now)
                await schedule(tx, EXPIRE_JOB, packet_id, row.expires_at, now=now)
                sender_device = (identity.user_id, identity.device_id)
                await self.timeline.write_card(
                    tx, row.conversation_id, CARD, sender_device, card_content(row)
                )
            return packet_wire(row, [], identity.user_id), packet_id

        try:
            return await self.idempotency.run(request, effect)
        except IntegrityError:
            raise RedPacketExists() from None

    async def _check_audience(self, identity: Identity, req: PacketRequest) -> None:
        async with self.db.read() as session:
            kind = await self.timeline.joined_kind(session, req.conversation_id, identity.user_id)
            if kind is None:
                raise RedPacketNotFound("You are not in that conversation")
            if req.audience == "group" and kind != "group":
                raise NotEligible("A group red packet needs a group conversation")
            if req.audience == "person":
                if req.count != 1 or req.to_user_id in (None, identity.user_id):
                    raise NotEligible("A personal red packet is one share for another member")
                assert req.to_user_id is not None
                if (
                    await self.timeline.joined_kind(session, req.conversation_id, req.to_user_id)
                    is None
                ):
                    raise NotEligible("The recipient is not in that conversation")
            elif req.to_user_id is not None:
                raise NotEligible("A group red packet is for everyone in the group")
            if req.memo_conversation_id is not None or req.memo_seq is not None:
                if req.memo_conversation_id != req.conversation_id or req.memo_seq is None:
                    raise InvalidMemo()
                if not await self.timeline.is_own_encrypted(
                    session, req.conversation_id, req.memo_seq, identity.user_id
                ):
                    raise InvalidMemo()

    async def access_packet(self, identity: Identity, packet_id: str) -> dict[str, Any]:
        row, shares = await self._visible(identity, packet_id)
        return packet_wire(row, shares, identity.user_id)

    async def _visible(
        self, identity: Identity, packet_id: str
    ) -> tuple[RedPacket, list[RedPacketShare]]:
        """The packet and its shares, for members of its conversation; 404 for others."""
        if not is_id(packet_id):
            raise RedPacketNotFound()
        async with self.db.read() as session:
            row = await session.get(RedPacket, packet_id)
            if row is None or (
                await self.timeline.joined_kind(session, row.conversation_id, identity.user_id)
                is None
                and row.sender_user_id != identity.user_id
            ):
                raise RedPacketNotFound()
            shares = list(
                await session.scalars(
                    select(RedPacketShare).where(RedPacketShare.packet_id == packet_id)
                )
            )
        return row, shares

    async def do_grab(self, identity: Identity, packet_id: str) -> dict[str, Any]:
        """Open the packet: claim the next free share (once per person)."""
        row, shares = await self._visible(identity, packet_id)
        if mine := _share_of(shares, identity.user_id):
            return _grab_wire(row, mine, replayed=True)
        if row.audience == "person" and row.to_user_id != identity.user_id:
            raise NotEligible("This red packet is for someone else")
        if row.state != "open" or self.clock.now() >= row.expires_at:
            raise RedPacketExpired()
        grabber = await self.accounts.ensure_user(identity.user_id, row.currency)
        await self.accounts.ensure_system("red_packet_escrow", row.currency)
        try:
            async with self.db.transaction() as tx:
                share = await self._claim(tx, row, identity, grabber_account=grabber)
        except IntegrityError:  # the same person grabbing twice at once: theirs committed
            _, shares = await self._visible(identity, packet_id)
            if mine := _share_of(shares, identity.user_id):
                return _grab_wire(row, mine, replayed=True)
            raise
        return _grab_wire(row, share, replayed=False)

    async def _claim(
        self, tx: Tx, row: RedPacket, identity: Identity, *, grabber_account: Any
    ) -> RedPacketShare:
        session, now = tx.session, self.clock.now()
        state = (
            await session.execute(
                select(RedPacket.state, RedPacket.expires_at)
                .where(RedPacket.packet_id == row.packet_id)
                .with_for_update(read=True)  # shared: grabbers do not block each other
            )
        ).one()
        if state.state != "open" or now >= state.expires_at:
            raise RedPacketExpired()
        share = await session.scalar(
            select(RedPacketShare)
            .where(RedPacketShare.packet_id == row.packet_id, RedPacketShare.grabbed_by.is_(None))
            .order_by(RedPacketShare.share_no)
            .limit(1)
            .with_for_update(skip_locked=True)
        )
        if share is None:
            raise RedPacketEmpty()
        escrow = await self.accounts.existing_system("red_packet_escrow", row.currency)
        async with self.ledger.book(tx) as book:
            posted = await book.post(
                EntryDraft(
                    "red_packet_grab", "red_packets",
                    (Leg(escrow, -share.amount_minor), Leg(grabber_account, share.amount_minor)),
                    initiator=f"user:{identity.user_id}",
                    flow_kind="red_packet", flow_id=row.packet_id,
                )
            )  # fmt: skip
            share.grabbed_by, share.grabbed_at, share.entry_id = (
                identity.user_id,
                now,
                posted.entry_id,
            )
            await session.flush()
            await _user_flow(tx, identity.user_id, row.packet_id, "grabber", now)
            remaining = await session.scalar(
                select(func.count()).where(
                    RedPacketShare.packet_id == row.packet_id,
                    RedPacketShare.grabbed_by.is_(None),
                )
            )
            event = {
                "packet_id": row.packet_id, "conversation_id": row.conversation_id,
                "user_id": identity.user_id,
                "amount": Money(share.amount_minor, row.currency).to_wire(),
                "remaining_count": int(remaining or 0),
            }  # fmt: skip
            for user_id in {identity.user_id, row.sender_user_id}:
                book.emit(user_id, GRABBED, event)
        return share

    async def run_expire(self, tx: Tx, job: Job) -> Outcome:
        """The due job: close the packet and refund what nobody grabbed, once."""
        session, now = tx.session, self.clock.now()
        row = await session.scalar(
            select(RedPacket).where(RedPacket.packet_id == job.ref_id).with_for_update()
        )  # waits for grabs in flight (they hold the row shared), blocks later ones
        if row is None or row.state != "open":
            return "skipped"
        left = int(
            await session.scalar(
                select(func.coalesce(func.sum(RedPacketShare.amount_minor), 0)).where(
                    RedPacketShare.packet_id == row.packet_id,
                    RedPacketShare.grabbed_by.is_(None),
                )
            )
            or 0
        )
        closed = await session.execute(
            update(RedPacket)
            .where(RedPacket.packet_id == row.packet_id, RedPacket.state == "open")
            .values(state="expired" if left else "finished", closed_at=now, refunded_minor=left)
            .returning(RedPacket.packet_id)
        )
        if closed.scalar_one_or_none() is None:
            return "skipped"
        async with self.ledger.book(tx) as book:
            if left:
                sender = await self.accounts.existing_user(row.sender_user_id, row.currency)
                escrow = await self.accounts.existing_system("red_packet_escrow", row.currency)
                posted = await book.post(
                    EntryDraft(
                        "red_packet_refund", "red_packets",
                        (Leg(escrow, -left), Leg(sender, left)),
                        initiator=f"job:{job.job_id}",
                        flow_kind="red_packet", flow_id=row.packet_id,
                    )
                )  # fmt: skip
                await session.execute(
                    update(RedPacket)
                    .where(RedPacket.packet_id == row.packet_id)
                    .values(refund_entry_id=posted.entry_id)
                )
            book.emit(
                row.sender_user_id,
                CLOSED,
                {
                    "packet_id": row.packet_id,
                    "state": "expired" if left else "finished",
                    "refunded": Money(left, row.currency).to_wire(),
                },
            )
        return "applied"


def _share_of(shares: list[RedPacketShare], user_id: str) -> RedPacketShare | None:
    return next((s for s in shares if s.grabbed_by == user_id), None)


def _grab_wire(row: RedPacket, share: RedPacketShare, *, replayed: bool) -> dict[str, Any]:
    return {
        "packet_id": row.packet_id,
        "amount": Money(share.amount_minor, row.currency).to_wire(),
        "share_no": share.share_no,
        "grabbed_at": iso(share.grabbed_at),
        "replayed": replayed,
    }


async def _user_flow(tx: Tx, user_id: str, flow_id: str, role: str, now: Any) -> None:
    """List the packet among the user's flows (once: a sender may grab their own packet)."""
    dialect = tx.session.get_bind().dialect.name
    build = pg_insert if dialect == "postgresql" else sqlite_insert
    await tx.session.execute(
        build(WalletUserFlow)
        .values(user_id=user_id, flow_id=flow_id, flow_kind="red_packet", role=role, created_at=now)
        .on_conflict_do_nothing()
    )
