"""QR payments in the SDK (``Wallet`` mixes this in): check a code offline against the
server's signing keys, resolve it, pay it with the same exactly-once retries as a transfer;
and for merchant owners, their merchants, codes and refunds (docs/wallet.md, "Merchants and
QR payments", "SDK").

A code is verified on this device before anything is sent: a tampered amount, merchant or
code id is refused here (``QrRejected``) and never reaches the server with the PIN.
"""

from __future__ import annotations

import io
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any, Literal, TypeVar
from urllib.parse import quote

import segno
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from courtyard.client.errors import ProtocolError
from courtyard.client.payment_models import (
    Merchant,
    Payment,
    PaymentPage,
    QrCode,
    QrRejected,
    Refund,
    ResolvedQr,
)
from courtyard.core.ids import new_id
from courtyard.core.money import Money
from courtyard.core.qr_payload import (
    InvalidQr,
    QrPayload,
    from_b64url,
    key_id_for,
    parse,
    verify,
)

if TYPE_CHECKING:
    from courtyard.client.client import Client
    from courtyard.client.wallet import PinSource

ImageKind = Literal["svg", "png"]
T = TypeVar("T")


class WalletPayments:
    """QR payment and merchant methods of ``Wallet``; they use its money-call plumbing."""

    if TYPE_CHECKING:
        client: Client

        async def _money(
            self, method: str, path: str, body: dict[str, Any] | None, key: str | None, what: str
        ) -> Any: ...

        async def _pin(self, pin: PinSource | None) -> str: ...

    # The server's QR signing keys, fetched once (and again for a key not seen yet).
    _qr_keys: Mapping[str, Ed25519PublicKey] | None = None

    # --- paying -----------------------------------------------------------------------------

    async def verify_qr(self, qr_payload: str) -> QrPayload:
        """What a code says, if it is well formed and signed by one of the server's keys;
        ``QrRejected`` otherwise. Needs no more than ``GET /v1/wallet/qr-keys``, once."""
        try:
            key_id = parse(qr_payload)[0].key_id
            keys = await self.qr_keys(refresh=key_id not in (self._qr_keys or {}))
            return verify(qr_payload, keys)
        except InvalidQr as exc:
            raise QrRejected(exc.detail) from None

    async def qr_keys(self, *, refresh: bool = False) -> Mapping[str, Ed25519PublicKey]:
        """The server's QR signing keys by key id (cached; ``refresh`` fetches them again)."""
        if self._qr_keys is None or refresh:
            data = await self.client._call("GET", "/v1/wallet/qr-keys", authenticated=False)
            self._qr_keys = _parse(_public_keys, data)
        return self._qr_keys

    async def resolve_qr(self, qr_payload: str) -> ResolvedQr:
        """Whom a code pays, and how much for a fixed code: verified here, then asked of the
        server, whose answer must agree with what the code's signature covers."""
        payload = await self.verify_qr(qr_payload)
        data = await self.client._call("POST", "/v1/wallet/qr/resolve", json={"qr": qr_payload})
        resolved = _parse(ResolvedQr.from_wire, data)
        fixed = Money(payload.amount_minor, payload.currency) if payload.amount_minor else None
        if (
            resolved.merchant.merchant_id != payload.merchant_id
            or resolved.qr_id != payload.qr_id
            or resolved.currency != payload.currency
            or resolved.amount != fixed
        ):
            raise ProtocolError("the server described another code than the one scanned")
        return resolved

    async def pay(
        self,
        qr_payload: str,
        amount: str | Money | None = None,
        currency: str | None = None,
        *,
        idempotency_key: str | None = None,
        pin: PinSource | None = None,
    ) -> Payment:
        """Pay the merchant of a code: a static code needs ``amount``; a fixed code pays its
        own (an ``amount`` given must equal it). ``currency`` defaults to the code's.

        Keys and retries as for ``transfer``: a repeat with the same ``idempotency_key`` and
        arguments answers the first payment (``replayed=True``); ``WalletUnsure`` when no
        definite answer came in ``retry_for`` seconds; ``QrRejected`` for a code that fails
        the signature check here; ``ApiError`` for a refusal (``qr_revoked``,
        ``merchant_unavailable``, ``amount_mismatch``, ``insufficient_funds``...).
        """
        from courtyard.client.wallet import _amount  # imported here: wallet.py imports us

        payload = await self.verify_qr(qr_payload)
        body: dict[str, Any] = {"qr": qr_payload}
        if amount is not None:
            body["amount"] = _amount(amount, currency or payload.currency)
        if currency is not None:
            body["currency"] = currency
        body["pin"] = await self._pin(pin)
        key = idempotency_key or new_id()
        data = await self._money("POST", "/v1/wallet/payments", body, key, "payment")
        return _parse(Payment.from_wire, data)

    async def payment(self, payment_id: str) -> Payment:
        """A payment you made, or one your merchant received, with its refunds."""
        return await self._get(Payment.from_wire, f"/v1/wallet/payments/{_segment(payment_id)}")

    # --- merchant owners --------------------------------------------------------------------

    async def refund(
        self,
        payment_id: str,
        amount: str | Money,
        *,
        idempotency_key: str | None = None,
        pin: PinSource | None = None,
    ) -> Refund:
        """Refund part or all of a payment your merchant received (your PIN); refunds never
        add up to more than the payment. Keys and retries as for ``pay``; refusals:
        ``refund_exceeds_payment``, ``refund_window_closed``, ``insufficient_funds``."""
        from courtyard.client.wallet import _amount

        currency = amount.currency if isinstance(amount, Money) else None
        body: dict[str, Any] = {"amount": _amount(amount, currency or "")}
        if currency is not None:
            body["currency"] = currency
        body["pin"] = await self._pin(pin)
        key = idempotency_key or new_id()
        path = f"/v1/wallet/payments/{_segment(payment_id)}/refunds"
        data = await self._money("POST", path, body, key, f"refund of payment {payment_id}")
        return _parse(Refund.from_wire, data)

    async def merchants(self) -> list[Merchant]:
        """The merchants you own (an operator registers them), with their balances."""
        return await self._get(
            lambda d: [Merchant.from_wire(m) for m in d["merchants"]], "/v1/wallet/merchants/mine"
        )

    async def qr_create(
        self,
        merchant_id: str,
        currency: str | None = None,
        amount: str | Money | None = None,
        *,
        label: str = "",
    ) -> QrCode:
        """Make a code for your merchant: static (the payer enters the amount) without
        ``amount``, fixed with it. ``currency`` may be left out when ``amount`` is a Money."""
        from courtyard.client.wallet import _amount

        code = currency or (amount.currency if isinstance(amount, Money) else None)
        if code is None:
            raise ValueError("give the code's currency (or the amount as a Money)")
        body: dict[str, Any] = {"kind": "static", "currency": code, "label": label}
        if amount is not None:
            body.update(kind="fixed", amount=_amount(amount, code))
        path = f"/v1/wallet/merchants/{_segment(merchant_id)}/qr"
        data = await self.client._call("POST", path, json=body)
        return _parse(QrCode.from_wire, data)

    async def qr_list(self, merchant_id: str | None = None) -> list[QrCode]:
        """A merchant's codes, newest first (revoked ones too); without ``merchant_id``,
        those of every merchant you own."""
        ids = [merchant_id] if merchant_id else [m.merchant_id for m in await self.merchants()]
        codes: list[QrCode] = []
        for mid in ids:
            path = f"/v1/wallet/merchants/{_segment(mid)}/qr"
            codes += await self._get(lambda d: [QrCode.from_wire(c) for c in d["codes"]], path)
        return codes

    async def qr_revoke(self, qr_id: str, merchant_id: str | None = None) -> None:
        """Withdraw a code for good; without ``merchant_id`` it is looked up among yours."""
        if merchant_id is None:
            found = [c.merchant_id for c in await self.qr_list() if c.qr_id == qr_id]
            if not found:
                raise ValueError(f"none of your merchants has a code {qr_id}")
            merchant_id = found[0]
        path = f"/v1/wallet/merchants/{_segment(merchant_id)}/qr/{_segment(qr_id)}"
        await self.client._call("DELETE", path)

    async def merchant_payments(
        self, merchant_id: str, *, before: str | None = None, limit: int | None = None
    ) -> PaymentPage:
        """Payments your merchant received, newest first."""
        params = {k: v for k, v in (("before", before), ("limit", limit)) if v is not None}
        path = f"/v1/wallet/merchants/{_segment(merchant_id)}/payments"
        data = await self.client._call("GET", path, params=params)
        return _parse(PaymentPage.from_wire, data)

    async def _get(self, parse_data: Callable[[Any], T], path: str) -> T:
        return _parse(parse_data, await self.client._call("GET", path))


def render_qr(qr_payload: str, kind: ImageKind = "svg") -> bytes:
    """A printable QR image of a code's text, made on this device (no server involved)."""
    buffer = io.BytesIO()
    segno.make(qr_payload, error="m", micro=False).save(buffer, kind=kind, scale=8, border=4)
    return buffer.getvalue()


def svg_data_uri(qr_payload: str) -> str:
    """The code as an ``image/svg+xml`` data URI, for an ``<img>`` under a strict CSP."""
    return str(segno.make(qr_payload, error="m", micro=False).svg_data_uri(scale=4, border=4))


def _public_keys(data: Any) -> dict[str, Ed25519PublicKey]:
    """Key id -> key; each id must be the one its key has (``ValueError`` otherwise)."""
    keys = {}
    for item in data["keys"]:
        try:
            raw = from_b64url(str(item["ed25519"]), "a public key")
        except InvalidQr:
            raise ValueError("a QR key is not base64url") from None
        key = Ed25519PublicKey.from_public_bytes(raw)
        if key_id_for(key) != item["key_id"]:
            raise ValueError("a QR key's id is not its own")
        keys[key_id_for(key)] = key
    return keys


def _parse(parse_data: Callable[[Any], T], data: Any) -> T:
    from courtyard.client.wallet import _parse as parse_reply  # wallet.py imports this module

    return parse_reply(parse_data, data)


def _segment(value: str) -> str:
    return quote(value, safe="")
