"""What the wallet stores and why (docs/wallet.md, "Data map"; docs/data-map.md): table →
subject and column → declaration.

Financial records are kept for the region policy's period even through erasure (ledger rows
hold account ids only, so erasing the profile pseudonymises them); PINs and idempotency keys go
with the account. A user's ledger rows are theirs through their accounts (and those of the
merchants they own).
"""

from __future__ import annotations

from courtyard.core.datamap import Basis, DataMap, by_user, declare, no_subject, table, through

CONTRACT: tuple[Basis, ...] = ("contract",)
RECORDS: tuple[Basis, ...] = ("contract", "legal_obligation")
LEDGER_RECORD: tuple[Basis, ...] = ("legal_obligation",)
SECURITY: tuple[Basis, ...] = ("contract", "legitimate_interest")
MEMO = "memo_conversation_id memo_seq"

LEDGER_DATA_MAP: DataMap = {
    "ledger_accounts": table(
        by_user("owner_id", links=(through("owner_id", "merchants", "merchant_id"),)),
        declare(
            "account_id owner_kind owner_id purpose provider currency created_at",
            "identifier",
            "hold the user's money",
            RECORDS,
            "financial_record",
        ),
        declare(
            "cached balance_minor allow_negative status limit_day limit_used_minor "
            "last_entry_id updated_at",
            "financial",
            "balance, daily limits, freezing",
            SECURITY,
            "financial_record",
        ),
    ),
    "ledger_account_keys": table(
        by_user(links=(through("account_id", "ledger_accounts"),)),
        declare(
            "owner_key account_id", "identifier", "find an account", CONTRACT, "financial_record"
        ),
    ),
    "ledger_entries": table(
        by_user(links=(through("entry_id", "ledger_postings"),)),
        declare(
            "entry_id kind category currency flow_kind flow_id initiator created_at",
            "financial",
            "the immutable record of every movement",
            LEDGER_RECORD,
            "financial_record",
        ),
    ),
    "ledger_postings": table(
        by_user(links=(through("account_id", "ledger_accounts"),)),
        declare(
            "account_id entry_id leg currency amount_minor balance_after created_at",
            "financial",
            "the immutable record of every movement",
            LEDGER_RECORD,
            "financial_record",
        ),
    ),
}

FLOW_DATA_MAP: DataMap = {
    "wallet_idempotency": table(
        by_user("user_id"),
        declare(
            "user_id idempotency_key operation request_hash outcome response flow_id "
            "created_at expires_at",
            "technical",
            "exactly-once payments under retries",
            CONTRACT,
            "30d",
        ),
    ),
    "wallet_pins": table(
        by_user("user_id"),
        declare("pin_hash", "credential", "authorise payments", SECURITY, "account"),
        declare(
            "user_id version failed_count pending_count pending_since locked_until created_at "
            "updated_at",
            "security",
            "authorise payments, stop guessing",
            SECURITY,
            "account",
        ),
    ),
    "wallet_user_flows": table(
        by_user("user_id"),
        declare(
            "user_id flow_id flow_kind role created_at",
            "identifier",
            "list a user's payments",
            CONTRACT,
            "financial_record",
        ),
    ),
    "transfers": table(
        by_user("sender_user_id", "recipient_user_id"),
        declare(
            "transfer_id sender_user_id recipient_user_id conversation_id amount_minor "
            "currency state created_at expires_at resolved_at send_entry_id "
            "resolve_entry_id idempotency_key",
            "financial",
            "transfers between people",
            RECORDS,
            "financial_record",
        ),
        declare(
            MEMO, "e2ee_reference", "show the encrypted memo on the devices", CONTRACT, "account"
        ),
    ),
    "red_packets": table(
        by_user("sender_user_id", "to_user_id"),
        declare(
            "packet_id sender_user_id conversation_id audience to_user_id split "
            "share_count total_minor currency state created_at expires_at closed_at "
            "create_entry_id refund_entry_id refunded_minor idempotency_key",
            "financial",
            "red packets",
            RECORDS,
            "financial_record",
        ),
        declare(
            MEMO,
            "e2ee_reference",
            "show the encrypted greeting on the devices",
            CONTRACT,
            "account",
        ),
    ),
    "red_packet_shares": table(
        by_user("grabbed_by"),
        declare(
            "packet_id share_no amount_minor grabbed_by grabbed_at entry_id",
            "financial",
            "who got which share",
            RECORDS,
            "financial_record",
        ),
    ),
    "provider_operations": table(
        by_user("user_id"),
        declare(
            "operation_id kind provider user_id account_id amount_minor fee_minor "
            "currency state provider_ref next_action behaviour failure_code "
            "hold_entry_id final_entry_id idempotency_key created_at updated_at",
            "financial",
            "top-ups and withdrawals",
            RECORDS,
            "financial_record",
        ),
        declare(
            "destination",
            "financial_counterparty",
            "where a withdrawal went (a provider token, not a bank number)",
            RECORDS,
            "financial_record",
        ),
    ),
    "provider_callbacks": table(
        by_user(links=(through("operation_id", "provider_operations"),)),
        declare(
            "operation_id event_id received_at status amount_minor currency outcome body_sha256",
            "financial",
            "prove what the provider said",
            LEDGER_RECORD,
            "financial_record",
        ),
    ),
}

COMMERCE_DATA_MAP: DataMap = {
    "merchants": table(
        by_user("owner_user_id"),
        declare(
            "merchant_id owner_user_id name category currencies fee_bps status created_at",
            "financial",
            "take payments for a shop and pay its owner",
            RECORDS,
            "financial_record",
        ),
    ),
    "merchant_qr_codes": table(
        by_user(links=(through("merchant_id", "merchants"),)),
        declare(
            "merchant_id qr_id kind amount_minor currency label key_id created_at revoked_at",
            "financial",
            "signed codes a payer scans to pay a merchant",
            CONTRACT,
            "financial_record",
        ),
    ),
    "payments": table(
        by_user("payer_user_id"),
        declare(
            "payment_id merchant_id payer_user_id qr_id amount_minor fee_minor currency "
            "refunded_minor state entry_id order_ref idempotency_key created_at",
            "financial",
            "what a payer paid a merchant, and its refunds",
            RECORDS,
            "financial_record",
        ),
    ),
    "payment_refunds": table(
        by_user("by_user_id", links=(through("payment_id", "payments"),)),
        declare(
            "payment_id refund_id amount_minor entry_id by_user_id idempotency_key created_at",
            "financial",
            "what a merchant refunded",
            RECORDS,
            "financial_record",
        ),
    ),
    "billers": table(
        no_subject("billers are organisations, not people"),
        declare(
            "biller_id name category currency reference_pattern reference_hint min_minor "
            "max_minor account_id enabled created_at",
            "technical",
            "the payees users can pay bills to (organisations, not people)",
            CONTRACT,
            "financial_record",
        ),
    ),
    "bill_payments": table(
        by_user("user_id"),
        declare(
            "user_id bill_id biller_id amount_minor currency state entry_id idempotency_key "
            "created_at",
            "financial",
            "what a user paid a biller",
            RECORDS,
            "financial_record",
        ),
        declare(
            "reference",
            "financial_counterparty",
            "the user's customer or phone number at the biller, so the bill is credited",
            RECORDS,
            "financial_record",
        ),
    ),
}

OVERSIGHT_DATA_MAP: DataMap = {
    "wallet_audit_runs": table(
        no_subject("a run's findings name ids and sums, no person"),
        declare(
            "run_id scope started_at finished_at watermark ok findings",
            "technical",
            "prove the ledger is consistent (findings hold ids and sums, no personal data)",
            LEDGER_RECORD,
            "financial_record",
        ),
    ),
    "reconciliation_runs": table(
        no_subject("a run covers one provider's day"),
        declare(
            "run_id provider day state counts started_at finished_at",
            "financial",
            "compare our records with the payment provider's",
            LEDGER_RECORD,
            "financial_record",
        ),
    ),
    "reconciliation_items": table(
        by_user(links=(through("operation_id", "provider_operations"),)),
        declare(
            "run_id item_no kind operation_id provider_ref detail resolved_by resolved_at "
            "resolution note",
            "financial",
            "differences with the provider and how an operator resolved them",
            LEDGER_RECORD,
            "financial_record",
        ),
    ),
}

WALLET_DATA_MAP: DataMap = {
    **LEDGER_DATA_MAP,
    **FLOW_DATA_MAP,
    **COMMERCE_DATA_MAP,
    **OVERSIGHT_DATA_MAP,
}
