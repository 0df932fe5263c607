"""A MicroBadger-compatible metadata source: GET {MICROBADGER_URL}/v1/images/<namespace>/<name>, off unless set."""
from __future__ import annotations

import json

import requests

from shared.registry.errors import AuthRequired, ImageNotFound, InvalidManifest, RegistryUnavailable, TooLarge
from shared.registry.metadata import ImageMetadata
from shared.registry.reference import DOCKER_HUB, ImageReference, parse_reference

DEFAULT_TIMEOUT = (3.05, 10.0)
DEFAULT_MAX_BYTES = 4 * 1024 * 1024
_CHUNK = 64 * 1024


class MicroBadgerClient:
    """Reads the labels of Docker Hub images from a service answering like MicroBadger's v1 API.

    The answer's shape: {"ImageName", "Author", "LatestSHA", "LatestVersion", "Labels": {...},
    "Versions": [{"SHA", "Tags": [{"tag"}], "Labels": {...}, "Author", ...}], ...}. A tag is looked up in
    Versions; the top-level Labels describe the latest version.
    """

    def __init__(self, base_url: str, *, timeout=DEFAULT_TIMEOUT, max_bytes: int = DEFAULT_MAX_BYTES,
                 session: requests.Session | None = None):
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout
        self.max_bytes = max_bytes
        self.session = session or requests.Session()
        self.request_log: list[tuple[str, str, int]] = []

    @classmethod
    def from_settings(cls, **overrides) -> MicroBadgerClient | None:
        """The client for settings.MICROBADGER_URL, or None when it is not set (the source is off)."""
        from django.conf import settings

        url = overrides.pop("base_url", None) or getattr(settings, "MICROBADGER_URL", None)
        if not url:
            return None
        options = {
            "timeout": (
                getattr(settings, "REGISTRY_CONNECT_TIMEOUT", DEFAULT_TIMEOUT[0]),
                getattr(settings, "REGISTRY_READ_TIMEOUT", DEFAULT_TIMEOUT[1]),
            ),
            "max_bytes": getattr(settings, "REGISTRY_MAX_MANIFEST_BYTES", DEFAULT_MAX_BYTES),
        }
        options.update(overrides)
        return cls(url, **options)

    def lookup(self, reference: str | ImageReference, cache=None) -> ImageMetadata:
        """The labels MicroBadger-compatible service knows for a Docker Hub image (`cache` is unused: the
        service answers in one request)."""
        ref = parse_reference(reference)
        if ref.registry != DOCKER_HUB:
            raise ImageNotFound(
                f"{ref}: the MicroBadger-compatible source knows Docker Hub images only", registry=ref.registry
            )
        namespace, _, name = ref.repository.partition("/")
        url = f"{self.base_url}/v1/images/{namespace}/{name}"
        try:
            response = self.session.get(url, timeout=self.timeout, stream=True, headers={"Accept": "application/json"})
        except requests.RequestException as exc:
            raise RegistryUnavailable(f"{self.base_url}: {type(exc).__name__}: {exc}", registry="microbadger") \
                from None
        self.request_log.append(("GET", url, response.status_code))
        status = response.status_code
        if status == 404:
            response.close()
            raise ImageNotFound(f"{ref}: unknown to {self.base_url}", registry="microbadger", status=404)
        if status in (401, 403):
            response.close()
            raise AuthRequired(f"{self.base_url}: refused ({status})", registry="microbadger", status=status)
        if status == 429 or status >= 500:
            response.close()
            raise RegistryUnavailable(f"{self.base_url}: answered {status}", registry="microbadger", status=status)
        if status != 200:
            response.close()
            raise InvalidManifest(f"{self.base_url}: unexpected answer {status}", registry="microbadger",
                                  status=status)
        body = _read_capped(response, self.max_bytes, ref)
        try:
            data = json.loads(body)
        except ValueError:
            raise InvalidManifest(f"{self.base_url}: answer for {ref} is not JSON", registry="microbadger") from None
        if not isinstance(data, dict):
            raise InvalidManifest(f"{self.base_url}: answer for {ref} is not an object", registry="microbadger")
        return _metadata_from_answer(ref, data)


def _read_capped(response, limit: int, ref: ImageReference) -> bytes:
    chunks, total = [], 0
    try:
        for chunk in response.iter_content(_CHUNK):
            total += len(chunk)
            if total > limit:
                raise TooLarge(f"{ref}: answer is over the {limit}-byte limit", registry="microbadger")
            chunks.append(chunk)
    except requests.RequestException as exc:
        raise RegistryUnavailable(f"reading the answer for {ref} failed: {exc}", registry="microbadger") from None
    finally:
        response.close()
    return b"".join(chunks)


def _labels(value) -> dict[str, str]:
    if not isinstance(value, dict):
        return {}
    return {str(k): v for k, v in value.items() if isinstance(v, str)}


def _version_for(data: dict, ref: ImageReference) -> dict | None:
    versions = data.get("Versions")
    if not isinstance(versions, list):
        return None
    for version in versions:
        if not isinstance(version, dict):
            continue
        if ref.digest and version.get("SHA") == ref.digest:
            return version
        tags = version.get("Tags") if isinstance(version.get("Tags"), list) else []
        names = {t.get("tag") if isinstance(t, dict) else t for t in tags}
        if not ref.digest and ref.tag in names:
            return version
    return None


def _metadata_from_answer(ref: ImageReference, data: dict) -> ImageMetadata:
    version = _version_for(data, ref)
    if version is not None:
        labels, digest, author = _labels(version.get("Labels")), version.get("SHA"), version.get("Author")
    elif (ref.digest and ref.digest == data.get("LatestSHA")) or (
        not ref.digest and ref.tag == (data.get("LatestVersion") or "latest")
    ):
        labels, digest, author = _labels(data.get("Labels")), data.get("LatestSHA"), data.get("Author")
    else:
        raise ImageNotFound(f"{ref}: no such version known to the MicroBadger-compatible source",
                            registry="microbadger")
    annotations = {}
    if isinstance(author or data.get("Author"), str) and (author or data.get("Author")):
        # MicroBadger reported the image's author (MAINTAINER) beside the labels; keep it where OCI puts it.
        annotations["org.opencontainers.image.authors"] = author or data.get("Author")
    return ImageMetadata(
        reference=str(ref),
        digest=digest if isinstance(digest, str) and digest else None,
        labels=labels,
        annotations=annotations,
        source="microbadger",
    )
