"""The item search's triggers fire whatever the session's replication role.

The COPY import loads with ``session_replication_role = replica`` where the role may set it, which
skips the per-row foreign-key triggers (routing.ingest.ingest_copy); triggers left at the default
(ENABLE ORIGIN) would be skipped too, and the search would then take an imported batch as indexed."""

from django.db import migrations

TRIGGERS = ("routing_example_search_ins", "routing_example_search_upd")


def _triggers_mode(mode: str):
    def run(apps, schema_editor):
        if schema_editor.connection.vendor != "postgresql":
            return
        for name in TRIGGERS:
            schema_editor.execute(f"ALTER TABLE routing_example ENABLE {mode} TRIGGER {name}")

    return run


class Migration(migrations.Migration):

    dependencies = [
        ("routing", "0022_example_search_responses"),
    ]

    operations = [
        migrations.RunPython(_triggers_mode("ALWAYS"), _triggers_mode("")),
    ]
