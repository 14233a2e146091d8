"""Every column of the wallet's tables (and the due-jobs table it brought) is declared in its
data map, and nothing declared is missing from the models."""

from __future__ import annotations

from courtyard.domains.wallet.datamap import WALLET_DATA_MAP
from courtyard.migrations.schema import metadata


def test_every_wallet_column_is_declared_and_every_declaration_exists() -> None:
    for table, declared in WALLET_DATA_MAP.items():
        columns = {column.name for column in metadata.tables[table].columns}
        assert set(declared) == columns, table


WALLET_FLOW_TABLES = (
    "transfers",
    "due_jobs",
    "merchants",
    "merchant_qr_codes",
    "payments",
    "payment_refunds",
    "billers",
    "bill_payments",
    "reconciliation_runs",
    "reconciliation_items",
)


def test_the_wallet_data_map_covers_every_wallet_table() -> None:
    prefixes = ("ledger_", "wallet_", "provider_", "red_packet")
    wallet_tables = {
        name for name in metadata.tables if name.startswith(prefixes) or name in WALLET_FLOW_TABLES
    }
    assert wallet_tables == set(WALLET_DATA_MAP)
