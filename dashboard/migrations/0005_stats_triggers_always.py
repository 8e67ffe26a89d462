"""The batch-figure triggers fire whatever the session's replication role.

The COPY import loads with ``session_replication_role = replica`` where the role may set it, which
skips the per-row foreign-key triggers (routing.ingest.ingest_copy); triggers left at the default
(ENABLE ORIGIN) would be skipped too, and an import would then leave its batch's figures stale."""

from django.db import migrations

# 0002_scale_batch_stats.FIGURE_TABLES: the tables whose changes invalidate a batch's figures.
FIGURE_TABLES = ("routing_example", "routing_routingdecision", "reviewers_reviewtask", "reviewers_humanlabel")
SUFFIXES = ("ins", "upd", "del")


def _triggers_mode(mode: str):
    def run(apps, schema_editor):
        if schema_editor.connection.vendor != "postgresql":
            return
        for table in FIGURE_TABLES:
            for suffix in SUFFIXES:
                schema_editor.execute(f"ALTER TABLE {table} ENABLE {mode} TRIGGER {table}_stats_invalidate_{suffix}")

    return run


class Migration(migrations.Migration):

    dependencies = [
        ("dashboard", "0004_export_jobs"),
    ]

    operations = [
        migrations.RunPython(_triggers_mode("ALWAYS"), _triggers_mode("")),
    ]
