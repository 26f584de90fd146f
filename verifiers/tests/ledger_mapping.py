"""The ledger mapping the pure reconciliation tests share (a schema-qualified accounts table)."""

from verifiers.reconcile.balances import mapping_from_dict

MAPPING_DICT = {
    "accounts_table": "ledger.accounts",
    "account_key": "id",
    "balance_column": "balance",
    "currency_column": "currency",
    "entries_table": "entries",
    "entry_account_column": "account_id",
    "entry_amount_column": "amount",
    "entry_time_column": "business_time",
    "opening_balance_column": "opening_balance",
}
MAPPING = mapping_from_dict(MAPPING_DICT)
