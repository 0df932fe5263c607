"""Structured logs for every process: structlog over the standard library, JSON lines, secrets redacted."""
import re

import structlog

# Keys whose values are never written, wherever they appear in a log line.
SECRET_KEY_NAMES = re.compile(
    r"(password|passwd|pwd|secret|token|authorization|api[_-]?key|cookie|basic[_-]?auth|credentials?|digest|"
    r"sessionid)$", re.I
)
# user:password@ in any URL (DATABASE_URL, REDIS_URL, MARATHON_URL with credentials, callback URLs).
_URL_PASSWORD = re.compile(r"(?P<head>[a-z][a-z0-9+.-]*://[^:/@\s]*):(?P<password>[^@/\s]+)@", re.I)
# Credentials in headers or text: "Bearer abc...", "Basic abc...", "token=abc...", "password=abc...".
_SCHEME_CREDENTIAL = re.compile(r"\b(?P<head>Bearer|Basic|Token)\s+[A-Za-z0-9._~+/=-]{6,}", re.I)
_ASSIGNED_SECRET = re.compile(
    r"(?P<head>\b(?:password|passwd|secret|token|api[_-]?key|access_token|basic_auth)\b\s*[=:]\s*)"
    r"(?P<quote>['\"]?)[^\s'\",&;]+",
    re.I,
)
# Maracker's own API tokens wherever they appear ("mrk_" and 64 hex digits); the 15-character prefix that
# names a token (mrk_ + 11 digits) stays readable.
_API_TOKEN = re.compile(r"\bmrk_[0-9a-f]{12,}", re.I)
REDACTED = "***"


def redact_text(text):
    """The same text with passwords in URLs and credential-looking values replaced by ***."""
    if not text or not isinstance(text, str):
        return text
    text = _URL_PASSWORD.sub(lambda m: f"{m.group('head')}:{REDACTED}@", text)
    text = _API_TOKEN.sub("mrk_" + REDACTED, text)
    text = _SCHEME_CREDENTIAL.sub(lambda m: f"{m.group('head')} {REDACTED}", text)
    return _ASSIGNED_SECRET.sub(lambda m: f"{m.group('head')}{m.group('quote')}{REDACTED}", text)


def _redact_value(key, value, depth=0):
    if isinstance(key, str) and SECRET_KEY_NAMES.search(key) and value not in (None, "", False):
        return REDACTED
    if isinstance(value, str):
        return redact_text(value)
    if depth < 4 and isinstance(value, dict):
        return {k: _redact_value(k, v, depth + 1) for k, v in value.items()}
    if depth < 4 and isinstance(value, (list, tuple)):
        return [_redact_value(None, v, depth + 1) for v in value]
    return value


def redact_secrets(logger, method_name, event_dict):
    """structlog processor: runs last before rendering, on our own lines and on every library's lines."""
    return {key: _redact_value(key, value) for key, value in event_dict.items()}


def _shared_processors():
    return [
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        structlog.processors.TimeStamper(fmt="iso", utc=True, key="ts"),
    ]


def logging_config(level="INFO", fmt="json"):
    """The LOGGING dict for Django, and structlog set up to feed the same handler.

    Lines from the standard library (Django, Celery, gunicorn) and from structlog loggers go through one
    ProcessorFormatter, so every line is one JSON object carrying the bound context (request_id on web lines,
    job_id and marathon_app_id on worker and watcher lines).
    """
    structlog.configure(
        processors=[
            structlog.stdlib.filter_by_level,
            *_shared_processors(),
            structlog.stdlib.PositionalArgumentsFormatter(),
            structlog.processors.StackInfoRenderer(),
            structlog.stdlib.ProcessorFormatter.wrap_for_formatter,
        ],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=True,
    )
    renderer = (
        structlog.processors.JSONRenderer(default=str)
        if fmt == "json"
        else structlog.dev.ConsoleRenderer(colors=False)
    )
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {
            "structured": {
                "()": structlog.stdlib.ProcessorFormatter,
                "foreign_pre_chain": [*_shared_processors(), structlog.stdlib.ExtraAdder()],
                "processors": [
                    structlog.stdlib.ProcessorFormatter.remove_processors_meta,
                    structlog.processors.format_exc_info,
                    redact_secrets,
                    renderer,
                ],
            },
        },
        "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "structured"}},
        "root": {"handlers": ["console"], "level": level},
        "loggers": {
            "django.db.backends": {"level": "WARNING"},
            # Django's own request logger repeats what the request line already says.
            "django.server": {"level": "WARNING"},
        },
    }


def get_logger(name=None):
    return structlog.stdlib.get_logger(name)

