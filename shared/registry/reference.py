"""Docker image references: parse, validate and normalise them (Docker Hub names become docker.io/library/...)."""
from __future__ import annotations

import re
from dataclasses import dataclass

# The grammar itself (github.com/distribution/reference: host[:port]/path-components[:tag][@digest], Docker Hub
# normalisation) comes from docker-image-py, a maintained port of that package. This module adds what it lacks:
# a typed result, a stricter reading of a few corners (below), and error messages that name the problem.
from docker_image import digest as _digest
from docker_image import reference as _reference

DOCKER_HUB = "docker.io"
DOCKER_HUB_API_HOST = "registry-1.docker.io"
DEFAULT_TAG = "latest"
MAX_TAG_LENGTH = 128
MAX_NAME_LENGTH = 255
MAX_REFERENCE_LENGTH = 512  # the catalog stores images in a CharField(max_length=512)

_PATH_COMPONENT = re.compile(r"[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*\Z")
_TAG = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]*\Z")
_DIGEST = re.compile(r"(sha256:[a-f0-9]{64}|sha384:[a-f0-9]{96}|sha512:[a-f0-9]{128})\Z")
_HOST = re.compile(
    r"(?:(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])(?:\.(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9]))*"
    r"|\[[a-fA-F0-9:]+\])(?::[0-9]+)?\Z"
)
_LOOPBACK_HOSTS = ("localhost", "[::1]")


class InvalidReference(ValueError):
    """An image reference that does not follow the grammar; the message names the problem."""

    code = "invalid_reference"

    def __init__(self, message: str, reference: str = ""):
        super().__init__(message)
        self.message = message
        self.reference = reference


@dataclass(frozen=True, slots=True)
class ImageReference:
    """A normalised image reference: registry host[:port], repository path, and a tag and/or a digest."""

    registry: str
    repository: str
    tag: str | None = DEFAULT_TAG
    digest: str | None = None

    @property
    def api_host(self) -> str:
        """The host[:port] that serves the distribution API (Docker Hub's differs from its name)."""
        return DOCKER_HUB_API_HOST if self.registry == DOCKER_HUB else self.registry

    @property
    def name(self) -> str:
        """registry/repository, without tag or digest."""
        return f"{self.registry}/{self.repository}"

    @property
    def manifest_reference(self) -> str:
        """What to ask the registry's manifest endpoint for: the digest when there is one, else the tag."""
        return self.digest or self.tag or DEFAULT_TAG

    @property
    def is_loopback(self) -> bool:
        host = self.registry.rsplit(":", 1)[0] if not self.registry.endswith("]") else self.registry
        return host in _LOOPBACK_HOSTS or host.startswith("127.")

    @property
    def familiar(self) -> str:
        """The short form people type: nginx:1.27, user/app:tag, host:5000/app@sha256:..."""
        name = self.name
        if self.registry == DOCKER_HUB:
            name = self.repository.removeprefix("library/") if self.repository.count("/") == 1 else self.repository
        return name + self._suffix()

    def with_digest(self, digest: str) -> ImageReference:
        return ImageReference(self.registry, self.repository, self.tag, digest)

    def _suffix(self) -> str:
        return (f":{self.tag}" if self.tag else "") + (f"@{self.digest}" if self.digest else "")

    def __str__(self) -> str:
        return self.name + self._suffix()


def parse_reference(value: str) -> ImageReference:
    """Parse and normalise an image reference, or raise InvalidReference naming what is wrong with it."""
    if isinstance(value, ImageReference):
        return value
    if not isinstance(value, str):
        raise InvalidReference("image reference must be a string", str(value))
    if not value:
        raise InvalidReference("image reference is empty", value)
    if len(value) > MAX_REFERENCE_LENGTH:
        raise InvalidReference(f"image reference is longer than {MAX_REFERENCE_LENGTH} characters", value)
    _check_parts(value)
    try:
        parsed = _reference.Reference.parse_normalized_named(value)
    except (_reference.InvalidReference, _digest.InvalidDigest) as exc:
        raise InvalidReference(f"invalid image reference {value!r}: {exc}", value) from None
    registry, repository = parsed.domain().lower(), parsed.path()
    tag, digest = parsed["tag"], parsed["digest"]
    if tag is None and digest is None:
        tag = DEFAULT_TAG
    return ImageReference(registry=registry, repository=repository, tag=tag, digest=digest)


def is_valid_reference(value: str) -> bool:
    try:
        parse_reference(value)
    except InvalidReference:
        return False
    return True


def _check_parts(value: str) -> None:
    """Name the first problem in the reference; parse_normalized_named remains the final judge of the grammar.

    Stricter than Docker in one place on purpose: a first component is a registry host only when it holds a
    '.' or a ':' or is 'localhost'. Docker also takes an upper-case first component for a host ("UPPER/case"
    would be fetched from a host named UPPER), which in a catalog is always a typo for a repository name.
    """
    if value != value.strip() or any(ch.isspace() for ch in value):
        raise InvalidReference("image reference must not contain white space", value)
    rest, at, digest = value.partition("@")
    if at:
        if not digest:
            raise InvalidReference("digest is empty after '@'", value)
        if not _DIGEST.match(digest):
            raise InvalidReference(
                f"digest {digest!r} must be sha256: followed by 64 lower-case hex digits (or sha384/sha512)", value
            )
    name, tag = rest, None
    last_slash = rest.rfind("/")
    colon = rest.rfind(":")
    if colon > last_slash:
        name, tag = rest[:colon], rest[colon + 1 :]
        if tag == "":
            raise InvalidReference("tag is empty after ':'", value)
        if len(tag) > MAX_TAG_LENGTH:
            raise InvalidReference(f"tag is longer than {MAX_TAG_LENGTH} characters", value)
        if not _TAG.match(tag):
            raise InvalidReference(
                f"tag {tag!r} may hold only letters, digits, '_', '.' and '-', and must not start with '.' or '-'",
                value,
            )
    if not name:
        raise InvalidReference("repository name is empty", value)
    components = name.split("/")
    first = components[0]
    if len(components) > 1 and ("." in first or ":" in first or first == "localhost"):
        if not _HOST.match(first):
            raise InvalidReference(f"registry host {first!r} is not a valid host[:port]", value)
        components = components[1:]
    elif len(components) > 1 and first != first.lower():
        raise InvalidReference(
            f"repository name must be lower-case ({first!r} is no registry host: a host has a '.' or a ':' "
            "or is localhost)",
            value,
        )
    path = "/".join(components)
    if len(path) > MAX_NAME_LENGTH:
        raise InvalidReference(f"repository name is longer than {MAX_NAME_LENGTH} characters", value)
    for component in components:
        if component == "":
            raise InvalidReference("repository name has an empty path component ('//' or a '/' at an end)", value)
        if component != component.lower():
            raise InvalidReference(f"repository name must be lower-case: {component!r}", value)
        if not _PATH_COMPONENT.match(component):
            raise InvalidReference(
                f"path component {component!r} may hold only lower-case letters and digits joined by single "
                "'.', '_' or '__' or by dashes, starting and ending with a letter or digit",
                value,
            )
