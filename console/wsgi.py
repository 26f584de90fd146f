"""WSGI entry point (gunicorn console.wsgi)."""

import os

from django.core.wsgi import get_wsgi_application
from django.urls import get_resolver

from console.collector import freeze_loaded_objects

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "console.settings")
application = get_wsgi_application()
# The URLconf and every view it imports (the SQL converter, sqlglot, the stores) are loaded now,
# not by a first request, so that all of it is frozen with the rest (see console/collector.py).
get_resolver().url_patterns  # noqa: B018 - loads the URLconf
freeze_loaded_objects()
