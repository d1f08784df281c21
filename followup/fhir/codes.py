"""Code systems, LOINC codes and UCUM units: the one table from Vigil's codes to FHIR's
and back."""

from __future__ import annotations

from dataclasses import dataclass

FHIR_VERSION = "4.0.1"
FHIR_JSON = "application/fhir+json"

LOINC = "http://loinc.org"
UCUM = "http://unitsofmeasure.org"
BCP47 = "urn:ietf:bcp:47"
TRANSLATION = "http://hl7.org/fhir/StructureDefinition/translation"
MIN_VALUE = "http://hl7.org/fhir/StructureDefinition/minValue"
MAX_VALUE = "http://hl7.org/fhir/StructureDefinition/maxValue"
QUESTIONNAIRE_UNIT = "http://hl7.org/fhir/StructureDefinition/questionnaire-unit"
FLAG_DETAIL = "http://hl7.org/fhir/StructureDefinition/flag-detail"
FLAG_PRIORITY = "http://hl7.org/fhir/StructureDefinition/flag-priority"
FLAG_PRIORITY_CODES = "http://hl7.org/fhir/flag-priority-code"
FLAG_CATEGORY = "http://terminology.hl7.org/CodeSystem/flag-category"
OBSERVATION_CATEGORY = "http://terminology.hl7.org/CodeSystem/observation-category"
IDENTIFIER_TYPE = "http://terminology.hl7.org/CodeSystem/v2-0203"
APPOINTMENT_TYPE = "http://terminology.hl7.org/CodeSystem/v2-0276"

# Vigil's own systems and extensions (URNs: Vigil publishes no StructureDefinitions).
VIGIL = "urn:vigil:fhir:"
EXT_TIMEZONE = VIGIL + "extension:timezone"
EXT_TRIAGE_LEVEL = VIGIL + "extension:triage-level"
EXT_CHANNEL = VIGIL + "extension:channel"
EXT_EVIDENCE = VIGIL + "extension:evidence"
EXT_ALERT_STATUS = VIGIL + "extension:alert-status"
EXT_ASK_WHEN_FLAG = VIGIL + "extension:ask-when-flag"
EXT_PHASES = VIGIL + "extension:phase"
EXT_REVIEW_STATUS = VIGIL + "extension:review-status"
EXT_DRAIN = VIGIL + "extension:drain-at-discharge"
RULE_SYSTEM = VIGIL + "rule"
APPOINTMENT_KIND_SYSTEM = VIGIL + "appointment-kind"
OBSERVATION_CODE_SYSTEM = VIGIL + "observation-code"


def protocol_url(slug: str) -> str:
    """The canonical of a protocol's Questionnaire (``|version`` names one version)."""
    return f"{VIGIL}Questionnaire:{slug}"


def choice_system(slug: str, question_id: str) -> str:
    return f"{VIGIL}protocol:{slug}:{question_id}"


def mrn_system(*, clinic_id: int, configured: str) -> str:
    """The identifier system of a clinic's medical record numbers (Clinic.mrn_system)."""
    return configured or f"urn:vigil:clinic:{clinic_id}:mrn"


@dataclass(frozen=True)
class Loinc:
    code: str
    display: str


# Vigil's observation codes and the LOINC code each is sent with. Lab codes accept the
# other LOINC codes of the same analyte on the way in (LOINC_IN).
LOINC_OUT: dict[str, Loinc] = {
    "bilirubin_umol_l": Loinc("14631-6", "Bilirubin.total [Moles/volume] in Serum or Plasma"),
    "inr": Loinc("6301-6", "INR in Platelet poor plasma by Coagulation assay"),
    "alt_u_l": Loinc("1742-6", "Alanine aminotransferase [Enzymatic activity/volume] in Serum or Plasma"),
    "ast_u_l": Loinc("1920-8", "Aspartate aminotransferase [Enzymatic activity/volume] in Serum or Plasma"),
    "alp_u_l": Loinc("6768-6", "Alkaline phosphatase [Enzymatic activity/volume] in Serum or Plasma"),
    "albumin_g_l": Loinc("1751-7", "Albumin [Mass/volume] in Serum or Plasma"),
    "cea_ng_ml": Loinc("2039-6", "Carcinoembryonic Ag [Mass/volume] in Serum or Plasma"),
    "temperature_c": Loinc("8310-5", "Body temperature"),
    "weight_kg": Loinc("29463-7", "Body weight"),
    "heart_rate_bpm": Loinc("8867-4", "Heart rate"),
    "abdominal_pain": Loinc("72514-3", "Pain severity - 0-10 verbal numeric rating [Score] - Reported"),
    "systolic_bp_mmhg": Loinc("8480-6", "Systolic blood pressure"),
    "diastolic_bp_mmhg": Loinc("8462-4", "Diastolic blood pressure"),
    "spo2_percent": Loinc("59408-5", "Oxygen saturation in Arterial blood by Pulse oximetry"),
}
LOINC_IN: dict[str, str] = {loinc.code: code for code, loinc in LOINC_OUT.items()} | {
    "1975-2": "bilirubin_umol_l",  # Bilirubin.total [Mass/volume] (mg/dL)
    "42719-5": "bilirubin_umol_l",  # Bilirubin.total [Mass/volume] in Blood
    "34714-6": "inr",  # INR in Blood by Coagulation assay
    "1743-4": "alt_u_l",  # ALT with P-5'-P
    "1744-2": "alt_u_l",  # ALT without P-5'-P
    "30239-8": "ast_u_l",  # AST with P-5'-P
    "61151-7": "albumin_g_l",  # Albumin by BCG
    "2862-1": "albumin_g_l",  # Albumin by electrophoresis
    "8310-5": "temperature_c",
}

# The check-in answers also sent as Observations, with their category.
CHECKIN_OBSERVATIONS: dict[str, str] = {
    "temperature_c": "vital-signs",
    "weight_kg": "vital-signs",
    "heart_rate_bpm": "vital-signs",
    "abdominal_pain": "survey",
}

# Vigil's unit words and their UCUM codes. Units not listed here pass through as they
# came (the observation service decides whether it can convert them).
UCUM_OUT: dict[str, str] = {
    "µmol/L": "umol/L",
    "ratio": "{INR}",
    "°C": "Cel",
    "bpm": "/min",
    "µg/L": "ug/L",
    "score": "{score}",
}
UCUM_IN: dict[str, str] = {ucum: unit for unit, ucum in UCUM_OUT.items()} | {
    "{ratio}": "ratio",
    "{RATIO}": "ratio",
    "1": "ratio",
    "[IU]/L": "IU/L",
    "{beats}/min": "bpm",
}


def ucum_of(unit: str) -> str:
    return UCUM_OUT.get(unit, unit)


def unit_of(ucum: str) -> str:
    return UCUM_IN.get(ucum, ucum)
