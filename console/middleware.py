"""Request checks that hold for every page and API before any view runs."""

from __future__ import annotations

from collections.abc import Callable

from django.http import HttpRequest, HttpResponse, HttpResponseBadRequest, JsonResponse


def _nul_location(request: HttpRequest) -> str | None:
    if "\x00" in request.path:
        return "the path"
    for name, values in request.GET.lists():
        if "\x00" in name or any("\x00" in value for value in values):
            shown = name.replace("\x00", "%00")
            return f"query parameter {shown!r}"
    return None


class RefuseNulCharactersMiddleware:
    """A NUL character in the path or query is a 400 naming where it is.

    PostgreSQL text cannot hold NUL, so such a value reaching a filter would fail deep in the
    database driver as a 500; no legitimate client sends one.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        where = _nul_location(request)
        if where is not None:
            message = f"NUL character (%00) in {where}"
            if request.path.startswith("/api/"):
                return JsonResponse({"detail": message}, status=400)
            return HttpResponseBadRequest(message, content_type="text/plain; charset=utf-8")
        return self.get_response(request)
