"""API token authentication: django-rest-knox tokens sent as `Authorization: Token <key>` or `Bearer <key>`."""
import binascii
from datetime import timedelta
from hmac import compare_digest

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db.models import Q
from django.utils import timezone
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from knox.auth import TokenAuthentication
from knox.crypto import hash_token
from knox.settings import CONSTANTS
from rest_framework import exceptions
from rest_framework.authentication import get_authorization_header

from shared.models import ApiToken
from shared.statements import select_joined_all

SCHEMES = (b"token", b"bearer")


class ApiTokenAuthentication(TokenAuthentication):
    """knox's check of the hashed token, under either scheme name, recording when the token was last used.

    knox reads one scheme name only; both are accepted here because clients commonly send `Bearer`.
    """

    def authenticate(self, request):
        auth = get_authorization_header(request).split()
        if not auth or auth[0].lower() not in SCHEMES:
            return None  # another scheme (or none): left to the other authentication classes
        if len(auth) != 2:
            raise exceptions.AuthenticationFailed("Invalid Authorization header: expected '<scheme> <token>'.")
        user, token = self.authenticate_credentials(auth[1])
        _touch(token)
        return user, token

    def authenticate_credentials(self, token):
        """knox's check (every token under the key's visible prefix, expired ones deleted, the SHA-512 digest
        compared in constant time, the user active), with the token and its user read by one prepared
        statement: knox's ORM query cost more to build than to run, on every authenticated request."""
        try:
            token = token.decode("utf-8")
            digest = hash_token(token)
        except (UnicodeDecodeError, TypeError, binascii.Error):
            raise exceptions.AuthenticationFailed("Invalid token.") from None
        user_model = get_user_model()
        for auth_token, user in select_joined_all(
                (("t", ApiToken), ("u", user_model)),
                f"FROM {ApiToken._meta.db_table} t JOIN {user_model._meta.db_table} u "
                f"ON u.{user_model._meta.pk.column} = t.user_id",
                "t.token_key = %s", [token[:CONSTANTS.TOKEN_KEY_LENGTH]]):
            auth_token.user = user
            if self._cleanup_token(auth_token):
                continue
            if compare_digest(digest, auth_token.digest):
                return self.validate_user(auth_token)
        raise exceptions.AuthenticationFailed("Invalid token.")

    def authenticate_header(self, request):
        return 'Token realm="api"'

    def _cleanup_token(self, auth_token):
        """An expired token is deleted and refused. (knox would also sweep the user's other tokens on every
        request, a query each time; expired tokens are swept when their owner lists them instead.)"""
        if auth_token.expiry is not None and auth_token.expiry < timezone.now():
            auth_token.delete()
            return True
        return False


def _touch(token):
    """Set last_used_at, at most once per API_TOKEN_LAST_USED_INTERVAL_SECONDS (a conditional UPDATE)."""
    now = timezone.now()
    interval = timedelta(seconds=settings.API_TOKEN_LAST_USED_INTERVAL_SECONDS)
    if token.last_used_at is not None and token.last_used_at > now - interval:
        return
    ApiToken.objects.filter(Q(last_used_at__isnull=True) | Q(last_used_at__lte=now - interval),
                            pk=token.pk).update(last_used_at=now)
    token.last_used_at = now


class ApiTokenScheme(OpenApiAuthenticationExtension):
    """How the OpenAPI document describes the token scheme."""

    target_class = "api.authentication.ApiTokenAuthentication"
    name = "apiToken"

    def get_security_definition(self, auto_schema):
        return {"type": "apiKey", "in": "header", "name": "Authorization",
                "description": "`Token <key>` or `Bearer <key>`; create keys at POST /api/v1/tokens."}
