"""Every periodic task in the beat schedule names a task a worker actually has."""

from django.conf import settings

from console.celery import app


def test_every_scheduled_task_is_registered():
    app.loader.import_default_modules()
    scheduled = {entry["task"] for entry in settings.CELERY_BEAT_SCHEDULE.values()}
    assert scheduled, "the beat schedule is empty"
    assert scheduled <= set(app.tasks), sorted(scheduled - set(app.tasks))
