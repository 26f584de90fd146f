"""`Authorization: Token <raw>` authentication for machine clients (DRF)."""

from __future__ import annotations

from datetime import timedelta

from django.utils import timezone
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework import authentication, exceptions

from console.models import ApiToken, hash_token

# Writing last_used_at on every request would cost a row update per ingest batch.
LAST_USED_RESOLUTION = timedelta(minutes=1)


def user_for_token(raw: str):
    """The user of a usable token, or raise AuthenticationFailed with the reason."""
    try:
        token = ApiToken.objects.select_related("user", "migration").get(digest=hash_token(raw))
    except ApiToken.DoesNotExist:
        raise exceptions.AuthenticationFailed("Unknown API token.") from None
    if token.revoked:
        raise exceptions.AuthenticationFailed("This API token was revoked.")
    now = timezone.now()
    if token.expires_at and token.expires_at <= now:
        raise exceptions.AuthenticationFailed("This API token expired.")
    if not token.user.is_active:
        raise exceptions.AuthenticationFailed("The user of this API token is inactive.")
    if token.last_used_at is None or now - token.last_used_at > LAST_USED_RESOLUTION:
        ApiToken.objects.filter(pk=token.pk).update(last_used_at=now)
    return token.user, token


class ApiTokenAuthentication(authentication.BaseAuthentication):
    keyword = "Token"

    def authenticate(self, request):
        header = authentication.get_authorization_header(request).split()
        if not header or header[0].lower() != self.keyword.lower().encode():
            return None
        if len(header) != 2:
            raise exceptions.AuthenticationFailed("Authorization header must be 'Token <token>'.")
        try:
            raw = header[1].decode()
        except UnicodeError:
            raise exceptions.AuthenticationFailed("The token contains invalid characters.") from None
        return user_for_token(raw)

    def authenticate_header(self, request):
        return self.keyword


class ApiTokenScheme(OpenApiAuthenticationExtension):
    """Describes the token scheme in the OpenAPI schema (drf-spectacular finds it by subclassing)."""

    target_class = "console.api_auth.ApiTokenAuthentication"
    name = "ApiToken"

    def get_security_definition(self, auto_schema):
        return {
            "type": "apiKey",
            "in": "header",
            "name": "Authorization",
            "description": "`Token <token>`; issue one with `manage.py create_api_token`.",
        }
