"""The MicroBadger-compatible source against a small HTTP server serving answers in the old service's shape."""
import http.server
import json
import threading

import pytest

from shared.registry.errors import ImageNotFound, InvalidManifest, RegistryUnavailable, TooLarge
from shared.registry.metadata import suggest_catalog_fields
from shared.registry.microbadger import MicroBadgerClient
from tests.fixtures.processes import free_port

LATEST_SHA = "sha256:" + "1" * 64
OLD_SHA = "sha256:" + "2" * 64
# The shape of MicroBadger's /v1/images/<namespace>/<name> answers (fields it had; values made up).
ANSWER = {
    "Id": 1234,
    "ImageName": "demo/hello",
    "ImageURL": "https://microbadger.example/images/demo/hello",
    "Author": "Demo Team <team@example.com>",
    "LatestSHA": LATEST_SHA,
    "LatestVersion": "latest",
    "LayerCount": 3,
    "DownloadSize": 2048,
    "Labels": {
        "org.label-schema.name": "Hello",
        "org.label-schema.vcs-url": "https://git.example.com/hello",
        "org.label-schema.memory-hint": "128",
    },
    "Versions": [
        {
            "SHA": LATEST_SHA,
            "Tags": [{"tag": "latest"}, {"tag": "2.0"}],
            "Author": "Demo Team <team@example.com>",
            "Labels": {"org.label-schema.name": "Hello", "org.label-schema.version": "2.0"},
            "LayerCount": 3,
        },
        {
            "SHA": OLD_SHA,
            "Tags": [{"tag": "1.0"}],
            "Labels": {"org.label-schema.name": "Hello Old", "org.label-schema.version": "1.0"},
        },
    ],
    "Status": "Size",
    "UpdatedAt": "2019-01-01T00:00:00Z",
}
LIBRARY = {"ImageName": "library/nginx", "LatestSHA": LATEST_SHA, "Labels": {"maintainer": "NGINX"}}


@pytest.fixture(scope="module")
def microbadger():
    seen = []

    class Handler(http.server.BaseHTTPRequestHandler):
        def log_message(self, *args):
            pass

        def do_GET(self):
            seen.append(self.path)
            answers = {
                "/v1/images/demo/hello": (200, json.dumps(ANSWER).encode()),
                "/v1/images/library/nginx": (200, json.dumps(LIBRARY).encode()),
                "/v1/images/demo/broken": (200, b"<html>oops</html>"),
                "/v1/images/demo/down": (503, b""),
                "/v1/images/demo/huge": (200, b'{"Labels": {"a": "' + b"x" * 200_000 + b'"}}'),
            }
            status, body = answers.get(self.path, (404, b'{"error": "not found"}'))
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    port = free_port()
    server = http.server.ThreadingHTTPServer(("127.0.0.1", port), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{port}", seen
    server.shutdown()
    server.server_close()


def test_latest_version_labels(microbadger):
    url, seen = microbadger
    metadata = MicroBadgerClient(url).lookup("demo/hello")
    assert seen[-1] == "/v1/images/demo/hello"
    assert metadata.source == "microbadger"
    assert metadata.digest == LATEST_SHA
    assert metadata.labels == ANSWER["Versions"][0]["Labels"]
    assert metadata.annotations == {"org.opencontainers.image.authors": "Demo Team <team@example.com>"}
    suggestion = suggest_catalog_fields(metadata)
    assert (suggestion.name, suggestion.version) == ("hello", "2.0")


def test_a_tag_is_found_in_versions(microbadger):
    url, _ = microbadger
    metadata = MicroBadgerClient(url).lookup("demo/hello:1.0")
    assert metadata.digest == OLD_SHA and metadata.labels["org.label-schema.name"] == "Hello Old"
    assert MicroBadgerClient(url).lookup("demo/hello@" + OLD_SHA).labels["org.label-schema.version"] == "1.0"


def test_official_images_use_the_library_namespace(microbadger):
    url, seen = microbadger
    metadata = MicroBadgerClient(url).lookup("nginx")
    assert seen[-1] == "/v1/images/library/nginx"
    assert metadata.labels == {"maintainer": "NGINX"} and metadata.reference == "docker.io/library/nginx:latest"


def test_unknown_image_tag_or_registry(microbadger):
    url, _ = microbadger
    client = MicroBadgerClient(url)
    for reference in ("demo/nothing", "demo/hello:9.9", "ghcr.io/demo/hello"):
        with pytest.raises(ImageNotFound) as info:
            client.lookup(reference)
        assert info.value.code == "image_not_found"


def test_broken_answers(microbadger):
    url, _ = microbadger
    client = MicroBadgerClient(url, max_bytes=100_000)
    with pytest.raises(InvalidManifest):
        client.lookup("demo/broken")
    with pytest.raises(TooLarge):
        client.lookup("demo/huge")
    with pytest.raises(RegistryUnavailable) as info:
        client.lookup("demo/down")
    assert info.value.retryable


def test_service_down():
    with pytest.raises(RegistryUnavailable) as info:
        MicroBadgerClient(f"http://127.0.0.1:{free_port()}").lookup("demo/hello")
    assert info.value.code == "registry_unavailable"


def test_off_unless_configured():
    from django.conf import settings

    if not settings.configured:
        pytest.skip("Django settings are not configured")
    from django.test import override_settings

    with override_settings(MICROBADGER_URL=""):
        assert MicroBadgerClient.from_settings() is None
    with override_settings(MICROBADGER_URL="http://mb.example:8080/"):
        assert MicroBadgerClient.from_settings().base_url == "http://mb.example:8080"
