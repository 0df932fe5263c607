"""Typed Marathon errors: codes, retryability and the shape stored on jobs."""
import pytest

from shared.marathon.errors import (
    MarathonConflict,
    MarathonError,
    MarathonNotFound,
    MarathonRejected,
    MarathonUnauthorized,
    MarathonUnavailable,
)


@pytest.mark.parametrize(
    ("cls", "code", "retryable"),
    [
        (MarathonError, "marathon_error", False),
        (MarathonUnavailable, "marathon_unavailable", True),
        (MarathonRejected, "marathon_rejected", False),
        (MarathonNotFound, "marathon_not_found", False),
        (MarathonUnauthorized, "marathon_unauthorized", False),
    ],
)
def test_codes_and_retryability(cls, code, retryable):
    error = cls("boom", status=503)
    assert isinstance(error, MarathonError)
    assert (error.code, error.retryable, error.message, error.status) == (code, retryable, "boom", 503)
    assert error.to_dict() == {"code": code, "message": "boom", "retryable": retryable, "details": [], "status": 503}


def test_conflict_locked_is_retryable_and_lists_deployments():
    error = MarathonConflict("App is locked", deployment_ids=["d1", "d2"], status=409)
    assert error.code == "marathon_conflict"
    assert error.retryable is True
    assert error.deployment_ids == ("d1", "d2")
    assert error.details == [{"id": "d1"}, {"id": "d2"}]


def test_conflict_without_deployments_is_not_retryable():
    error = MarathonConflict("An app with id [/x] already exists.", status=409)
    assert error.retryable is False
    assert error.deployment_ids == ()


def test_rejected_keeps_marathon_details():
    details = [{"path": "/cpus", "errors": ["error.min"]}]
    error = MarathonRejected("Invalid JSON", status=422, details=details)
    assert error.to_dict()["details"] == details
    assert "422" in str(error)
