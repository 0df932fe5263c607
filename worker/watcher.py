"""The Marathon event watcher process: leadership, stream reading, reconnects with resync, health reports."""
from __future__ import annotations

import json
import logging
import os
import queue
import random
import socket
import threading
import time
import zlib
from collections import deque
from dataclasses import dataclass

import redis
from django.conf import settings
from django.db import close_old_connections, connection, connections
from django.utils import timezone

from shared.marathon.client import MarathonClient
from shared.marathon.errors import MarathonError
from shared.selectors.health import WATCHER_HEALTH_KEY
from shared.services.watcher import WATCHED_EVENT_TYPES, WatcherMemory, watcher_handle_events, watcher_resync, \
    watcher_settle_pending

logger = logging.getLogger("maracker.watcher")

# The PostgreSQL advisory lock only the active watcher holds (a stable 31-bit number from its name).
LOCK_KEY = zlib.crc32(b"maracker.marathon-watcher") & 0x7FFFFFFF
LAG_WINDOW_SECONDS = 60.0


class LeaderLock:
    """A PostgreSQL session advisory lock on a connection of its own.

    The lock goes with the connection: when the holder dies (even by SIGKILL), PostgreSQL sees the socket
    close and releases it, so a standby's next try succeeds.
    """

    def __init__(self, key=LOCK_KEY):
        self.key = key
        self._conn = None
        self.held = False

    def _cursor(self):
        if self._conn is None:
            self._conn = connections.create_connection("default")
        return self._conn.cursor()

    def try_acquire(self):
        try:
            with self._cursor() as cursor:
                cursor.execute("SELECT pg_try_advisory_lock(%s)", [self.key])
                self.held = bool(cursor.fetchone()[0])
        except Exception as exc:  # the database is unreachable: not the leader
            logger.warning("watcher: cannot reach the database for the leader lock: %s", exc)
            self._drop()
        return self.held

    def still_held(self):
        """Ask PostgreSQL whether this connection still holds the lock (False when the connection broke)."""
        if not self.held:
            return False
        try:
            with self._cursor() as cursor:
                cursor.execute(
                    "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND granted "
                    "AND pid = pg_backend_pid() AND objid = %s",
                    [self.key],
                )
                self.held = cursor.fetchone()[0] > 0
        except Exception as exc:  # a broken connection has lost the lock
            logger.warning("watcher: the leader lock's connection broke: %s", exc)
            self._drop()
        return self.held

    def release(self):
        if self._conn is not None and self.held:
            try:
                with self._cursor() as cursor:
                    cursor.execute("SELECT pg_advisory_unlock(%s)", [self.key])
            except Exception:  # closing the connection releases it anyway
                pass
        self._drop()

    def _drop(self):
        self.held = False
        if self._conn is not None:
            try:
                self._conn.close()
            except Exception:  # already broken
                pass
            self._conn = None


@dataclass
class _StreamEnded:
    error: BaseException | None


class _Reader(threading.Thread):
    """Reads the event stream into a queue, so the main loop can batch database writes and keep ticking."""

    def __init__(self, stream, sink):
        super().__init__(name="marathon-events", daemon=True)
        self.stream = stream
        self.sink = sink

    def run(self):
        try:
            for event in self.stream:
                self.sink.put(event)
            self.sink.put(_StreamEnded(None))
        except BaseException as exc:  # noqa: BLE001 - every end of the stream goes to the main loop
            self.sink.put(_StreamEnded(exc))


class WatcherStats:
    """Counters and the lag window behind the health report."""

    def __init__(self):
        self.connected = False
        self.url = None
        self.events = 0
        self.malformed = 0
        self.ignored = 0
        self.reconnects = 0
        self.resyncs = 0
        self.last_resync = None
        self.last_event_at = None
        self.last_error = None
        self.connected_since = None
        self.window = deque()  # (monotonic time processed, lag seconds)
        self.lags = []  # every lag measured, for benchmarks (kept only when keep_lags)
        self.keep_lags = False

    def record(self, events, processed_at_wall, processed_at_mono):
        for event in events:
            if event.timestamp is None:
                continue
            lag = max(0.0, processed_at_wall - event.timestamp.timestamp())
            self.window.append((processed_at_mono, lag))
            if self.keep_lags:
                self.lags.append(lag)
            if self.last_event_at is None or event.timestamp > self.last_event_at:
                self.last_event_at = event.timestamp
        self.events += len(events)
        horizon = processed_at_mono - LAG_WINDOW_SECONDS
        while self.window and self.window[0][0] < horizon:
            self.window.popleft()

    def snapshot(self, now_mono):
        recent = [lag for at, lag in self.window if at >= now_mono - 10.0]
        lags = sorted(lag for _, lag in self.window)

        def percentile(p):
            return round(lags[min(len(lags) - 1, int(p * len(lags)))], 3) if lags else None

        return {
            "events_per_second": round(len(recent) / 10.0, 1),
            "lag_seconds": round(recent[-1], 3) if recent else None,
            "lag_p50_seconds": percentile(0.50),
            "lag_p99_seconds": percentile(0.99),
        }


class Watcher:
    """Follows Marathon's event stream while it holds the leader lock; see run()."""

    def __init__(self, *, urls=None, idle_timeout=None, backoff_base=None, backoff_cap=None, batch_size=None,
                 health_interval=None, health_ttl=None, lock_poll=None, stop_event=None):
        self.urls = list(urls or settings.MARATHON_URLS)
        self.idle_timeout = idle_timeout or settings.WATCHER_IDLE_TIMEOUT
        self.backoff_base = backoff_base or settings.WATCHER_BACKOFF_BASE_SECONDS
        self.backoff_cap = backoff_cap or settings.WATCHER_BACKOFF_CAP_SECONDS
        self.batch_size = batch_size or settings.WATCHER_BATCH_SIZE
        self.health_interval = health_interval or settings.WATCHER_HEALTH_INTERVAL_SECONDS
        self.health_ttl = health_ttl or settings.WATCHER_HEALTH_TTL_SECONDS
        self.lock_poll = lock_poll or settings.WATCHER_LOCK_POLL_SECONDS
        self.stop_event = stop_event or threading.Event()
        self.lock = LeaderLock()
        self.memory = WatcherMemory()
        self.stats = WatcherStats()
        self.identity = f"{socket.gethostname()}:{os.getpid()}"
        self._url_offset = 0
        self._redis = None
        self._next_health = 0.0
        self._next_log = 0.0
        self._next_lock_check = 0.0
        self._failures = 0

    # ------------------------------------------------------------------------------------------- main loop

    def run(self):
        """Until stopped: wait to become the active watcher, then follow the stream (reconnecting as needed)."""
        logger.info("watcher %s starting (Marathon %s, idle timeout %gs)", self.identity, ", ".join(self.urls),
                    self.idle_timeout)
        standby_logged = False
        try:
            while not self.stop_event.is_set():
                if not self.lock.try_acquire():
                    if not standby_logged:
                        logger.info("watcher %s: another watcher is active; standing by", self.identity)
                        standby_logged = True
                    self.stop_event.wait(self.lock_poll)
                    continue
                standby_logged = False
                logger.info("watcher %s: active (holds the leader lock)", self.identity)
                self._next_lock_check = time.monotonic() + self.lock_poll
                self._follow()
                if not self.lock.held and not self.stop_event.is_set():
                    logger.warning("watcher %s: lost the leader lock; standing by", self.identity)
        finally:
            self.stats.connected = False
            self._report_health(force=True, final=True)
            self.lock.release()
            logger.info("watcher %s stopped", self.identity)

    def stop(self):
        self.stop_event.set()

    def _follow(self):
        """Connect, resync, consume; on any failure back off and do it again, as long as we lead."""
        while not self.stop_event.is_set() and self.lock.held:
            client = None
            stream = None
            try:
                close_old_connections()
                client = self._client()
                stream = client.stream_events(WATCHED_EVENT_TYPES, idle_timeout=self.idle_timeout)
                sink = queue.Queue()
                _Reader(stream, sink).start()
                self._on_connected(stream.url)
                counts = watcher_resync(client)
                self.stats.resyncs += 1
                self.stats.last_resync = timezone.now()
                logger.info("watcher: resynced with %s: %s", stream.url, counts)
                self._failures = 0
                self._consume(sink)
                if self.stop_event.is_set() or not self.lock.held:
                    return
            except MarathonError as exc:
                self._on_failure(f"{type(exc).__name__}: {exc}")
            except Exception as exc:  # database or broker trouble: resync after reconnecting
                logger.exception("watcher: unexpected error; reconnecting")
                self._on_failure(f"{type(exc).__name__}: {exc}")
                self._reset_db()
            finally:
                if stream is not None:
                    stream.close()
                if client is not None:
                    client.close()
            self._back_off()

    def _client(self):
        """A client whose URL list starts at the current offset: after a failure, the next URL is tried first."""
        offset = self._url_offset % len(self.urls)
        urls = self.urls[offset:] + self.urls[:offset]
        return MarathonClient.from_settings(urls=urls)

    def _on_connected(self, url):
        if self.stats.url and url != self.stats.url:
            logger.info("watcher: the stream now comes from %s (was %s): leader change", url, self.stats.url)
        self.stats.connected = True
        self.stats.url = url
        self.stats.connected_since = timezone.now()
        self.stats.last_error = None
        if url in self.urls:
            self._url_offset = self.urls.index(url)
        self._report_health(force=True)

    def _on_failure(self, message):
        was_connected = self.stats.connected
        self.stats.connected = False
        self.stats.last_error = message[:500]
        self._failures += 1
        self._url_offset += 1
        if was_connected:
            self.stats.reconnects += 1
        logger.warning("watcher: event stream down (%s); reconnecting", message)
        self._report_health(force=True)

    def _back_off(self):
        """Capped exponential back-off with jitter: between half and all of min(cap, base * 2**failures)."""
        if self.stop_event.is_set():
            return
        ceiling = min(self.backoff_cap, self.backoff_base * (2 ** max(self._failures, 1)))
        delay = random.uniform(ceiling / 2, ceiling)
        deadline = time.monotonic() + delay
        while not self.stop_event.is_set():
            left = deadline - time.monotonic()
            if left <= 0:
                break
            self.stop_event.wait(min(left, self.lock_poll))
            self._check_lock()
            if not self.lock.held:
                return

    @staticmethod
    def _reset_db():
        try:
            connection.close()
        except Exception:  # a broken connection is dropped anyway
            pass

    # ----------------------------------------------------------------------------------------- consuming

    def _consume(self, sink):
        """Batches from the reader's queue through the services, until the stream ends or we stop leading."""
        while not self.stop_event.is_set():
            batch = []
            ended = None
            try:
                item = sink.get(timeout=0.2)
            except queue.Empty:
                item = None
            while item is not None:
                if isinstance(item, _StreamEnded):
                    ended = item
                    break
                batch.append(item)
                if len(batch) >= self.batch_size:
                    break
                try:
                    item = sink.get_nowait()
                except queue.Empty:
                    item = None
            if batch:
                self.process(batch)
            if ended is not None:
                if ended.error is not None:
                    raise ended.error
                raise MarathonError("the event stream ended")
            self._tick()
            if not self.lock.held:
                return

    def process(self, batch):
        """One batch of events through the services; the health figures follow."""
        result = watcher_handle_events(batch, memory=self.memory)
        self.stats.malformed += result.malformed
        self.stats.ignored += result.ignored
        self.stats.record(batch, time.time(), time.monotonic())
        return result

    def _tick(self):
        if self.memory.pending:
            watcher_settle_pending(self.memory)
        self._check_lock()
        self._report_health()

    def _check_lock(self):
        now = time.monotonic()
        if now >= self._next_lock_check:
            self._next_lock_check = now + self.lock_poll
            self.lock.still_held()

    # ------------------------------------------------------------------------------------------- health

    def health(self):
        now_mono = time.monotonic()
        return {
            "connected": self.stats.connected,
            "active": self.lock.held,
            "watcher": self.identity,
            "url": self.stats.url,
            "connected_since": self.stats.connected_since.isoformat() if self.stats.connected_since else None,
            "last_event_at": self.stats.last_event_at.isoformat() if self.stats.last_event_at else None,
            "events_total": self.stats.events,
            "malformed_total": self.stats.malformed,
            "reconnects": self.stats.reconnects,
            "resyncs": self.stats.resyncs,
            "last_resync_at": self.stats.last_resync.isoformat() if self.stats.last_resync else None,
            "last_error": self.stats.last_error,
            "reported_at": timezone.now().isoformat(),
            **self.stats.snapshot(now_mono),
        }

    def _report_health(self, *, force=False, final=False):
        """Write the health to Redis (with a TTL, read by /readyz) every interval, and log it now and then."""
        now = time.monotonic()
        if not force and now < self._next_health:
            return
        self._next_health = now + self.health_interval
        if not self.lock.held and not final:
            return  # a standby does not speak for the active watcher
        health = self.health()
        try:
            if self._redis is None:
                self._redis = redis.Redis.from_url(settings.REDIS_URL, socket_connect_timeout=1, socket_timeout=1)
            self._redis.set(WATCHER_HEALTH_KEY, json.dumps(health), ex=max(1, int(self.health_ttl)))
        except Exception as exc:  # a Redis outage must not stop the watcher
            logger.warning("watcher: could not write its health to Redis: %s", exc)
            self._redis = None
        if force or now >= self._next_log:
            self._next_log = now + max(30.0, self.health_interval)
            logger.info(
                "watcher health: connected=%s url=%s events=%d (%.1f/s) lag=%ss p99=%ss last_event_at=%s "
                "reconnects=%d", health["connected"], health["url"], health["events_total"],
                health["events_per_second"], health["lag_seconds"], health["lag_p99_seconds"],
                health["last_event_at"], health["reconnects"],
            )


def run_watcher(stop_event=None, **options):
    """Run a watcher in this thread until stop_event is set (the management command's body)."""
    watcher = Watcher(stop_event=stop_event, **options)
    watcher.run()
    return watcher
