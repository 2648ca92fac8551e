"""The database half of the ledger's rules on PostgreSQL.

- A deferred constraint trigger checks, at commit, that the postings of every transaction
  touched sum to zero and number at least two: whatever code path writes postings, an
  unbalanced transaction cannot commit.
- A trigger refuses any UPDATE or DELETE of a posting: the ledger is corrected only by
  reversing entries.
SQLite has neither; there the ledger service is the guarantee (and `ledger_check` audits)."""

from django.db import migrations

GUARDS = """
CREATE OR REPLACE FUNCTION charity_transaction_balanced() RETURNS trigger AS $$
DECLARE
  total numeric;
  lines integer;
BEGIN
  SELECT COALESCE(SUM(amount), 0), COUNT(*) INTO total, lines
    FROM charity_posting WHERE transaction_id = NEW.transaction_id;
  IF total <> 0 OR lines < 2 THEN
    RAISE EXCEPTION 'ledger transaction % is unbalanced (sum %, % lines)',
      NEW.transaction_id, total, lines USING ERRCODE = 'check_violation';
  END IF;
  RETURN NULL;
END;
$$ LANGUAGE plpgsql;

CREATE CONSTRAINT TRIGGER charity_posting_balanced
  AFTER INSERT ON charity_posting
  DEFERRABLE INITIALLY DEFERRED
  FOR EACH ROW EXECUTE FUNCTION charity_transaction_balanced();

CREATE OR REPLACE FUNCTION charity_posting_immutable() RETURNS trigger AS $$
BEGIN
  RAISE EXCEPTION 'ledger postings are never changed or deleted; reverse the transaction'
    USING ERRCODE = 'integrity_constraint_violation';
END;
$$ LANGUAGE plpgsql;

CREATE TRIGGER charity_posting_immutable
  BEFORE UPDATE OR DELETE ON charity_posting
  FOR EACH ROW EXECUTE FUNCTION charity_posting_immutable();
"""

DROP_GUARDS = """
DROP TRIGGER IF EXISTS charity_posting_immutable ON charity_posting;
DROP FUNCTION IF EXISTS charity_posting_immutable();
DROP TRIGGER IF EXISTS charity_posting_balanced ON charity_posting;
DROP FUNCTION IF EXISTS charity_transaction_balanced();
"""


def add_guards(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(GUARDS, params=None)


def drop_guards(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(DROP_GUARDS, params=None)


class Migration(migrations.Migration):
    dependencies = [("charity", "0002_ledger")]

    operations = [migrations.RunPython(add_guards, drop_guards)]
