import secrets

from django.db import migrations, models

import reviewers.models


def fill_public_ids(apps, schema_editor):
    # AddField would give every existing row the same default: draw one per row instead.
    ReviewTask = apps.get_model("reviewers", "ReviewTask")
    for task in ReviewTask.objects.filter(public_id__isnull=True).only("pk").iterator():
        ReviewTask.objects.filter(pk=task.pk).update(public_id=secrets.token_urlsafe(9))


class Migration(migrations.Migration):

    dependencies = [
        ("reviewers", "0003_queue_index"),
    ]

    operations = [
        migrations.AddField(
            model_name="reviewtask",
            name="public_id",
            field=models.CharField(editable=False, max_length=16, null=True),
        ),
        migrations.RunPython(fill_public_ids, migrations.RunPython.noop),
        migrations.AlterField(
            model_name="reviewtask",
            name="public_id",
            field=models.CharField(default=reviewers.models.public_id_new, editable=False, max_length=16,
                                   unique=True),
        ),
    ]
