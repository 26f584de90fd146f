"""What an alert e-mail shows: numbers with separators, dates untouched, values as JSON."""

from datetime import datetime, timezone

from console.alerts.events import AlertEvent, AlertKind
from console.alerts.render import render_alert

EVENT = AlertEvent(
    kind=AlertKind.NEW_GROUP, key="group:1", occurred_at=datetime(2026, 11, 25, 10, 11, tzinfo=timezone.utc),
    title="GET /accounts/{id}: $.memo missing", url_path="/groups/1/",
    facts={"Mismatches so far": 1234567, "First seen": "2026-11-25 19:11 KST",
           "differences": [{"path": "$.memo", "kind": "missing", "legacy": '""', "candidate": ""}]},
)


def test_counts_get_thousands_separators_and_dates_do_not():
    mail = render_alert(EVENT, base_url="https://console.example.bank")
    for body in (mail.text, mail.html):
        assert "1,234,567" in body
        assert "2026-11-25 19:11 KST" in body and "2,026" not in body
    assert "https://console.example.bank/groups/1/" in mail.text
