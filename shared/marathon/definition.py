"""App definitions for Marathon: canonical app ids, and JSON from the marathon package's app/container models."""
from __future__ import annotations

from typing import Any

from marathon.models import MarathonApp
from marathon.models.base import ID_PATTERN, MarathonObject

from .errors import MarathonRejected
from .types import READ_ONLY_APP_FIELDS

# The last segment of an app id may not name a sub-resource of the app URL (PathId.reservedKeywords).
RESERVED_LAST_SEGMENTS = frozenset({"restart", "tasks", "versions"})


def canonical_app_id(app_id: str) -> str:
    """The canonical form Marathon stores and answers with (``/a/b``), or MarathonRejected on the ``/id`` path.

    The package's ``assert_valid_path`` uses ``re.match`` with a pattern whose anchors bind to one alternative
    only, so it lets ``my_app`` or ``web!`` through; the same pattern is applied here with ``fullmatch``, and the
    normalisation Marathon does first (``.``/``..``/duplicate slashes) is done too.
    """
    if not isinstance(app_id, str):
        raise _bad_id(app_id, "must be a string")
    segments: list[str] = []
    for segment in app_id.strip().split("/"):
        if segment in ("", "."):
            continue
        if segment == "..":
            if segments:
                segments.pop()
            continue
        if not ID_PATTERN.fullmatch(segment):
            raise _bad_id(
                app_id,
                "must fully match regular expression "
                f"'{ID_PATTERN.pattern}' (lowercase letters, digits, inner dashes and dots)",
            )
        segments.append(segment)
    if not segments:
        raise _bad_id(app_id, "must not be root")
    if segments[-1] in RESERVED_LAST_SEGMENTS:
        raise _bad_id(app_id, f"must not end with '{segments[-1]}'")
    return "/" + "/".join(segments)


def _bad_id(app_id: Any, error: str) -> MarathonRejected:
    return MarathonRejected(
        f"Invalid app id {app_id!r}", details=[{"path": "/id", "errors": [error]}]
    )


def definition_from_model(app: MarathonApp) -> dict[str, Any]:
    """A JSON-ready definition from the package's ``MarathonApp`` (with its container and port-mapping models).

    Written here because the package's ``to_json`` fails on Python 3.10+ (its encoder uses
    ``collections.Iterable``, removed from ``collections``) as soon as an app holds a nested model such as a
    container, and its minimal encoder drops empty strings inside ``env``/``labels`` values. The package's own
    ``json_repr(minimal=True)`` still decides field names and which unset attributes disappear.
    """
    definition = _plain(app)
    for key in READ_ONLY_APP_FIELDS | {"version", "versionInfo"}:
        definition.pop(key, None)
    return definition


def _plain(value: Any) -> Any:
    if isinstance(value, MarathonObject) or hasattr(value, "json_repr"):
        return _plain(value.json_repr(minimal=True))
    if isinstance(value, dict):
        return {key: _plain(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(item) for item in value]
    return value


def definition_body(app_definition: dict[str, Any] | MarathonApp) -> tuple[str, dict[str, Any]]:
    """The canonical id and the body to PUT: read-only fields a GET adds and ``version`` (a rollback) removed."""
    if isinstance(app_definition, MarathonApp):
        body = definition_from_model(app_definition)
    elif isinstance(app_definition, dict):
        body = {
            key: value
            for key, value in app_definition.items()
            if key not in READ_ONLY_APP_FIELDS and key not in ("version", "versionInfo")
        }
    else:
        raise TypeError(f"an app definition is a dict or a MarathonApp, not {type(app_definition).__name__}")
    if "id" not in body:
        raise MarathonRejected("The app definition has no id", details=[{"path": "/id", "errors": ["is required"]}])
    app_id = canonical_app_id(body["id"])
    body["id"] = app_id
    return app_id, body
