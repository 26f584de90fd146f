"""Helpers for tests of the alerts: recipients, verdict bursts, a ledger source."""

from __future__ import annotations

from datetime import datetime, timedelta

from console.alerts.events import SUBSCRIBABLE_KINDS
from console.alerts.models import AlertRecipient
from verifiers.groups.recording import Verdict
from verifiers.models import LedgerSource


def subscribe(email: str = "oncall@example.bank", kinds: list[str] | None = None) -> AlertRecipient:
    return AlertRecipient.objects.create(
        email=email, kinds=kinds if kinds is not None else [k.value for k in SUBSCRIBABLE_KINDS]
    )


def mismatch_verdicts(count: int, start: datetime, *, prefix: str = "s", fingerprint: str = "fp-new-kind",
                      subject: str = "GET /accounts/{id}/balance") -> list[Verdict]:
    """`count` read mismatches of one kind, with real-looking (personal) data in them."""
    return [
        Verdict(
            kind="read", sample_id=f"{prefix}-{index}", subject=subject,
            captured_at=start + timedelta(milliseconds=index * 10), verdict="mismatch",
            fingerprint=fingerprint, title=f"{subject}: $.balance changed", severity="high",
            differences=[{"path": "$.balance", "pattern": "$.balance", "kind": "changed",
                          "legacy": "1500000", "candidate": "1499000"}],
            request={"method": "GET", "path": f"/accounts/110-234-56789{index % 10}/balance"},
            legacy={"accountNumber": "110-234-567890", "holder": "홍길동", "balance": "1500000"},
            candidate={"accountNumber": "110-234-567890", "holder": "홍길동", "balance": "1499000"},
        )
        for index in range(count)
    ]


def ledger_source() -> LedgerSource:
    return LedgerSource.objects.create(
        name="core", dsn="postgresql://postgres@127.0.0.1/x", accounts_table="a", account_key="id",
        balance_column="b", currency_column="c", entries_table="e", entry_account_column="a",
        entry_amount_column="m", entry_time_column="t",
    )
