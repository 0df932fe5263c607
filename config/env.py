"""Typed readers for settings from the environment that fail loudly at start-up on a bad value."""
import json
import os
from urllib.parse import urlsplit

from django.core.exceptions import ImproperlyConfigured

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}


def _raw(name, default):
    value = os.environ.get(name)
    return default if value is None else value


def env_str(name, default=None, *, required=False):
    value = os.environ.get(name)
    if value is None or value == "":
        if required:
            raise ImproperlyConfigured(f"{name} must be set")
        return default
    return value


def env_bool(name, default=False):
    value = os.environ.get(name)
    if value is None:
        return default
    lowered = value.strip().lower()
    if lowered in _TRUE:
        return True
    if lowered in _FALSE:
        return False
    raise ImproperlyConfigured(f"{name}={value!r} is not a boolean (use true or false)")


def env_int(name, default, *, minimum=None, maximum=None):
    value = os.environ.get(name)
    if value is None or value.strip() == "":
        return default
    try:
        number = int(value)
    except ValueError:
        raise ImproperlyConfigured(f"{name}={value!r} is not an integer") from None
    if minimum is not None and number < minimum:
        raise ImproperlyConfigured(f"{name}={number} is below the minimum {minimum}")
    if maximum is not None and number > maximum:
        raise ImproperlyConfigured(f"{name}={number} is above the maximum {maximum}")
    return number


def env_float(name, default, *, minimum=None):
    value = os.environ.get(name)
    if value is None or value.strip() == "":
        return default
    try:
        number = float(value)
    except ValueError:
        raise ImproperlyConfigured(f"{name}={value!r} is not a number") from None
    if minimum is not None and number < minimum:
        raise ImproperlyConfigured(f"{name}={number} is below the minimum {minimum}")
    return number


def env_list(name, default=(), *, separator=","):
    value = os.environ.get(name)
    if value is None:
        return list(default)
    return [item.strip() for item in value.split(separator) if item.strip()]


def env_json(name, default=None):
    """A JSON document from the environment; unreadable JSON stops the process naming the variable."""
    value = os.environ.get(name)
    if value is None or value.strip() == "":
        return default
    try:
        return json.loads(value)
    except ValueError as exc:
        raise ImproperlyConfigured(f"{name} is not valid JSON: {exc}") from None


def env_choice(name, default, choices):
    value = _raw(name, default).strip().lower()
    if value not in choices:
        raise ImproperlyConfigured(f"{name}={value!r} must be one of {', '.join(sorted(choices))}")
    return value


def env_url(name, default=None, *, schemes=("http", "https"), required=False):
    value = env_str(name, default, required=required)
    if value is None:
        return None
    check_url(name, value, schemes)
    return value


def env_url_list(name, default=(), *, schemes=("http", "https")):
    """A comma-separated list of URLs, each checked (for HA clusters with several members)."""
    urls = env_list(name, default)
    for url in urls:
        check_url(name, url, schemes)
    return urls


def check_url(name, value, schemes):
    parts = urlsplit(value)
    if parts.scheme not in schemes or not parts.hostname:
        raise ImproperlyConfigured(
            f"{name}={_redact(value)!r} is not a URL with scheme {' or '.join(schemes)} and a host"
        )
    try:
        parts.port
    except ValueError:
        raise ImproperlyConfigured(f"{name}={_redact(value)!r} has an invalid port") from None


def _redact(url):
    parts = urlsplit(url)
    if parts.password:
        return url.replace(f":{parts.password}@", ":***@")
    return url
