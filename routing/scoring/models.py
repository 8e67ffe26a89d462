"""The stored router versions."""

from __future__ import annotations

from django.db import models


class RouterModel(models.Model):
    """A trained routing model, stored as skops bytes, with its held-out metrics."""

    class Status(models.TextChoices):
        CANDIDATE = "candidate", "Candidate"  # trained, not yet compared with the active one
        ACTIVE = "active", "Active"
        RETIRED = "retired", "Retired"  # was active, replaced by another version
        REJECTED = "rejected", "Rejected"  # lost the comparison with the active one

    version = models.PositiveIntegerField(unique=True)
    created_at = models.DateTimeField(auto_now_add=True)
    blob = models.BinaryField()
    # The learned score without text features when it is the choice for sources without history
    # and the main score needs the text fit (``selection["unseen"]``).
    unseen_blob = models.BinaryField(null=True, blank=True)
    feature_spec = models.JSONField(default=dict)
    metrics = models.JSONField(default=dict)
    calibration = models.JSONField(default=dict, help_text="Threshold search and guarantee.")
    score_name = models.CharField(max_length=40, blank=True, default="",
                                  help_text="The candidate score the router certifies (chosen on training history).")
    selection = models.JSONField(default=dict, help_text="How the score was chosen: rule, candidates' figures.")
    n_train = models.PositiveIntegerField(default=0)
    n_calibration = models.PositiveIntegerField(default=0)
    n_labels_seen = models.PositiveIntegerField(default=0)
    is_active = models.BooleanField(default=False)
    status = models.CharField(max_length=10, choices=Status, default=Status.CANDIDATE)
    promotion = models.JSONField(default=dict, help_text="Comparison with the active version; who activated it, when.")

    class Meta:
        ordering = ["-version"]

    def __str__(self) -> str:
        return f"router v{self.version}"
