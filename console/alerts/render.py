"""Alert and digest e-mails: subject, plain text and HTML, with personal data masked.

Every string that reaches an e-mail goes through console.masking first (mask_event), so an
account number in a title, a fact or a differing value never leaves the console unmasked.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from django.template.loader import render_to_string

from console.alerts.events import AlertEvent, AlertKind
from console.alerts.rules import KeyState
from console.masking import mask_document, mask_text

SUBJECT_PREFIX = "[MHC]"
MAX_SUBJECT = 200


@dataclass(frozen=True, slots=True)
class RenderedEmail:
    subject: str
    text: str
    html: str


def mask_event(event: AlertEvent) -> AlertEvent:
    """The event with its title and every fact masked."""
    return replace(event, title=mask_text(event.title), facts=mask_document(event.facts))


def _scope(event: AlertEvent) -> str:
    """ "[FX deposits] " for a migration's alert; nothing for a programme-wide one."""
    return f"[{event.migration_name or event.migration}] " if event.migration else ""


def alert_subject(event: AlertEvent) -> str:
    subject = f"{SUBJECT_PREFIX} {_scope(event)}{event.kind.label}: {mask_text(event.title)}"
    subject = " ".join(subject.split())  # no newlines in a header
    return subject if len(subject) <= MAX_SUBJECT else subject[: MAX_SUBJECT - 1] + "…"


def _fact_rows(event: AlertEvent) -> list[tuple[str, str]]:
    # Numbers get thousands separators here, not in the template: a filter would also "format"
    # the year of a date string.
    migration = [("Migration", event.migration_name or event.migration)] if event.migration else []
    return migration + [
        (name, f"{value:,}" if isinstance(value, int) and not isinstance(value, bool) else str(value))
        for name, value in event.facts.items()
        if name != "differences" and value not in ("", None)
    ]


def render_alert(event: AlertEvent, *, base_url: str) -> RenderedEmail:
    event = mask_event(event)
    context = {
        "event": event, "kind_label": event.kind.label, "facts": _fact_rows(event),
        "differences": event.facts.get("differences") or [], "url": base_url + event.link,
    }
    return RenderedEmail(
        subject=alert_subject(event),
        text=render_to_string("console/alerts/alert.txt", context),
        html=render_to_string("console/alerts/alert.html", context),
    )


def digest_sections(items: list[tuple[str, KeyState]], *, base_url: str) -> list[dict[str, Any]]:
    sections = []
    for key, state in items:
        events = [mask_event(e) for e in state.held]
        latest = events[-1]
        sections.append({
            "key": key, "title": latest.title, "kind_label": AlertKind(latest.kind).label,
            "url": base_url + latest.link, "count": state.held_count,
            "first_at": state.digest_first_at, "last_at": latest.occurred_at,
            "facts": _fact_rows(latest), "events_shown": len(events),
        })
    return sections


def render_digest(items: list[tuple[str, KeyState]], *, base_url: str, now: datetime) -> RenderedEmail:
    sections = digest_sections(items, base_url=base_url)
    total = sum(section["count"] for section in sections)
    if len(sections) == 1:
        scope = _scope(items[0][1].held[-1])
        subject = f"{SUBJECT_PREFIX} {scope}Digest: {total:,} more for {sections[0]['title']}"
    else:
        subject = f"{SUBJECT_PREFIX} Digest: {total:,} more events in {len(sections)} alerts"
    subject = " ".join(subject.split())
    context = {"sections": sections, "total": total, "now": now, "base_url": base_url}
    return RenderedEmail(
        subject=subject if len(subject) <= MAX_SUBJECT else subject[: MAX_SUBJECT - 1] + "…",
        text=render_to_string("console/alerts/digest.txt", context),
        html=render_to_string("console/alerts/digest.html", context),
    )
