"""The full-text index of the database backend, for the database in use.

PostgreSQL: GIN indexes on `search_vector` and `title_vector`, and the vectors kept in
the row while the text goes to TOAST. SQLite: an FTS5 table over the two segmented
columns, with its content read from `search_entry` and kept in step by triggers. Where the
SQLite build lacks FTS5 nothing is made and the backend falls back to LIKE over the terms."""

from django.db import migrations

PG_FORWARD = [
    "CREATE INDEX search_entry_vector ON search_entry USING gin (search_vector)",
    "CREATE INDEX search_entry_title_vector ON search_entry USING gin (title_vector)",
    # Searching reads an entry's vectors, never its text: keep the vectors in the row and
    # send the text columns to TOAST, so a row is a third of its size and a search that
    # walks the newest matches reads a third of the pages.
    "ALTER TABLE search_entry SET (toast_tuple_target = 128)",
    "ALTER TABLE search_entry ALTER COLUMN search_vector SET STORAGE MAIN, "
    "ALTER COLUMN title_vector SET STORAGE MAIN",
]
PG_BACKWARD = [
    "ALTER TABLE search_entry RESET (toast_tuple_target)",
    "DROP INDEX IF EXISTS search_entry_vector",
    "DROP INDEX IF EXISTS search_entry_title_vector",
]

SQLITE_FORWARD = [
    """CREATE VIRTUAL TABLE search_entry_fts USING fts5(
        title_terms, body_terms, content='search_entry', content_rowid='id'
    )""",
    """CREATE TRIGGER search_entry_fts_insert AFTER INSERT ON search_entry BEGIN
        INSERT INTO search_entry_fts(rowid, title_terms, body_terms)
        VALUES (new.id, new.title_terms, new.body_terms);
    END""",
    """CREATE TRIGGER search_entry_fts_delete AFTER DELETE ON search_entry BEGIN
        INSERT INTO search_entry_fts(search_entry_fts, rowid, title_terms, body_terms)
        VALUES ('delete', old.id, old.title_terms, old.body_terms);
    END""",
    """CREATE TRIGGER search_entry_fts_update AFTER UPDATE ON search_entry BEGIN
        INSERT INTO search_entry_fts(search_entry_fts, rowid, title_terms, body_terms)
        VALUES ('delete', old.id, old.title_terms, old.body_terms);
        INSERT INTO search_entry_fts(rowid, title_terms, body_terms)
        VALUES (new.id, new.title_terms, new.body_terms);
    END""",
    # Rows written before this migration (none on a fresh database).
    "INSERT INTO search_entry_fts(search_entry_fts) VALUES ('rebuild')",
]
SQLITE_BACKWARD = [
    "DROP TRIGGER IF EXISTS search_entry_fts_insert",
    "DROP TRIGGER IF EXISTS search_entry_fts_delete",
    "DROP TRIGGER IF EXISTS search_entry_fts_update",
    "DROP TABLE IF EXISTS search_entry_fts",
]


def _sqlite_has_fts5(cursor) -> bool:
    cursor.execute("SELECT sqlite_compileoption_used('ENABLE_FTS5')")
    if cursor.fetchone()[0]:
        return True
    try:
        cursor.execute("CREATE VIRTUAL TABLE temp._fts5_probe USING fts5(x)")
        cursor.execute("DROP TABLE temp._fts5_probe")
    except Exception:  # noqa: BLE001 - any refusal means this build has no FTS5
        return False
    return True


def forward(apps, schema_editor):
    vendor = schema_editor.connection.vendor
    with schema_editor.connection.cursor() as cursor:
        if vendor == "postgresql":
            statements = PG_FORWARD
        elif vendor == "sqlite" and _sqlite_has_fts5(cursor):
            statements = SQLITE_FORWARD
        else:
            statements = []
        for sql in statements:
            cursor.execute(sql)


def backward(apps, schema_editor):
    vendor = schema_editor.connection.vendor
    statements = {"postgresql": PG_BACKWARD, "sqlite": SQLITE_BACKWARD}.get(vendor, [])
    with schema_editor.connection.cursor() as cursor:
        for sql in statements:
            cursor.execute(sql)


class Migration(migrations.Migration):
    dependencies = [("site_search", "0001_entries_and_outbox")]

    operations = [migrations.RunPython(forward, backward)]
