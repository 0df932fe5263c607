"""Boutiques descriptors: validation (Boutiques' own schema and checks), input values and the command line."""
from __future__ import annotations

import json
import shlex
from functools import lru_cache
from pathlib import Path
from typing import Any

import jsonschema
from django.utils.text import slugify

from shared.catalog_rules import NAME_MAX_LENGTH, NAME_PATTERN

# Input types whose values Boutiques shell-quotes (localExec._replaceKeysInTemplate); numbers and flags are not.
QUOTED_TYPES = frozenset({"String", "File"})


@lru_cache(maxsize=1)
def descriptor_schema() -> dict[str, Any]:
    """The descriptor JSON schema shipped with the boutiques package."""
    import boutiques

    return json.loads((Path(boutiques.__file__).parent / "schema" / "descriptor.schema.json").read_text())


def _path(error: jsonschema.ValidationError) -> str:
    return "/".join(str(part) for part in error.absolute_path) or "(descriptor)"


def descriptor_errors(descriptor: Any) -> list[dict[str, str]]:
    """Every problem of a descriptor, ``[{"path", "message"}]`` (empty when it is valid and runnable here).

    First Boutiques' JSON schema, every error at once (boutiques' own validate stops at the first one); when that
    passes, the boutiques package's further checks (value keys, groups, conditions...), then what running it here
    needs: a Docker container image.
    """
    if not isinstance(descriptor, dict):
        return [{"path": "(descriptor)", "message": "A Boutiques descriptor is a JSON object."}]
    validator = jsonschema.Draft4Validator(descriptor_schema())
    errors = [{"path": _path(error), "message": error.message}
              for error in sorted(validator.iter_errors(descriptor), key=lambda e: list(map(str, e.absolute_path)))]
    if errors:
        return errors
    from boutiques.validator import DescriptorValidationError, validate_descriptor

    try:
        validate_descriptor(json.loads(json.dumps(descriptor)))
    except DescriptorValidationError as exc:
        text = str(exc).replace("[ ERROR ]", "").strip()
        errors += [{"path": "(descriptor)", "message": line.strip()} for line in text.splitlines() if line.strip()]
    except Exception as exc:  # the package's checks assume a schema-valid document; report, never crash
        errors.append({"path": "(descriptor)", "message": f"{exc.__class__.__name__}: {exc}"})
    container = descriptor.get("container-image") or {}
    if not container:
        errors.append({"path": "container-image", "message": "A container image is required to run the tool."})
    elif container.get("type") != "docker":
        errors.append({"path": "container-image/type", "message": "Only docker container images can run here."})
    elif not container.get("image"):
        errors.append({"path": "container-image/image", "message": "The image is required."})
    return errors


def app_name(descriptor: dict[str, Any]) -> str:
    """The catalog name of a descriptor's tool: its name, slugified to the catalog's name rules."""
    name = slugify(str(descriptor.get("name") or ""))[:NAME_MAX_LENGTH].strip("-")
    return name if NAME_PATTERN.match(name) else ""


def environment(descriptor: dict[str, Any]) -> dict[str, str]:
    """The descriptor's ``environment-variables`` as a mapping."""
    return {item["name"]: str(item.get("value", "")) for item in descriptor.get("environment-variables") or []
            if isinstance(item, dict) and item.get("name")}


def default_inputs(descriptor: dict[str, Any]) -> dict[str, Any]:
    """The inputs that have a ``default-value``."""
    return {item["id"]: item["default-value"] for item in descriptor.get("inputs") or []
            if "default-value" in item}


@lru_cache(maxsize=64)
def _invocation_schema(descriptor_json: str) -> dict[str, Any]:
    from boutiques.invocationSchemaHandler import generateInvocationSchema

    return generateInvocationSchema(json.loads(descriptor_json), validateWrtMetaSchema=False)


def invocation_errors(descriptor: dict[str, Any], inputs: Any) -> dict[str, list[str]]:
    """Problems of input values for a descriptor, by field (``inputs.<id>``), from Boutiques' invocation schema
    (types, ranges, enums, required inputs, groups, requires/disables)."""
    if not isinstance(inputs, dict):
        return {"inputs": ["Must be an object of input id to value."]}
    schema = _invocation_schema(json.dumps(descriptor, sort_keys=True))
    errors: dict[str, list[str]] = {}
    for error in jsonschema.Draft4Validator(schema).iter_errors(inputs):
        field = "inputs" + "".join(f".{part}" for part in error.absolute_path)
        if error.validator == "additionalProperties":
            known = set(schema.get("properties") or {})
            for name in sorted(set(inputs) - known):
                errors.setdefault(f"inputs.{name}", []).append("Not an input of this tool.")
            continue
        errors.setdefault(field, []).append(error.message)
    return errors


def _format(item: dict[str, Any], value: Any) -> str:
    """One input's value as it appears on the command line (Boutiques' rules: quoting, list separator, flag)."""
    quote = item.get("type") in QUOTED_TYPES
    if isinstance(value, list):
        separator = item.get("list-separator", " ")
        text = separator.join(shlex.quote(str(v)) if quote else str(v) for v in value)
    elif isinstance(value, bool) and item.get("type") != "Flag":
        text = str(value)
    else:
        text = shlex.quote(str(value)) if quote else str(value)
    flag = item.get("command-line-flag")
    if flag is not None:
        if item.get("type") == "Flag":
            return flag if value is True else ""
        return flag + item.get("command-line-flag-separator", " ") + text
    return text


def build_command_line(descriptor: dict[str, Any], inputs: dict[str, Any]) -> str:
    """The command line of a run: each input's value key replaced by its (shell-quoted) value and flag, keys of
    inputs without a value removed. Written to Boutiques' own rules (``bosh exec simulate`` gives the same line, as
    the tests check), without the executor's side effects (files, config files, output directories)."""
    template = str(descriptor.get("command-line") or "")
    for item in descriptor.get("inputs") or []:
        key = item.get("value-key")
        if not key:
            continue
        if item["id"] in inputs and inputs[item["id"]] is not None:
            text = _format(item, inputs[item["id"]])
            template = template.replace(key, text) if text != "" else template.replace(" " + key, "")
        else:
            template = template.replace(" " + key, "") if (" " + key) in template else template.replace(key, "")
    for output in descriptor.get("output-files") or []:
        key = output.get("value-key")
        if not key:
            continue
        path = str(output.get("path-template") or "")
        for item in descriptor.get("inputs") or []:
            if item.get("value-key") and item["id"] in inputs and item.get("type") in QUOTED_TYPES:
                value = str(inputs[item["id"]])
                for extension in output.get("path-template-stripped-extensions") or []:
                    value = value.replace(extension, "")
                path = path.replace(item["value-key"], value)
            elif item.get("value-key"):
                path = path.replace(item["value-key"], str(inputs.get(item["id"], "")))
        flag = output.get("command-line-flag")
        text = shlex.quote(path)
        if flag is not None:
            text = flag + output.get("command-line-flag-separator", " ") + text
        template = template.replace(key, text)
    return template
