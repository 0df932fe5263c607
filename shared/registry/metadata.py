"""What an image says about itself (ImageMetadata) and the pure mapping to suggested catalog fields."""
from __future__ import annotations

import re
import shlex
import unicodedata
from dataclasses import asdict, dataclass, field

from shared.registry.reference import InvalidReference, parse_reference

NAME_MAX_LENGTH = 50
MEMORY_MIN_MIB = 32
MEMORY_MAX_MIB = 1024 * 1024

LS = "org.label-schema."
OCI = "org.opencontainers.image."

# For each suggested catalog field, the keys that may supply it, best first: OCI before label-schema, and
# for OCI keys the manifest/index annotations before the config's labels. See docs/IMAGE-METADATA.md.
FIELD_KEYS: dict[str, tuple[str, ...]] = {
    "name": (OCI + "title", LS + "name"),
    "description": (OCI + "description", LS + "description"),
    "vcs_url": (OCI + "source", LS + "vcs-url"),
    "homepage": (OCI + "url", LS + "url"),
    "documentation": (OCI + "documentation", LS + "usage"),
    "version": (OCI + "version", LS + "version"),
    "licenses": (OCI + "licenses",),
    "authors": (OCI + "authors",),
    "command": (LS + "docker.cmd",),
    "memory": (LS + "memory-hint",),
}


@dataclass(frozen=True)
class ImageMetadata:
    """The labels, annotations and run settings read from an image (one platform of it)."""

    reference: str
    digest: str | None = None
    labels: dict[str, str] = field(default_factory=dict)
    annotations: dict[str, str] = field(default_factory=dict)
    exposed_ports: list[str] = field(default_factory=list)
    cmd: list[str] = field(default_factory=list)
    entrypoint: list[str] = field(default_factory=list)
    env: list[str] = field(default_factory=list)
    platform: str | None = None
    config_digest: str | None = None
    source: str = "registry"

    @property
    def env_dict(self) -> dict[str, str]:
        return dict(item.split("=", 1) if "=" in item else (item, "") for item in self.env)

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> ImageMetadata:
        known = {f for f in cls.__dataclass_fields__}
        return cls(**{key: value for key, value in data.items() if key in known})

    def replace(self, **changes) -> ImageMetadata:
        return ImageMetadata.from_dict({**self.to_dict(), **changes})


@dataclass(frozen=True)
class CatalogSuggestion:
    """Catalog fields suggested by an image; `from_labels` lists those the image supplied, `sources` says how."""

    name: str | None = None
    description: str | None = None
    vcs_url: str | None = None
    ports: list[int] = field(default_factory=list)
    memory: int | None = None
    command: str | None = None
    homepage: str | None = None
    documentation: str | None = None
    version: str | None = None
    licenses: str | None = None
    authors: str | None = None
    from_labels: list[str] = field(default_factory=list)
    sources: dict[str, str] = field(default_factory=dict)

    def to_dict(self) -> dict:
        return asdict(self)


def slugify_name(value: str) -> str | None:
    """Fit a title to the catalog's name rule: lower-case letters, digits and '-', 1-50, no '-' at either end."""
    ascii_text = unicodedata.normalize("NFKD", value).encode("ascii", "ignore").decode("ascii").lower()
    slug = re.sub(r"[^a-z0-9]+", "-", ascii_text).strip("-")[:NAME_MAX_LENGTH].rstrip("-")
    return slug or None


_MEMORY = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([kmgt]?)(i?b?)\s*$", re.IGNORECASE)
_UNIT_MIB = {"": 1.0, "k": 1 / 1024, "m": 1.0, "g": 1024.0, "t": 1024.0 * 1024}


def parse_memory_hint(value: str) -> int | None:
    """A memory hint in MiB: '512', '512m', '512MiB', '1g', '1.5GB', '65536k'; a bare number is MiB, 'b' bytes.

    The result is clamped to what Marathon and the catalog accept (32 MiB .. 1 TiB); None when unreadable.
    """
    match = _MEMORY.match(str(value))
    if not match:
        return None
    number, unit, suffix = float(match.group(1)), match.group(2).lower(), match.group(3).lower()
    if not unit and suffix == "b":  # plain bytes
        mib = number / (1024 * 1024)
    else:
        mib = number * _UNIT_MIB[unit]
    mib = int(round(mib))
    return max(MEMORY_MIN_MIB, min(MEMORY_MAX_MIB, mib))


def tcp_ports(exposed_ports: list[str] | dict) -> list[int]:
    """TCP port numbers from a config's ExposedPorts ('80/tcp', '8080', '53/udp' ...), sorted, without dups."""
    ports = set()
    for spec in exposed_ports:
        number, _, proto = str(spec).partition("/")
        if (proto or "tcp").lower() != "tcp":
            continue
        if number.isdigit() and 0 < int(number) < 65536:
            ports.add(int(number))
    return sorted(ports)


def _lookup(metadata: ImageMetadata, keys: tuple[str, ...]) -> tuple[str, str] | None:
    for key in keys:
        for where, mapping in (("annotation", metadata.annotations), ("label", metadata.labels)):
            value = mapping.get(key)
            if isinstance(value, str) and value.strip():
                return f"{where}:{key}", value.strip()
    return None


def suggest_catalog_fields(metadata: ImageMetadata, *, repository: str | None = None) -> CatalogSuggestion:
    """Map an image's labels/annotations/config to catalog fields (pure; OCI wins over label-schema).

    `repository` (e.g. 'library/nginx', default: read from metadata.reference) gives the name when no title
    label exists, and finds the image in a docker.cmd line.
    """
    repository = repository or _repository_of(metadata.reference)
    values: dict = {}
    sources: dict[str, str] = {}
    for field_name, keys in FIELD_KEYS.items():
        found = _lookup(metadata, keys)
        if found is None:
            continue
        source, raw = found
        if field_name == "name":
            slug = slugify_name(raw)
            if slug is None:
                continue
            values["name"] = slug
        elif field_name == "command":
            command = command_from_docker_cmd(raw, repository)
            if command is None:
                continue
            values["command"] = command
        elif field_name == "memory":
            memory = parse_memory_hint(raw)
            if memory is None:
                continue
            values["memory"] = memory
        else:
            values[field_name] = raw
        sources[field_name] = source
    ports = tcp_ports(metadata.exposed_ports)
    if ports:
        values["ports"] = ports
        sources["ports"] = "config:ExposedPorts"
    if "name" not in values and repository:
        slug = slugify_name(repository.rsplit("/", 1)[-1])
        if slug:
            values["name"] = slug
            sources["name"] = "reference"
    catalog_fields = ("name", "description", "vcs_url", "ports", "memory", "command")
    from_labels = [name for name in catalog_fields if name in sources]
    return CatalogSuggestion(**values, from_labels=from_labels, sources=sources)


def command_from_docker_cmd(value: str, repository: str | None) -> str | None:
    """The container command in a label-schema docker.cmd value.

    label-schema's docker.cmd is a whole `docker run ...` line: the command is what follows the image there
    ("docker run -p 80:80 org/app serve --port 80" gives "serve --port 80"); a line naming no image of this
    repository says nothing about the command (None). A value not starting with "docker" is the command itself.
    """
    text = value.strip()
    if not text.startswith("docker ") and text != "docker":
        return text or None
    try:
        tokens = shlex.split(text)
    except ValueError:
        return None
    if not repository:
        return None
    for index, token in enumerate(tokens[2:], start=2):
        if token.startswith("-"):
            continue
        try:
            if parse_reference(token).repository == repository:
                rest = tokens[index + 1 :]
                return shlex.join(rest) if rest else None
        except InvalidReference:
            continue
    return None


def _repository_of(reference: str) -> str | None:
    try:
        return parse_reference(reference).repository
    except InvalidReference:
        return None


def command_args(command: str) -> list[str]:
    """Split a label's shell-style command line into arguments (for Marathon's args), or [] if unbalanced."""
    try:
        return shlex.split(command)
    except ValueError:
        return []
