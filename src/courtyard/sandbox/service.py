"""What the simulated provider does with operations: accept, settle, cancel, let a payer pay."""

from __future__ import annotations

import datetime as dt
import json
import random
from collections.abc import Callable
from dataclasses import replace
from typing import Any

from courtyard.core.clock import Clock
from courtyard.core.errors import InvalidInput
from courtyard.core.ids import new_id
from courtyard.sandbox.schemas import (
    Behaviour,
    ControlRequest,
    Defaults,
    Kind,
    OperationRequest,
    Status,
    explicit_fields,
)
from courtyard.sandbox.store import (
    IdempotencyConflict,
    Operation,
    SandboxStore,
    iso,
)

FAILURE_CODES: dict[Kind, str] = {"charge": "card_declined", "payout": "payout_rejected"}
PAYER_DECLINED = "payer_declined"


class InvalidBehaviour(InvalidInput):
    code = "invalid_behaviour"
    title = "This behaviour does not apply to this operation"


class DestinationRequired(InvalidInput):
    code = "destination_required"
    title = "A payout needs a destination"


def callback_body(op: Operation, event_id: str, status: Status, now: dt.datetime) -> bytes:
    """The JSON callback event for ``op`` reaching ``status``; built once, sent as is."""
    failure_code = op.failure_code if status == "failed" else None
    amount = op.amount_minor + 1 if op.behaviour.wrong_amount else op.amount_minor
    event: dict[str, Any] = {
        "event_id": event_id,
        "operation_id": op.operation_id,
        "provider_ref": op.provider_ref,
        "kind": op.kind,
        "status": status,
        "amount_minor": amount,
        "currency": op.currency,
        "failure_code": failure_code,
        "occurred_at": iso(now),
    }
    return json.dumps(event, separators=(",", ":")).encode()


def _same_request(op: Operation, kind: Kind, req: OperationRequest) -> bool:
    stored_behaviour = op.behaviour.model_dump()
    return (
        op.kind == kind
        and op.amount_minor == req.amount_minor
        and op.currency == req.currency
        and op.callback_url == req.callback_url
        and op.destination == req.destination
        # Only what the client said is compared: defaults may have moved since.
        and all(stored_behaviour[k] == v for k, v in explicit_fields(req.behaviour).items())
    )


class SandboxService:
    """Operations of the simulated provider; settlement queues callbacks in the outbox."""

    def __init__(
        self,
        store: SandboxStore,
        clock: Clock,
        *,
        random_fraction: Callable[[], float] | None = None,
    ) -> None:
        self.store = store
        self.clock = clock
        self._random_fraction = random_fraction or random.SystemRandom().random

    async def do_control(self, update: ControlRequest) -> Defaults:
        """Change the defaults for operations created from now on."""
        current = await self.store.get_defaults()
        defaults = Defaults.model_validate(
            current.model_dump() | update.model_dump(exclude_none=True)
        )
        await self.store.set_defaults(defaults)
        return defaults

    async def _resolve(self, kind: Kind, requested: Behaviour | None) -> Behaviour:
        explicit = explicit_fields(requested)
        if kind == "payout" and explicit.get("outcome") == "wait_for_payer":
            raise InvalidBehaviour("wait_for_payer applies to charges only")
        defaults = await self.store.get_defaults()
        merged = defaults.model_dump(exclude={"fail_rate"}) | explicit
        if "outcome" not in explicit:
            if kind == "payout" and merged["outcome"] == "wait_for_payer":
                merged["outcome"] = "succeed"
            if merged["outcome"] == "succeed" and self._random_fraction() < defaults.fail_rate:
                merged["outcome"] = "fail"
        return Behaviour.model_validate(merged)

    async def do_create(self, kind: Kind, req: OperationRequest) -> Operation:
        """Create the charge or payout, or return the existing one for a repeated request.

        Raises:
            IdempotencyConflict: ``operation_id`` exists with other parameters.
        """
        existing = await self.store.get_operation(req.operation_id)
        if existing is None:
            if kind == "payout" and req.destination is None:
                raise DestinationRequired()
            behaviour = await self._resolve(kind, req.behaviour)
            existing = await self.store.insert_operation(self._new(kind, req, behaviour))
        if not _same_request(existing, kind, req):
            raise IdempotencyConflict(operation_id=req.operation_id)
        return existing

    def _new(self, kind: Kind, req: OperationRequest, behaviour: Behaviour) -> Operation:
        now = self.clock.now()
        settles = behaviour.outcome in ("succeed", "fail")
        return Operation(
            operation_id=req.operation_id,
            kind=kind,
            amount_minor=req.amount_minor,
            currency=req.currency,
            callback_url=req.callback_url,
            destination=req.destination,
            state="pending",
            provider_ref=f"sbx_{new_id()}",
            behaviour=behaviour,
            created_at=iso(now),
            settle_at=iso(now + dt.timedelta(milliseconds=behaviour.delay_ms)) if settles else None,
            settled_at=None,
            failure_code=None,
        )

    async def do_cancel(self, operation_id: str) -> Operation:
        """Cancel a pending operation; any other state is left as it is. No callback is sent:
        the caller learns the outcome from the answer."""
        await self.store.access_operation(operation_id)
        await self.store.finish(operation_id, "cancelled", self.clock.now())
        return await self.store.access_operation(operation_id)

    async def do_pay(self, operation_id: str, *, accept: bool) -> Operation:
        """The payer's click on the pay page; only a pending ``wait_for_payer`` charge moves."""
        op = await self.store.access_operation(operation_id)
        if op.state == "pending" and op.behaviour.outcome == "wait_for_payer":
            if accept:
                await self._settle(op, "succeeded", None)
            else:
                await self._settle(op, "failed", PAYER_DECLINED)
        return await self.store.access_operation(operation_id)

    async def settle_due(self) -> int:
        """Settle every operation whose delay has passed; return how many settled."""
        settled = 0
        for op in await self.store.due_settlements(self.clock.now()):
            if op.behaviour.outcome == "succeed":
                settled += await self._settle(op, "succeeded", None)
            else:
                settled += await self._settle(op, "failed", FAILURE_CODES[op.kind])
        return settled

    async def _settle(self, op: Operation, status: Status, failure_code: str | None) -> bool:
        now = self.clock.now()
        event_id = new_id()
        final = replace(op, state=status, failure_code=failure_code)
        body = callback_body(final, event_id, status, now)
        copies = 0 if op.behaviour.drop_callbacks else 1 + op.behaviour.duplicates
        callbacks = [(event_id, copy_no, body) for copy_no in range(copies)]
        return await self.store.finish(
            op.operation_id, status, now, failure_code=failure_code, callbacks=callbacks
        )
