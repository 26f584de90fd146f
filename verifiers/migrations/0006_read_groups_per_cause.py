"""Read mismatch groups become one group per cause (issue 11).

A read group used to be fingerprinted by the exact set of differing paths, so two independent
differences in one answer made a third, combination group. Each existing read mismatch group is
split into its causes (verifiers.groups.fingerprint.read_causes): a group with one cause gets its
new fingerprint; a combination group's count, first/last seen and stored samples are carried
into each of its causes' groups (created from it when missing, keeping its status and note), and
the combination group goes. Error groups are untouched (their fingerprint never was a path set).
"""

from django.db import migrations

from verifiers.groups.fingerprint import describe_fingerprint, read_cause_fingerprint, read_causes
from verifiers.read.compare import Difference, DiffKind


def _differences(group) -> list[Difference]:
    found = []
    for item in group.differences or []:
        try:
            found.append(Difference(item["pattern"], DiffKind(item["kind"])))
        except (KeyError, TypeError, ValueError):
            continue
    return found


def split_read_groups(apps, schema_editor):
    MismatchGroup = apps.get_model("verifiers", "MismatchGroup")
    MismatchSample = apps.get_model("verifiers", "MismatchSample")
    for group in list(MismatchGroup.objects.filter(kind="read", outcome="mismatch").order_by("id")):
        method, _, template = group.subject.partition(" ")
        differences = _differences(group)
        if not method or not template or not differences:
            continue
        causes = read_causes(differences)
        targets = []
        for cause in causes:
            fingerprint = read_cause_fingerprint(template, method, cause.anchor, cause.kind)
            cause_differences = [{"pattern": d.path, "kind": d.kind.value}
                                 for d in dict.fromkeys(cause.differences)]
            targets.append((fingerprint, describe_fingerprint(method, template, cause.differences)[:300],
                            cause_differences))
        if len(targets) == 1 and not MismatchGroup.objects.filter(
                kind="read", fingerprint=targets[0][0]).exclude(pk=group.pk).exists():
            group.fingerprint, group.title, group.differences = targets[0]
            group.save(update_fields=["fingerprint", "title", "differences"])
            continue
        for fingerprint, title, cause_differences in targets:
            target = MismatchGroup.objects.filter(kind="read", fingerprint=fingerprint).exclude(pk=group.pk).first()
            if target is None:
                target = MismatchGroup.objects.create(
                    kind="read", fingerprint=fingerprint, title=title, subject=group.subject,
                    outcome=group.outcome, differences=cause_differences, status=group.status,
                    severity=group.severity, first_seen=group.first_seen, last_seen=group.last_seen, count=0,
                    stored_samples=0, status_changed_at=group.status_changed_at,
                    status_changed_by=group.status_changed_by, note=group.note)
            target.count += group.count
            target.first_seen = min(target.first_seen, group.first_seen)
            target.last_seen = max(target.last_seen, group.last_seen)
            present = set(target.samples.values_list("sample_id", flat=True))
            copies = []
            for sample in group.samples.all():
                if sample.sample_id in present:
                    continue
                sample.pk = None
                sample.group_id = target.pk
                copies.append(sample)
            MismatchSample.objects.bulk_create(copies)
            target.stored_samples = target.samples.count()
            target.save(update_fields=["count", "first_seen", "last_seen", "stored_samples"])
        group.delete()


class Migration(migrations.Migration):

    dependencies = [
        ('verifiers', '0005_ledger_source_zone_currency'),
    ]

    operations = [
        migrations.RunPython(split_read_groups, migrations.RunPython.noop),
    ]
