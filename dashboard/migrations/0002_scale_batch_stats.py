"""Per-batch figure cache and the PostgreSQL triggers that invalidate it.

Every statement that inserts, updates or deletes examples, routing decisions, review tasks or human
labels deletes the cached figures of the batches it touched, in the same transaction, whatever
code path ran it (services, bulk_create, queryset.update, raw SQL, COPY into the table). Statement
triggers with transition tables: one query per statement, not one per row, so bulk imports stay
fast. Each trigger also takes a shared advisory lock per batch until commit; dashboard/stats.py
caches a batch only under the exclusive lock, so it never stores figures a concurrent, not yet
committed write would make stale. SQLite (the demo) has no cache: figures are computed per page.
"""

from django.db import migrations, models

LOCK_NAMESPACE = 74201
FIGURE_TABLES = ["routing_example", "routing_routingdecision", "reviewers_reviewtask", "reviewers_humanlabel"]

FUNCTION = f"""
CREATE OR REPLACE FUNCTION dashboard_batch_stats_invalidate() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE ids bigint[];
BEGIN
    IF TG_TABLE_NAME = 'routing_example' THEN
        IF TG_OP = 'INSERT' THEN SELECT array_agg(DISTINCT batch_id) INTO ids FROM new_rows;
        ELSIF TG_OP = 'DELETE' THEN SELECT array_agg(DISTINCT batch_id) INTO ids FROM old_rows;
        ELSE SELECT array_agg(DISTINCT b) INTO ids FROM (
            SELECT batch_id AS b FROM new_rows UNION SELECT batch_id FROM old_rows) x;
        END IF;
    ELSE
        IF TG_OP = 'INSERT' THEN SELECT array_agg(DISTINCT e.batch_id) INTO ids FROM routing_example e
            WHERE e.id IN (SELECT example_id FROM new_rows);
        ELSIF TG_OP = 'DELETE' THEN SELECT array_agg(DISTINCT e.batch_id) INTO ids FROM routing_example e
            WHERE e.id IN (SELECT example_id FROM old_rows);
        ELSE SELECT array_agg(DISTINCT e.batch_id) INTO ids FROM routing_example e
            WHERE e.id IN (SELECT example_id FROM new_rows UNION SELECT example_id FROM old_rows);
        END IF;
    END IF;
    IF ids IS NOT NULL THEN
        PERFORM pg_advisory_xact_lock_shared({LOCK_NAMESPACE}, b::int) FROM unnest(ids) AS b ORDER BY b;
        DELETE FROM dashboard_batchstats WHERE batch_id = ANY(ids);
    END IF;
    RETURN NULL;
END $$;
"""


def _trigger_sql(table: str) -> list[str]:
    name = f"{table}_stats_invalidate"
    return [
        f"CREATE TRIGGER {name}_ins AFTER INSERT ON {table} REFERENCING NEW TABLE AS new_rows "
        f"FOR EACH STATEMENT EXECUTE FUNCTION dashboard_batch_stats_invalidate()",
        f"CREATE TRIGGER {name}_upd AFTER UPDATE ON {table} REFERENCING NEW TABLE AS new_rows OLD TABLE AS old_rows "
        f"FOR EACH STATEMENT EXECUTE FUNCTION dashboard_batch_stats_invalidate()",
        f"CREATE TRIGGER {name}_del AFTER DELETE ON {table} REFERENCING OLD TABLE AS old_rows "
        f"FOR EACH STATEMENT EXECUTE FUNCTION dashboard_batch_stats_invalidate()",
    ]


def _triggers_create(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute(FUNCTION)
    for table in FIGURE_TABLES:
        for sql in _trigger_sql(table):
            schema_editor.execute(sql)


def _triggers_drop(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    for table in FIGURE_TABLES:
        for suffix in ("ins", "upd", "del"):
            schema_editor.execute(f"DROP TRIGGER IF EXISTS {table}_stats_invalidate_{suffix} ON {table}")
    schema_editor.execute("DROP FUNCTION IF EXISTS dashboard_batch_stats_invalidate()")


class Migration(migrations.Migration):

    dependencies = [
        ("dashboard", "0001_api_tokens_webhooks"),
        ("routing", "0008_judge_config_permission"),
        ("reviewers", "0003_queue_index"),
    ]

    operations = [
        migrations.CreateModel(
            name="BatchStats",
            fields=[
                ("batch", models.OneToOneField(on_delete=models.deletion.CASCADE, primary_key=True, related_name="+",
                                               serialize=False, to="routing.batch")),
                ("figures", models.TextField()),
                ("domains", models.TextField()),
                ("computed_at", models.DateTimeField(auto_now=True)),
            ],
        ),
        # The decision table pages a batch in line order: an index walk, not a sort of the batch.
        migrations.RunSQL(
            "CREATE INDEX IF NOT EXISTS routing_example_batch_line_idx ON routing_example (batch_id, line_number, id)",
            "DROP INDEX IF EXISTS routing_example_batch_line_idx",
        ),
        migrations.RunPython(_triggers_create, _triggers_drop),
    ]
