"""Merchants and their QR codes (docs/wallet.md, "Merchants and QR payments").

Operators register merchants and suspend or reactivate them (``MerchantRegistry``, used by
``courtyard admin wallet merchant …`` and the admin console); a merchant's owner, a user,
makes static and fixed-amount codes, lists and revokes them, and gets them as images
(``Merchants``). Everyone but the owner gets ``merchant_not_found``, so ids reveal nothing.
"""

from __future__ import annotations

import io
import unicodedata
from dataclasses import dataclass
from typing import Any, Literal

import segno
from sqlalchemy import select, update

from courtyard.core.clock import Clock
from courtyard.core.errors import InvalidInput
from courtyard.core.ids import is_id, new_id
from courtyard.core.money import CurrencyMismatch, Money, UnsupportedCurrency
from courtyard.core.qr_payload import QrPayload
from courtyard.db import Database
from courtyard.domains.accounts import (
    Identity,
    existing_users,
    get_profiles,
    get_user_id_by_username,
    record_operator_action,
)
from courtyard.domains.wallet.accounts import AccountDirectory
from courtyard.domains.wallet.commerce_models import MERCHANT_CATEGORIES, Merchant, MerchantQrCode
from courtyard.domains.wallet.context import iso
from courtyard.domains.wallet.errors import (
    MerchantNotFound,
    MerchantUnavailable,
    QrNotFound,
    QrRevoked,
)
from courtyard.domains.wallet.models import LedgerAccount
from courtyard.domains.wallet.qr_keys import QrKeyring

MAX_NAME_CHARS = 80
MAX_LABEL_CHARS = 80
MAX_FEE_BPS = 9999
ImageKind = Literal["svg", "png"]
IMAGE_MEDIA_TYPES: dict[str, str] = {"svg": "image/svg+xml", "png": "image/png"}


@dataclass(frozen=True, slots=True)
class MerchantRegistration:
    owner_user_id: str
    name: str
    category: str
    currencies: tuple[str, ...]
    fee_bps: int = 0


@dataclass(frozen=True, slots=True)
class QrRequest:
    """A code to make: ``static`` (the payer enters the amount) or ``fixed`` (``amount``)."""

    kind: str
    currency: str
    amount: Money | None = None
    label: str = ""


def merchant_public(row: Merchant) -> dict[str, Any]:
    """What a payer sees of a merchant before paying."""
    return {"merchant_id": row.merchant_id, "name": row.name, "category": row.category}


def merchant_wire(row: Merchant, balances: dict[str, int] | None = None) -> dict[str, Any]:
    """A merchant as its owner and operators see it, with its balances when given."""
    body = {
        **merchant_public(row),
        "owner_user_id": row.owner_user_id,
        "currencies": list(row.currencies),
        "fee_bps": row.fee_bps,
        "status": row.status,
        "created_at": iso(row.created_at),
    }
    if balances is not None:
        body["balances"] = [Money(balances.get(c, 0), c).to_wire() for c in row.currencies]
    return body


def payload_of(code: MerchantQrCode) -> QrPayload:
    return QrPayload(code.merchant_id, code.qr_id, code.currency, code.amount_minor, code.key_id)


def check_text(text: str, what: str, limit: int, *, required: bool) -> str:
    """Trimmed text without control characters, at most ``limit`` characters."""
    text = text.strip()
    if required and not text:
        raise InvalidInput(f"{what} must not be empty")
    if len(text) > limit:
        raise InvalidInput(f"{what} is at most {limit} characters")
    if any(unicodedata.category(c) in ("Cc", "Cf") for c in text):
        raise InvalidInput(f"{what} must not contain control characters")
    return text


class MerchantRegistry:
    """The operator's side: register merchants, suspend and reactivate them, list them."""

    categories = MERCHANT_CATEGORIES

    def __init__(
        self, db: Database, clock: Clock, accounts: AccountDirectory, currencies: tuple[str, ...]
    ) -> None:
        self.db = db
        self.clock = clock
        self.accounts = accounts
        self.currencies = currencies

    async def do_register(self, reg: MerchantRegistration, *, operator_id: str) -> dict[str, Any]:
        """Register a merchant run by ``reg.owner_user_id`` and open its accounts."""
        name = check_text(reg.name, "The name", MAX_NAME_CHARS, required=True)
        if reg.category not in MERCHANT_CATEGORIES:
            raise InvalidInput(f"The category is one of {', '.join(MERCHANT_CATEGORIES)}")
        if not reg.currencies or not set(reg.currencies) <= set(self.currencies):
            raise UnsupportedCurrency(f"A merchant takes some of {', '.join(self.currencies)}")
        if not 0 <= reg.fee_bps <= MAX_FEE_BPS:
            raise InvalidInput(f"The fee is 0 to {MAX_FEE_BPS} basis points")
        async with self.db.read() as session:
            if not await existing_users(session, {reg.owner_user_id}):
                raise InvalidInput("The owner is not a user of this server")
        row = Merchant(
            merchant_id=new_id(),
            owner_user_id=reg.owner_user_id,
            name=name,
            category=reg.category,
            currencies=sorted(set(reg.currencies)),
            fee_bps=reg.fee_bps,
            status="active",
            created_at=self.clock.now(),
        )
        async with self.db.transaction() as tx:
            tx.session.add(row)
            await tx.session.flush()
            await record_operator_action(
                tx, self.clock, operator_id, "wallet.merchant.create", f"merchant:{row.merchant_id}"
            )
        # Accounts are made outside the money transactions that need them (docs/wallet.md).
        for currency in row.currencies:
            await self.accounts.ensure_merchant(row.merchant_id, currency)
        return merchant_wire(row)

    async def do_set_status(
        self, merchant_id: str, status: Literal["active", "suspended"], *, operator_id: str
    ) -> dict[str, Any]:
        """Suspend a merchant (its codes stop taking payments; refunds still work) or
        reactivate it."""
        if not is_id(merchant_id):
            raise MerchantNotFound()
        async with self.db.transaction() as tx:
            changed = await tx.session.execute(
                update(Merchant)
                .where(Merchant.merchant_id == merchant_id)
                .values(status=status)
                .returning(Merchant.merchant_id)
            )
            if changed.scalar_one_or_none() is None:
                raise MerchantNotFound()
            verb = "suspend" if status == "suspended" else "activate"
            await record_operator_action(
                tx, self.clock, operator_id, f"wallet.merchant.{verb}", f"merchant:{merchant_id}"
            )
            row = await tx.session.get(Merchant, merchant_id, populate_existing=True)
            assert row is not None
        return merchant_wire(row)

    async def access_owner_id(self, username: str) -> str:
        """The id of the user called ``username``, who is to run a merchant."""
        async with self.db.read() as session:
            user_id = await get_user_id_by_username(session, username)
        if user_id is None:
            raise InvalidInput(f"No user is called {username!r}")
        return user_id

    async def list_all(self) -> list[dict[str, Any]]:
        """Every merchant, oldest first, with its owner's username."""
        async with self.db.read() as session:
            rows = list(await session.scalars(select(Merchant).order_by(Merchant.created_at)))
            profiles = await get_profiles(session, {row.owner_user_id for row in rows})
        return [
            {**merchant_wire(row), "owner_username": profiles.get(row.owner_user_id, ("",))[0]}
            for row in rows
        ]


class Merchants:
    """The owner's side: their merchants, and the merchants' QR codes."""

    def __init__(
        self,
        db: Database,
        clock: Clock,
        accounts: AccountDirectory,
        keyring: QrKeyring,
        currencies: tuple[str, ...],
    ) -> None:
        self.db = db
        self.clock = clock
        self.accounts = accounts
        self.keyring = keyring
        self.currencies = currencies

    async def list_mine(self, identity: Identity) -> list[dict[str, Any]]:
        """The merchants the caller owns, with what each has received and kept."""
        async with self.db.read() as session:
            rows = list(
                await session.scalars(
                    select(Merchant)
                    .where(Merchant.owner_user_id == identity.user_id)
                    .order_by(Merchant.created_at, Merchant.merchant_id)
                )
            )
            balances: dict[str, dict[str, int]] = {}
            if rows:
                accounts = await session.execute(
                    select(
                        LedgerAccount.owner_id, LedgerAccount.currency, LedgerAccount.balance_minor
                    ).where(
                        LedgerAccount.owner_kind == "merchant",
                        LedgerAccount.owner_id.in_([r.merchant_id for r in rows]),
                        LedgerAccount.purpose == "main",
                    )
                )
                for owner_id, currency, balance in accounts:
                    balances.setdefault(str(owner_id), {})[currency] = balance or 0
        return [merchant_wire(row, balances.get(row.merchant_id, {})) for row in rows]

    async def access_owned(self, identity: Identity, merchant_id: str) -> Merchant:
        """The merchant if the caller owns it; ``merchant_not_found`` for anyone else."""
        if not is_id(merchant_id):
            raise MerchantNotFound()
        async with self.db.read() as session:
            row = await session.get(Merchant, merchant_id)
        if row is None or row.owner_user_id != identity.user_id:
            raise MerchantNotFound()
        return row

    async def do_create_qr(
        self, identity: Identity, merchant_id: str, req: QrRequest
    ) -> dict[str, Any]:
        """Make a code signed with the current key; its payload is the text to print."""
        merchant = await self.access_owned(identity, merchant_id)
        if merchant.status != "active":
            raise MerchantUnavailable("A suspended merchant cannot make new codes")
        if req.currency not in merchant.currencies:
            raise UnsupportedCurrency(f"This merchant takes {', '.join(merchant.currencies)}")
        if req.kind not in ("static", "fixed"):
            raise InvalidInput("A code is static (the payer enters the amount) or fixed")
        if (req.kind == "fixed") != (req.amount is not None):
            raise InvalidInput("A fixed code needs an amount; a static code has none")
        if req.amount is not None and req.amount.currency != req.currency:
            raise CurrencyMismatch("The amount is in another currency than the code")
        label = check_text(req.label, "The label", MAX_LABEL_CHARS, required=False)
        code = MerchantQrCode(
            merchant_id=merchant_id,
            qr_id=new_id(),
            kind=req.kind,
            amount_minor=req.amount.amount_minor if req.amount else None,
            currency=req.currency,
            label=label,
            key_id=self.keyring.current_key_id,
            created_at=self.clock.now(),
            revoked_at=None,
        )
        async with self.db.transaction() as tx:
            tx.session.add(code)
        await self.accounts.ensure_merchant(merchant_id, req.currency)
        return self.qr_wire(code)

    async def list_qr(self, identity: Identity, merchant_id: str) -> list[dict[str, Any]]:
        """The merchant's codes, newest first, revoked ones included."""
        await self.access_owned(identity, merchant_id)
        async with self.db.read() as session:
            codes = await session.scalars(
                select(MerchantQrCode)
                .where(MerchantQrCode.merchant_id == merchant_id)
                .order_by(MerchantQrCode.created_at.desc(), MerchantQrCode.qr_id.desc())
            )
            return [self.qr_wire(code) for code in codes]

    async def do_revoke_qr(self, identity: Identity, merchant_id: str, qr_id: str) -> None:
        """Withdraw a code for good; revoking it again changes nothing."""
        await self.access_owned(identity, merchant_id)
        await self._code(merchant_id, qr_id)
        async with self.db.transaction() as tx:
            await tx.session.execute(
                update(MerchantQrCode)
                .where(
                    MerchantQrCode.merchant_id == merchant_id,
                    MerchantQrCode.qr_id == qr_id,
                    MerchantQrCode.revoked_at.is_(None),
                )
                .values(revoked_at=self.clock.now())
            )

    async def qr_image(
        self, identity: Identity, merchant_id: str, qr_id: str, kind: ImageKind
    ) -> bytes:
        """The code as an SVG or PNG image to print."""
        await self.access_owned(identity, merchant_id)
        code = await self._code(merchant_id, qr_id)
        if code.revoked_at is not None:
            raise QrRevoked("A withdrawn code is not printed again")
        return render_qr(self.keyring.sign(payload_of(code)), kind)

    def qr_wire(self, code: MerchantQrCode) -> dict[str, Any]:
        live = code.revoked_at is None and self.keyring.holds(code.key_id)
        return {
            "qr_id": code.qr_id,
            "merchant_id": code.merchant_id,
            "kind": code.kind,
            "amount": Money(code.amount_minor, code.currency).to_wire()
            if code.amount_minor is not None
            else None,
            "currency": code.currency,
            "label": code.label,
            "created_at": iso(code.created_at),
            "revoked_at": iso(code.revoked_at),
            # Ed25519 signatures are deterministic: the same code always prints the same.
            "payload": self.keyring.sign(payload_of(code)) if live else None,
        }

    async def _code(self, merchant_id: str, qr_id: str) -> MerchantQrCode:
        if not is_id(qr_id):
            raise QrNotFound()
        async with self.db.read() as session:
            code = await session.get(MerchantQrCode, (merchant_id, qr_id))
        if code is None:
            raise QrNotFound()
        return code


def render_qr(uri: str, kind: ImageKind) -> bytes:
    """A QR image of ``uri`` (error correction at least M, 8 px modules, 4-module border)."""
    buffer = io.BytesIO()
    segno.make(uri, error="m", micro=False).save(buffer, kind=kind, scale=8, border=4)
    return buffer.getvalue()
