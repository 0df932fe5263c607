"""Lookup errors: stable codes, which are retryable, and their dict form for a job's failure reason."""
import pytest

from shared.registry.errors import (
    ERROR_CODES,
    AuthRequired,
    DigestMismatch,
    ImageNotFound,
    InvalidManifest,
    PlatformNotFound,
    RegistryError,
    RegistryUnavailable,
    TooLarge,
)


@pytest.mark.parametrize("cls, code, retryable", [
    (ImageNotFound, "image_not_found", False),
    (PlatformNotFound, "image_not_found", False),
    (AuthRequired, "auth_required", False),
    (RegistryUnavailable, "registry_unavailable", True),
    (DigestMismatch, "digest_mismatch", False),
    (TooLarge, "too_large", False),
    (InvalidManifest, "invalid_manifest", False),
])
def test_codes_and_retryability(cls, code, retryable):
    error = cls("boom", registry="r.example")
    assert isinstance(error, RegistryError)
    assert (error.code, error.retryable) == (code, retryable)


def test_as_dict_carries_what_a_job_needs():
    error = RegistryUnavailable("slow down", registry="r.example", status=429, retry_after=30.0)
    assert error.as_dict() == {"code": "registry_unavailable", "message": "slow down", "retryable": True,
                               "registry": "r.example", "status": 429, "retry_after": 30.0}
    assert ImageNotFound("gone").as_dict() == {"code": "image_not_found", "message": "gone", "retryable": False}


def test_every_code_has_one_class():
    assert set(ERROR_CODES) == {"image_not_found", "auth_required", "registry_unavailable", "digest_mismatch",
                                "too_large", "invalid_manifest"}
