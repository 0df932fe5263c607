"""Caches for image metadata keyed by manifest digest: a pluggable interface, an in-process one and Django's."""
from __future__ import annotations

import threading
import time
from collections import OrderedDict
from typing import Protocol, runtime_checkable

DEFAULT_TTL_SECONDS = 24 * 3600


@runtime_checkable
class MetadataCache(Protocol):
    """Stores JSON-serialisable dicts by key for a time; a miss (or an expired entry) is None."""

    def get(self, key: str) -> dict | None: ...

    def set(self, key: str, value: dict, ttl: float) -> None: ...


class InMemoryCache:
    """A bounded, thread-safe dict with expiry, for one process (tests, scripts, runs without Django)."""

    def __init__(self, max_entries: int = 1024, clock=time.monotonic):
        self._entries: OrderedDict[str, tuple[float, dict]] = OrderedDict()
        self._max_entries = max_entries
        self._clock = clock
        self._lock = threading.Lock()

    def get(self, key: str) -> dict | None:
        with self._lock:
            entry = self._entries.get(key)
            if entry is None:
                return None
            expires, value = entry
            if expires <= self._clock():
                del self._entries[key]
                return None
            self._entries.move_to_end(key)
            return value

    def set(self, key: str, value: dict, ttl: float) -> None:
        with self._lock:
            self._entries[key] = (self._clock() + ttl, value)
            self._entries.move_to_end(key)
            while len(self._entries) > self._max_entries:
                self._entries.popitem(last=False)

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()

    def __len__(self) -> int:
        return len(self._entries)


class DjangoCache:
    """Django's cache framework (Redis in this project), the alias resolved on first use, not at import."""

    def __init__(self, alias: str = "default", prefix: str = "registry-metadata:"):
        self.alias = alias
        self.prefix = prefix

    @property
    def _cache(self):
        from django.core.cache import caches

        return caches[self.alias]

    def get(self, key: str) -> dict | None:
        try:
            return self._cache.get(self.prefix + key)
        except Exception:  # noqa: BLE001 - a cache outage is a miss, never a failed lookup
            return None

    def set(self, key: str, value: dict, ttl: float) -> None:
        try:
            self._cache.set(self.prefix + key, value, timeout=max(1, int(ttl)))
        except Exception:  # noqa: BLE001 - a cache outage only costs the next lookup some requests
            pass
