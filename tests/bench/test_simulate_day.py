"""bench/simulate_day.py runs on a tiny size and reports every component's peak."""

from __future__ import annotations

from bench import simulate_day


def test_it_plays_a_small_day_and_prints_a_peak_for_every_component():
    lines: list[str] = []
    summary = simulate_day.main(["--patients", "300", "--clinics", "3", "--acute-share", "1"], out=lines.append)
    assert set(summary) == {"http", "ws_events", "ws_frames", "sms_out", "sms_in", "celery", "db_writes", "check_ins"}
    assert summary["check_ins"]["total"] > 0
    assert summary["sms_out"]["peak_second"] >= summary["sms_out"]["peak_minute"] > 0
    assert lines[0].startswith("A day for 300 enrolled patients across 3 clinics")
    assert any("SMS out/s" in line for line in lines)


def test_the_same_seed_gives_the_same_day():
    quiet = []
    first = simulate_day.main(["--patients", "200", "--clinics", "2", "--seed", "7"], out=quiet.append)
    second = simulate_day.main(["--patients", "200", "--clinics", "2", "--seed", "7"], out=quiet.append)
    assert first == second
