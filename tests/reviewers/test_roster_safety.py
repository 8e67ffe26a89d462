"""The roster CSV never touches accounts of other roles, bounds capacity and exports text a
spreadsheet will not run as a formula."""

from __future__ import annotations

import csv
import io

import pytest
from django.contrib.auth.models import User
from django.test import Client

from reviewers.models import ReviewerProfile
from reviewers.services import ReviewError, roster_csv_export, roster_csv_import
from reviewers.services.roster import csv_safe
from tests import factories
from tests.factories import profile

pytestmark = pytest.mark.django_db
HEADER = (
    "username,display_name,email,languages,capacity_per_day,status,timezone,domain_prefix,level,evidence,expires_at\n"
)


@pytest.mark.parametrize("make", [factories.lead, factories.admin])
def test_roster_import_naming_a_lead_or_admin_is_refused_and_changes_nothing(make, admin_user):
    other = make("boss") if make is factories.lead else make("root")
    other.email = "boss@corp.example"
    other.save()
    text = HEADER + (f"ana,Ana,ana@x.example,en,50,active,UTC,test,expert,,\n"
                     f"{other.username},Boss,evil@x.example,en,50,active,UTC,test,expert,,\n")
    with pytest.raises(ReviewError) as caught:
        roster_csv_import(text=text, verified_by=admin_user)
    assert caught.value.message == (
        f"Nothing was imported. row 3, column username: '{other.username}' is the account of a lead or admin: "
        "the roster import only creates or updates reviewers")
    other.refresh_from_db()
    assert other.email == "boss@corp.example"
    assert not ReviewerProfile.objects.filter(user__username__in=["ana", other.username]).exists()


def test_roster_import_updates_an_existing_reviewer(admin_user):
    profile("rv", prefixes=("test",))
    text = HEADER + "rv,Reviewer V,rv@x.example,en,40,active,UTC,test,expert,,\n"
    assert roster_csv_import(text=text, verified_by=admin_user) == 1
    assert ReviewerProfile.objects.get(user__username="rv").capacity_per_day == 40


@pytest.mark.parametrize("capacity", ["1001", "99999999999"])
def test_roster_import_caps_capacity(capacity, admin_user, settings):
    settings.ROSTER_MAX_CAPACITY_PER_DAY = 1000
    text = HEADER + f"ana,Ana,,en,{capacity},active,UTC,test,expert,,\n"
    with pytest.raises(ReviewError) as caught:
        roster_csv_import(text=text, verified_by=admin_user)
    assert caught.value.message == (
        f"Nothing was imported. row 2, column capacity_per_day: must be at most 1000 items per day, got '{capacity}'")
    assert not User.objects.filter(username="ana").exists()


@pytest.mark.parametrize(
    ("cell", "safe"),
    [("=HYPERLINK(\"x\")", "'=HYPERLINK(\"x\")"), ("+1", "'+1"), ("-2", "'-2"), ("@SUM(A1)", "'@SUM(A1)"),
     ("\tx", "'\tx"), ("\rx", "'\rx"), ("Ana", "Ana"), (50, 50)],
)
def test_csv_safe_quotes_formula_cells(cell, safe):
    assert csv_safe(cell) == safe


def test_roster_export_quotes_formulas_and_reimports_unchanged(admin_user):
    text = HEADER + "ana,=cmd|' /C calc'!A0,ana@x.example,en,50,active,UTC,test,expert,@evidence,\n"
    roster_csv_import(text=text, verified_by=admin_user)
    rows = list(csv.DictReader(io.StringIO(roster_csv_export())))
    assert (rows[0]["display_name"], rows[0]["evidence"]) == ("'=cmd|' /C calc'!A0", "'@evidence")
    roster_csv_import(text=roster_csv_export(), verified_by=admin_user)
    assert ReviewerProfile.objects.get(user__username="ana").display_name == "=cmd|' /C calc'!A0"


def test_roster_export_header_is_built_by_django(admin_user):
    c = Client()
    c.force_login(admin_user)
    assert c.get("/review/roster/export.csv").headers["Content-Disposition"] == 'attachment; filename="roster.csv"'
