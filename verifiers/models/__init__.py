"""Models of the verifiers app, one module per concern.

targets: what the console may call and how to compare (systems, routes, write tables);
outcomes: what verification found, shared by the read and write verifiers;
reconcile: ledger sources, counterparts and reconciliation runs.
"""

from verifiers.models.outcomes import (
    FiveMinuteOutcomeCount,
    MismatchGroup,
    MismatchSample,
    NoiseSuggestion,
    OutcomeCount,
    ReadStreamEpoch,
    Severity,
    VerificationKind,
    VerifiedSample,
)
from verifiers.models.reconcile import AccountDifference, Counterpart, LedgerSource, ReconciliationRun
from verifiers.models.targets import Route, System, VerifiedDatabase, WriteTableRule

__all__ = [
    "AccountDifference",
    "Counterpart",
    "FiveMinuteOutcomeCount",
    "LedgerSource",
    "MismatchGroup",
    "MismatchSample",
    "NoiseSuggestion",
    "OutcomeCount",
    "ReadStreamEpoch",
    "ReconciliationRun",
    "Route",
    "Severity",
    "System",
    "VerificationKind",
    "VerifiedDatabase",
    "VerifiedSample",
    "WriteTableRule",
]
