"""Values every page template needs."""

from django.conf import settings


def console(request):
    return {"console_env": settings.CONSOLE_ENV, "console_time_zone": settings.TIME_ZONE}
