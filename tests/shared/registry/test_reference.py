"""Image reference parsing: the distribution/reference grammar, Docker Hub normalisation and named errors."""
import pytest

from shared.registry.reference import ImageReference, InvalidReference, is_valid_reference, parse_reference

HEX = "0123456789abcdef" * 4
SHA = "sha256:" + HEX

VALID = [
    ("nginx", "docker.io", "library/nginx", "latest", None),
    ("nginx:1.27", "docker.io", "library/nginx", "1.27", None),
    ("library/nginx", "docker.io", "library/nginx", "latest", None),
    ("docker.io/nginx", "docker.io", "library/nginx", "latest", None),
    ("index.docker.io/nginx:alpine", "docker.io", "library/nginx", "alpine", None),
    ("docker.io/library/nginx:1.27-alpine", "docker.io", "library/nginx", "1.27-alpine", None),
    ("user/app", "docker.io", "user/app", "latest", None),
    ("user/app:v1.2.3", "docker.io", "user/app", "v1.2.3", None),
    ("ghcr.io/org/app:main", "ghcr.io", "org/app", "main", None),
    ("quay.io/org/team/app:1", "quay.io", "org/team/app", "1", None),
    ("localhost/app", "localhost", "app", "latest", None),
    ("localhost:5000/app:dev", "localhost:5000", "app", "dev", None),
    ("127.0.0.1:5000/group/app:1", "127.0.0.1:5000", "group/app", "1", None),
    ("[::1]:5000/app", "[::1]:5000", "app", "latest", None),
    ("registry.example.com:443/a/b/c:d", "registry.example.com:443", "a/b/c", "d", None),
    ("Registry.Example.COM/app", "registry.example.com", "app", "latest", None),
    ("app@" + SHA, "docker.io", "library/app", None, SHA),
    ("app:1@" + SHA, "docker.io", "library/app", "1", SHA),
    ("org/a.b_c__d-e--f", "docker.io", "org/a.b_c__d-e--f", "latest", None),
    ("app:UPPER_tag", "docker.io", "library/app", "UPPER_tag", None),
    ("app:_private", "docker.io", "library/app", "_private", None),
    ("app:1.0.0-rc.1", "docker.io", "library/app", "1.0.0-rc.1", None),
    ("app:" + "t" * 128, "docker.io", "library/app", "t" * 128, None),
    ("app:v1.0__x", "docker.io", "library/app", "v1.0__x", None),
    ("app@sha512:" + HEX * 2, "docker.io", "library/app", None, "sha512:" + HEX * 2),
    ("example.com/app", "example.com", "app", "latest", None),
    ("my-registry.local:5000/x", "my-registry.local:5000", "x", "latest", None),
    ("a", "docker.io", "library/a", "latest", None),
    ("localhost:5000", "docker.io", "library/localhost", "5000", None),
]

INVALID = [
    ("", "empty"),
    ("nginx:", "tag is empty"),
    ("UPPER/case", "lower-case"),
    ("Nginx", "lower-case"),
    ("foo/Bar", "lower-case"),
    ("ex.com/Foo/bar", "lower-case"),
    ("a//b", "empty path component"),
    ("/nginx", "empty path component"),
    ("nginx/", "empty path component"),
    ("nginx:1.0:2", "path component"),
    ("nginx@", "digest is empty"),
    ("nginx:latest@", "digest is empty"),
    ("nginx@sha256:abc", "64 lower-case hex"),
    ("nginx@md5:" + HEX[:32], "64 lower-case hex"),
    ("nginx@sha256:" + HEX.upper(), "64 lower-case hex"),
    ("app@sha256:" + HEX[:63], "64 lower-case hex"),
    ("-nginx", "path component '-nginx'"),
    ("nginx-", "path component 'nginx-'"),
    ("ngi..nx", "path component"),
    ("ngi___nx", "path component"),
    ("app:" + "t" * 129, "longer than 128"),
    ("app:-tag", "must not start with '.' or '-'"),
    ("app:.tag", "must not start with '.' or '-'"),
    ("app:tag!", "may hold only"),
    ("app name", "white space"),
    (" nginx", "white space"),
    ("app:ta g", "white space"),
    ("exa_mple.com/app", "registry host"),
    ("example.com:port/app", "registry host"),
    ("example.com:/app", "registry host"),
    (HEX, "64-byte hexadecimal"),
    ("ex.com/" + "a" * 256, "longer than 255"),
    ("http://example.com/app", "registry host"),
    ("x" * 600, "longer than 512"),
]


@pytest.mark.parametrize("text, registry, repository, tag, digest", VALID, ids=[v[0][:40] for v in VALID])
def test_valid_references_are_normalised(text, registry, repository, tag, digest):
    ref = parse_reference(text)
    assert ref == ImageReference(registry=registry, repository=repository, tag=tag, digest=digest)
    assert is_valid_reference(text)
    # The canonical string parses back to the same reference.
    assert parse_reference(str(ref)) == ref


@pytest.mark.parametrize("text, problem", INVALID, ids=[v[0][:40] or "empty" for v in INVALID])
def test_invalid_references_name_the_problem(text, problem):
    with pytest.raises(InvalidReference) as info:
        parse_reference(text)
    assert problem in str(info.value)
    assert isinstance(info.value, ValueError)
    assert info.value.code == "invalid_reference"
    assert not is_valid_reference(text)


def test_docker_hub_names_use_the_registry_api_host():
    ref = parse_reference("nginx")
    assert str(ref) == "docker.io/library/nginx:latest"
    assert ref.api_host == "registry-1.docker.io"
    assert ref.familiar == "nginx:latest"
    assert parse_reference("ghcr.io/org/app").api_host == "ghcr.io"


def test_manifest_reference_prefers_the_digest():
    assert parse_reference("app:1").manifest_reference == "1"
    assert parse_reference("app:1@" + SHA).manifest_reference == SHA
    assert parse_reference("app").with_digest(SHA).manifest_reference == SHA


def test_loopback_registries_are_recognised():
    assert parse_reference("127.0.0.1:5000/app").is_loopback
    assert parse_reference("localhost:5000/app").is_loopback
    assert parse_reference("[::1]:5000/app").is_loopback
    assert not parse_reference("registry.example.com/app").is_loopback


def test_non_strings_are_refused():
    with pytest.raises(InvalidReference, match="must be a string"):
        parse_reference(42)
