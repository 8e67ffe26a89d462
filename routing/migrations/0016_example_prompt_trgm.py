"""The trigram index behind the item search's "prompt contains": pg_trgm and a GIN index on
UPPER(prompt), the expression Django's icontains compares on PostgreSQL. Both steps do nothing
on other databases (the SQLite demo has neither GIN nor pg_trgm; its search scans, as before)."""

import django.contrib.postgres.indexes
import django.db.models.functions.text
from django.contrib.postgres.operations import TrigramExtension
from django.db import migrations


class AddIndexOnPostgres(migrations.AddIndex):
    """AddIndex whose state change applies everywhere (the model declares the index) and whose
    SQL runs on PostgreSQL only."""

    def database_forwards(self, app_label, schema_editor, from_state, to_state):
        if schema_editor.connection.vendor == "postgresql":
            super().database_forwards(app_label, schema_editor, from_state, to_state)

    def database_backwards(self, app_label, schema_editor, from_state, to_state):
        if schema_editor.connection.vendor == "postgresql":
            super().database_backwards(app_label, schema_editor, from_state, to_state)


class Migration(migrations.Migration):

    dependencies = [
        ('routing', '0015_ingest2_redundant_indexes'),
    ]

    operations = [
        # Django's CreateExtension is already a no-op on other vendors.
        TrigramExtension(),
        AddIndexOnPostgres(
            model_name='example',
            index=django.contrib.postgres.indexes.GinIndex(django.contrib.postgres.indexes.OpClass(django.db.models.functions.text.Upper('prompt'), name='gin_trgm_ops'), name='example_prompt_trgm'),
        ),
    ]
