"""The event bus and /v2/events: framing, filters, many subscribers, heartbeats, slow subscribers."""
import asyncio
import json
import socket
import time

import requests

from marathon_sim.events import EventBus, stream
from tests.fixtures.marathon_sim import EventStream

APP = {"id": "/ev", "cmd": "sleep 1000", "instances": 1, "cpus": 0.1, "mem": 16}


def test_stream_framing_and_attach_first(marathon_sim):
    sock = socket.create_connection(("127.0.0.1", marathon_sim.port))
    # HTTP/1.0: no chunked transfer coding, so the bytes read are exactly the event stream
    sock.sendall(b"GET /v2/events HTTP/1.0\r\nHost: x\r\nAccept: text/event-stream\r\n\r\n")
    data = b""
    sock.settimeout(5)
    while b"\r\n\r\n" not in data.partition(b"\r\n\r\n")[2]:
        data += sock.recv(65536)
    sock.close()
    head, _, body = data.partition(b"\r\n\r\n")
    assert b"200 OK" in head and b"text/event-stream" in head.lower()
    first = body
    name_line, data_line = first.split(b"\r\n")[:2]
    assert name_line == b"event: event_stream_attached"
    payload = json.loads(data_line[len(b"data: "):])
    assert payload["eventType"] == "event_stream_attached" and payload["remoteAddress"] == "127.0.0.1"
    assert payload["timestamp"].endswith("Z") and len(payload["timestamp"]) == 24


def test_accept_header_must_be_exactly_event_stream(marathon_sim):
    for accept in (None, "text/event-stream, */*", "application/json"):
        headers = {"Accept": accept} if accept else {}
        resp = requests.get(marathon_sim.url + "/v2/events", headers=headers, timeout=5)
        assert resp.status_code == 405


def test_filter_by_repeated_event_type_and_many_subscribers(marathon_sim):
    everything = [marathon_sim.events() for _ in range(12)]
    filtered = marathon_sim.events(["deployment_success", "status_update_event"])
    light = marathon_sim.events(["deployment_info"], **{"plan-format": "light"})
    try:
        for s in everything + [filtered, light]:
            assert s.status_code == 200
        for s in everything:
            assert s.attached.wait(5)
        dep = marathon_sim.http.post(marathon_sim.url + "/v2/apps", json=APP).json()["deployments"][0]["id"]
        for s in everything + [filtered]:
            s.wait_type("deployment_success", id=dep)
        assert set(filtered.types()) == {"deployment_success", "status_update_event"}
        info = light.wait_type("deployment_info")
        assert "original" not in info["plan"] and info["plan"]["id"] == dep
        full = everything[0].wait_type("deployment_info")
        assert full["plan"]["target"]["apps"][0]["id"] == "/ev"
        counts = {len([t for t in s.types() if t != "event_stream_attached" and t != "event_stream_detached"])
                  for s in everything}
        assert len(counts) == 1  # every subscriber got the same events
        for name, payload in everything[0].events:
            assert name == payload["eventType"]
        # attach and detach of others are published to everyone
        assert everything[0].types().count("event_stream_attached") >= 12
        filtered.close()
        everything[0].wait_type("event_stream_detached")
    finally:
        for s in everything + [filtered, light]:
            s.close()


def test_heartbeat_on_an_idle_stream(marathon_sim_factory):
    sim = marathon_sim_factory(extra_args=["--heartbeat-seconds", "0.2"])
    with sim.events() as s:
        s.attached.wait(5)
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline and s.lines.count("") < 4:
            time.sleep(0.05)
        assert s.lines.count("") >= 4  # bare line breaks between (no) events keep the connection alive
        assert not s.ended.is_set()


def test_payload_fields_match_marathon(marathon_sim):
    required = {
        "api_post_event": ["clientIp", "uri", "appDefinition"],
        "deployment_info": ["plan", "currentStep"],
        "deployment_step_success": ["plan", "currentStep"],
        "deployment_success": ["id", "plan"],
        "status_update_event": ["slaveId", "taskId", "taskStatus", "message", "appId", "host", "ipAddresses",
                                "ports", "version"],
        "instance_changed_event": ["instanceId", "condition", "runSpecId", "agentId", "host", "runSpecVersion"],
        "group_change_success": ["groupId", "version"],
    }
    with marathon_sim.events() as s:
        s.attached.wait(5)
        marathon_sim.http.post(marathon_sim.url + "/v2/apps", json=APP)
        s.wait_type("deployment_success")
        seen = {}
        for _, p in s.events:
            seen.setdefault(p["eventType"], p)
    for kind, fields in required.items():
        assert all(f in seen[kind] for f in fields + ["eventType", "timestamp"]), kind
    assert seen["deployment_info"]["currentStep"]["actions"][0] == {"action": "StartApplication", "app": "/ev"}


def test_slow_subscriber_is_dropped_without_holding_back_others():
    async def scenario():
        bus = EventBus(max_outstanding=10)
        slow = bus.subscribe("10.0.0.1")
        fast = bus.subscribe("10.0.0.2")
        received = []

        async def read_fast():
            async for chunk in stream(bus, fast, heartbeat_seconds=5):
                received.append(chunk)
                if sum(c.count(b"event: tick") for c in received) >= 100:
                    return

        reader = asyncio.create_task(read_fast())
        for i in range(100):
            bus.publish("tick", {"n": i})
            await asyncio.sleep(0)
        await asyncio.wait_for(reader, 5)
        return bus, slow, fast, received

    bus, slow, fast, received = asyncio.run(scenario())
    assert slow.dropped and slow.reason == "too many outstanding events"
    assert bus.slow_drops == 1 and slow not in bus.subscribers
    assert sum(c.count(b"event: tick") for c in received) == 100


def test_paused_events_are_buffered_in_order():
    async def scenario():
        bus = EventBus()
        sub = bus.subscribe("127.0.0.1")
        bus.pause()
        for i in range(5):
            bus.publish("tick", {"n": i})
        held = sub.queue.qsize()
        bus.resume()
        items = [sub.queue.get_nowait() for _ in range(sub.queue.qsize())]
        return held, items

    held, items = asyncio.run(scenario())
    assert held == 0
    assert [json.loads(i.split(b"data: ")[1])["n"] for i in items] == [0, 1, 2, 3, 4]


def test_event_stream_helper_reads_other_simulators(marathon_sim_factory):
    sim = marathon_sim_factory()
    stream_ = EventStream(sim.url)
    try:
        assert stream_.attached.wait(5)
    finally:
        stream_.close()
