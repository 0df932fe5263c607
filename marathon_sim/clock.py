"""Timestamps in Marathon's format (ISO-8601 UTC with milliseconds), strictly increasing for versions."""
import time
from datetime import datetime, timezone

_last_version_ms = 0


def iso_from_ms(ms):
    seconds, millis = divmod(int(ms), 1000)
    stamp = datetime.fromtimestamp(seconds, tz=timezone.utc).strftime("%Y-%m-%dT%H:%M:%S")
    return f"{stamp}.{millis:03d}Z"


def now_iso():
    """The current time, as Marathon writes event timestamps."""
    return iso_from_ms(time.time() * 1000)


def new_version():
    """A fresh version timestamp, later than every one handed out before (two changes never share one)."""
    global _last_version_ms
    ms = int(time.time() * 1000)
    if ms <= _last_version_ms:
        ms = _last_version_ms + 1
    _last_version_ms = ms
    return iso_from_ms(ms)
