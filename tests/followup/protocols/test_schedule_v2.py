"""Protocol version 2026.2, schedule: a monthly or 3-monthly surveillance check-in
stays open 72 h with its reminder at 24 h; the acute phase keeps 12 h; version
2026.1 (kept as published) keeps 12 h everywhere.

H8 (a patient's silence is missed or mistaken): a patient abroad who misses a
monthly message by a working day is not silent."""

from __future__ import annotations

import shutil
from datetime import UTC, date, datetime
from pathlib import Path

import pytest

from followup.protocols import DEFAULT_DATA_DIR, ProtocolLoadError, generate_plan, load_protocol

V2_DIR = DEFAULT_DATA_DIR / "post-hepatectomy"
V1_DIR = V2_DIR / "versions" / "2026.1"


def plan(directory: Path):
    return generate_plan(
        load_protocol(directory),
        discharge_date=date(2026, 1, 10),
        surgery_date=date(2026, 1, 3),
        tz="Europe/Istanbul",
        enrolled_at=datetime(2026, 1, 10, 12, tzinfo=UTC),
    )


def test_surveillance_check_ins_stay_open_72_hours_with_a_reminder_at_24() -> None:
    items = [item for item in plan(V2_DIR) if item.kind == "check_in"]
    surveillance = [item for item in items if item.phase == "surveillance"]
    acute = [item for item in items if item.phase == "acute"]
    assert len(surveillance) == 22 + 12  # monthly months 3-24, 3-monthly months 27-60
    assert {(item.window_minutes, item.reminder_minutes) for item in surveillance} == {(72 * 60, 24 * 60)}
    assert {(item.window_minutes, item.reminder_minutes) for item in acute} == {(12 * 60, None)}
    first = surveillance[0]
    assert (first.closes_at - first.due_at).total_seconds() == 72 * 3600


def test_version_1_keeps_12_hours() -> None:
    surveillance = [item for item in plan(V1_DIR) if item.kind == "check_in" and item.phase == "surveillance"]
    assert {(item.window_minutes, item.reminder_minutes) for item in surveillance} == {(12 * 60, None)}


@pytest.mark.parametrize(
    ("old", "new", "reason"),
    [
        ("window_hours: 72, reminder_hours: 24}", "window_hours: 72, reminder_hours: 72}", "not inside the window"),
        ("window_hours: 72, reminder_hours: 24}", "window_hours: 72, reminder_hours: 0}", "reminder_hours"),
    ],
)
def test_a_reminder_outside_the_window_does_not_load(tmp_path: Path, old: str, new: str, reason: str) -> None:
    directory = tmp_path / "post-hepatectomy"
    directory.mkdir()
    shutil.copy(V2_DIR / "rules.yaml", directory / "rules.yaml")
    text = (V2_DIR / "protocol.yaml").read_text(encoding="utf-8")
    assert old in text
    (directory / "protocol.yaml").write_text(text.replace(old, new, 1), encoding="utf-8")
    with pytest.raises(ProtocolLoadError, match=reason):
        load_protocol(directory)


def test_a_reminder_on_a_visit_does_not_load(tmp_path: Path) -> None:
    directory = tmp_path / "post-hepatectomy"
    directory.mkdir()
    shutil.copy(V2_DIR / "rules.yaml", directory / "rules.yaml")
    text = (V2_DIR / "protocol.yaml").read_text(encoding="utf-8")
    text = text.replace('detail: "Video visit with the surgical team"', 'detail: "Video"\n      reminder_hours: 2', 1)
    (directory / "protocol.yaml").write_text(text, encoding="utf-8")
    with pytest.raises(ProtocolLoadError, match="only a check-in is reminded"):
        load_protocol(directory)


def test_upper_limits_of_normal_are_the_clinical_file_figures() -> None:
    assert dict(load_protocol(V2_DIR).upper_limits_of_normal) == {
        "bilirubin_umol_l": 21.0,
        "alt_u_l": 40.0,
        "ast_u_l": 40.0,
        "alp_u_l": 130.0,
    }
