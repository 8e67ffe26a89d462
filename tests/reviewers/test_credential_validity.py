"""Credential validity is one rule: the model method, the query and the queue's SQL agree."""

from __future__ import annotations

from datetime import timedelta

from django.utils import timezone

from reviewers.capacity import valid_credentials
from reviewers.models import Credential, ReviewerProfile
from reviewers.services.pool import credentials_valid
from tests import factories


def test_credential_validity_model_query_and_sql_agree(db):
    now = timezone.now()
    ok = factories.profile("ok", prefixes=("a", "b"))
    Credential.objects.filter(reviewer=ok, domain_prefix="b").update(paused=True)
    expired = factories.profile("expired", prefixes=("a",))
    Credential.objects.filter(reviewer=expired).update(expires_at=now - timedelta(minutes=1))
    forever = factories.profile("forever", prefixes=("a",), expires_in_days=None)
    suspended = factories.profile("suspended", prefixes=("a",), status=ReviewerProfile.Status.SUSPENDED)
    everyone = [ok, expired, forever, suspended]
    by_model = {c.pk for c in Credential.objects.select_related("reviewer") if c.is_valid(now)}
    by_query = set(valid_credentials().values_list("pk", flat=True))
    by_sql = {c.pk for r in everyone for c in credentials_valid(r, now)}
    expected = set(Credential.objects.filter(reviewer__in=[ok, forever], paused=False).values_list("pk", flat=True))
    assert len(expected) == 2
    assert by_model == by_query == by_sql == expected
