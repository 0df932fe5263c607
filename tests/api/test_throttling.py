"""The job-creation throttle's counts: exact at ordinary rates, reserved in small batches at high ones."""
from types import SimpleNamespace

import pytest
from django.core.cache import cache
from django.test import override_settings

from api import throttling

pytestmark = pytest.mark.django_db

NOW = 1_800_000_000.0  # inside one window for every rate below


def throttle(rate):
    with override_settings(JOB_CREATE_RATE=rate):
        made = throttling.JobCreateThrottle()
    made.timer = lambda: NOW
    return made


def request_of(user_pk):
    return SimpleNamespace(auth=None, user=SimpleNamespace(is_authenticated=True, pk=user_pk), META={})


@pytest.fixture(autouse=True)
def fresh_counts(monkeypatch):
    cache.clear()
    throttling._redis().delete(*throttling._redis().keys("maracker:throttle:*") or ["none"])
    monkeypatch.setattr(throttling, "_leases", {})
    yield
    throttling._redis().delete(*throttling._redis().keys("maracker:throttle:*") or ["none"])


def redis_count():
    keys = throttling._redis().keys("maracker:throttle:*")
    return sum(int(throttling._redis().get(key)) for key in keys)


def test_an_ordinary_rate_counts_every_request_in_redis():
    limiter = throttle("120/min")
    assert limiter.lease_size() == 1
    results = [limiter.allow_request(request_of(1), None) for _ in range(125)]
    assert results == [True] * 120 + [False] * 5
    assert redis_count() == 125
    assert throttling._leases == {}


def test_a_high_rate_reserves_counts_in_batches_and_asks_redis_once_per_batch():
    limiter = throttle("100000/min")
    assert limiter.lease_size() == throttling.LEASE_MAX
    assert all(limiter.allow_request(request_of(1), None) for _ in range(40))
    assert redis_count() == 2 * throttling.LEASE_MAX  # two reservations for 40 requests
    assert all(limiter.allow_request(request_of(2), None) for _ in range(3))  # another user: its own counts
    assert redis_count() == 3 * throttling.LEASE_MAX


def test_processes_with_their_own_reservations_never_let_more_than_the_rate_through(monkeypatch):
    limiter = throttle("400/min")  # reservations of 4
    batch = limiter.lease_size()
    assert batch == 4
    processes = [{}, {}, {}]
    allowed = 0
    for attempt in range(600):
        monkeypatch.setattr(throttling, "_leases", processes[attempt % 3])  # requests spread over 3 processes
        allowed += limiter.allow_request(request_of(1), None)
    assert allowed <= 400
    assert allowed >= 400 - (batch - 1) * 2  # at most a batch less than the rate per other process
    assert redis_count() >= 400


def test_leases_of_past_windows_are_dropped_when_many_keys_are_kept(monkeypatch):
    monkeypatch.setattr(throttling, "LEASES_KEPT", 3)
    limiter = throttle("100000/min")
    for user in range(3):
        limiter.allow_request(request_of(user), None)
    assert len(throttling._leases) == 3
    limiter.timer = lambda: NOW + 60  # the next window
    limiter.allow_request(request_of(99), None)
    assert list(throttling._leases) == ["throttle:job_create:user:99"]
