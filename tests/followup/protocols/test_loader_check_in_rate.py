"""The protocol's sane check-in rate (``schedule.max_check_ins_per_hour``): read from the
file, checked at load with an error naming file and entry, defaulted for versions
stored before the field existed."""

from __future__ import annotations

import pytest

from followup.protocols import DEFAULT_DATA_DIR, ProtocolLoadError, load_protocol
from followup.protocols.definition import DEFAULT_MAX_CHECK_INS_PER_HOUR
from tests.factories import write_protocol


def test_the_default_protocol_allows_twelve_check_ins_an_hour():
    protocol = load_protocol(DEFAULT_DATA_DIR / "post-hepatectomy")
    assert protocol.schedule.max_check_ins_per_hour == 12
    assert protocol.as_api_dict()["schedule"]["max_check_ins_per_hour"] == 12


def test_a_variant_sets_its_own_rate(tmp_path):
    def more(data):
        data["schedule"]["max_check_ins_per_hour"] = 40

    assert load_protocol(write_protocol(tmp_path / "p", more)).schedule.max_check_ins_per_hour == 40


def test_a_protocol_without_the_field_gets_the_default(tmp_path):
    # Versions published before the field existed are loaded from their stored texts.
    def without(data):
        del data["schedule"]["max_check_ins_per_hour"]

    protocol = load_protocol(write_protocol(tmp_path / "p", without))
    assert protocol.schedule.max_check_ins_per_hour == DEFAULT_MAX_CHECK_INS_PER_HOUR


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        (0, "must be at least 1, got 0"),
        (-3, "must be at least 1, got -3"),
        (2.5, "expected a whole number"),
        ("12", "expected a whole number"),
        (True, "expected a whole number"),
    ],
)
def test_a_bad_rate_is_refused_naming_file_and_entry(tmp_path, value, reason):
    def bad(data):
        data["schedule"]["max_check_ins_per_hour"] = value

    with pytest.raises(ProtocolLoadError) as error:
        load_protocol(write_protocol(tmp_path / "p", bad))
    assert error.value.entry == "schedule.max_check_ins_per_hour"
    assert error.value.file.endswith("protocol.yaml")
    assert reason in error.value.reason
