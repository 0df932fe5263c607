"""Sign-in and sign-out with Django's session login."""
import pytest
from django.test import Client

from tests.api.pages.conftest import PASSWORD

pytestmark = pytest.mark.django_db


def test_sign_in_and_out(user):
    client = Client(enforce_csrf_checks=True)
    page = client.get("/accounts/login/?next=/catalog/import")
    assert page.status_code == 200 and 'for="id_username"' in page.content.decode()
    token = page.content.decode().split('name="csrfmiddlewaretoken" value="', 1)[1].split('"', 1)[0]
    response = client.post("/accounts/login/", {"username": "ada", "password": PASSWORD, "next": "/catalog/import",
                                                "csrfmiddlewaretoken": token})
    assert response.status_code == 302 and response["Location"] == "/catalog/import"
    html = client.get("/catalog/").content.decode()
    assert "ada" in html and "Sign out" in html
    assert client.get("/accounts/logout/").status_code == 405  # signing out is a POST
    token = html.split('name="csrfmiddlewaretoken" value="', 1)[1].split('"', 1)[0]
    response = client.post("/accounts/logout/", {"csrfmiddlewaretoken": token})
    assert response.status_code == 302 and response["Location"] == "/catalog/"
    assert client.get("/catalog/import").status_code == 302


def test_a_wrong_password_is_refused_on_the_form(client, user):
    response = client.post("/accounts/login/", {"username": "ada", "password": "wrong"})
    assert response.status_code == 200
    assert "Please enter a correct username and password" in response.content.decode()
    assert client.get("/catalog/import").status_code == 302


def test_sign_in_leads_to_the_catalog_by_default(client, user):
    response = client.post("/accounts/login/", {"username": "ada", "password": PASSWORD})
    assert response.status_code == 302 and response["Location"] == "/catalog/"
