"""The registry client against a real docker-registry: manifests, indexes, config blobs, auth, limits, errors."""
import http.server
import json
import threading

import pytest
import requests

from shared.registry.cache import InMemoryCache
from shared.registry.client import RegistryClient
from shared.registry.errors import (
    AuthRequired,
    DigestMismatch,
    ImageNotFound,
    InvalidManifest,
    PlatformNotFound,
    RegistryUnavailable,
    TooLarge,
)
from shared.registry.metadata import suggest_catalog_fields
from tests.fixtures.processes import free_port
from tests.fixtures.registry import write_image_layout, write_index_layout

LABEL_SCHEMA = {
    "org.label-schema.name": "Label Schema App",
    "org.label-schema.description": "described by label-schema",
    "org.label-schema.vcs-url": "https://git.example.com/ls.git",
    "org.label-schema.docker.cmd": "docker run -p 8080:8080 127.0.0.1/demo/label-schema serve",
    "org.label-schema.memory-hint": "768m",
}
OCI_ANNOTATIONS = {
    "org.opencontainers.image.title": "OCI App",
    "org.opencontainers.image.description": "described by OCI",
    "org.opencontainers.image.source": "https://git.example.com/oci",
    "org.opencontainers.image.licenses": "MIT",
}
HUGE_LABELS = {f"com.example.label-{i:05d}": "x" * 100 for i in range(3000)}  # about 350 KB of config


class Sleeps(list):
    """Stands in for time.sleep: records how long the client wanted to wait, without waiting."""

    def __call__(self, seconds):
        self.append(seconds)


@pytest.fixture(scope="module")
def images(oci_registry, tmp_path_factory):
    """Push every test image once; returns {case: reference}."""
    root = tmp_path_factory.mktemp("layouts")
    host = oci_registry.host
    cases = {
        "label-schema": dict(labels=LABEL_SCHEMA, exposed_ports=["8080/tcp", "53/udp"], cmd=["serve"],
                             entrypoint=["/entry"], env=["PATH=/bin", "MODE=prod"]),
        "oci": dict(annotations=OCI_ANNOTATIONS, exposed_ports=["80/tcp"]),
        "both": dict(labels=LABEL_SCHEMA, annotations=OCI_ANNOTATIONS),
        "plain": dict(),
        "huge": dict(labels=HUGE_LABELS),
        "tampered": dict(labels={"case": "tampered", "org.opencontainers.image.title": "Original"}),
        "cached": dict(labels={"case": "cached"}),
    }
    refs = {}
    for case, image in cases.items():
        layout = write_image_layout(root / case, "1", **image)
        oci_registry.push(layout, f"demo/{case}", "1")
        refs[case] = f"{host}/demo/{case}:1"
    layout = write_index_layout(
        root / "multi",
        "1",
        [dict(labels={"arch": "amd64"}, exposed_ports=["80/tcp"]),
         dict(labels={"arch": "arm64"}, architecture="arm64", variant="v8")],
        annotations={"org.opencontainers.image.title": "Multi Arch"},
    )
    oci_registry.push(layout, "demo/multi", "1", all_platforms=True)
    refs["multi"] = f"{host}/demo/multi:1"
    return refs


@pytest.fixture
def client():
    return RegistryClient(sleep=Sleeps(), backoff=0.01)


def test_label_schema_image(client, images):
    metadata = client.lookup(images["label-schema"])
    assert metadata.labels == LABEL_SCHEMA
    assert metadata.exposed_ports == ["53/udp", "8080/tcp"]
    assert (metadata.cmd, metadata.entrypoint) == (["serve"], ["/entry"])
    assert metadata.env_dict == {"PATH": "/bin", "MODE": "prod"}
    assert metadata.platform == "linux/amd64"
    assert metadata.digest.startswith("sha256:") and metadata.config_digest.startswith("sha256:")
    suggestion = suggest_catalog_fields(metadata)
    assert suggestion.name == "label-schema-app"
    assert suggestion.ports == [8080]
    assert suggestion.memory == 768
    assert suggestion.command == "serve"


def test_oci_annotations_image(client, images):
    metadata = client.lookup(images["oci"])
    assert metadata.labels == {}
    assert metadata.annotations == OCI_ANNOTATIONS
    suggestion = suggest_catalog_fields(metadata)
    assert (suggestion.name, suggestion.description, suggestion.vcs_url) == (
        "oci-app", "described by OCI", "https://git.example.com/oci")
    assert suggestion.ports == [80]


def test_oci_wins_over_label_schema(client, images):
    suggestion = suggest_catalog_fields(client.lookup(images["both"]))
    assert suggestion.name == "oci-app"
    assert suggestion.description == "described by OCI"
    assert suggestion.memory == 768  # only label-schema has a memory hint


def test_image_without_labels(client, images):
    metadata = client.lookup(images["plain"])
    assert metadata.labels == {} and metadata.annotations == {}
    assert suggest_catalog_fields(metadata).name == "plain"


def test_index_picks_linux_amd64_by_default(client, images):
    metadata = client.lookup(images["multi"])
    assert metadata.labels == {"arch": "amd64"}
    assert metadata.platform == "linux/amd64"
    assert metadata.annotations["org.opencontainers.image.title"] == "Multi Arch"


def test_index_platform_is_configurable(images):
    assert RegistryClient(platform="linux/arm64").lookup(images["multi"]).labels == {"arch": "arm64"}
    assert RegistryClient().lookup(images["multi"], platform="linux/arm64/v8").platform == "linux/arm64/v8"
    with pytest.raises(PlatformNotFound) as info:
        RegistryClient().lookup(images["multi"], platform="linux/s390x")
    assert info.value.code == "image_not_found" and "amd64" in str(info.value)


def test_lookup_by_digest(client, images):
    first = client.lookup(images["label-schema"])
    pinned = images["label-schema"].rsplit(":", 1)[0] + "@" + first.digest
    assert client.lookup(pinned).labels == LABEL_SCHEMA


def test_config_over_the_size_limit_is_too_large(images):
    client = RegistryClient(max_config_bytes=256 * 1024)
    with pytest.raises(TooLarge) as info:
        client.lookup(images["huge"])
    assert info.value.code == "too_large" and not info.value.retryable
    # No blob request was made: the manifest's descriptor already gave the size.
    assert not any("/blobs/" in url for _, url, _ in client.request_log)
    # With the default 16 MiB limit the same image reads fine.
    assert len(RegistryClient().lookup(images["huge"]).labels) == len(HUGE_LABELS)


def test_manifest_over_the_size_limit_is_too_large(images):
    with pytest.raises(TooLarge):
        RegistryClient(max_manifest_bytes=100).lookup(images["plain"])


def test_config_blob_that_does_not_match_its_digest(oci_registry, images):
    """The registry checks digests on upload, so a corrupt blob can only come from its storage: flip bytes
    there (same length) and the client must notice."""
    metadata = RegistryClient().lookup(images["tampered"])
    path = oci_registry.blob_path(metadata.config_digest)
    data = path.read_bytes()
    assert b"Original" in data
    path.write_bytes(data.replace(b"Original", b"Tampered"))
    with pytest.raises(DigestMismatch) as info:
        RegistryClient().lookup(images["tampered"])
    assert info.value.code == "digest_mismatch" and not info.value.retryable


def test_unknown_image_and_unknown_tag(client, oci_registry, images):
    for reference in (f"{oci_registry.host}/demo/nothing-here:1", f"{oci_registry.host}/demo/plain:no-such-tag"):
        with pytest.raises(ImageNotFound) as info:
            client.lookup(reference)
        assert info.value.code == "image_not_found" and not info.value.retryable


def test_second_lookup_of_an_unchanged_image_asks_for_the_manifest_only(oci_registry, images):
    client = RegistryClient()
    cache = InMemoryCache()
    first = client.lookup(images["cached"], cache)
    assert [url.split("/v2/", 1)[1].split("/")[2] for _, url, _ in client.request_log] == ["manifests", "blobs"]
    log_before = len(oci_registry.access_log())
    client.request_log.clear()
    second = client.lookup(images["cached"], cache)
    assert second == first
    assert [(method, url.rsplit("/v2/", 1)[1]) for method, url, _ in client.request_log] == [
        ("GET", "demo/cached/manifests/1")]
    assert [(m, p) for m, p, _ in oci_registry.access_log()[log_before:]] == [("GET", "/v2/demo/cached/manifests/1")]
    # Pinned by digest and cached: nothing to ask at all.
    client.request_log.clear()
    pinned = images["cached"].rsplit(":", 1)[0] + "@" + first.digest
    assert client.lookup(pinned, cache).labels == first.labels
    assert list(client.request_log) == []


def test_index_lookups_are_cached_per_platform(images):
    client, cache = RegistryClient(), InMemoryCache()
    assert client.lookup(images["multi"], cache).labels == {"arch": "amd64"}
    assert client.lookup(images["multi"], cache, platform="linux/arm64").labels == {"arch": "arm64"}
    client.request_log.clear()
    assert client.lookup(images["multi"], cache, platform="linux/arm64").labels == {"arch": "arm64"}
    assert len(client.request_log) == 1


# --- credentials ------------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def private_image(oci_auth_registry, tmp_path_factory):
    layout = write_image_layout(tmp_path_factory.mktemp("private"), "1", labels={"private": "yes"})
    oci_auth_registry.push(layout, "team/private", "1")
    return f"{oci_auth_registry.host}/team/private:1"


def test_private_image_without_credentials(private_image):
    with pytest.raises(AuthRequired) as info:
        RegistryClient().lookup(private_image)
    assert info.value.code == "auth_required" and not info.value.retryable


def test_private_image_with_wrong_credentials(oci_auth_registry, private_image):
    client = RegistryClient(credentials={oci_auth_registry.host: {"username": "maracker", "password": "wrong"}})
    with pytest.raises(AuthRequired, match="refused"):
        client.lookup(private_image)


def test_private_image_with_credentials(oci_auth_registry, private_image):
    client = RegistryClient(credentials=oci_auth_registry.credentials)
    cache = InMemoryCache()
    assert client.lookup(private_image, cache).labels == {"private": "yes"}
    # Basic auth is sent up front once the registry asked for it: a cached lookup is one request.
    client.request_log.clear()
    client.lookup(private_image, cache)
    assert [status for _, _, status in client.request_log] == [200]


# --- an unreliable registry: a small proxy in front of the real one ----------------------------------------------


class FlakyProxy:
    """Forwards GETs to the real registry, after answering the first ones with scripted statuses; can also
    stand in for a registry that wants Bearer tokens from its own token endpoint."""

    def __init__(self, upstream, script=(), token_mode=None, credentials=None):
        self.upstream = upstream
        self.script = list(script)
        self.token_mode = token_mode  # None, "anonymous" or "credentials"
        self.credentials = credentials
        self.seen = []
        self.port = free_port()
        proxy = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_GET(self):
                proxy.seen.append((self.path, self.headers.get("Authorization")))
                if self.path.startswith("/token"):
                    return proxy.token(self)
                if proxy.script:
                    status, headers = proxy.script.pop(0)
                    return proxy.reply(self, status, headers, b'{"errors":[]}')
                if proxy.token_mode and self.headers.get("Authorization") != "Bearer good-token":
                    realm = f"http://127.0.0.1:{proxy.port}/token"
                    challenge = f'Bearer realm="{realm}",service="flaky",scope="repository:demo/plain:pull"'
                    return proxy.reply(self, 401, {"WWW-Authenticate": challenge}, b'{"errors":[]}')
                upstream = requests.get(proxy.upstream + self.path, headers={"Accept": self.headers["Accept"] or "*/*"})
                keep = {k: v for k, v in upstream.headers.items()
                        if k in ("Content-Type", "Docker-Content-Digest")}
                proxy.reply(self, upstream.status_code, keep, upstream.content)

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def token(self, handler):
        if self.token_mode == "credentials":
            import base64

            expected = "Basic " + base64.b64encode(f"{self.credentials[0]}:{self.credentials[1]}".encode()).decode()
            if handler.headers.get("Authorization") != expected:
                return self.reply(handler, 401, {}, b'{"details":"bad credentials"}')
        self.reply(handler, 200, {"Content-Type": "application/json"},
                   json.dumps({"token": "good-token", "expires_in": 300}).encode())

    @staticmethod
    def reply(handler, status, headers, body):
        handler.send_response(status)
        for key, value in headers.items():
            handler.send_header(key, value)
        handler.send_header("Content-Length", str(len(body)))
        handler.end_headers()
        handler.wfile.write(body)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.server.shutdown()
        self.server.server_close()

    def ref(self, path="demo/plain:1"):
        return f"127.0.0.1:{self.port}/{path}"


def test_429_with_retry_after_is_honoured(oci_registry, images):
    with FlakyProxy(oci_registry.url, script=[(429, {"Retry-After": "2"}), (503, {})]) as proxy:
        sleeps = Sleeps()
        metadata = RegistryClient(sleep=sleeps, backoff=0.01).lookup(proxy.ref())
    assert metadata.labels == {}
    assert sleeps == [2.0, 0.02]


def test_429_that_lasts_is_registry_unavailable(oci_registry, images):
    with FlakyProxy(oci_registry.url, script=[(429, {"Retry-After": "1"})] * 5) as proxy:
        sleeps = Sleeps()
        with pytest.raises(RegistryUnavailable) as info:
            RegistryClient(sleep=sleeps, retries=2).lookup(proxy.ref())
    assert info.value.code == "registry_unavailable" and info.value.retryable
    assert info.value.status == 429 and sleeps == [1.0, 1.0]


def test_long_retry_after_goes_back_to_the_caller(oci_registry, images):
    with FlakyProxy(oci_registry.url, script=[(429, {"Retry-After": "3600"})]) as proxy:
        sleeps = Sleeps()
        with pytest.raises(RegistryUnavailable) as info:
            RegistryClient(sleep=sleeps, max_retry_after=10).lookup(proxy.ref())
    assert sleeps == [] and info.value.retry_after == 3600


def test_server_errors_are_registry_unavailable(oci_registry, images):
    with FlakyProxy(oci_registry.url, script=[(500, {})]) as proxy:
        with pytest.raises(RegistryUnavailable) as info:
            RegistryClient(sleep=Sleeps()).lookup(proxy.ref())
    assert info.value.status == 500


def test_registry_down_is_registry_unavailable():
    sleeps = Sleeps()
    with pytest.raises(RegistryUnavailable) as info:
        RegistryClient(sleep=sleeps, backoff=0.01, retries=2).lookup(f"127.0.0.1:{free_port()}/demo/app:1")
    assert info.value.code == "registry_unavailable" and info.value.retryable
    assert "ConnectionError" in str(info.value) and len(sleeps) == 2


def test_anonymous_bearer_token_from_the_challenge(oci_registry, images):
    with FlakyProxy(oci_registry.url, token_mode="anonymous") as proxy:
        client, cache = RegistryClient(), InMemoryCache()
        assert client.lookup(proxy.ref(), cache).labels == {}
        token_requests = [p for p, _ in proxy.seen if p.startswith("/token")]
        assert token_requests == ["/token?service=flaky&scope=repository%3Ademo%2Fplain%3Apull"]
        # The token is reused: a cached lookup is a single manifest request with it.
        proxy.seen.clear()
        client.lookup(proxy.ref(), cache)
        assert proxy.seen == [("/v2/demo/plain/manifests/1", "Bearer good-token")]


def test_bearer_token_obtained_with_basic_credentials(oci_registry, images):
    with FlakyProxy(oci_registry.url, token_mode="credentials", credentials=("bob", "pw")) as proxy:
        with pytest.raises(AuthRequired):
            RegistryClient().lookup(proxy.ref())
        host = f"127.0.0.1:{proxy.port}"
        client = RegistryClient(credentials={host: {"username": "bob", "password": "pw"}})
        assert client.lookup(proxy.ref()).labels == {}


def test_insecure_hosts_and_https_by_default():
    from shared.registry.reference import parse_reference

    client = RegistryClient(insecure=["registry.internal:5000"])
    assert client.base_url(parse_reference("registry.internal:5000/app")) == "http://registry.internal:5000"
    assert client.base_url(parse_reference("ghcr.io/app")) == "https://ghcr.io"
    assert client.base_url(parse_reference("nginx")) == "https://registry-1.docker.io"
    assert client.base_url(parse_reference("localhost:5000/app")) == "http://localhost:5000"


def test_non_json_manifest_is_invalid(oci_registry, images):
    with FlakyProxy(oci_registry.url) as proxy:
        proxy.script = [(200, {"Content-Type": "application/vnd.oci.image.manifest.v1+json"})]
        with pytest.raises(InvalidManifest) as info:
            RegistryClient().lookup(proxy.ref())
    assert info.value.code == "invalid_manifest"


def test_from_settings_reads_django_settings():
    from django.conf import settings

    if not settings.configured:
        pytest.skip("Django settings are not configured")
    from django.test import override_settings

    creds = {"registry.example.com": {"username": "u", "password": "p"}}
    with override_settings(REGISTRY_CREDENTIALS=creds, REGISTRY_INSECURE=["registry.example.com"],
                           REGISTRY_PLATFORM="linux/arm64", REGISTRY_MAX_CONFIG_BYTES=1234):
        client = RegistryClient.from_settings()
    assert client.credentials == creds
    assert str(client.platform) == "linux/arm64" and client.max_config_bytes == 1234
    assert client.insecure == {"registry.example.com"}
