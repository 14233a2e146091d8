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


class InvalidCallback(InvalidInput):
    code = "invalid_callback"
    title = "The signed callback is not an event this server understands"


class ProviderRefused(Conflict):
    """The provider refused an operation for good (a 4xx other than 429); the operation
    fails with the provider's code. Never a user's answer: jobs and submits handle it."""

    code = "provider_refused"
    title = "The payment provider refused the operation"


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
