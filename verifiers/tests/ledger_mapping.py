"""The ledger mapping the pure reconciliation tests share: the sample ledger's, with a
schema-qualified accounts table and no version column."""

from verifiers.benchmarks.support import SAMPLE_LEDGER_MAPPING
from verifiers.reconcile.balances import mapping_from_dict

MAPPING_DICT = {
    **{key: value for key, value in SAMPLE_LEDGER_MAPPING.items() if key != "version_column"},
    "accounts_table": "ledger.accounts",
}
MAPPING = mapping_from_dict(MAPPING_DICT)
