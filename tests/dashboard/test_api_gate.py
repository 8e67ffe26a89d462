"""The release gate for pipelines: HTTP 200/409 and `release_gate` exit codes 0/1/2, same reasons."""

import pytest
from django.core.management import call_command
from django.test import Client

from dashboard.tokens import api_token_create
from reviewers.models import ReviewTask


@pytest.fixture
def routed_batch(tied_batch):
    return tied_batch("gated", 3)


@pytest.fixture
def token(lead_user):
    return {"HTTP_AUTHORIZATION": f"Bearer {api_token_create(user=lead_user, name='ci', expires_in_days=1).secret}"}


def test_gate_api_is_409_with_reasons_while_human_work_is_open(routed_batch, token):
    response = Client().get("/api/control/batches/gated/gate/", **token)
    assert response.status_code == 409
    assert response.json() == {"batch": "gated", "release": False, "reasons": ["3 human tasks open"], "target": 0.9}


def test_gate_api_is_200_once_human_work_is_done(routed_batch, label_all, token):
    label_all()
    assert ReviewTask.objects.filter(status="done").count() == 3
    response = Client().get("/api/control/batches/gated/gate/", **token)
    assert (response.status_code, response.json()) == (
        200, {"batch": "gated", "release": True, "reasons": [], "target": 0.9})


def test_gate_api_unknown_batch_is_404_and_reviewers_are_refused(routed_batch, reviewer_user, token):
    assert Client().get("/api/control/batches/nope/gate/", **token).status_code == 404
    reviewer = api_token_create(user=reviewer_user, name="r", expires_in_days=1).secret
    assert Client().get("/api/control/batches/gated/gate/", HTTP_AUTHORIZATION=f"Bearer {reviewer}").status_code == 403


def _gate_command(name, capsys):
    with pytest.raises(SystemExit) as exit_info:
        call_command("release_gate", name)
        raise SystemExit(0)
    out = capsys.readouterr()
    return exit_info.value.code, out.out, out.err


def test_release_gate_command_exits_1_with_the_reasons(routed_batch, capsys):
    assert _gate_command("gated", capsys) == (1, "gated: held\n- 3 human tasks open\n", "")


def test_release_gate_command_exits_0_when_released(routed_batch, label_all, capsys):
    label_all()
    assert _gate_command("gated", capsys) == (0, "gated: released (target agreement 90%)\n", "")


def test_release_gate_command_exits_2_for_an_unknown_batch(db, capsys):
    assert _gate_command("missing", capsys) == (2, "", "no batch named 'missing'\n")
