"""The API tokens page: sign-in required, a new key shown once, field errors, revocation."""
import re

import pytest
from django.test import Client

from shared.models import ApiToken
from tests.api.pages.test_catalog import field_errors

pytestmark = pytest.mark.django_db


def test_the_tokens_page_needs_a_signed_in_user():
    client = Client()
    for method in ("get", "post"):
        response = getattr(client, method)("/accounts/tokens/")
        assert response.status_code == 302 and response["Location"].startswith("/accounts/login/")
    assert not ApiToken.objects.exists()


def test_create_shows_the_key_once_and_revoke_deletes_it(signed_in, user):
    assert "You have no API token" in signed_in.get("/accounts/tokens/").content.decode()
    response = signed_in.post("/accounts/tokens/", {"name": "CI pipeline", "expires_days": "30"})
    html = response.content.decode()
    assert response.status_code == 200 and response["Cache-Control"] == "no-store"
    key = re.search(r'value="([^"]+)" data-new-key', html).group(1)
    token = ApiToken.objects.get(user=user)
    assert token.name == "CI pipeline" and token.expiry is not None and key.startswith(token.token_key)
    again = signed_in.get("/accounts/tokens/").content.decode()
    assert key not in again and token.token_key in again and "CI pipeline" in again
    response = signed_in.post(f"/accounts/tokens/{token.token_key}/revoke")
    assert response.status_code == 302 and not ApiToken.objects.exists()
    assert "is revoked" in signed_in.get("/accounts/tokens/").content.decode()
    assert signed_in.post("/accounts/tokens/nope/revoke").status_code == 302


def test_a_bad_expiry_shows_its_error_next_to_the_field(signed_in):
    response = signed_in.post("/accounts/tokens/", {"name": "x", "expires_days": "-1"})
    assert response.status_code == 400
    assert "greater than or equal to 0" in field_errors(response.content.decode(), "expires_days")
    assert not ApiToken.objects.exists()


def test_revoking_needs_csrf(user):
    client = Client(enforce_csrf_checks=True)
    client.force_login(user)
    assert client.post("/accounts/tokens/", {"name": "x"}).status_code == 403
    assert not ApiToken.objects.exists()
