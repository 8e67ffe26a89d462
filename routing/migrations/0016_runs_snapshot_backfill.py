"""Make the current decisions of batches routed before runs stored their decisions restorable.

A batch's latest run recorded before 0013 has an empty snapshot: its decisions are the batch's
current ones, so they fill it. A batch routed before runs were recorded at all gets one run built
from its decisions (the batch's mode and settings, the decisions' router and counts), and its
decisions point at it. Either way a later re-route can be reverted to them. The snapshot, settings
and counts come from routing.decisions.snapshots, the functions a live routing uses."""

from collections import Counter

from django.db import migrations

from routing.decisions.snapshots import decision_snapshot, learned_version, run_counts, run_settings


def _run_create(apps, batch, decisions):
    RoutingRun = apps.get_model("routing", "RoutingRun")
    # The version most of the decisions name: a batch routed in one go has one.
    version = Counter(d.router_version for d in decisions).most_common(1)[0][0]
    number = learned_version(version)
    model = apps.get_model("routing", "RouterModel").objects.filter(version=number).first() if number else None
    run = RoutingRun.objects.create(
        batch=batch, mode=batch.routing_mode, router_version=version, router_model=model,
        settings=run_settings(batch), snapshot=[decision_snapshot(d) for d in decisions], **run_counts(decisions))
    # Dated when its decisions were last written, not when this migration ran.
    RoutingRun.objects.filter(pk=run.pk).update(created_at=max(d.created_at for d in decisions))
    apps.get_model("routing", "RoutingDecision").objects.filter(
        pk__in=[d.pk for d in decisions], run__isnull=True).update(run=run)


def _batch_backfill(apps, batch):
    decisions = list(apps.get_model("routing", "RoutingDecision").objects.filter(example__batch=batch)
                     .order_by("example_id"))
    latest = apps.get_model("routing", "RoutingRun").objects.filter(batch=batch).order_by("-created_at", "-id").first()
    if latest is None:
        _run_create(apps, batch, decisions)
    elif not latest.snapshot:
        latest.snapshot = [decision_snapshot(d) for d in decisions]
        latest.save(update_fields=["snapshot"])


def runs_snapshot_backfill(apps, schema_editor):
    routed = apps.get_model("routing", "Batch").objects.filter(examples__decision__isnull=False).distinct()
    for batch in routed.order_by("pk"):
        _batch_backfill(apps, batch)


class Migration(migrations.Migration):

    dependencies = [
        ('routing', '0015_ingest2_redundant_indexes'),
    ]

    # Backwards: nothing to undo; a filled snapshot is what the run would have stored.
    operations = [
        migrations.RunPython(runs_snapshot_backfill, migrations.RunPython.noop, elidable=True),
    ]
