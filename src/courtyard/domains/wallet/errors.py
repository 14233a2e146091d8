"""Errors of the wallet domain; each ``code`` is documented in the API (docs/wallet.md)."""

from __future__ import annotations

# The payment providers' signature error, raised for a forged or stale callback.
from courtyard.core.callback_signatures import BadSignature as BadSignature
from courtyard.core.errors import (
    Conflict,
    InvalidInput,
    NotFound,
    PermissionDenied,
    TooManyRequests,
    Unavailable,
)


class UnbalancedEntry(Exception):
    """A bug: an entry whose postings do not sum to zero per currency. Never an answer."""


class InsufficientFunds(Conflict):
    code = "insufficient_funds"
    title = "The balance is too low for this payment"


class AccountFrozen(Conflict):
    code = "account_frozen"
    title = "This wallet account is frozen; payments from it are refused"


class DailyLimitExceeded(PermissionDenied):
    code = "daily_limit_exceeded"
    title = "This payment would exceed today's limit"


class AmountAboveLimit(InvalidInput):
    code = "amount_above_limit"
    title = "The amount is above the limit for a single payment"


class IdempotencyKeyRequired(InvalidInput):
    code = "idempotency_key_required"
    title = "Payments need an Idempotency-Key header"


class InvalidIdempotencyKey(InvalidInput):
    code = "invalid_idempotency_key"
    title = "An Idempotency-Key is 1-64 characters of A-Z a-z 0-9 . _ : -"


class IdempotencyKeyReused(Conflict):
    code = "idempotency_key_reused"
    title = "This Idempotency-Key was used for a different request"


class PinNotSet(PermissionDenied):
    code = "pin_not_set"
    title = "Set a payment PIN first"


class WrongPin(PermissionDenied):
    code = "wrong_pin"
    title = "The payment PIN is wrong"


class PinLocked(TooManyRequests):
    code = "pin_locked"
    title = "Too many wrong PINs; payments are locked for a while"


class WeakPin(InvalidInput):
    code = "weak_pin"
    title = "A PIN is 6 digits and not a run or a repeat"


class PinRequired(InvalidInput):
    code = "pin_required"
    title = "This payment needs the payment PIN"


class SelfTransfer(InvalidInput):
    code = "self_transfer"
    title = "You cannot transfer money to yourself"


class InvalidMemo(InvalidInput):
    code = "invalid_memo"
    title = "The memo must be your own encrypted message in this conversation"


class RecipientNotFound(NotFound):
    code = "recipient_not_found"
    title = "No such recipient"


class TransferNotFound(NotFound):
    code = "transfer_not_found"
    title = "No such transfer"


class OperationNotFound(NotFound):
    code = "operation_not_found"
    title = "No such top-up or withdrawal"


class NotTransferRecipient(PermissionDenied):
    code = "not_transfer_recipient"
    title = "Only the recipient can accept or return a transfer"


class TransferExists(Conflict):
    code = "transfer_exists"
    title = "A transfer with this id exists"


class NoDirectConversation(Conflict):
    code = "no_direct_conversation"
    title = "Transfers are sent in a direct conversation; start one first"


class TransferNotPending(Conflict):
    code = "transfer_not_pending"
    title = "The transfer is no longer pending"


class TransferExpired(Conflict):
    code = "transfer_expired"
    title = "The transfer has expired and is being refunded"


class SandboxOnly(InvalidInput):
    code = "sandbox_only"
    title = "Sandbox behaviour can only be requested from the sandbox provider"


class ProviderUnavailable(Unavailable):
    code = "provider_unavailable"
    title = "Top-ups and withdrawals are not available on this server"


class RangeTooLong(InvalidInput):
    code = "range_too_long"
    title = "A statement covers at most 366 days"


class BillerNotFound(NotFound):
    code = "biller_not_found"
    title = "No such biller, or it takes no payments now"


class BillNotFound(NotFound):
    code = "bill_not_found"
    title = "No such bill"


class InvalidReference(InvalidInput):
    code = "invalid_reference"
    title = "The reference is not one this biller issues"


class AmountOutOfBounds(InvalidInput):
    code = "amount_out_of_bounds"
    title = "The amount is outside what this biller accepts"


class InvalidBiller(InvalidInput):
    """An operator's biller registration that cannot work (a bad pattern or bounds)."""

    code = "invalid_biller"
    title = "The biller's details are not valid"


class InvalidCallback(InvalidInput):
    code = "invalid_callback"
    title = "The signed callback is not an event this server understands"


class ProviderRefused(Conflict):
    """The provider refused an operation for good (a 4xx other than 429); the operation
    fails with the provider's code. Never a user's answer: jobs and submits handle it."""

    code = "provider_refused"
    title = "The payment provider refused the operation"


class InvalidProviderReport(Unavailable):
    """The provider's (correctly signed) report is not one we can read; the reconciliation
    job retries it later."""

    code = "invalid_provider_report"
    title = "The payment provider's report cannot be read"


# --- reconciliation exceptions and their resolution (docs/wallet.md, "Reconciliation") ---


class InvalidResolution(InvalidInput):
    code = "invalid_resolution"
    title = "A resolution is applied_provider_status, adjusted or dismissed"


class NoteRequired(InvalidInput):
    code = "note_required"
    title = "A resolution needs a note of 1-500 characters saying why"


class OperatorNotAllowed(PermissionDenied):
    code = "operator_not_allowed"
    title = "Only a finance or admin operator may resolve reconciliation exceptions"


class ReconciliationItemNotFound(NotFound):
    code = "reconciliation_item_not_found"
    title = "No such reconciliation item"


class ItemAlreadyResolved(Conflict):
    code = "item_already_resolved"
    title = "This reconciliation item has been resolved already"


class ResolutionNotApplicable(Conflict):
    code = "resolution_not_applicable"
    title = "This resolution does not apply to this item as things stand"


class NotEligible(PermissionDenied):
    code = "not_eligible"
    title = "This red packet is not for you"


class RedPacketNotFound(NotFound):
    code = "red_packet_not_found"
    title = "No such red packet"


class RedPacketExists(Conflict):
    code = "red_packet_exists"
    title = "A red packet with this id exists"


class RedPacketExpired(Conflict):
    code = "red_packet_expired"
    title = "This red packet has expired"


class RedPacketEmpty(Conflict):
    code = "red_packet_empty"
    title = "Too slow: every share of this red packet has been taken"


class RedPacketTooSmall(InvalidInput):
    code = "red_packet_too_small"
    title = "Each share needs at least one minor unit"


class RedPacketCapExceeded(InvalidInput):
    code = "red_packet_cap_exceeded"
    title = "The red packet holds more than the limit"


class TooManyShares(InvalidInput):
    code = "too_many_shares"
    title = "A red packet has too many shares"


# --- merchants, QR codes and payments (docs/wallet.md, "Merchants and QR payments") -------


class MerchantNotFound(NotFound):
    code = "merchant_not_found"
    title = "No such merchant"


class MerchantUnavailable(Conflict):
    code = "merchant_unavailable"
    title = "This merchant is not taking payments now"


class QrNotFound(NotFound):
    code = "qr_not_found"
    title = "No such payment code"


class QrRevoked(Conflict):
    code = "qr_revoked"
    title = "This payment code has been withdrawn by the merchant"


class AmountMismatch(InvalidInput):
    code = "amount_mismatch"
    title = "This code is for another amount"


class SelfPayment(InvalidInput):
    code = "self_payment"
    title = "You cannot pay your own merchant"


class PaymentNotFound(NotFound):
    code = "payment_not_found"
    title = "No such payment"


class NotMerchantOwner(PermissionDenied):
    code = "not_merchant_owner"
    title = "Only the merchant's owner can refund a payment"


class RefundExceedsPayment(Conflict):
    code = "refund_exceeds_payment"
    title = "The refunds would exceed what was paid"


class RefundWindowClosed(Conflict):
    code = "refund_window_closed"
    title = "This payment is too old to be refunded"
