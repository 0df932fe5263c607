"""The event bus behind /v2/events: one bounded queue per subscriber, fan-out, pause/resume and drops."""
import asyncio
import json

from .clock import now_iso

_CLOSE = None  # queue sentinel: the stream ends


class Subscriber:
    """One /v2/events connection: its filter, its queue of encoded events, and whether it was dropped."""

    __slots__ = ("remote", "types", "light", "queue", "dropped", "delivered", "reason")

    def __init__(self, remote, types, light):
        self.remote = remote
        self.types = types  # set of event types, or None for all
        self.light = light
        self.queue = asyncio.Queue()  # bounded by EventBus.max_outstanding, checked on put
        self.dropped = False
        self.delivered = 0
        self.reason = None


def encode(event_type, payload):
    """Server-sent event framing as Jetty writes it: CRLF line ends, the event as one JSON line."""
    return f"event: {event_type}\r\ndata: {json.dumps(payload, separators=(',', ':'))}\r\n\r\n".encode()


class EventBus:
    """Publishes events to every matching subscriber without ever waiting on one: a subscriber with more than
    `max_outstanding` undelivered events is disconnected, as Marathon does
    (--event_stream_max_outstanding_messages)."""

    def __init__(self, max_outstanding=1024):
        self.max_outstanding = max_outstanding
        self.subscribers = set()
        self.paused = False
        self.buffer = []
        self.published = 0
        self.slow_drops = 0

    def subscribe(self, remote, types=None, light=False):
        sub = Subscriber(remote, types, light)
        self.subscribers.add(sub)
        return sub

    def unsubscribe(self, sub):
        if sub in self.subscribers:
            self.subscribers.discard(sub)
            self.publish("event_stream_detached", {"remoteAddress": sub.remote})

    def publish(self, event_type, fields):
        """Stamps and fans out one event (buffered while emission is paused)."""
        payload = dict(fields)
        payload["eventType"] = event_type
        payload["timestamp"] = now_iso()
        if self.paused:
            self.buffer.append((event_type, payload))
            return
        self._fan_out(event_type, payload)

    def _fan_out(self, event_type, payload):
        self.published += 1
        full = light = None
        slow = []
        for sub in self.subscribers:
            if sub.types is not None and event_type not in sub.types:
                continue
            if sub.queue.qsize() >= self.max_outstanding:
                slow.append(sub)
                continue
            if sub.light and "plan" in payload:
                if light is None:
                    plan = {k: v for k, v in payload["plan"].items() if k not in ("original", "target")}
                    light = encode(event_type, {**payload, "plan": plan})
                sub.queue.put_nowait(light)
            else:
                if full is None:
                    full = encode(event_type, payload)
                sub.queue.put_nowait(full)
        for sub in slow:
            self.slow_drops += 1
            self.drop(sub, "too many outstanding events")

    def drop(self, sub, reason="dropped"):
        """Ends one subscriber's stream; the connection closes once its handler sees the sentinel."""
        if sub.dropped:
            return
        sub.dropped = True
        sub.reason = reason
        while not sub.queue.empty():  # nothing more is delivered to a dropped subscriber
            sub.queue.get_nowait()
        sub.queue.put_nowait(_CLOSE)
        self.unsubscribe(sub)

    def drop_all(self, reason="dropped"):
        for sub in list(self.subscribers):
            self.drop(sub, reason)

    def pause(self):
        self.paused = True

    def resume(self):
        self.paused = False
        pending, self.buffer = self.buffer, []
        for event_type, payload in pending:
            self._fan_out(event_type, payload)

    def stats(self):
        return {
            "subscribers": [{"remoteAddress": s.remote, "eventTypes": sorted(s.types) if s.types else None,
                             "outstanding": s.queue.qsize(), "delivered": s.delivered} for s in self.subscribers],
            "published": self.published,
            "paused": self.paused,
            "buffered": len(self.buffer),
            "slowDrops": self.slow_drops,
            "maxOutstanding": self.max_outstanding,
        }


async def stream(bus, sub, heartbeat_seconds):
    """The body of one /v2/events response: events as they come, a bare line break when idle (Jetty's
    heartbeat), until the subscriber is dropped or the client goes away."""
    try:
        while True:
            try:
                chunk = await asyncio.wait_for(sub.queue.get(), heartbeat_seconds)
            except asyncio.TimeoutError:
                yield b"\r\n"
                continue
            if chunk is _CLOSE:
                return
            sub.delivered += 1
            # deliver whatever else is already waiting in one write
            parts = [chunk]
            while not sub.queue.empty() and len(parts) < 256:
                more = sub.queue.get_nowait()
                if more is _CLOSE:
                    yield b"".join(parts)
                    return
                sub.delivered += 1
                parts.append(more)
            yield b"".join(parts) if len(parts) > 1 else chunk
    finally:
        if not sub.dropped:
            sub.dropped = True
            bus.unsubscribe(sub)
