"""The item search's own table of prompts (``ExampleSearch``) under a trigram GIN index, the batches
it covers whole (``SearchIndexedBatch``), and, on PostgreSQL, the triggers that keep the two honest.

The index is not on ``routing_example.prompt`` itself: a trigram GIN index there costs an import of
100k items about 9 s more even with fastupdate and a large pending list (and about 77 s without
fastupdate), since every prompt's trigrams are made inside the import's transaction. Here a
housekeeping task copies a batch's prompts after the import commits (``routing.batches.search``).

Triggers (the insert one at statement level, with a transition table: one query per statement, COPY included):
- an insert into ``routing_example`` deletes its batches' ``SearchIndexedBatch`` rows, so the search
  scans those batches until the task has copied the new prompts; it takes a shared advisory lock per
  batch until commit, and the task marks a batch only under the exclusive one, so it never marks a
  batch whose insert it could not see yet;
- an update that changes a prompt writes the new prompt into the search row: a row trigger on the
  prompt column only, with a WHEN on the change, so the updates the review path makes (the
  reviewed reference, on every submit) never run it.
SQLite (the demo) has neither: its search scans the prompts."""

import django.db.models.deletion
from django.db import migrations, models

# routing.batches.search.SEARCH_LOCK_NAMESPACE: the same advisory lock space.
LOCK_NAMESPACE = 74202

FUNCTION = f"""
CREATE OR REPLACE FUNCTION routing_example_search_sync() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE ids bigint[];
BEGIN
    SELECT array_agg(DISTINCT batch_id) INTO ids FROM new_rows;
    IF ids IS NOT NULL THEN
        PERFORM pg_advisory_xact_lock_shared({LOCK_NAMESPACE}, b::int) FROM unnest(ids) AS b ORDER BY b;
        DELETE FROM routing_searchindexedbatch WHERE batch_id = ANY(ids);
    END IF;
    RETURN NULL;
END $$;
CREATE OR REPLACE FUNCTION routing_example_search_prompt() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE routing_examplesearch SET prompt = NEW.prompt WHERE example_id = NEW.id;
    RETURN NULL;
END $$;
"""
TRIGGERS = [
    "CREATE TRIGGER routing_example_search_ins AFTER INSERT ON routing_example REFERENCING NEW TABLE AS new_rows "
    "FOR EACH STATEMENT EXECUTE FUNCTION routing_example_search_sync()",
    "CREATE TRIGGER routing_example_search_upd AFTER UPDATE OF prompt ON routing_example FOR EACH ROW "
    "WHEN (OLD.prompt IS DISTINCT FROM NEW.prompt) EXECUTE FUNCTION routing_example_search_prompt()",
]
# On UPPER(prompt): the expression Django's icontains compares on PostgreSQL, so the ORM's own
# lookup (routing.batches.selectors.text_contains_q) is answered by the index.
INDEX = ("CREATE INDEX routing_examplesearch_prompt_trgm ON routing_examplesearch "
         "USING gin (UPPER(prompt) gin_trgm_ops)")


def _search_sql_create(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    # A trusted extension since PostgreSQL 13: the database's owner may create it.
    schema_editor.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
    schema_editor.execute(INDEX)
    schema_editor.execute(FUNCTION)
    for sql in TRIGGERS:
        schema_editor.execute(sql)


def _search_sql_drop(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    for suffix in ("ins", "upd"):
        schema_editor.execute(f"DROP TRIGGER IF EXISTS routing_example_search_{suffix} ON routing_example")
    schema_editor.execute("DROP FUNCTION IF EXISTS routing_example_search_sync()")
    schema_editor.execute("DROP FUNCTION IF EXISTS routing_example_search_prompt()")
    schema_editor.execute("DROP INDEX IF EXISTS routing_examplesearch_prompt_trgm")


class Migration(migrations.Migration):

    dependencies = [
        ("routing", "0020_router_unseen_choice"),
    ]

    operations = [
        migrations.CreateModel(
            name="ExampleSearch",
            fields=[
                ("example", models.OneToOneField(on_delete=django.db.models.deletion.CASCADE, primary_key=True,
                                                 related_name="+", serialize=False, to="routing.example")),
                ("prompt", models.TextField()),
            ],
        ),
        migrations.CreateModel(
            name="SearchIndexedBatch",
            fields=[
                ("batch", models.OneToOneField(on_delete=django.db.models.deletion.CASCADE, primary_key=True,
                                               related_name="+", serialize=False, to="routing.batch")),
                ("indexed_at", models.DateTimeField(auto_now=True)),
            ],
        ),
        migrations.RunPython(_search_sql_create, _search_sql_drop),
    ]
