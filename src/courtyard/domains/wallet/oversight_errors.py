"""Errors operators meet in the wallet's console pages and commands."""

from __future__ import annotations

from courtyard.core.errors import Conflict, InvalidInput, NotFound


class LedgerAccountNotFound(NotFound):
    code = "ledger_account_not_found"
    title = "No such ledger account"


class LedgerEntryNotFound(NotFound):
    code = "ledger_entry_not_found"
    title = "No such ledger entry"


class FlowNotFound(NotFound):
    code = "flow_not_found"
    title = "No entries or flow with this kind and id"


class WalletUserNotFound(NotFound):
    code = "user_not_found"
    title = "No user with this username"


class NoteRequired(InvalidInput):
    code = "note_required"
    title = "Say why: a note of 1 to 500 characters is required"


class AccountNotFreezable(InvalidInput):
    code = "account_not_freezable"
    title = "System accounts cannot be frozen"


class AccountStatusConflict(Conflict):
    """Freezing an account that is not open, or unfreezing one that is not frozen."""

    code = "account_status_conflict"
    title = "The account is not in the state this action needs"
