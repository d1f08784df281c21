"""Observation codes, their units and plausible ranges (H15): a value and its unit
become one SI figure here, and nowhere else.

The units accepted are the clinical file's (bilirubin in mg/dL × 17.1 = µmol/L,
albumin in g/dL × 10 = g/L, CEA in µg/L = ng/mL) plus their UCUM spellings, so a
laboratory's FHIR result (``umol/L``, ``[IU]/L``, ``{INR}``) reads the same as staff
entry."""

from __future__ import annotations

import math
from dataclasses import dataclass


@dataclass(frozen=True)
class ObservationCode:
    """One code: its SI unit, the units accepted on entry with their factor to SI,
    and the plausible range in SI (inclusive)."""

    code: str
    label: str
    unit: str
    units: dict[str, float]
    minimum: float
    maximum: float
    kind: str  # "lab" or "vital"


def _code(code: str, label: str, unit: str, units: dict[str, float], low: float, high: float, kind: str = "lab"):  # type: ignore[no-untyped-def]
    return ObservationCode(code=code, label=label, unit=unit, units=units, minimum=low, maximum=high, kind=kind)


_ENZYME = {"U/L": 1.0, "IU/L": 1.0, "[IU]/L": 1.0}

# Plausibility ranges are wide on purpose (what a sick patient can have, not what is
# normal): they catch a wrong unit or a slipped decimal, never a real extreme value.
OBSERVATION_CODES: dict[str, ObservationCode] = {
    item.code: item
    for item in (
        # 1 mg/dL of bilirubin is 17.1 µmol/L (the clinical file, "Labs").
        _code("bilirubin_umol_l", "Bilirubin", "µmol/L", {"µmol/L": 1.0, "mg/dL": 17.1}, 1, 1000),
        _code("inr", "INR", "ratio", {"ratio": 1.0, "INR": 1.0, "{INR}": 1.0, "1": 1.0}, 0.5, 15),
        _code("alt_u_l", "ALT", "U/L", _ENZYME, 1, 20000),
        _code("ast_u_l", "AST", "U/L", _ENZYME, 1, 20000),
        _code("alp_u_l", "Alkaline phosphatase", "U/L", _ENZYME, 1, 5000),
        _code("albumin_g_l", "Albumin", "g/L", {"g/L": 1.0, "g/dL": 10.0}, 5, 70),
        _code("cea_ng_ml", "CEA", "ng/mL", {"ng/mL": 1.0, "µg/L": 1.0}, 0, 100000),
        _code("weight_kg", "Weight", "kg", {"kg": 1.0}, 25, 300, "vital"),
        _code("temperature_c", "Temperature", "°C", {"°C": 1.0, "Cel": 1.0}, 34, 43, "vital"),
        _code("heart_rate_bpm", "Heart rate", "bpm", {"bpm": 1.0, "/min": 1.0}, 20, 250, "vital"),
        _code("systolic_bp_mmhg", "Systolic blood pressure", "mmHg", {"mmHg": 1.0, "mm[Hg]": 1.0}, 40, 300, "vital"),
        _code("diastolic_bp_mmhg", "Diastolic blood pressure", "mmHg", {"mmHg": 1.0, "mm[Hg]": 1.0}, 20, 200, "vital"),
        _code("spo2_percent", "Oxygen saturation", "%", {"%": 1.0}, 50, 100, "vital"),
    )
}


def _unit_key(unit: str) -> str:
    # "umol/l", "μmol/L" (Greek mu) and "µmol/L" (micro sign) are one unit; case does
    # not tell any of our units apart.
    return unit.strip().replace("μ", "u").replace("µ", "u").replace(" ", "").casefold()


def unit_factor(*, code: str, unit: str) -> float | None:
    """The factor from ``unit`` to the SI unit of ``code``; None when it is not one of
    the code's units (or the code is unknown)."""
    spec = OBSERVATION_CODES.get(code)
    if spec is None:
        return None
    return next((f for name, f in spec.units.items() if _unit_key(name) == _unit_key(unit)), None)


def _to_si(value: float, factor: float) -> float:
    # Four decimals: 3.1 mg/dL is 53.01 µmol/L, not 53.010000000000005, so a value
    # typed at a threshold compares as the threshold.
    return round(float(value) * factor, 4)


def observation_convert(*, code: str, value: object, unit: object) -> tuple[float, dict[str, list[str]]]:
    """The value in SI, or errors naming ``code``, ``value`` or ``unit``."""
    spec = OBSERVATION_CODES.get(code)
    if spec is None:
        return 0.0, {"code": [f"Unknown code. Known codes: {', '.join(OBSERVATION_CODES)}."]}
    errors: dict[str, list[str]] = {}
    factor: float | None = None
    if not isinstance(unit, str) or not unit.strip():
        errors["unit"] = [f"A unit is required for {code}: one of {', '.join(spec.units)}."]
    else:
        factor = unit_factor(code=code, unit=unit)
        if factor is None:
            errors["unit"] = [f"'{unit}' is not a unit for {code}: use one of {', '.join(spec.units)}."]
    if isinstance(value, bool) or not isinstance(value, int | float):
        errors["value"] = ["A number is required."]
    elif not math.isfinite(value):
        errors["value"] = ["Must be a finite number."]
    if errors:
        return 0.0, errors
    assert factor is not None and isinstance(value, int | float)
    converted = _to_si(value, factor)
    if not spec.minimum <= converted <= spec.maximum:
        shown = f"{value} {unit}" + (f" = {converted:g} {spec.unit}" if factor != 1.0 else "")
        return 0.0, {
            "value": [
                f"{shown} is not a plausible {spec.label}: expected between {spec.minimum:g} and "
                f"{spec.maximum:g} {spec.unit}. Check the value and the unit."
            ]
        }
    return converted, {}


def reference_range_convert(
    *, code: str, unit: object, low: object, high: object
) -> tuple[tuple[float | None, float | None], dict[str, list[str]]]:
    """The laboratory's reference range (either end may be absent) in SI, given in the
    same unit as the value; errors name ``reference_low`` / ``reference_high``.

    A range is not held to the plausibility range of the value (a lab's limits are
    what it reports), only to being a non-negative number with low ≤ high."""
    factor = unit_factor(code=code, unit=unit) if isinstance(unit, str) else None
    errors: dict[str, list[str]] = {}
    ends: dict[str, float | None] = {}
    for name, given in (("reference_low", low), ("reference_high", high)):
        if given is None:
            ends[name] = None
        elif isinstance(given, bool) or not isinstance(given, int | float) or not math.isfinite(given):
            errors[name] = ["A number is required."]
        elif given < 0:
            errors[name] = ["Cannot be negative."]
        else:
            ends[name] = _to_si(given, factor) if factor is not None else None
    if errors or factor is None:
        # A unit that is not the code's is reported once, on ``unit``, by observation_convert.
        return (None, None), errors
    low_si, high_si = ends["reference_low"], ends["reference_high"]
    if low_si is not None and high_si is not None and low_si > high_si:
        return (None, None), {"reference_high": ["Must not be below reference_low."]}
    return (low_si, high_si), {}
