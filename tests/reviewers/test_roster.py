"""The roster page: CSV import (all or nothing) and export, expiring credentials, admin only."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.contrib.auth.models import User
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.utils import timezone

from reviewers.models import Credential, Notification, ReviewerProfile, ReviewTask
from reviewers.services import ReviewError, roster_csv_export, roster_csv_import
from tests import factories
from tests.factories import make_tasks, profile

pytestmark = pytest.mark.django_db

HEADER = (
    "username,display_name,email,languages,capacity_per_day,status,timezone,domain_prefix,level,evidence,expires_at\n"
)


def _admin_client() -> Client:
    c = Client()
    assert c.login(username="admin", password=factories.PASSWORD)
    return c


def _upload(c: Client, text: str):
    return c.post("/review/roster/", {"file": SimpleUploadedFile("roster.csv", text.encode(), "text/csv")})


def test_roster_csv_import_bad_row_names_row_and_column_and_writes_nothing(admin_user):
    text = HEADER + (
        "ana,Ana,ana@x.example,en,50,active,UTC,medicine,expert,board cert,2030-01-01\n"
        "bo,Bo,,en,lots,active,UTC,mtbench/coding,practitioner,,2030-01-01\n"
        "cy,Cy,,en,10,active,UTC,mtbench,wizard,,\n"
    )
    resp = _upload(_admin_client(), text)
    body = resp.content.decode()
    assert resp.status_code == 422
    assert ('<tr><td class="num">3</td><td>capacity_per_day</td><td>must be a whole number, '
            "got &#x27;lots&#x27;</td></tr>") in body
    assert ('<tr><td class="num">4</td><td>level</td><td>must be one of practitioner, expert, adjudicator, '
            "got &#x27;wizard&#x27;</td></tr>") in body
    assert ReviewerProfile.objects.count() == 0
    assert not User.objects.filter(username="ana").exists()


def test_roster_csv_import_creates_reviewers_and_staffs_waiting_tasks(admin_user):
    tasks = make_tasks(2)
    assert {t.status for t in tasks} == {"unstaffed"}
    text = HEADER + (
        'ana,Ana,ana@x.example,"en,de",50,active,Europe/Berlin,test,expert,board cert,2030-01-01\n'
        'ana,Ana,ana@x.example,"en,de",50,active,Europe/Berlin,medicine,practitioner,,\n'
    )
    resp = _upload(_admin_client(), text)
    assert resp.status_code == 302
    p = ReviewerProfile.objects.get(user__username="ana")
    assert (p.capacity_per_day, p.languages, p.timezone) == (50, "en,de", "Europe/Berlin")
    assert p.user.groups.filter(name="reviewer").exists()
    creds = {c.domain_prefix: c for c in p.credentials.all()}
    assert set(creds) == {"test", "medicine"}
    assert creds["test"].level == "expert"
    assert creds["test"].verified_by.username == "admin"
    assert creds["medicine"].expires_at is None
    assert set(ReviewTask.objects.values_list("status", "assignee_id")) == {("open", p.pk)}


def test_roster_csv_roundtrip(admin_user):
    profile("ana", prefixes=("medicine", "mtbench/coding"), level="expert")
    exported = roster_csv_export()
    lines = exported.strip().splitlines()
    assert lines[0] == HEADER.strip()
    assert len(lines) == 3
    assert lines[1].startswith("ana,Ana,,,100,active,UTC,medicine,expert,,")
    Credential.objects.all().delete()
    assert roster_csv_import(text=exported, verified_by=admin_user) == 2
    assert Credential.objects.count() == 2


def test_roster_csv_missing_column():
    with pytest.raises(ReviewError, match="lacks the column"):
        roster_csv_import(text="username,level\nx,expert\n", verified_by=None)


def test_roster_page_lists_expiring_credentials_and_needs_admin(admin_user, lead_user):
    p = profile("soon", prefixes=("medicine",), expires_in_days=10)
    Credential.objects.create(reviewer=p, domain_prefix="law", expires_at=timezone.now() + timedelta(days=90))
    page = _admin_client().get("/review/roster/").content.decode()
    expiring = page.split('id="expiring"')[1].split("</section>")[0]
    assert "medicine" in expiring
    assert "law" not in expiring
    lead = Client()
    lead.login(username="lead", password=factories.PASSWORD)
    assert lead.get("/review/roster/").status_code == 403
    assert lead.get("/review/roster/export.csv").status_code == 403
    assert lead.get("/review/unstaffed/").status_code == 403


def test_unstaffed_page_lists_tasks_nobody_may_take(admin_user):
    make_tasks(2, domain="medicine/cardio")
    page = _admin_client().get("/review/unstaffed/").content.decode()
    assert page.count("medicine/cardio") == 3  # by-domain row + two task rows
    assert ReviewTask.objects.filter(status="unstaffed", assignee__isnull=True).count() == 2


def test_admin_changelist_with_credential_inline(admin_user):
    p = profile("ana")
    c = _admin_client()
    assert c.get("/admin/reviewers/reviewerprofile/").status_code == 200
    page = c.get(f"/admin/reviewers/reviewerprofile/{p.pk}/change/")
    assert page.status_code == 200
    assert "credentials-0-domain_prefix" in page.content.decode()


def test_roster_csv_errors_come_back_in_place_as_a_table(admin_user):
    text = HEADER + "bo,Bo,,en,lots,active,UTC,mtbench/coding,practitioner,,2030-01-01\n"
    c = _admin_client()
    resp = c.post("/review/roster/", {"file": SimpleUploadedFile("roster.csv", text.encode(), "text/csv")},
                  HTTP_HX_REQUEST="true")
    body = resp.content.decode()
    assert resp.status_code == 422
    assert body.lstrip().startswith('<form method="post" enctype="multipart/form-data" class="import"')
    assert "<html" not in body and 'id="roster"' not in body
    assert body.count("<tr><td") == 1
    assert '<tr><td class="num">2</td><td>capacity_per_day</td>' in body


def test_unstaffed_notice_resolves_itself_after_the_import_that_staffs_the_domain(admin_user):
    make_tasks(2, domain="medicine/cardio")
    notice = Notification.objects.get(kind=Notification.Kind.UNSTAFFED)
    assert notice.resolved_at is None
    resp = _upload(_admin_client(), HEADER + "ana,Ana,,en,50,active,UTC,medicine,expert,,2030-01-01\n")
    assert resp.status_code == 302
    notice.refresh_from_db()
    assert notice.resolved_at is not None
    assert list(ReviewTask.objects.values_list("status", flat=True)) == ["open", "open"]
    assert 'id="notifications"' not in _admin_client().get("/review/roster/").content.decode()


def test_unstaffed_notice_stays_while_its_domain_is_unstaffed(admin_user):
    make_tasks(1, domain="medicine/cardio")
    make_tasks(1, name="b2", domain="law/tax")
    _upload(_admin_client(), HEADER + "ana,Ana,,en,50,active,UTC,medicine,expert,,2030-01-01\n")
    open_ = list(Notification.objects.filter(resolved_at__isnull=True).values_list("message", flat=True))
    assert open_ == ["Tasks in domain law/tax have no reviewer with a matching credential."]
