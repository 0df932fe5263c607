"""Fixtures of the page tests: a signed-in browser session and catalog rows."""
import pytest
from django.contrib.auth import get_user_model


PASSWORD = "correct horse battery staple"


@pytest.fixture
def user(db):
    """A user allowed every change (an administrator), so these tests stay about the pages themselves."""
    return get_user_model().objects.create_superuser("ada", "ada@example.org", PASSWORD)


@pytest.fixture
def signed_in(client, user):
    client.force_login(user)
    return client


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    """Marks a failed test on its node, so the browser fixture can keep a screenshot of the failure."""
    outcome = yield
    if outcome.get_result().failed:
        item.rep_failed = True
