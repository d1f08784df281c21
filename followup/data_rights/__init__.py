"""A patient's data rights (issue 20): what the law lets the clinic do with a patient's
data after the follow-up, and the two things an admin does on request.

- ``retention``: the end of follow-up, the retention date and its legal basis per
  country (settings ``VIGIL_RETENTION``), and whether erasure is allowed today;
- ``export``: everything Vigil holds about one patient as a ZIP (a readable summary in
  the patient's language and the data as JSON);
- ``erasure``: the patient anonymised once the law allows it, the clinical record kept
  in anonymised form for the per-rule statistics, the audit trail untouched;
- ``review``: the nightly list of patients past their retention date, for an admin to
  confirm (nothing is erased without a person);
- ``api`` / ``views`` / ``tasks``: the doorways (clinic admins only).
"""
