"""Benchmark of the Marathon simulator: app create rate and event fan-out to 10 subscribers in one run.

Usage: python bench/marathon_sim.py [--apps 1000] [--threads 16] [--subscribers 10] [--event-apps 300]
                                   [--paced-apps 40]
Starts `python -m marathon_sim --step-seconds 0` on a free loopback port and prints the figures:
- create rate: POST /v2/apps for --apps apps from a thread pool of HTTP clients, with GET /ping through the same
  pool as the reference measured in the same run;
- fan-out: --subscribers clients on /v2/events while --event-apps apps are created and deployed; events per
  second each subscriber received, whether any fell behind (was dropped) or missed events, and the lag from an
  event's timestamp to its arrival; then a paced phase near the target rate (about 150 events/s).
"""
import argparse
import json
import os
import signal
import socket
import statistics
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parents[1]


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_sim():
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "marathon_sim", "--port", str(port), "--step-seconds", "0",
                             "--max-running-deployments", "100000"],
                            cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT, start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    for _ in range(200):
        try:
            if requests.get(url + "/ping", timeout=1).ok:
                return proc, url
        except requests.RequestException:
            time.sleep(0.05)
    raise SystemExit("simulator did not start")


def timed_pool(url, count, threads, make_request):
    local = threading.local()

    def one(i):
        if not hasattr(local, "session"):
            local.session = requests.Session()
        return make_request(local.session, i)

    started = time.perf_counter()
    with ThreadPoolExecutor(threads) as pool:
        codes = list(pool.map(one, range(count)))
    return time.perf_counter() - started, codes


def wait_idle(url, timeout=300):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not requests.get(url + "/v2/deployments", timeout=30).json():
            return True
        time.sleep(0.1)
    return False


class Subscriber(threading.Thread):
    def __init__(self, url):
        super().__init__(daemon=True)
        self.url = url
        self.count = 0
        self.first = self.last = None
        self.lags = []
        self.successes = 0
        self.ended = False
        self.attached = threading.Event()
        self.resp = None

    def run(self):
        self.resp = requests.get(self.url + "/v2/events", headers={"Accept": "text/event-stream"}, stream=True,
                                 timeout=(5, 120))
        raw = self.resp.raw
        pending = b""
        try:
            while True:
                chunk = raw.read1(65536)
                if not chunk:
                    break
                pending += chunk
                *lines, pending = pending.split(b"\n")
                now = time.time()
                for line in lines:
                    if not line.startswith(b"data:"):
                        continue
                    payload = json.loads(line[5:])
                    kind = payload["eventType"]
                    if kind == "event_stream_attached":
                        self.attached.set()
                        continue
                    if kind in ("event_stream_detached",):
                        continue
                    stamp = datetime.strptime(payload["timestamp"], "%Y-%m-%dT%H:%M:%S.%fZ")
                    sent = (stamp - datetime(1970, 1, 1)).total_seconds()
                    self.lags.append(max(0.0, now - sent))
                    self.count += 1
                    self.first = self.first or now
                    self.last = now
                    if kind == "deployment_success":
                        self.successes += 1
        except Exception:
            pass
        self.ended = True


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--apps", type=int, default=1000)
    parser.add_argument("--threads", type=int, default=16)
    parser.add_argument("--subscribers", type=int, default=10)
    parser.add_argument("--event-apps", type=int, default=300)
    parser.add_argument("--paced-apps", type=int, default=40)
    args = parser.parse_args()
    proc, url = start_sim()
    try:
        timed_pool(url, 200, args.threads, lambda s, i: s.get(url + "/ping", timeout=30).status_code)  # warm-up
        # reference: the same pool doing GET /ping
        ping_s, ping_codes = timed_pool(url, args.apps, args.threads,
                                        lambda s, i: s.get(url + "/ping", timeout=30).status_code)
        assert set(ping_codes) == {200}

        def create(session, i):
            body = {"id": f"/bench/app-{i:05d}", "cmd": "sleep 1000", "instances": 1, "cpus": 0.01, "mem": 8,
                    "labels": {"bench": "create"}}
            return session.post(url + "/v2/apps", json=body, timeout=60).status_code

        create_s, codes = timed_pool(url, args.apps, args.threads, create)
        created = codes.count(201)
        idle_started = time.perf_counter()
        settled = wait_idle(url)
        settle_s = time.perf_counter() - idle_started
        running = sum(a["tasksRunning"] for a in requests.get(url + "/v2/apps", timeout=60).json()["apps"])
        requests.delete(url + "/v2/groups/bench", params={"force": "true"}, timeout=60)
        wait_idle(url)

        # fan-out
        subs = [Subscriber(url) for _ in range(args.subscribers)]
        for sub in subs:
            sub.start()
        for sub in subs:
            sub.attached.wait(10)
        time.sleep(0.5)

        def create_ev(session, i):
            body = {"id": f"/fanout/app-{i:05d}", "cmd": "sleep 1000", "instances": 2, "cpus": 0.01, "mem": 8}
            return session.post(url + "/v2/apps", json=body, timeout=60).status_code

        published_before = requests.get(url + "/_sim/events", timeout=10).json()["published"]
        fan_started = time.time()
        timed_pool(url, args.event_apps, args.threads, create_ev)
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and any(s.successes < args.event_apps for s in subs):
            time.sleep(0.05)
        time.sleep(0.5)
        stats = requests.get(url + "/_sim/events", timeout=10).json()
        published = stats["published"] - published_before
        burst_counts = [s.count for s in subs]
        burst_lags = sorted(lag for s in subs for lag in s.lags)
        # paced: about the target rate (8 creates/s x ~19 events each = ~150 events/s) for a few seconds
        for s in subs:
            s.lags = []
        session = requests.Session()
        paced_before = [s.count for s in subs]
        paced_started = time.time()
        for i in range(args.paced_apps):
            session.post(url + "/v2/apps", json={"id": f"/paced/app-{i:05d}", "cmd": "sleep 1", "instances": 2,
                                                 "cpus": 0.01, "mem": 8}, timeout=60)
            time.sleep(max(0.0, paced_started + (i + 1) / 8 - time.time()))
        wait_idle(url)
        time.sleep(0.5)
        paced_s = time.time() - paced_started
        paced_counts = [s.count - b for s, b in zip(subs, paced_before)]
        paced_lags = sorted(lag for s in subs for lag in s.lags)
        stats = requests.get(url + "/_sim/events", timeout=10).json()
        connected = len(stats["subscribers"])
        for sub in subs:
            if sub.resp is not None:
                sub.resp.close()
        per_sub = [s.count / max(1e-9, s.last - fan_started) for s in subs if s.last]
        counts = burst_counts
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(15)

    print("Marathon simulator benchmark (step time 0)")
    print(f"  machine: {os.cpu_count()} cpus, python {sys.version.split()[0]}")
    print(f"  reference GET /ping x{args.apps}, {args.threads} threads: {args.apps / ping_s:8.0f} req/s")
    print(f"  POST /v2/apps x{args.apps} ({created} created):      {args.apps / create_s:8.0f} apps/s "
          f"({create_s:.2f} s; {args.apps / create_s / (args.apps / ping_s):.2f} x the ping rate)")
    print(f"  all deployments finished {settle_s:.2f} s after the last create: {settled}; tasks running: {running}")
    print(f"  fan-out: {args.subscribers} subscribers, {args.event_apps} apps x 2 tasks deployed")
    print(f"    events published: {published}; received per subscriber: min {min(counts)} max {max(counts)}")
    print(f"    events/s per subscriber: min {min(per_sub):.0f}, median {statistics.median(per_sub):.0f}; "
          f"fanned out in total: {sum(per_sub):.0f} events/s")
    print(f"    subscribers still connected: {connected}/{args.subscribers}; dropped as too slow: "
          f"{stats['slowDrops']}; all got every deployment_success: "
          f"{all(s.successes >= args.event_apps for s in subs)}")
    print(f"    lag event timestamp -> arrival (burst): {lag_text(burst_lags)}")
    print(f"  paced: {args.paced_apps} apps at 8 creates/s for {paced_s:.1f} s: "
          f"{min(paced_counts) / paced_s:.0f} events/s to each of {args.subscribers} subscribers "
          f"({sum(paced_counts) / paced_s:.0f} events/s fanned out); received min {min(paced_counts)} "
          f"max {max(paced_counts)}")
    print(f"    lag event timestamp -> arrival (paced): {lag_text(paced_lags)}")


def lag_text(lags):
    if not lags:
        return "n/a"
    p99 = lags[min(len(lags) - 1, int(len(lags) * 0.99))]
    return (f"median {statistics.median(lags) * 1000:.1f} ms, p99 {p99 * 1000:.1f} ms, "
            f"max {lags[-1] * 1000:.1f} ms (timestamps have 1 ms resolution)")


if __name__ == "__main__":
    main()
