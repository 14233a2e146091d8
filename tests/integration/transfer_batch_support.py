"""Helpers for transfer-batch tests: put chosen transfer creations into exactly one batch, in
a chosen order, and read back what a batch wrote."""

from __future__ import annotations

from dataclasses import dataclass

from fastapi import FastAPI

from courtyard.domains.accounts import Identity
from courtyard.domains.wallet import TransferRequest
from courtyard.domains.wallet.idempotency import Answer
from courtyard.domains.wallet.transfer_shapes import PendingTransfer
from tests.integration.wallet_support import PIN, Member

Outcome = Answer | BaseException


@dataclass(frozen=True)
class Ask:
    """One transfer creation, as its sender's request carries it."""

    sender: Member
    to: Member
    amount: str
    key: str
    transfer_id: str | None = None


async def identity_of(app: FastAPI, who: Member) -> Identity:
    token = who.headers["Authorization"].removeprefix("Bearer ")
    identity: Identity = await app.state.runtime.accounts.authenticate(token)
    return identity


async def one_batch(app: FastAPI, asks: list[Ask]) -> list[Outcome]:
    """Check each creation as the service does, then commit all of them as one batch (or,
    if the batch fails, one by one, as the queue does); each one's answer or error."""
    runtime = app.state.runtime
    transfers = runtime.wallet.transfers
    pending: list[PendingTransfer] = []
    for ask in asks:
        amount = runtime.wallet.policy.parse(ask.amount, "CNY")
        request = TransferRequest(ask.to.user_id, amount, PIN, ask.transfer_id)
        checked = await transfers._check_create(
            await identity_of(app, ask.sender), ask.key, request
        )
        assert isinstance(checked, PendingTransfer), checked
        pending.append(checked)
    await transfers.queue._commit(pending)
    return [outcome(p) for p in pending]


def outcome(pending: PendingTransfer) -> Outcome:
    error = pending.future.exception()
    return error if error is not None else pending.future.result()


def code(result: Outcome) -> str:
    """``created`` / ``replayed`` for answers, the problem code for errors."""
    if isinstance(result, Answer):
        return "replayed" if result.replayed else "created"
    return str(getattr(result, "code", type(result).__name__))
