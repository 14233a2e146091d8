"""What every wallet flow works with: one database, clock, ledger, account directory,
idempotency store, PIN checker, chat timeline and policy."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from courtyard.core.clock import Clock
from courtyard.db import Database
from courtyard.domains.messaging import Timeline
from courtyard.domains.wallet.accounts import AccountDirectory
from courtyard.domains.wallet.idempotency import Idempotency
from courtyard.domains.wallet.ledger import Ledger
from courtyard.domains.wallet.pins import Pins
from courtyard.domains.wallet.policy import WalletPolicy


@dataclass(frozen=True, slots=True)
class WalletContext:
    db: Database
    clock: Clock
    ledger: Ledger
    accounts: AccountDirectory
    idempotency: Idempotency
    pins: Pins
    timeline: Timeline
    policy: WalletPolicy


class Flow:
    """Base of the flows (transfers, red packets, provider operations): their shared parts
    as attributes."""

    def __init__(self, context: WalletContext) -> None:
        self.context = context
        self.db = context.db
        self.clock = context.clock
        self.ledger = context.ledger
        self.accounts = context.accounts
        self.idempotency = context.idempotency
        self.pins = context.pins
        self.timeline = context.timeline
        self.policy = context.policy


def iso(moment: dt.datetime | None) -> str | None:
    """A UTC time as the wire shows it (``…Z``)."""
    return None if moment is None else moment.isoformat().replace("+00:00", "Z")
