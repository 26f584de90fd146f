"""The rate and group-activity checks moved from the alerts to their parts (tasks renamed).

django-celery-beat keeps schedule rows in the database and adds the new names from
CELERY_BEAT_SCHEDULE when beat starts, but never removes old ones: without this, beat would keep
sending the old task names every minute to workers that no longer know them.
"""

from django.db import migrations
from django.utils import timezone

MOVED_TASKS = ("console.alerts.check_mismatch_rates", "console.alerts.scan_group_activity")


def drop_moved_entries(apps, schema_editor):
    periodic_task = apps.get_model("django_celery_beat", "PeriodicTask")
    if periodic_task.objects.filter(task__in=MOVED_TASKS).delete()[0]:
        # A running beat re-reads its schedule when this marker changes (signals do not fire here).
        apps.get_model("django_celery_beat", "PeriodicTasks").objects.update_or_create(
            ident=1, defaults={"last_update": timezone.now()}
        )


class Migration(migrations.Migration):

    dependencies = [
        ("alerts", "0002_verifier_stalled_kind"),
        ("django_celery_beat", "0019_alter_periodictasks_options"),
    ]

    operations = [migrations.RunPython(drop_moved_entries, migrations.RunPython.noop)]
