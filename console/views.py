"""The console's own pages: login, overview shell, health."""

from __future__ import annotations

import hashlib

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_not_required
from django.core.cache import cache
from django.http import JsonResponse
from django.shortcuts import render
from django.views.decorators.cache import never_cache

from console.health import health_report
from console.throttling import request_client_address

LOGIN_WINDOW_S = 300


class RateLimitedLoginView(auth_views.LoginView):
    """Django's login, refusing a user name from one client after LOGIN_RATE_LIMIT failures in
    five minutes.

    Counted per (user name, client address): an attacker guessing one operator's password from
    one address locks out only that pair, never every operator behind the same proxy.
    """

    template_name = "console/login.html"
    redirect_authenticated_user = True

    def _failures_key(self) -> str:
        user_name = (self.request.POST.get("username") or "").strip().lower()[:150]
        digest = hashlib.sha256(f"{user_name}\0{request_client_address(self.request)}".encode()).hexdigest()
        return f"login-failures:{digest}"

    def post(self, request, *args, **kwargs):
        if (cache.get(self._failures_key()) or 0) >= settings.LOGIN_RATE_LIMIT:
            messages.error(request, "Too many failed logins for this user from your address; wait five minutes.")
            return self.render_to_response(self.get_context_data(form=self.get_form()), status=429)
        return super().post(request, *args, **kwargs)

    def form_invalid(self, form):
        key = self._failures_key()
        cache.add(key, 0, LOGIN_WINDOW_S)
        cache.incr(key)
        return super().form_invalid(form)


@never_cache
@login_not_required
def healthz(request):
    """Database, Redis and at least one live Celery worker; 200 when all answer, else 503."""
    report = health_report()
    return JsonResponse(report, status=200 if report["healthy"] else 503)


def overview(request):
    """The whole migration at a glance (console/dashboard builds it)."""
    from console.dashboard.views import overview_page

    return overview_page(request)


def bad_request(request, exception=None):
    """400 page naming what is wrong (our BadRequest messages name the parameter and its value)."""
    message = str(exception) if exception is not None and str(exception) else "The request is malformed."
    return render(request, "console/bad_request.html", {"message": message}, status=400)
