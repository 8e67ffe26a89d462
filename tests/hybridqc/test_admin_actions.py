"""The admin's own bulk actions ask first, as Django's "delete selected" does: the first POST shows
the selected rows and a "Yes, I'm sure" button and changes nothing; only the second one acts."""

from __future__ import annotations

from datetime import timedelta

import pytest
from axes.models import AccessAttempt
from django.test import Client
from django.utils import timezone

from dashboard.models import ApiToken
from dashboard.tokens import api_token_create
from reviewers.models import Credential
from tests import factories

pytestmark = pytest.mark.django_db


def _admin() -> Client:
    client = Client()
    client.force_login(factories.admin())
    return client


def test_admin_revoke_tokens_asks_then_revokes(admin_user):
    tokens = [api_token_create(user=admin_user, name=f"t{i}").token for i in range(2)]
    client = Client()
    client.force_login(admin_user)
    form = {"action": "revoke", "_selected_action": [t.pk for t in tokens]}
    first = client.post("/admin/dashboard/apitoken/", form)
    page = first.content.decode()
    assert first.status_code == 200
    assert '<input type="hidden" name="post" value="yes">' in page
    assert "The selected api tokens (2)" in page
    assert ApiToken.objects.filter(revoked_at__isnull=False).count() == 0  # nothing yet
    assert client.post("/admin/dashboard/apitoken/", {**form, "post": "yes"}).status_code == 302
    assert ApiToken.objects.filter(revoked_at__isnull=False).count() == 2


def test_admin_unpause_credentials_asks_then_unpauses():
    user = factories.reviewer("paused-rev", prefixes=["a", "b"])
    Credential.objects.filter(reviewer__user=user).update(paused=True, paused_reason="gold")
    ids = list(Credential.objects.filter(reviewer__user=user).values_list("pk", flat=True))
    client = _admin()
    form = {"action": "unpause", "_selected_action": ids}
    page = client.post("/admin/reviewers/credential/", form).content.decode()
    assert "Unpause these credentials: their reviewers get tasks of these domains again." in page
    assert "The selected credentials (2)" in page
    assert Credential.objects.filter(pk__in=ids, paused=True).count() == 2
    client.post("/admin/reviewers/credential/", {**form, "post": "yes"})
    assert Credential.objects.filter(pk__in=ids, paused=True).count() == 0


def test_admin_invite_reviewers_asks_before_sending(mailoutbox):
    user = factories.reviewer("invitee")
    user.email = "invitee@example.org"
    user.save()
    client = _admin()
    form = {"action": "invite", "_selected_action": [user.reviewer.pk]}
    page = client.post("/admin/reviewers/reviewerprofile/", form).content.decode()
    assert "The selected reviewer profile (1)" in page
    assert mailoutbox == []
    client.post("/admin/reviewers/reviewerprofile/", {**form, "post": "yes"})
    assert [m.to for m in mailoutbox] == [["invitee@example.org"]]


def test_admin_axes_cleanup_asks_before_deleting_expired_attempts():
    client = _admin()  # first: a login itself cleans up expired attempts
    attempt = AccessAttempt.objects.create(username="x", ip_address="127.0.0.1", user_agent="u", failures_since_start=1,
                                           get_data="", post_data="", http_accept="", path_info="/")
    AccessAttempt.objects.filter(pk=attempt.pk).update(attempt_time=timezone.now() - timedelta(days=30))
    form = {"action": "cleanup_expired_attempts", "_selected_action": [attempt.pk]}
    page = client.post("/admin/axes/accessattempt/", form).content.decode()
    assert "Delete every expired login attempt (not only the selected ones)." in page
    assert AccessAttempt.objects.count() == 1
    client.post("/admin/axes/accessattempt/", {**form, "post": "yes"})
    assert AccessAttempt.objects.count() == 0
