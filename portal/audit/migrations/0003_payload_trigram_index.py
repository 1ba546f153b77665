"""On PostgreSQL, a trigram index for the review page's free-text payload filter.

Without it, a term that only old events contain means reading the whole table (0.7 s at a million events).
pg_trgm is a trusted extension (PostgreSQL 13+), so a database owner may create it; a role that may not
gets a notice and keeps the scan, rather than a failed deployment.
"""

from django.db import migrations

CREATE = """
DO $$
BEGIN
    CREATE EXTENSION IF NOT EXISTS pg_trgm;
EXCEPTION WHEN insufficient_privilege THEN
    RAISE NOTICE 'pg_trgm cannot be created by this role: the audit payload text filter stays a scan';
END $$;
DO $$
BEGIN
    IF EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'pg_trgm') THEN
        -- the expression Django writes for payload::text icontains
        CREATE INDEX IF NOT EXISTS audit_payload_trgm ON audit_auditevent USING gin (UPPER(payload::text) gin_trgm_ops);
    END IF;
END $$;
"""


def forwards(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(CREATE)


def backwards(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute("DROP INDEX IF EXISTS audit_payload_trgm")


class Migration(migrations.Migration):
    dependencies = [("audit", "0002_chain_head_and_append_only_triggers")]
    operations = [migrations.RunPython(forwards, backwards)]
