"""Typed failures of an image metadata lookup, each with a stable code and whether trying again may help."""
from __future__ import annotations


class RegistryError(Exception):
    """A lookup that failed; `code` is stable (a job's failure reason), `retryable` says whether to try again."""

    code = "registry_error"
    retryable = False

    def __init__(self, message: str, *, registry: str = "", status: int | None = None,
                 retry_after: float | None = None):
        super().__init__(message)
        self.message = message
        self.registry = registry
        self.status = status
        self.retry_after = retry_after

    def as_dict(self) -> dict:
        data = {"code": self.code, "message": self.message, "retryable": self.retryable}
        if self.registry:
            data["registry"] = self.registry
        if self.status is not None:
            data["status"] = self.status
        if self.retry_after is not None:
            data["retry_after"] = self.retry_after
        return data


class ImageNotFound(RegistryError):
    """The registry knows no such repository, tag or digest (404, MANIFEST_UNKNOWN, NAME_UNKNOWN)."""

    code = "image_not_found"


class PlatformNotFound(ImageNotFound):
    """The image exists, but its index lists no manifest for the wanted platform."""


class AuthRequired(RegistryError):
    """The registry refused us (401/403) and we have no credentials, or none that it accepts."""

    code = "auth_required"


class RegistryUnavailable(RegistryError):
    """Connection refused, time-out, 5xx, or 429 still after the retries we allow: try again later."""

    code = "registry_unavailable"
    retryable = True


class DigestMismatch(RegistryError):
    """What the registry sent does not hash to the digest that names it."""

    code = "digest_mismatch"


class TooLarge(RegistryError):
    """A manifest or blob is over the size we agree to read."""

    code = "too_large"


class InvalidManifest(RegistryError):
    """A manifest, index or config that is not what the image specification says it must be."""

    code = "invalid_manifest"


ERROR_CODES = {cls.code: cls for cls in (ImageNotFound, AuthRequired, RegistryUnavailable, DigestMismatch,
                                          TooLarge, InvalidManifest)}
