"""API tokens: create (the key is returned once, only its digest is stored), list, revoke."""
from datetime import timedelta

from django.conf import settings
from django.db import transaction

from shared.errors import NotFound, ValidationFailed
from shared.models import ApiToken
from shared.services.audit import audit_record

MAX_EXPIRY_DAYS = 3650


def token_create(user, *, name="", expires_days=None):
    """A new token for `user`: returns (token, key). The key cannot be read back later.

    `expires_days` None takes API_TOKEN_DEFAULT_EXPIRY_DAYS (0 there: no expiry); 0 means no expiry.
    """
    errors = {}
    if not isinstance(name, str) or len(name) > 100:
        errors["name"] = ["Must be a string of at most 100 characters."]
    if expires_days is None:
        expires_days = settings.API_TOKEN_DEFAULT_EXPIRY_DAYS
    if isinstance(expires_days, bool) or not isinstance(expires_days, int) or not 0 <= expires_days <= MAX_EXPIRY_DAYS:
        errors["expires_days"] = [f"Must be a whole number of days from 0 (no expiry) to {MAX_EXPIRY_DAYS}."]
    if errors:
        raise ValidationFailed("The request has invalid fields.", errors=errors)
    expiry = timedelta(days=expires_days) if expires_days else None
    with transaction.atomic():
        token, key = ApiToken.objects.create(user, expiry=expiry, name=name.strip())
        audit_record(user, "token.created", "token", token.token_key,
                     f"token {token.token_key} ({token.name or 'unnamed'}) for {user.get_username()}")
    return token, key


def token_list(user):
    """The user's tokens, newest first (expired ones included until used or revoked)."""
    return ApiToken.objects.filter(user=user).order_by("-created")


def token_revoke(user, prefix, *, actor=None):
    """Delete the user's token(s) whose visible prefix is `prefix`; 404 when there is none."""
    with transaction.atomic():
        tokens = list(ApiToken.objects.select_for_update().filter(user=user, token_key=prefix))
        if not tokens:
            raise NotFound(f"No token with prefix {prefix!r}.")
        ApiToken.objects.filter(pk__in=[token.pk for token in tokens]).delete()
        audit_record(actor or user, "token.revoked", "token", prefix, f"token {prefix} of {user.get_username()}")
    return len(tokens)
