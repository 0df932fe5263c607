"""Benchmark: image metadata lookups per second against a local docker-registry, cold versus cached, in one run."""
import argparse
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from shared.registry.cache import InMemoryCache  # noqa: E402
from shared.registry.client import RegistryClient  # noqa: E402
from shared.registry.reference import parse_reference  # noqa: E402
from tests.fixtures.registry import start_registry, stop_registry, write_image_layout, write_index_layout  # noqa: E402

LABELS = {
    "org.opencontainers.image.title": "Bench App",
    "org.opencontainers.image.description": "an image for the metadata benchmark",
    "org.label-schema.memory-hint": "256m",
    **{f"com.example.label-{i:03d}": "value " * 8 for i in range(50)},
}


def measure(client, reference, count, cache_factory):
    """Run `count` lookups; returns (lookups per second, HTTP requests per lookup)."""
    client.request_log.clear()
    started = time.perf_counter()
    for _ in range(count):
        client.lookup(reference, cache_factory())
    elapsed = time.perf_counter() - started
    return count / elapsed, len(client.request_log) / count


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--count", type=int, default=300, help="lookups per measurement")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-metadata-") as tmp:
        tmp = Path(tmp)
        server = start_registry(tmp / "registry")
        try:
            server.push(write_image_layout(tmp / "single", "1", labels=LABELS, exposed_ports=["8080/tcp"]),
                        "bench/single", "1")
            server.push(write_index_layout(tmp / "multi", "1", [dict(labels=LABELS),
                                                                dict(labels=LABELS, architecture="arm64")]),
                        "bench/multi", "1", all_platforms=True)
            client = RegistryClient()
            print(f"machine: nproc={os.cpu_count()} python={platform.python_version()} "
                  f"{platform.system()} {platform.machine()}; {args.count} lookups per figure")
            for name in ("single", "multi"):
                reference = f"{server.host}/bench/{name}:1"
                client.lookup(reference)  # warm the connection pool
                cold_rate, cold_requests = measure(client, reference, args.count, lambda: None)
                warm = InMemoryCache()
                client.lookup(reference, warm)
                cached_rate, cached_requests = measure(client, reference, args.count, lambda: warm)
                print(f"{name:6s} cold:   {cold_rate:8.1f} lookups/s, {cold_requests:.1f} requests/lookup")
                print(f"{name:6s} cached: {cached_rate:8.1f} lookups/s, {cached_requests:.1f} requests/lookup")
                print(f"{name:6s} ratio cached/cold: {cached_rate / cold_rate:.2f}x")
                pinned = f"{server.host}/bench/{name}@" + client.lookup(reference).digest
                pinned_rate, pinned_requests = measure(client, pinned, args.count, lambda: warm)
                print(f"{name:6s} cached, pinned by digest: {pinned_rate:8.1f} lookups/s, "
                      f"{pinned_requests:.1f} requests/lookup")
            count = 20_000
            started = time.perf_counter()
            for i in range(count):
                parse_reference(f"registry.example.com:5000/team/app-{i % 100}:1.{i % 7}")
            print(f"parse_reference: {count / (time.perf_counter() - started):,.0f} references/s")
        finally:
            stop_registry(server)


if __name__ == "__main__":
    main()
