"""Make the audit log append-only in the database itself.

PostgreSQL (production) refuses UPDATE and DELETE of a row. TRUNCATE stays possible for
the table's owner only (the test runner's flush uses it; the app's role should not own
the table in production). On the embedded SQLite only UPDATE is refused by trigger:
Django's test flush empties tables with DELETE, and SQLite has no TRUNCATE to tell
the two apart; the model's save() and delete() refuse both there too."""

from django.db import migrations

POSTGRES_FORWARD = """
CREATE OR REPLACE FUNCTION vigil_audit_append_only() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION 'backend_auditrecord is append-only (% refused)', TG_OP;
END;
$$ LANGUAGE plpgsql;
CREATE TRIGGER backend_auditrecord_append_only
    BEFORE UPDATE OR DELETE ON backend_auditrecord
    FOR EACH ROW EXECUTE FUNCTION vigil_audit_append_only();
"""
POSTGRES_REVERSE = """
DROP TRIGGER IF EXISTS backend_auditrecord_append_only ON backend_auditrecord;
DROP FUNCTION IF EXISTS vigil_audit_append_only();
"""
SQLITE_FORWARD = [
    """CREATE TRIGGER backend_auditrecord_no_update BEFORE UPDATE ON backend_auditrecord
       BEGIN SELECT RAISE(ABORT, 'backend_auditrecord is append-only (UPDATE refused)'); END;""",
]
SQLITE_REVERSE = [
    "DROP TRIGGER IF EXISTS backend_auditrecord_no_update;",
]


def forward(apps, schema_editor):
    vendor = schema_editor.connection.vendor
    if vendor == "postgresql":
        schema_editor.execute(POSTGRES_FORWARD, params=None)
    elif vendor == "sqlite":
        for statement in SQLITE_FORWARD:
            schema_editor.execute(statement)


def reverse(apps, schema_editor):
    vendor = schema_editor.connection.vendor
    if vendor == "postgresql":
        schema_editor.execute(POSTGRES_REVERSE, params=None)
    elif vendor == "sqlite":
        for statement in SQLITE_REVERSE:
            schema_editor.execute(statement)


class Migration(migrations.Migration):
    dependencies = [("backend", "0001_initial")]

    operations = [migrations.RunPython(forward, reverse)]
