"""The admin site: branded; rows the system writes (human labels, routing decisions, judgments)
are view-only; a judge configuration shows the prompt it sends, the default when its field is blank."""

from __future__ import annotations

import pytest
from django.test import Client
from django.utils.html import escape

from reviewers.models import HumanLabel
from routing.decisions.models import RoutingDecision
from routing.judging.models import JudgeConfig, Judgment
from routing.judging.prompts import DEFAULT_PAIRWISE_PROMPT, DEFAULT_RATING_PROMPT
from tests import factories

pytestmark = pytest.mark.django_db


def _admin(admin_user) -> Client:
    client = Client()
    client.force_login(admin_user)
    return client


def test_admin_site_is_branded(admin_user):
    page = _admin(admin_user).get("/admin/").content.decode()
    assert "<title>Reviewers, batches and judges | HybridQC admin</title>" in page
    assert "HybridQC administration" in page


@pytest.mark.parametrize("path", ["reviewers/humanlabel", "routing/routingdecision", "routing/judgment"])
def test_admin_generated_rows_offer_no_add_and_no_edit(admin_user, path):
    example = factories.make_examples(1)[0]
    label = HumanLabel.objects.create(example=example, source=HumanLabel.Source.REVIEW, choice=1)
    decision = RoutingDecision.objects.create(example=example, route="judge", confidence=0.9)
    judgment = Judgment.objects.create(example=example, judge="j", choice=1)
    rows = {"reviewers/humanlabel": label, "routing/routingdecision": decision, "routing/judgment": judgment}
    pk = rows[path].pk
    client = _admin(admin_user)
    listing = client.get(f"/admin/{path}/").content.decode()
    assert f"/admin/{path}/add/" not in listing
    assert client.get(f"/admin/{path}/add/").status_code == 403
    detail = client.get(f"/admin/{path}/{pk}/change/")
    assert detail.status_code == 200
    assert 'name="_save"' not in detail.content.decode()  # shown, not editable
    assert client.post(f"/admin/{path}/{pk}/change/", {}).status_code == 403
    assert client.get(f"/admin/{path}/{pk}/delete/").status_code == 403


def test_judge_config_admin_shows_the_default_prompt_of_a_blank_field(admin_user):
    config = JudgeConfig.objects.create(name="blank-judge", base_url="http://127.0.0.1:9/v1", model="m",
                                        pairwise_prompt="", rating_prompt="Rate {response} please")
    page = _admin(admin_user).get(f"/admin/routing/judgeconfig/{config.pk}/change/").content.decode()
    assert "Pairwise prompt in use" in page
    assert f'<pre class="prompt">{escape(DEFAULT_PAIRWISE_PROMPT)}</pre>' in page
    assert "the default prompt (the field is blank)" in page
    assert '<pre class="prompt">Rate {response} please</pre>' in page
    assert escape(DEFAULT_RATING_PROMPT) not in page
