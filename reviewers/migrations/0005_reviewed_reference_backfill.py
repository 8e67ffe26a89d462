from django.db import migrations

from reviewers.references import references_of

CHUNK = 2000


def references_fill(apps, schema_editor):
    # The one rule (``label_reference`` through ``references_of``) only reads attributes, so it runs
    # on the historical models as it does on the app's; the service's lock is not needed here.
    Example = apps.get_model("routing", "Example")
    HumanLabel = apps.get_model("reviewers", "HumanLabel")
    reviewed = (HumanLabel.objects.filter(source="review").order_by("example_id")
                .values_list("example_id", flat=True).distinct())
    ids = list(reviewed)
    for start in range(0, len(ids), CHUNK):
        chunk = ids[start:start + CHUNK]
        tasks = dict(Example.objects.filter(pk__in=chunk).values_list("pk", "task"))
        labels = (HumanLabel.objects.filter(example_id__in=chunk, source="review").select_related("task")
                  .order_by("example_id", "created_at", "id"))
        found = references_of(labels, tasks)
        rows = [Example(pk=pk, reviewed_reference=found.get(pk)) for pk in tasks]
        Example.objects.bulk_update(rows, ["reviewed_reference"], batch_size=CHUNK)


class Migration(migrations.Migration):

    dependencies = [
        ("reviewers", "0004_ops_public_id"),
        ("routing", "0019_example_reviewed_reference"),
    ]

    operations = [
        migrations.RunPython(references_fill, migrations.RunPython.noop),
    ]
