"""Group triage and reverification: each kind's samples go to the check its part registered."""

from datetime import datetime
from datetime import timezone as tz

import pytest

from verifiers.groups import services
from verifiers.groups.recording import Verdict, record_verdicts
from verifiers.models import MismatchGroup, MismatchSample

pytestmark = pytest.mark.django_db
AT = datetime(2026, 11, 25, 3, 4, 5, tzinfo=tz.utc)


def _group(kind: str, fingerprint: str, samples: int = 1) -> MismatchGroup:
    record_verdicts([Verdict(kind=kind, sample_id=f"{fingerprint}-{i}", subject="accounts", captured_at=AT,
                             verdict="mismatch", fingerprint=fingerprint, title=fingerprint)
                     for i in range(samples)], mask=lambda value: value)
    return MismatchGroup.objects.get(kind=kind, fingerprint=fingerprint)


@pytest.fixture
def checks(monkeypatch):
    """Fake read and write checks that record what they were given and answer "match"."""
    calls: dict[str, list[int]] = {}

    def fake(kind: str):
        def check(sample_ids: list[int]) -> dict[int, str]:
            calls[kind] = sorted(sample_ids)
            MismatchSample.objects.filter(pk__in=sample_ids).update(reverify_outcome="match")
            return {sample_id: "match" for sample_id in sample_ids}
        return check

    monkeypatch.setattr(services, "_reverifiers", {})
    services.register_reverifier("read", fake("read"), resolves_groups=True)
    services.register_reverifier("write", fake("write"), resolves_groups=False)
    return calls


def test_the_parts_register_their_checks_at_start_up():
    from verifiers.read.reverify import reverify_read_samples
    from verifiers.write.services import reverify_write_samples

    registered = services._reverifiers
    assert registered["read"].check is reverify_read_samples and registered["read"].resolves_groups
    assert registered["write"].check is reverify_write_samples and not registered["write"].resolves_groups


def test_reverify_hands_each_kind_its_own_samples_and_resolves_only_read_groups(checks):
    read, write = _group("read", "r1", samples=2), _group("write", "w1")
    read_ids = sorted(read.samples.values_list("pk", flat=True))
    write_ids = list(write.samples.values_list("pk", flat=True))
    summary = services.reverify_samples(sample_ids=read_ids + write_ids)
    assert checks == {"read": read_ids, "write": write_ids}
    assert (summary.samples, summary.matched, summary.resolved_group_ids) == (3, 3, [read.pk])
    read.refresh_from_db()
    write.refresh_from_db()
    assert (read.status, read.status_changed_by) == ("resolved", "reverify")
    assert write.status == "open"  # a write row matching now proves nothing about the candidate


def test_a_group_with_a_sample_still_differing_stays_open(checks):
    group = _group("read", "r2", samples=2)
    first, second = group.samples.order_by("pk")
    MismatchSample.objects.filter(pk=second.pk).update(reverify_outcome="mismatch")
    assert services.reverify_samples(sample_ids=[first.pk]).resolved_group_ids == []
    group.refresh_from_db()
    assert group.status == "open"


def test_reverify_of_a_kind_nobody_registered_says_so(monkeypatch):
    monkeypatch.setattr(services, "_reverifiers", {})
    group = _group("write", "w2")
    with pytest.raises(services.GroupActionError, match="no reverification is registered for write"):
        services.reverify_group(group_id=group.pk)


def test_reverify_of_a_group_without_samples_says_so():
    group = _group("read", "r3")
    group.samples.all().delete()
    with pytest.raises(services.GroupActionError, match="no stored samples"):
        services.reverify_group(group_id=group.pk)


def test_triage_records_who_and_refuses_unknown_actions():
    group = _group("read", "r4")
    changed = services.change_group_status(group_id=group.pk, action="acknowledge", user_name="ops", note="seen")
    assert (changed.status, changed.status_changed_by, changed.note) == ("acknowledged", "ops", "seen")
    with pytest.raises(services.GroupActionError, match="unknown action 'archive'"):
        services.change_group_status(group_id=group.pk, action="archive", user_name="ops")
