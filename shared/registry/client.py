"""The one module that speaks HTTP to image registries (OCI distribution API): manifests, config blobs, tokens."""
from __future__ import annotations

import base64
import email.utils
import hashlib
import json
import time
from collections import deque
from dataclasses import dataclass

import requests
from requests.utils import parse_dict_header

from shared.registry.cache import DEFAULT_TTL_SECONDS, MetadataCache
from shared.registry.errors import (
    AuthRequired,
    DigestMismatch,
    ImageNotFound,
    InvalidManifest,
    PlatformNotFound,
    RegistryError,
    RegistryUnavailable,
    TooLarge,
)
from shared.registry.metadata import ImageMetadata
from shared.registry.reference import DOCKER_HUB, DOCKER_HUB_API_HOST, ImageReference, parse_reference

DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
DOCKER_MANIFEST_LIST = "application/vnd.docker.distribution.manifest.list.v2+json"
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"
IMAGE_MANIFESTS = (DOCKER_MANIFEST, OCI_MANIFEST)
INDEXES = (DOCKER_MANIFEST_LIST, OCI_INDEX)
MANIFEST_ACCEPT = ", ".join((OCI_INDEX, DOCKER_MANIFEST_LIST, OCI_MANIFEST, DOCKER_MANIFEST))

DEFAULT_PLATFORM = "linux/amd64"
DEFAULT_MAX_MANIFEST_BYTES = 4 * 1024 * 1024
DEFAULT_MAX_CONFIG_BYTES = 16 * 1024 * 1024
DEFAULT_TIMEOUT = (3.05, 10.0)  # (connect, read) seconds, for every request
DEFAULT_RETRIES = 2  # further tries after a 429, a 502/503/504 or a connection failure
DEFAULT_MAX_RETRY_AFTER = 10.0  # longest Retry-After we wait for in-process; longer ones go back to the caller
DEFAULT_BACKOFF = 0.25
USER_AGENT = "maracker-registry-client/1"
_CHUNK = 64 * 1024
_HASHES = {"sha256": hashlib.sha256, "sha384": hashlib.sha384, "sha512": hashlib.sha512}


@dataclass(frozen=True)
class Platform:
    """os/architecture[/variant], as in an index's platform objects."""

    os: str
    architecture: str
    variant: str | None = None

    @classmethod
    def parse(cls, value: str | Platform) -> Platform:
        if isinstance(value, Platform):
            return value
        parts = str(value).strip().lower().split("/")
        if len(parts) not in (2, 3) or not all(parts):
            raise ValueError(f"platform {value!r} must be os/architecture[/variant], like linux/amd64")
        return cls(*parts)

    def matches(self, descriptor_platform: dict) -> bool:
        if not isinstance(descriptor_platform, dict):
            return False
        if descriptor_platform.get("os") != self.os or descriptor_platform.get("architecture") != self.architecture:
            return False
        variant = descriptor_platform.get("variant")
        if self.variant and variant and variant != self.variant:
            return False
        return True

    def __str__(self) -> str:
        return "/".join(p for p in (self.os, self.architecture, self.variant) if p)


@dataclass(frozen=True)
class Manifest:
    """A manifest or index as fetched: its bytes' digest, its media type and its parsed JSON."""

    digest: str
    media_type: str
    data: dict
    size: int


class RegistryClient:
    """Reads image manifests and config blobs from registries; one instance per process is fine (thread-safe
    enough for Celery's prefork workers: each process has its own)."""

    def __init__(
        self,
        *,
        credentials: dict[str, dict] | None = None,
        insecure: list[str] | tuple[str, ...] = (),
        platform: str = DEFAULT_PLATFORM,
        timeout: tuple[float, float] | float = DEFAULT_TIMEOUT,
        max_manifest_bytes: int = DEFAULT_MAX_MANIFEST_BYTES,
        max_config_bytes: int = DEFAULT_MAX_CONFIG_BYTES,
        retries: int = DEFAULT_RETRIES,
        max_retry_after: float = DEFAULT_MAX_RETRY_AFTER,
        backoff: float = DEFAULT_BACKOFF,
        cache_ttl: float = DEFAULT_TTL_SECONDS,
        session: requests.Session | None = None,
        sleep=time.sleep,
    ):
        self.credentials = {host.lower(): creds for host, creds in (credentials or {}).items()}
        self.insecure = {host.lower() for host in insecure}
        self.platform = Platform.parse(platform)
        self.timeout = timeout
        self.max_manifest_bytes = max_manifest_bytes
        self.max_config_bytes = max_config_bytes
        self.retries = retries
        self.max_retry_after = max_retry_after
        self.backoff = backoff
        self.cache_ttl = cache_ttl
        self.sleep = sleep
        self.session = session or requests.Session()
        self.session.headers["User-Agent"] = USER_AGENT
        # Every HTTP exchange, newest last: (method, url, status). Tests and the benchmark count requests here.
        self.request_log: deque[tuple[str, str, int]] = deque(maxlen=10_000)
        self.session.hooks["response"].append(self._log_response)
        self._tokens: dict[tuple[str, str], tuple[str, float]] = {}  # (api host, scope) -> (token, expires)
        self._basic_hosts: set[str] = set()  # hosts that asked for basic auth and for which we have credentials

    @classmethod
    def from_settings(cls, **overrides) -> RegistryClient:
        """A client configured from Django settings (read now, not at import), overridden by keyword."""
        from django.conf import settings

        options = {
            "credentials": getattr(settings, "REGISTRY_CREDENTIALS", None) or {},
            "insecure": getattr(settings, "REGISTRY_INSECURE", None) or (),
            "platform": getattr(settings, "REGISTRY_PLATFORM", DEFAULT_PLATFORM),
            "timeout": (
                getattr(settings, "REGISTRY_CONNECT_TIMEOUT", DEFAULT_TIMEOUT[0]),
                getattr(settings, "REGISTRY_READ_TIMEOUT", DEFAULT_TIMEOUT[1]),
            ),
            "max_manifest_bytes": getattr(settings, "REGISTRY_MAX_MANIFEST_BYTES", DEFAULT_MAX_MANIFEST_BYTES),
            "max_config_bytes": getattr(settings, "REGISTRY_MAX_CONFIG_BYTES", DEFAULT_MAX_CONFIG_BYTES),
            "retries": getattr(settings, "REGISTRY_RETRIES", DEFAULT_RETRIES),
            "max_retry_after": getattr(settings, "REGISTRY_MAX_RETRY_AFTER", DEFAULT_MAX_RETRY_AFTER),
            "cache_ttl": getattr(settings, "REGISTRY_CACHE_TTL", DEFAULT_TTL_SECONDS),
        }
        options.update(overrides)
        return cls(**options)

    # --- the lookup -------------------------------------------------------------------------------------------

    def lookup(
        self,
        reference: str | ImageReference,
        cache: MetadataCache | None = None,
        *,
        platform: str | Platform | None = None,
    ) -> ImageMetadata:
        """The metadata of one image (for `platform` out of an index), cached by manifest digest.

        With a cache, an unchanged image costs one manifest request; a reference pinned by digest that is
        already cached costs none.
        """
        ref = parse_reference(reference)
        wanted = Platform.parse(platform) if platform else self.platform
        if cache is not None and ref.digest:
            hit = cache.get(_cache_key(ref.digest, wanted))
            if hit is not None:
                return ImageMetadata.from_dict(hit).replace(reference=str(ref))
        top = self.fetch_manifest(ref, ref.manifest_reference)
        key = _cache_key(top.digest, wanted)
        if cache is not None:
            hit = cache.get(key)
            if hit is not None:
                return ImageMetadata.from_dict(hit).replace(reference=str(ref))
        annotations = {}
        manifest = top
        if top.media_type in INDEXES:
            annotations.update(_string_map(top.data.get("annotations")))
            descriptor = self.select_platform(top, wanted, ref)
            manifest = self.fetch_manifest(ref, descriptor["digest"])
            if manifest.media_type not in IMAGE_MANIFESTS:
                raise InvalidManifest(
                    f"{ref}: index entry {descriptor['digest']} is a {manifest.media_type}, not an image manifest",
                    registry=ref.registry,
                )
        annotations.update(_string_map(manifest.data.get("annotations")))
        config_descriptor = _descriptor(manifest.data.get("config"), ref, "config")
        config = self.fetch_config(ref, config_descriptor)
        metadata = _metadata_from_config(ref, top.digest, config_descriptor["digest"], config, annotations)
        if cache is not None:
            cache.set(key, metadata.to_dict(), self.cache_ttl)
        return metadata

    def select_platform(self, index: Manifest, platform: Platform, ref: ImageReference) -> dict:
        """The descriptor for `platform` in an index/manifest list (an exact variant first)."""
        manifests = index.data.get("manifests")
        if not isinstance(manifests, list):
            raise InvalidManifest(f"{ref}: index has no 'manifests' list", registry=ref.registry)
        candidates = [d for d in manifests if isinstance(d, dict) and platform.matches(d.get("platform"))]
        if platform.variant:
            exact = [d for d in candidates if d["platform"].get("variant") == platform.variant]
            candidates = exact or candidates
        if not candidates:
            offered = sorted(
                "/".join(str(d["platform"].get(k)) for k in ("os", "architecture") if d["platform"].get(k))
                for d in manifests
                if isinstance(d, dict) and isinstance(d.get("platform"), dict)
            )
            raise PlatformNotFound(
                f"{ref}: no {platform} image in the index (it has: {', '.join(offered) or 'none'})",
                registry=ref.registry,
            )
        return _descriptor(candidates[0], ref, "index entry")

    # --- HTTP -------------------------------------------------------------------------------------------------

    def base_url(self, ref: ImageReference) -> str:
        host = ref.api_host
        scheme = "http" if (host.lower() in self.insecure or ref.registry in self.insecure or ref.is_loopback) \
            else "https"
        return f"{scheme}://{host}"

    def fetch_manifest(self, ref: ImageReference, reference: str) -> Manifest:
        """GET a manifest or index by tag or digest; verify its digest when asked by digest."""
        url = f"{self.base_url(ref)}/v2/{ref.repository}/manifests/{reference}"
        response = self._request(ref, "GET", url, headers={"Accept": MANIFEST_ACCEPT})
        body = self._read_capped(response, self.max_manifest_bytes, ref, f"manifest {reference}")
        digest = "sha256:" + hashlib.sha256(body).hexdigest()
        if reference.startswith("sha") and ":" in reference:
            _verify_digest(body, reference, ref, "manifest")
            digest = reference
        else:
            header = response.headers.get("Docker-Content-Digest", "")
            if header.startswith("sha256:") and header != digest:
                raise DigestMismatch(
                    f"{ref}: manifest hashes to {digest}, the registry says {header}", registry=ref.registry
                )
        try:
            data = json.loads(body)
        except ValueError:
            raise InvalidManifest(f"{ref}: manifest {reference} is not JSON", registry=ref.registry) from None
        if not isinstance(data, dict):
            raise InvalidManifest(f"{ref}: manifest {reference} is not a JSON object", registry=ref.registry)
        media_type = data.get("mediaType") or response.headers.get("Content-Type", "").split(";")[0].strip()
        if not media_type and "manifests" in data:
            media_type = OCI_INDEX
        elif not media_type and "config" in data:
            media_type = OCI_MANIFEST
        if media_type not in IMAGE_MANIFESTS + INDEXES:
            raise InvalidManifest(
                f"{ref}: manifest {reference} has unsupported media type {media_type or 'none'}",
                registry=ref.registry,
            )
        if data.get("schemaVersion") != 2:
            raise InvalidManifest(f"{ref}: manifest {reference} is not schemaVersion 2", registry=ref.registry)
        return Manifest(digest=digest, media_type=media_type, data=data, size=len(body))

    def fetch_config(self, ref: ImageReference, descriptor: dict) -> dict:
        """GET the config blob a manifest names, capped and verified against its digest, parsed."""
        size = descriptor.get("size")
        if isinstance(size, int) and size > self.max_config_bytes:
            raise TooLarge(
                f"{ref}: config blob is {size} bytes, over the {self.max_config_bytes}-byte limit",
                registry=ref.registry,
            )
        body = self.fetch_blob(ref, descriptor["digest"], self.max_config_bytes)
        try:
            config = json.loads(body)
        except ValueError:
            raise InvalidManifest(f"{ref}: config blob is not JSON", registry=ref.registry) from None
        if not isinstance(config, dict):
            raise InvalidManifest(f"{ref}: config blob is not a JSON object", registry=ref.registry)
        return config

    def fetch_blob(self, ref: ImageReference, digest: str, limit: int) -> bytes:
        url = f"{self.base_url(ref)}/v2/{ref.repository}/blobs/{digest}"
        response = self._request(ref, "GET", url)
        body = self._read_capped(response, limit, ref, f"blob {digest}")
        _verify_digest(body, digest, ref, "blob")
        return body

    def _request(self, ref: ImageReference, method: str, url: str, headers: dict | None = None):
        """One request with auth, bounded retries (429 honouring Retry-After, 502/503/504, connection errors)
        and typed errors. The response is streamed: the caller reads it with a cap."""
        headers = dict(headers or {})
        scope = f"repository:{ref.repository}:pull"
        host = ref.api_host
        authenticated_once = False
        attempt = 0
        while True:
            request_headers = {**headers, **self._auth_headers(ref, scope)}
            try:
                response = self.session.request(
                    method, url, headers=request_headers, timeout=self.timeout, stream=True, allow_redirects=True
                )
            except requests.RequestException as exc:
                if attempt < self.retries:
                    self.sleep(self.backoff * (2**attempt))
                    attempt += 1
                    continue
                raise RegistryUnavailable(f"{host}: {type(exc).__name__}: {exc}", registry=ref.registry) from None
            status = response.status_code
            if status < 300:
                return response
            body = _read_error_body(response)
            if status == 401 and not authenticated_once:
                authenticated_once = True
                if self._authenticate(ref, response, scope):
                    continue
                raise AuthRequired(
                    f"{host}: credentials are required to read {ref.repository}"
                    + ("" if not self._credentials_for(ref) else " (the configured ones were refused)"),
                    registry=ref.registry,
                    status=status,
                )
            if status in (401, 403):
                raise AuthRequired(
                    f"{host}: access to {ref.repository} refused ({status}"
                    f"{', with credentials' if self._credentials_for(ref) else ', no credentials configured'})",
                    registry=ref.registry,
                    status=status,
                )
            if status == 404 or _error_codes(body) & {"MANIFEST_UNKNOWN", "NAME_UNKNOWN", "BLOB_UNKNOWN"}:
                raise ImageNotFound(
                    f"{ref}: not found on {host} ({', '.join(sorted(_error_codes(body))) or status})",
                    registry=ref.registry,
                    status=status,
                )
            if status == 429 or status in (502, 503, 504):
                retry_after = _retry_after(response.headers.get("Retry-After"))
                if attempt < self.retries and (retry_after is None or retry_after <= self.max_retry_after):
                    self.sleep(retry_after if retry_after is not None else self.backoff * (2**attempt))
                    attempt += 1
                    continue
                raise RegistryUnavailable(
                    f"{host}: answered {status}" + (" (too many requests)" if status == 429 else ""),
                    registry=ref.registry,
                    status=status,
                    retry_after=retry_after,
                )
            if status >= 500:
                raise RegistryUnavailable(f"{host}: answered {status}", registry=ref.registry, status=status)
            raise RegistryError(f"{host}: unexpected answer {status} to {method} {url}", registry=ref.registry,
                                status=status)

    def _read_capped(self, response, limit: int, ref: ImageReference, what: str) -> bytes:
        try:
            length = int(response.headers.get("Content-Length", "-1"))
        except ValueError:
            length = -1
        if length > limit:
            response.close()
            raise TooLarge(f"{ref}: {what} is {length} bytes, over the {limit}-byte limit", registry=ref.registry)
        chunks, total = [], 0
        try:
            for chunk in response.iter_content(_CHUNK):
                total += len(chunk)
                if total > limit:
                    raise TooLarge(f"{ref}: {what} is over the {limit}-byte limit", registry=ref.registry)
                chunks.append(chunk)
        except requests.RequestException as exc:
            raise RegistryUnavailable(f"{ref.api_host}: reading {what} failed: {exc}", registry=ref.registry) \
                from None
        finally:
            response.close()
        return b"".join(chunks)

    # --- authentication ---------------------------------------------------------------------------------------

    def _credentials_for(self, ref: ImageReference) -> dict | None:
        for host in (ref.registry, ref.api_host):
            creds = self.credentials.get(host.lower())
            if creds and creds.get("username") is not None:
                return creds
        if ref.registry == DOCKER_HUB:
            return self.credentials.get("index.docker.io") or self.credentials.get(DOCKER_HUB_API_HOST)
        return None

    def _auth_headers(self, ref: ImageReference, scope: str) -> dict:
        token = self._tokens.get((ref.api_host, scope))
        if token and token[1] > time.monotonic():
            return {"Authorization": f"Bearer {token[0]}"}
        if ref.api_host in self._basic_hosts:
            creds = self._credentials_for(ref)
            if creds:
                pair = f"{creds['username']}:{creds.get('password') or ''}".encode()
                return {"Authorization": "Basic " + base64.b64encode(pair).decode("ascii")}
        return {}

    def _authenticate(self, ref: ImageReference, response, scope: str) -> bool:
        """Answer a 401's challenge: Basic with configured credentials, or a Bearer token from the realm
        (anonymous, or with the credentials as basic auth). True when there is something new to try."""
        challenge = response.headers.get("WWW-Authenticate", "")
        scheme, _, params_text = challenge.partition(" ")
        params = parse_dict_header(params_text) if params_text else {}
        creds = self._credentials_for(ref)
        if scheme.lower() == "basic":
            if not creds:
                return False
            self._basic_hosts.add(ref.api_host)
            return True
        if scheme.lower() != "bearer" or not params.get("realm"):
            return False
        query = {"service": params["service"]} if params.get("service") else {}
        query["scope"] = params.get("scope") or scope
        auth = (creds["username"], creds.get("password") or "") if creds else None
        try:
            token_response = self.session.get(params["realm"], params=query, auth=auth, timeout=self.timeout)
        except requests.RequestException as exc:
            raise RegistryUnavailable(f"{ref.api_host}: token service failed: {exc}", registry=ref.registry) \
                from None
        if token_response.status_code in (401, 403):
            return False
        if token_response.status_code == 429 or token_response.status_code >= 500:
            raise RegistryUnavailable(
                f"{ref.api_host}: token service answered {token_response.status_code}",
                registry=ref.registry,
                status=token_response.status_code,
                retry_after=_retry_after(token_response.headers.get("Retry-After")),
            )
        try:
            payload = token_response.json()
        except ValueError:
            payload = {}
        if not isinstance(payload, dict):
            payload = {}
        token = payload.get("token") or payload.get("access_token")
        if not token_response.ok or not token:
            return False
        expires_in = payload.get("expires_in") if isinstance(payload.get("expires_in"), int) else 60
        self._tokens[(ref.api_host, scope)] = (token, time.monotonic() + max(10, expires_in - 5))
        return True

    def _log_response(self, response, *args, **kwargs):
        self.request_log.append((response.request.method, response.request.url, response.status_code))


# --- helpers ------------------------------------------------------------------------------------------------------


def _cache_key(digest: str, platform: Platform) -> str:
    return f"{digest}|{platform}"


def _string_map(value) -> dict[str, str]:
    if not isinstance(value, dict):
        return {}
    return {str(k): v for k, v in value.items() if isinstance(v, str)}


def _string_list(value) -> list[str]:
    if isinstance(value, str):
        return [value]
    if not isinstance(value, list):
        return []
    return [item for item in value if isinstance(item, str)]


def _descriptor(value, ref: ImageReference, what: str) -> dict:
    if not isinstance(value, dict) or not isinstance(value.get("digest"), str) or ":" not in value["digest"]:
        raise InvalidManifest(f"{ref}: {what} descriptor has no digest", registry=ref.registry)
    if value["digest"].split(":", 1)[0] not in _HASHES:
        raise InvalidManifest(f"{ref}: {what} digest {value['digest']} uses an unknown algorithm",
                              registry=ref.registry)
    return value


def _verify_digest(body: bytes, digest: str, ref: ImageReference, what: str) -> None:
    algorithm, _, expected = digest.partition(":")
    hasher = _HASHES.get(algorithm)
    if hasher is None:
        raise InvalidManifest(f"{ref}: {what} digest {digest} uses an unknown algorithm", registry=ref.registry)
    actual = hasher(body).hexdigest()
    if actual != expected:
        raise DigestMismatch(
            f"{ref}: {what} {digest} hashes to {algorithm}:{actual}", registry=ref.registry
        )


def _read_error_body(response) -> dict:
    try:
        raw = response.raw.read(64 * 1024, decode_content=True) if response.raw is not None else b""
    except Exception:  # noqa: BLE001 - an unreadable error body only loses detail
        raw = b""
    finally:
        response.close()
    try:
        data = json.loads(raw or b"{}")
    except ValueError:
        return {}
    return data if isinstance(data, dict) else {}


def _error_codes(body: dict) -> set[str]:
    errors = body.get("errors")
    if not isinstance(errors, list):
        return set()
    return {e.get("code") for e in errors if isinstance(e, dict) and isinstance(e.get("code"), str)}


def _retry_after(value: str | None) -> float | None:
    """Retry-After as seconds (a number, or an HTTP date from now); None when absent or unreadable."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when is None:
        return None
    return max(0.0, when.timestamp() - time.time())


def _metadata_from_config(ref: ImageReference, digest: str, config_digest: str, config: dict,
                          annotations: dict[str, str]) -> ImageMetadata:
    inner = config.get("config") if isinstance(config.get("config"), dict) else {}
    exposed = inner.get("ExposedPorts")
    os_name, arch, variant = config.get("os"), config.get("architecture"), config.get("variant")
    platform = "/".join(p for p in (os_name, arch, variant) if isinstance(p, str) and p) or None
    return ImageMetadata(
        reference=str(ref),
        digest=digest,
        labels=_string_map(inner.get("Labels")),
        annotations=annotations,
        exposed_ports=sorted(exposed) if isinstance(exposed, dict) else [],
        cmd=_string_list(inner.get("Cmd")),
        entrypoint=_string_list(inner.get("Entrypoint")),
        env=_string_list(inner.get("Env")),
        platform=platform,
        config_digest=config_digest,
        source="registry",
    )
