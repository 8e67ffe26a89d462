"""Invitations and password reset by e-mail: a reviewer made by a roster import (or invited by an
admin) gets a set-password link; anyone may ask for a reset link at the login page."""

from __future__ import annotations

import re

import pytest
from django.contrib.auth.models import User
from django.core import mail
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client

from tests import factories
from tests.reviewers.test_roster import HEADER

pytestmark = pytest.mark.django_db
LINK = re.compile(r"http://testserver(/accounts/reset/[^/\s]+/[^/\s]+/)")


def _admin(admin_user) -> Client:
    c = Client()
    c.force_login(admin_user)
    return c


def _set_password_through(link: str, password: str) -> Client:
    c = Client()
    form = c.get(link, follow=True)  # Django swaps the token for a session key, then shows the form
    assert form.status_code == 200 and 'name="new_password1"' in form.content.decode()
    done = c.post(form.redirect_chain[-1][0], {"new_password1": password, "new_password2": password})
    assert done.status_code == 302 and done["Location"] == "/accounts/reset/done/"
    return c


def test_roster_import_invites_new_reviewers_who_then_set_a_password(admin_user, django_capture_on_commit_callbacks):
    text = HEADER + ("ana,Ana,ana@x.example,en,50,active,UTC,medicine,expert,,2030-01-01\n"
                     "bo,Bo,,en,50,active,UTC,medicine,expert,,2030-01-01\n")
    with django_capture_on_commit_callbacks(execute=True):  # invitations go out once the import commits
        resp = _admin(admin_user).post("/review/roster/", {"file": SimpleUploadedFile("r.csv", text.encode())})
    assert resp.status_code == 302
    assert [m.to for m in mail.outbox] == [["ana@x.example"]]  # bo has no address
    assert not User.objects.get(username="ana").has_usable_password()
    link = LINK.search(mail.outbox[0].body).group(1)
    _set_password_through(link, "a-long-passphrase-42")
    assert Client().login(username="ana", password="a-long-passphrase-42")
    assert Client().get(link, follow=True).context["validlink"] is False  # used once


def test_reimport_sends_no_second_invitation(admin_user, django_capture_on_commit_callbacks):
    text = HEADER + "ana,Ana,ana@x.example,en,50,active,UTC,medicine,expert,,2030-01-01\n"
    for _ in range(2):
        with django_capture_on_commit_callbacks(execute=True):
            _admin(admin_user).post("/review/roster/", {"file": SimpleUploadedFile("r.csv", text.encode())})
    assert len(mail.outbox) == 1


def test_admin_action_invites_selected_reviewers(admin_user):
    p = factories.profile("cy")
    p.user.email = "cy@x.example"
    p.user.save()
    # The action asks first (hybridqc/admin_actions.py): "post": "yes" is its "Yes, I'm sure".
    resp = _admin(admin_user).post("/admin/reviewers/reviewerprofile/",
                                   {"action": "invite", "_selected_action": [p.pk], "post": "yes"}, follow=True)
    assert "Sent 1 invitation." in resp.content.decode()
    assert mail.outbox[0].to == ["cy@x.example"] and LINK.search(mail.outbox[0].body)


def test_password_reset_by_email_reaches_an_account_without_password(db):
    user = User.objects.create(username="dee", email="Dee@x.example")
    user.set_unusable_password()
    user.save()
    resp = Client().post("/accounts/password_reset/", {"email": "dee@x.example"})
    assert resp.status_code == 302 and resp["Location"] == "/accounts/password_reset/done/"
    assert len(mail.outbox) == 1 and mail.outbox[0].subject == "Reset your HybridQC password"
    _set_password_through(LINK.search(mail.outbox[0].body).group(1), "another-long-pass-7")
    assert Client().login(username="dee", password="another-long-pass-7")


def test_password_reset_for_unknown_address_sends_nothing_and_says_the_same(db):
    resp = Client().post("/accounts/password_reset/", {"email": "nobody@x.example"})
    assert resp.status_code == 302 and resp["Location"] == "/accounts/password_reset/done/"
    assert mail.outbox == []
