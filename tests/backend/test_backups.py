"""Backups that restore (issue 20, must-show 5): back up, write more, restore into a
scratch database, and the row counts of every table, the last event sequence number and
the audit trail equal the backup's, not the live database's. On the PostgreSQL run of CI
this is pg_dump/pg_restore (custom format); on the embedded run the SQLite online
backup: the same test, whichever database the suite runs on."""

from __future__ import annotations

import json

import pytest
from django.core.management import call_command
from django.db import connection

from backend.audit import audit_record
from backend.backups import backup_create, backup_restore, manifest_path, restore_drill
from backend.models import AuditAction, AuditRecord, Patient
from notifications.models import Event
from tests.factories import PatientFactory, UserFactory

pytestmark = pytest.mark.django_db(transaction=True)


def write_some(clinic, nurse, n: int) -> None:
    for _ in range(n):
        patient = PatientFactory(clinic=clinic)
        Event.objects.create(clinic=clinic, type="alert.created", data={"patient": patient.pk})
        audit_record(
            actor=nurse,
            action=AuditAction.READ,
            object_type="patient",
            objects=[(patient.pk, patient.pk)],
            clinic_id=clinic.pk,
        )


@pytest.fixture
def staffed(clinic):
    return clinic, UserFactory(clinic=clinic)


def test_the_drill_restores_what_the_backup_holds_not_what_came_after(staffed, tmp_path):
    clinic, nurse = staffed
    write_some(clinic, nurse, 5)
    backup, manifest = backup_create(tmp_path)
    assert manifest.vendor == connection.vendor
    assert manifest.counts["backend_patient"] == Patient.objects.count() == 5
    assert manifest.last_event_seq == Event.objects.latest("seq").seq
    assert manifest.audit_count == AuditRecord.objects.count() and manifest.audit_guarded
    assert oct(backup.stat().st_mode)[-3:] == "600"

    write_some(clinic, nurse, 3)  # after the backup: none of it may come back
    live_seq = Event.objects.latest("seq").seq
    assert live_seq > manifest.last_event_seq

    result = restore_drill(backup)
    assert result.passed, result.differences
    assert result.restored.counts == manifest.counts
    assert result.restored.counts["backend_patient"] == 5 and result.restored.counts["notifications_event"] == 5
    assert result.restored.last_event_seq == manifest.last_event_seq != live_seq
    assert (result.restored.audit_count, result.restored.audit_digest) == (manifest.audit_count, manifest.audit_digest)
    assert result.restored.audit_guarded and result.restored.event_seq_next_ok


def test_the_drill_reports_a_restore_that_differs(staffed, tmp_path):
    """A manifest that does not match what the file restores fails the drill, naming the
    table, the sequence and the audit trail (the comparison can fail)."""
    clinic, nurse = staffed
    write_some(clinic, nurse, 2)
    backup, _manifest = backup_create(tmp_path)
    written = json.loads(manifest_path(backup).read_text())
    written["counts"]["backend_patient"] += 1
    written["last_event_seq"] += 7
    written["audit_digest"] = "0" * 64
    manifest_path(backup).write_text(json.dumps(written))

    result = restore_drill(backup)
    assert not result.passed
    assert any(line.startswith("backend_patient: 3 rows backed up, 2 restored") for line in result.differences)
    assert any(line.startswith("last_event_seq") for line in result.differences)
    assert any(line.startswith("audit_digest") for line in result.differences)
    with pytest.raises(Exception, match="differs from the backup"):
        call_command("restore_drill", str(backup))


def test_restore_puts_the_database_back_as_it_was_backed_up(staffed, tmp_path):
    clinic, nurse = staffed
    write_some(clinic, nurse, 4)
    backup, manifest = backup_create(tmp_path)
    write_some(clinic, nurse, 2)
    assert Patient.objects.count() == 6

    connection.close()  # the restore replaces the database under Django's connection
    backup_restore(backup)
    assert Patient.objects.count() == 4
    assert Event.objects.latest("seq").seq == manifest.last_event_seq
    assert AuditRecord.objects.count() == manifest.audit_count
    # The sequences go on from where the backup left them: a new event gets a new number.
    write_some(clinic, nurse, 1)
    assert Event.objects.latest("seq").seq > manifest.last_event_seq


def test_the_commands_back_up_and_drill(staffed, tmp_path, capsys, settings):
    clinic, nurse = staffed
    write_some(clinic, nurse, 2)
    settings.BACKUP_DIR = tmp_path
    call_command("backup")
    call_command("restore_drill")
    out = capsys.readouterr().out
    assert "2 audit records" in out and "Restore drill passed" in out
