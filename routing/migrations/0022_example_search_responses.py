"""The item search covers the responses too: ``ExampleSearch.responses`` holds an example's response
texts (``routing_responses_text``: the JSON list's strings, one per line) under its own trigram GIN
index on UPPER(responses), so a search for prompt OR response text is a BitmapOr of the two indexes.

The copy trigger follows a changed response as it follows a changed prompt: a row trigger on the two
columns only, with a WHEN on the change, so the review path's updates (the reviewed reference) never run it.

Existing rows are filled here, in one UPDATE, before the new index exists (an UPDATE under a GIN
index would make every row's trigrams twice); the batches stay marked, since their rows are whole
again when this commits. SQLite (the demo) has no index: its search scans."""

from django.db import migrations, models

# One rule for a response list as text, used by the copy (routing.batches.search), the trigger, this
# backfill and the scan of unindexed batches (routing.batches.selectors.ResponsesText). A non-list
# (never imported: the import rules require a list) reads as no text rather than failing the copy.
RESPONSES_FUNCTION = r"""
CREATE OR REPLACE FUNCTION routing_responses_text(r jsonb) RETURNS text LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT CASE WHEN jsonb_typeof(r) = 'array'
        THEN coalesce((SELECT string_agg(x, E'\n') FROM jsonb_array_elements_text(r) AS x), '') ELSE '' END
$$;
"""
SYNC_FUNCTION = """
CREATE OR REPLACE FUNCTION routing_example_search_prompt() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE routing_examplesearch SET prompt = NEW.prompt, responses = routing_responses_text(NEW.responses)
    WHERE example_id = NEW.id;
    RETURN NULL;
END $$;
"""
OLD_SYNC_FUNCTION = """
CREATE OR REPLACE FUNCTION routing_example_search_prompt() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE routing_examplesearch SET prompt = NEW.prompt WHERE example_id = NEW.id;
    RETURN NULL;
END $$;
"""
TRIGGER = ("CREATE TRIGGER routing_example_search_upd AFTER UPDATE OF prompt, responses ON routing_example "
           "FOR EACH ROW WHEN (OLD.prompt IS DISTINCT FROM NEW.prompt OR OLD.responses IS DISTINCT FROM NEW.responses) "
           "EXECUTE FUNCTION routing_example_search_prompt()")
OLD_TRIGGER = ("CREATE TRIGGER routing_example_search_upd AFTER UPDATE OF prompt ON routing_example FOR EACH ROW "
               "WHEN (OLD.prompt IS DISTINCT FROM NEW.prompt) EXECUTE FUNCTION routing_example_search_prompt()")
BACKFILL = ("UPDATE routing_examplesearch s SET responses = routing_responses_text(e.responses) "
            "FROM routing_example e WHERE e.id = s.example_id")
INDEX = ("CREATE INDEX routing_examplesearch_responses_trgm ON routing_examplesearch "
         "USING gin (UPPER(responses) gin_trgm_ops)")
DROP_TRIGGER = "DROP TRIGGER IF EXISTS routing_example_search_upd ON routing_example"


def _responses_sql_create(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    for sql in (RESPONSES_FUNCTION, SYNC_FUNCTION, DROP_TRIGGER, TRIGGER, BACKFILL, INDEX):
        schema_editor.execute(sql)


def _responses_sql_drop(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    for sql in ("DROP INDEX IF EXISTS routing_examplesearch_responses_trgm", DROP_TRIGGER, OLD_TRIGGER,
                OLD_SYNC_FUNCTION, "DROP FUNCTION IF EXISTS routing_responses_text(jsonb)"):
        schema_editor.execute(sql)


class Migration(migrations.Migration):

    dependencies = [
        ("routing", "0021_example_search"),
    ]

    operations = [
        migrations.AddField(
            model_name="examplesearch",
            name="responses",
            field=models.TextField(default=""),
            preserve_default=False,
        ),
        migrations.RunPython(_responses_sql_create, _responses_sql_drop),
    ]
