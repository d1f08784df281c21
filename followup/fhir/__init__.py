"""HL7 FHIR R4 in and out (issue 21): Vigil's data as FHIR resources for the
hospital's record and research exports, and Bundles from the hospital (lab results,
enrolments of discharged patients) and from third-party apps (check-ins).

Resources are validated with the R4B models of ``fhir.resources`` (FHIR 4.3, whose
resources used here are R4's): the package's default models are R5."""
