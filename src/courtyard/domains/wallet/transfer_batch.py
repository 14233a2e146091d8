"""The one transaction of a transfer batch, as a synchronous function of a connection
(``Database.write_sync``), with the same outcome for each transfer as one at a time would
have (docs/wallet.md, "Benchmark: idempotent transfers per second").

A fixed number of statements whatever the batch's size, in the global lock order: the keys
(sorted by user and key, ``ON CONFLICT DO NOTHING``), the transfers' ids, the senders'
accounts (``FOR UPDATE``, in id order), multi-row inserts and one balance update per
account, then the cards through messaging's batch store (conversations in id order, stream
heads in user-id order), the entries' balance check and the keys' answers. In between, the
transfers are applied in memory in arrival order with the ledger's own rules
(``ledger.apply_draft``): each sees the balances and day totals the earlier ones left.
"""

from __future__ import annotations

import datetime as dt
import sqlite3
from collections import defaultdict
from dataclasses import dataclass
from typing import Any, cast

from sqlalchemy import Connection

from courtyard.core.errors import CourtyardError
from courtyard.core.money import Money
from courtyard.domains.jobs import job_row
from courtyard.domains.messaging import (
    CONVERSATION_EVENT,
    BatchStore,
    StreamRow,
    columns_to_wire,
    store_for,
)
from courtyard.domains.wallet.errors import (
    AccountFrozen,
    DailyLimitExceeded,
    InsufficientFunds,
    TransferExists,
    UnbalancedEntry,
)
from courtyard.domains.wallet.idempotency import Answer, StoredKey, stored_answer
from courtyard.domains.wallet.ledger import (
    BALANCE_EVENT,
    EntryDraft,
    Leg,
    LockedAccount,
    apply_draft,
)
from courtyard.domains.wallet.ledger_batch_pg import PgLedgerStore
from courtyard.domains.wallet.ledger_batch_store import (
    CoreLedgerStore,
    KeyId,
    LedgerBatchStore,
    LedgerRows,
    SqliteLedgerStore,
)
from courtyard.domains.wallet.transfer_shapes import (
    CARD,
    REFUND_JOB,
    PendingTransfer,
    wire_from_columns,
)

Outcome = Answer | CourtyardError
# The committed stream copies of one event, (user, position, event id) each; its type; its
# content: what is hinted on the bus after the commit.
Notice = tuple[list[tuple[str, int, str]], str, dict[str, Any]]
_REFUSED_UNDER_LOCK = (AccountFrozen, InsufficientFunds, DailyLimitExceeded)


def ledger_store_for(conn: Connection) -> LedgerBatchStore:
    """The fastest ledger store for ``conn``'s backend (SQLAlchemy Core for any other)."""
    if conn.dialect.name == "sqlite":
        return SqliteLedgerStore(cast(sqlite3.Connection, conn.connection.dbapi_connection))
    if conn.dialect.name == "postgresql":
        return PgLedgerStore(conn)
    return CoreLedgerStore(conn)


@dataclass(frozen=True, slots=True)
class BatchTerms:
    """How long a key is kept and a transfer waits for its recipient."""

    keep: dt.timedelta
    expiry: dt.timedelta


@dataclass(frozen=True, slots=True)
class _Applied:
    """A transfer that moved money: its place in the batch, row, wire form and the sender's
    balance after it."""

    index: int
    row: dict[str, Any]
    body: dict[str, Any]
    balance_after: int


class TransferBatch:
    """Call it with a connection inside a transaction; afterwards ``outcomes`` holds each
    transfer's answer and ``notices`` what to hint once the transaction has committed."""

    def __init__(self, batch: list[PendingTransfer], now: dt.datetime, terms: BatchTerms) -> None:
        self.batch = batch
        self.now = now
        self.terms = terms
        self.outcomes: list[Outcome | None] = [None] * len(batch)
        self.notices: list[Notice] = []
        self._first: dict[KeyId, int] = {}  # each key's first transfer in the batch

    def __call__(self, conn: Connection) -> None:
        ledger = ledger_store_for(conn)
        for i, pending in enumerate(self.batch):
            self._first.setdefault(_key(pending), i)
        keys = sorted(self._first)
        claimed = ledger.claim_keys([self._key_row(self.batch[self._first[k]]) for k in keys])
        taken = [k for k in keys if k not in claimed]
        stored = ledger.stored_keys(taken) if taken else {}
        fresh = sorted(self._first[k] for k in claimed)
        if fresh:
            applied, balances = self._apply(ledger, fresh)
            if applied:
                self._write(ledger, store_for(conn), applied, balances)
            entries = [self.batch[done.index].entry_id for done in applied]
            if bad := ledger.finish([self._answer_row(i) for i in fresh], entries):
                raise UnbalancedEntry(f"entries do not balance: {bad}")
            for i in fresh:
                stored[_key(self.batch[i])] = self._as_stored(i)
        deciding = set(fresh)
        for i, pending in enumerate(self.batch):  # a bound key's transfers, a key's twins
            if i not in deciding:
                self.outcomes[i] = _replay(pending, stored.get(_key(pending)))

    def answers(self) -> list[Outcome]:
        """Each transfer's answer (once the transaction has committed)."""
        if any(outcome is None for outcome in self.outcomes):
            raise RuntimeError("the batch has not run")
        return [outcome for outcome in self.outcomes if outcome is not None]

    def _key_row(self, pending: PendingTransfer) -> dict[str, Any]:
        request = pending.request
        return {
            "user_id": request.user_id, "idempotency_key": request.key,
            "operation": request.operation, "request_hash": request.hash,
            "created_at": self.now, "expires_at": self.now + self.terms.keep,
        }  # fmt: skip

    def _apply(
        self, ledger: LedgerBatchStore, fresh: list[int]
    ) -> tuple[list[_Applied], list[dict[str, Any]]]:
        """Decide each fresh transfer in arrival order against the locked balances; return
        those that moved money and the accounts' rows as they leave them."""
        wanted = sorted({self.batch[i].sender.account_id for i in fresh})
        taken, locked = ledger.lock(sorted({self.batch[i].transfer_id for i in fresh}), wanted)
        if missing := set(wanted) - locked.keys():
            raise LookupError(f"ledger accounts do not exist: {sorted(missing)}")
        today = self.now.date()
        applied: list[_Applied] = []
        for i in fresh:
            pending = self.batch[i]
            if pending.transfer_id in taken:
                self.outcomes[i] = TransferExists()
                continue
            try:
                after = apply_draft(locked, _draft(pending), today)
            except _REFUSED_UNDER_LOCK as refusal:
                self.outcomes[i] = refusal
                continue
            taken.add(pending.transfer_id)
            row = pending.columns(self.now, self.terms.expiry)
            body = wire_from_columns(row)
            applied.append(_Applied(i, row, body, after[pending.sender.account_id]))
            self.outcomes[i] = Answer(body, replayed=False)
        return applied, self._balances(locked, applied)

    def _balances(
        self, locked: dict[str, LockedAccount], applied: list[_Applied]
    ) -> list[dict[str, Any]]:
        """One row per account the batch debited, as the last of its transfers left it."""
        last_entry = {self.batch[a.index].sender.account_id: self.batch[a.index].entry_id
                      for a in applied}  # fmt: skip
        return [
            {"account_id": account_id, "balance_minor": locked[account_id].balance,
             "last_entry_id": entry_id, "limit_day": locked[account_id].limit_day,
             "limit_used_minor": locked[account_id].limit_used, "updated_at": self.now}
            for account_id, entry_id in sorted(last_entry.items())
        ]  # fmt: skip

    def _write(
        self,
        ledger: LedgerBatchStore,
        chat: BatchStore,
        applied: list[_Applied],
        balances: list[dict[str, Any]],
    ) -> None:
        now = self.now
        entries: list[dict[str, Any]] = []
        postings: list[dict[str, Any]] = []
        jobs: list[dict[str, Any]] = []
        flows: list[dict[str, Any]] = []
        for done in applied:
            pending = self.batch[done.index]
            amount, currency = pending.req.amount.amount_minor, pending.req.amount.currency
            sender, recipient = pending.identity.user_id, pending.req.to_user_id
            entries.append({
                "entry_id": pending.entry_id, "kind": "transfer_send", "category": "transfers",
                "currency": currency, "flow_kind": "transfer", "flow_id": pending.transfer_id,
                "initiator": f"user:{sender}", "created_at": now,
            })  # fmt: skip
            postings += [
                {"account_id": pending.sender.account_id, "entry_id": pending.entry_id, "leg": 0,
                 "currency": currency, "amount_minor": -amount,
                 "balance_after": done.balance_after, "created_at": now},
                {"account_id": pending.escrow.account_id, "entry_id": pending.entry_id, "leg": 1,
                 "currency": currency, "amount_minor": amount, "balance_after": None,
                 "created_at": now},
            ]  # fmt: skip
            jobs.append(job_row(REFUND_JOB, pending.transfer_id, done.row["expires_at"], now=now))
            flows += [
                {"user_id": user_id, "flow_id": pending.transfer_id, "flow_kind": "transfer",
                 "role": role, "created_at": now}
                for user_id, role in ((sender, "sender"), (recipient, "recipient"))
            ]  # fmt: skip
        transfers = [done.row for done in applied]
        ledger.write(LedgerRows(entries, postings, balances, transfers, flows, jobs))
        self._post_cards(chat, applied)

    def _post_cards(self, chat: BatchStore, applied: list[_Applied]) -> None:
        """Each transfer's card in its conversation (rows locked in id order), then the
        card's copies and the sender's balance event on the streams (heads in user-id
        order), in arrival order: each user's stream reads as if one at a time."""
        conversations = sorted({done.row["conversation_id"] for done in applied})
        last_seq = chat.lock_conversations(conversations)
        if missing := set(conversations) - last_seq.keys():
            raise LookupError(f"conversations do not exist: {sorted(missing)}")
        joined: dict[str, list[str]] = defaultdict(list)
        for conversation_id, user_id, state in chat.members(conversations):
            if state == "joined":
                joined[conversation_id].append(user_id)
        events = []
        for done in applied:
            pending, conversation_id = self.batch[done.index], done.row["conversation_id"]
            last_seq[conversation_id] += 1
            events.append({
                "conversation_id": conversation_id, "seq": last_seq[conversation_id],
                "event_id": pending.card_event_id, "type": CARD,
                "sender_user_id": pending.identity.user_id,
                "sender_device_id": pending.identity.device_id, "content": done.body,
                "recalled": False, "created_at": self.now,
            })  # fmt: skip
        chat.write_events({c: last_seq[c] for c in conversations}, events)
        audience = {u for c in conversations for u in joined[c]}
        position = chat.lock_heads(sorted(audience | {e["sender_user_id"] for e in events}))
        rows: list[StreamRow] = []
        for done, event in zip(applied, events, strict=True):
            wire = columns_to_wire(event)
            copies = []
            for user_id in sorted(joined[event["conversation_id"]]):
                if user_id in position:  # no head: an erased account, nothing to deliver
                    copies.append(
                        _append(rows, position, user_id, event["event_id"], CONVERSATION_EVENT,
                                wire, self.now)
                    )  # fmt: skip
            self.notices.append((copies, CONVERSATION_EVENT, wire))
            pending = self.batch[done.index]
            if pending.identity.user_id not in position:
                raise LookupError(f"no stream for {pending.identity.user_id}")
            content = _balance_event(pending, done.balance_after)
            copy = _append(
                rows, position, pending.identity.user_id, pending.balance_event_id,
                BALANCE_EVENT, content, self.now,
            )  # fmt: skip
            self.notices.append(([copy], BALANCE_EVENT, content))
        chat.write_stream(position, rows)

    def _answer_row(self, i: int) -> dict[str, Any]:
        pending, outcome = self.batch[i], self.outcomes[i]
        row = {"user_id": pending.request.user_id, "idempotency_key": pending.request.key}
        if isinstance(outcome, Answer):
            return {**row, "outcome": "result", "response": outcome.body,
                    "flow_id": pending.transfer_id}  # fmt: skip
        assert isinstance(outcome, CourtyardError)
        record = {"code": outcome.code, "detail": outcome.detail, "extra": outcome.extra}
        return {**row, "outcome": "refusal", "response": record, "flow_id": None}

    def _as_stored(self, i: int) -> StoredKey:
        """A fresh key's row as this transaction leaves it (what a twin in the batch gets)."""
        row = self._answer_row(i)
        request = self.batch[i].request
        return StoredKey(request.operation, request.hash, row["outcome"], row["response"], self.now)


def _append(
    rows: list[StreamRow],
    position: dict[str, int],
    user_id: str,
    event_id: str,
    type_: str,
    content: dict[str, Any],
    now: dt.datetime,
) -> tuple[str, int, str]:
    """Add ``content`` at the next position of ``user_id``'s stream; return the copy."""
    position[user_id] += 1
    rows.append((user_id, position[user_id], event_id, type_, content, now))
    return user_id, position[user_id], event_id


def _key(pending: PendingTransfer) -> KeyId:
    return (pending.request.user_id, pending.request.key)


def _draft(pending: PendingTransfer) -> EntryDraft:
    amount = pending.req.amount.amount_minor
    return EntryDraft(
        "transfer_send",
        "transfers",
        (
            Leg(pending.sender, -amount, daily_limit_minor=pending.daily_limit_minor),
            Leg(pending.escrow, amount),
        ),
        initiator=f"user:{pending.identity.user_id}",
        flow_kind="transfer",
        flow_id=pending.transfer_id,
    )


def _balance_event(pending: PendingTransfer, balance: int) -> dict[str, Any]:
    """``wallet.balance`` for the sender, as ``Book`` announces it."""
    account = pending.sender
    return {
        "account_id": account.account_id,
        "currency": account.currency,
        "balance": Money(balance, account.currency).to_wire(),
        "entry_id": pending.entry_id,
        "kind": "transfer_send",
        "flow": {"kind": "transfer", "id": pending.transfer_id},
    }


def _replay(pending: PendingTransfer, row: StoredKey | None) -> Outcome:
    """What a transfer whose key was bound before it gets: the first answer as a replay,
    the stored refusal again, or ``idempotency_key_reused``."""
    if row is None:
        raise RuntimeError("idempotency key row vanished")
    try:
        return stored_answer(pending.request, row)
    except CourtyardError as exc:
        return exc
