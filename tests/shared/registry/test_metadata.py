"""The pure mapping from image labels, annotations and config to suggested catalog fields."""
import pytest

from shared.registry.metadata import (
    ImageMetadata,
    command_from_docker_cmd,
    parse_memory_hint,
    slugify_name,
    suggest_catalog_fields,
    tcp_ports,
)

LABEL_SCHEMA = {
    "org.label-schema.name": "Hello World",
    "org.label-schema.description": "Says hello (label-schema)",
    "org.label-schema.vcs-url": "https://git.example.com/hello.git",
    "org.label-schema.url": "https://hello.example.com",
    "org.label-schema.usage": "https://hello.example.com/usage",
    "org.label-schema.docker.cmd": "docker run -d -p 8080:8080 demo/hello:1 serve --port 8080",
    "org.label-schema.memory-hint": "256m",
}
OCI = {
    "org.opencontainers.image.title": "Hello OCI",
    "org.opencontainers.image.description": "Says hello (OCI)",
    "org.opencontainers.image.source": "https://git.example.com/hello-oci",
    "org.opencontainers.image.url": "https://oci.example.com",
    "org.opencontainers.image.documentation": "https://oci.example.com/docs",
    "org.opencontainers.image.version": "1.2.3",
    "org.opencontainers.image.licenses": "Apache-2.0",
    "org.opencontainers.image.authors": "Ops <ops@example.com>",
}


def meta(**kwargs):
    return ImageMetadata(reference="docker.io/demo/hello:1", **kwargs)


def test_label_schema_labels_fill_the_catalog_fields():
    suggestion = suggest_catalog_fields(meta(labels=LABEL_SCHEMA, exposed_ports=["8080/tcp"]))
    assert suggestion.name == "hello-world"
    assert suggestion.description == "Says hello (label-schema)"
    assert suggestion.vcs_url == "https://git.example.com/hello.git"
    assert suggestion.homepage == "https://hello.example.com"
    assert suggestion.documentation == "https://hello.example.com/usage"
    assert suggestion.command == "serve --port 8080"
    assert suggestion.memory == 256
    assert suggestion.ports == [8080]
    assert suggestion.from_labels == ["name", "description", "vcs_url", "ports", "memory", "command"]
    assert suggestion.sources["vcs_url"] == "label:org.label-schema.vcs-url"


def test_oci_wins_where_both_say_something():
    suggestion = suggest_catalog_fields(meta(labels={**LABEL_SCHEMA, **OCI}))
    assert suggestion.name == "hello-oci"
    assert suggestion.description == "Says hello (OCI)"
    assert suggestion.vcs_url == "https://git.example.com/hello-oci"
    assert suggestion.homepage == "https://oci.example.com"
    assert suggestion.documentation == "https://oci.example.com/docs"
    assert (suggestion.version, suggestion.licenses, suggestion.authors) == ("1.2.3", "Apache-2.0",
                                                                             "Ops <ops@example.com>")
    # label-schema still supplies what OCI has no key for.
    assert suggestion.memory == 256 and suggestion.command == "serve --port 8080"


def test_annotations_win_over_labels_with_the_same_key():
    suggestion = suggest_catalog_fields(
        meta(labels={"org.opencontainers.image.title": "From Label"},
             annotations={"org.opencontainers.image.title": "From Annotation"})
    )
    assert suggestion.name == "from-annotation"
    assert suggestion.sources["name"] == "annotation:org.opencontainers.image.title"


def test_no_labels_gives_the_repository_name_and_nothing_else():
    suggestion = suggest_catalog_fields(meta())
    assert suggestion.name == "hello"
    assert suggestion.sources == {"name": "reference"}
    assert suggestion.description is None and suggestion.ports == [] and suggestion.memory is None
    assert suggestion.from_labels == ["name"]


def test_blank_labels_are_ignored():
    suggestion = suggest_catalog_fields(meta(labels={"org.opencontainers.image.title": "  ",
                                                     "org.label-schema.name": "Fallback"}))
    assert suggestion.name == "fallback"


@pytest.mark.parametrize("title, slug", [
    ("Hello World", "hello-world"),
    ("  --My__App--  ", "my-app"),
    ("Crème Brûlée 2", "creme-brulee-2"),
    ("x" * 60, "x" * 50),
    ("a" * 49 + "-b", "a" * 49),
    ("!!!", None),
    ("ÆØ", None), ("ÆØÅ", "a"),
])
def test_names_follow_the_catalog_rule(title, slug):
    assert slugify_name(title) == slug


@pytest.mark.parametrize("hint, mib", [
    ("512", 512), ("512m", 512), ("512MiB", 512), ("512 MB", 512), ("1g", 1024), ("1.5GB", 1536),
    ("65536k", 64), ("536870912b", 512), ("1", 32), ("0", 32), ("4t", 1048576), ("9t", 1048576),
    ("lots", None), ("", None), ("-5", None),
])
def test_memory_hints_are_read_in_mib_and_clamped(hint, mib):
    assert parse_memory_hint(hint) == mib


def test_unreadable_memory_hint_is_left_out():
    suggestion = suggest_catalog_fields(meta(labels={"org.label-schema.memory-hint": "plenty"}))
    assert suggestion.memory is None and "memory" not in suggestion.from_labels


def test_only_tcp_ports_are_suggested():
    assert tcp_ports(["80/tcp", "53/udp", "8080", "443/TCP", "80/tcp", "99999/tcp", "x/tcp"]) == [80, 443, 8080]


@pytest.mark.parametrize("value, command", [
    ("docker run -d -p 80:80 demo/hello:1 serve --port 80", "serve --port 80"),
    ("docker run --rm demo/hello", None),
    ("docker run --rm other/image run", None),
    ("docker run -e 'A=b c' demo/hello sh -c 'echo hi'", "sh -c 'echo hi'"),
    ("serve --port 80", "serve --port 80"),
    ("docker run 'unbalanced", None),
])
def test_docker_cmd_gives_what_follows_the_image(value, command):
    assert command_from_docker_cmd(value, "demo/hello") == command


def test_metadata_round_trips_through_a_dict():
    original = meta(labels={"a": "b"}, exposed_ports=["80/tcp"], cmd=["serve"], env=["A=1", "B"], digest="sha256:x")
    assert ImageMetadata.from_dict(original.to_dict()) == original
    assert original.env_dict == {"A": "1", "B": ""}
