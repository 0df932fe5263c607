"""The catalog's field rules, as pure functions shared by the API serializers and the catalog services."""
import re
import shlex
from decimal import Decimal, InvalidOperation

from django.core.exceptions import ValidationError as DjangoValidationError
from django.core.validators import URLValidator

from shared.registry.reference import InvalidReference, parse_reference

NAME_MAX_LENGTH = 50
# Lower-case letters, digits and '-', no '-' at either end: a name becomes a Marathon id segment and a host label.
NAME_PATTERN = re.compile(r"[a-z0-9](?:[a-z0-9-]{0,48}[a-z0-9])?\Z", re.ASCII)
ENV_NAME_PATTERN = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z", re.ASCII)
CPU_MIN_EXCLUSIVE = Decimal("0")
CPU_MAX = Decimal("64")
CPU_DECIMAL_PLACES = 3
MEMORY_MIN = 32
MEMORY_MAX = 1048576
PORT_MIN = 1
PORT_MAX = 65535
INSTANCES_DEFAULT = 1
INSTANCES_MAX = 1000
VCS_URL_MAX_LENGTH = 2048
VCS_URL_SCHEMES = ["http", "https", "git", "ssh", "git+ssh", "git+https", "svn", "hg"]
CONTAINER_TYPES = ("docker",)
HEALTH_CHECK_PATH_MAX_LENGTH = 255

_url_validator = URLValidator(schemes=VCS_URL_SCHEMES)


class RuleError(ValueError):
    """A value breaks a catalog rule; the message says which and why, for the person who sent it."""


def _is_int(value):
    return isinstance(value, int) and not isinstance(value, bool)


def check_text(value, what="value"):
    """Strings stored in PostgreSQL must hold neither NUL characters nor lone surrogates."""
    if not isinstance(value, str):
        raise RuleError(f"{what} must be a string.")
    if "\x00" in value:
        raise RuleError(f"{what} must not contain NUL characters.")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise RuleError(f"{what} must be valid Unicode (no lone surrogates).") from None
    return value


def clean_name(value):
    check_text(value, "name")
    if not NAME_PATTERN.match(value):
        if not value:
            raise RuleError("This field may not be blank.")
        if len(value) > NAME_MAX_LENGTH:
            raise RuleError(f"Ensure this field has no more than {NAME_MAX_LENGTH} characters.")
        raise RuleError(
            "Use only lower-case letters a-z, digits and '-', not starting or ending with '-' "
            f"(1 to {NAME_MAX_LENGTH} characters)."
        )
    return value


def clean_image(value):
    check_text(value, "image")
    try:
        parse_reference(value)
    except InvalidReference as exc:
        raise RuleError(exc.message[:1].upper() + exc.message[1:] + ".") from None
    return value


def clean_ports(value):
    if not isinstance(value, list):
        raise RuleError("Expected a list of port numbers.")
    seen = set()
    for port in value:
        if not _is_int(port):
            raise RuleError(f"Port {port!r} is not an integer.")
        if not PORT_MIN <= port <= PORT_MAX:
            raise RuleError(f"Port {port} is out of range {PORT_MIN}-{PORT_MAX}.")
        if port in seen:
            raise RuleError(f"Port {port} is listed more than once.")
        seen.add(port)
    return list(value)


def clean_cpu(value):
    """A decimal > 0 and <= 64 with at most three decimal places, from a JSON number or a decimal string."""
    if isinstance(value, bool) or not isinstance(value, (int, float, str, Decimal)):
        raise RuleError("A number is required.")
    try:
        number = Decimal(str(value).strip()) if not isinstance(value, Decimal) else value
    except InvalidOperation:
        raise RuleError("A number is required.") from None
    if not number.is_finite():
        raise RuleError("A finite number is required.")
    if number <= CPU_MIN_EXCLUSIVE:
        raise RuleError("Ensure this value is greater than 0.")
    if number > CPU_MAX:
        raise RuleError(f"Ensure this value is less than or equal to {CPU_MAX}.")
    if number != number.quantize(Decimal(1).scaleb(-CPU_DECIMAL_PLACES)):
        raise RuleError(f"Ensure that there are no more than {CPU_DECIMAL_PLACES} decimal places.")
    return number.quantize(Decimal(1).scaleb(-CPU_DECIMAL_PLACES))


def _clean_int(value, minimum, maximum):
    if not _is_int(value):
        raise RuleError("A valid integer is required.")
    if value < minimum:
        raise RuleError(f"Ensure this value is greater than or equal to {minimum}.")
    if value > maximum:
        raise RuleError(f"Ensure this value is less than or equal to {maximum}.")
    return value


def clean_memory(value):
    return _clean_int(value, MEMORY_MIN, MEMORY_MAX)


def clean_instances(value):
    return _clean_int(value, 0, INSTANCES_MAX)


def clean_args(value):
    """A list of strings, or one string split the way a POSIX shell splits words."""
    if isinstance(value, str):
        check_text(value, "args")
        try:
            return shlex.split(value)
        except ValueError as exc:
            raise RuleError(f"Cannot split the string like a shell does: {exc}.") from None
    if not isinstance(value, list):
        raise RuleError("Expected a list of strings or one string.")
    for index, item in enumerate(value):
        if not isinstance(item, str):
            raise RuleError(f"Item {index} is not a string.")
        check_text(item, f"item {index}")
    return list(value)


def clean_env_vars(value):
    if not isinstance(value, dict):
        raise RuleError("Expected an object mapping variable names to strings.")
    for key, item in value.items():
        check_text(key, "variable name")
        if not ENV_NAME_PATTERN.match(key):
            raise RuleError(
                f"{key!r} is not a valid variable name (letters, digits and '_', not starting with a digit)."
            )
        if not isinstance(item, str):
            raise RuleError(f"The value of {key} must be a string.")
        check_text(item, f"the value of {key}")
    return dict(value)


def clean_labels(value):
    if not isinstance(value, dict):
        raise RuleError("Expected an object mapping label names to strings.")
    for key, item in value.items():
        check_text(key, "label name")
        if not key:
            raise RuleError("Label names must not be empty.")
        if not isinstance(item, str):
            raise RuleError(f"The value of label {key!r} must be a string.")
        check_text(item, f"the value of label {key!r}")
        # Labels end up in proxies' configuration and headers (Traefik rules, HAProxy vhosts): a line break
        # there would inject a line of its own.
        if any(ch in text for text in (key, item) for ch in "\r\n"):
            raise RuleError(f"Label {key!r}: line breaks (CR, LF) are not allowed in label names or values.")
    return dict(value)


def clean_vcs_url(value):
    if value is None:
        return ""
    check_text(value, "vcs_url")
    if value == "":
        return value
    if len(value) > VCS_URL_MAX_LENGTH:
        raise RuleError(f"Ensure this field has no more than {VCS_URL_MAX_LENGTH} characters.")
    try:
        _url_validator(value)
    except DjangoValidationError:
        raise RuleError("Enter a valid URL (http, https, git or ssh) or an empty string.") from None
    return value


def clean_optional_text(value, what):
    if value is None:
        return ""
    return check_text(value, what)


def clean_health_check_path(value):
    check_text(value, "health_check_path")
    if not value.startswith("/") or any(ch.isspace() for ch in value):
        raise RuleError("Enter an absolute HTTP path starting with '/', without white space.")
    if len(value) > HEALTH_CHECK_PATH_MAX_LENGTH:
        raise RuleError(f"Ensure this field has no more than {HEALTH_CHECK_PATH_MAX_LENGTH} characters.")
    return value


def clean_container_type(value):
    if value not in CONTAINER_TYPES:
        raise RuleError(f"Only {', '.join(repr(t) for t in CONTAINER_TYPES)} containers are supported.")
    return value


APP_RULES = {
    "name": clean_name,
    "description": lambda value: clean_optional_text(value, "description"),
    "command": lambda value: clean_optional_text(value, "command"),
    "vcs_url": clean_vcs_url,
    "labels": clean_labels,
}
CONTAINER_RULES = {"type": clean_container_type, "image": clean_image, "ports": clean_ports}
CONFIG_RULES = {
    "cpu": clean_cpu,
    "memory": clean_memory,
    "instances": clean_instances,
    "args": clean_args,
    "env_vars": clean_env_vars,
    "health_check_path": lambda value: clean_health_check_path(value),
}


def clean_fields(data, rules, prefix, errors):
    """Apply `rules` to the fields present in `data`; record messages under `prefix.field` in `errors`."""
    cleaned = {}
    for key, value in data.items():
        rule = rules.get(key)
        path = f"{prefix}.{key}" if prefix else key
        if rule is None:
            continue
        try:
            cleaned[key] = rule(value)
        except RuleError as exc:
            errors.setdefault(path, []).append(str(exc))
    return cleaned


REQUIRED = "This field is required."


def _require(data, fields, prefix, errors):
    for field in fields:
        if field not in data:
            errors.setdefault(f"{prefix}.{field}" if prefix else field, []).append(REQUIRED)


def clean_container_body(data, prefix, errors, *, required):
    """A container object (or None); `required` asks for the image. Errors go under `prefix`."""
    if data is None:
        return None
    if not isinstance(data, dict):
        errors.setdefault(prefix or "body", []).append("Expected an object or null.")
        return None
    if required:
        _require(data, ("image",), prefix, errors)
    return clean_fields(data, CONTAINER_RULES, prefix, errors)


def clean_config_body(data, prefix, errors, *, required):
    """A configuration object; `required` asks for cpu and memory. A non-null `id` is kept for the caller."""
    if not isinstance(data, dict):
        errors.setdefault(prefix or "body", []).append("Expected an object.")
        return {}
    if required:
        _require(data, ("cpu", "memory"), prefix, errors)
    cleaned = clean_fields(data, CONFIG_RULES, prefix, errors)
    if data.get("id") is not None:
        cleaned["id"] = data["id"]
    return cleaned


def clean_configs_body(items, errors, *, partial):
    """The configuration list of an app body: new items (no id) always need cpu and memory."""
    if not isinstance(items, (list, tuple)):
        errors.setdefault("marathon_configs", []).append("Expected a list of configurations.")
        return []
    cleaned = []
    seen = {}
    for index, item in enumerate(items):
        prefix = f"marathon_configs[{index}]"
        is_new = not (isinstance(item, dict) and item.get("id") is not None)
        cleaned.append(clean_config_body(item, prefix, errors, required=is_new or not partial))
        if is_new:
            continue
        config_id = item["id"]
        if not isinstance(config_id, int) or isinstance(config_id, bool):
            errors.setdefault(f"{prefix}.id", []).append("A configuration id must be an integer.")
        elif config_id in seen:
            errors.setdefault(f"{prefix}.id", []).append(
                f"Configuration {config_id} is listed twice (also at marathon_configs[{seen[config_id]}])."
            )
        else:
            seen[config_id] = index
    return cleaned


def clean_app_body(data, *, partial=False):
    """Clean a request-shaped app body; returns (cleaned, errors by field path).

    Members absent from the body are absent from the result; for a full body (`partial=False`) the name, the
    container's image and each configuration's cpu and memory are required.
    """
    errors = {}
    if not isinstance(data, dict):
        return {}, {"body": [f"Expected a JSON object, got {type(data).__name__}."]}
    if not partial:
        _require(data, ("name",), "", errors)
    cleaned = clean_fields({key: data[key] for key in APP_RULES if key in data}, APP_RULES, "", errors)
    if "docker_container" in data:
        cleaned["docker_container"] = clean_container_body(data["docker_container"], "docker_container", errors,
                                                           required=not partial)
    if "marathon_configs" in data:
        cleaned["marathon_configs"] = clean_configs_body(data["marathon_configs"], errors, partial=partial)
    return cleaned, errors
