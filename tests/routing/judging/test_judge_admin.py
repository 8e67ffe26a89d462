"""Admins edit judge configurations in the Django admin: an edit saves a new version."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Permission
from django.test import Client
from django.utils.html import escape

from routing.judging.models import JudgeConfig
from routing.judging.prompts import DEFAULT_PAIRWISE_PROMPT
from tests import factories

pytestmark = pytest.mark.django_db
OWN_SECRET = ("The API key variable (api_key_env) {} holds one of this server's own secrets; "
              "it is never sent to a judge.")


def _form(config: JudgeConfig, **over: object) -> dict[str, object]:
    data: dict[str, object] = {
        "name": config.name, "base_url": config.base_url, "model": config.model,
        "api_key_env": config.api_key_env, "pairwise_prompt": config.pairwise_prompt,
        "rating_prompt": config.rating_prompt, "temperature": config.temperature, "samples": config.samples,
        "max_concurrency": config.max_concurrency, "requests_per_minute": config.requests_per_minute,
        "tokens_per_minute": config.tokens_per_minute, "chunk_size": config.chunk_size, "timeout_s": config.timeout_s,
        "retry_budget": config.retry_budget, "backoff_s": config.backoff_s, "n_variants": config.n_variants,
        "fewshot_per_variant": config.fewshot_per_variant, "fewshot_seed": config.fewshot_seed, "is_active": "on",
        "swap_orders": "on", "request_logprobs": "on", "json_mode": "on", "_save": "Save",
    }
    data.update(over)
    return data


def test_judge_admin_edit_saves_new_version(admin_user):
    config = factories.judge_config("http://127.0.0.1:9/v1", name="admin-judge", api_key_env="OPENAI_API_KEY")
    client = Client()
    client.force_login(admin_user)
    page = client.get(f"/admin/routing/judgeconfig/{config.pk}/change/")
    assert page.status_code == 200 and "OPENAI_API_KEY" in page.content.decode()
    response = client.post(f"/admin/routing/judgeconfig/{config.pk}/change/", _form(config, model="gpt-4o-mini"))
    assert response.status_code == 302
    rows = list(JudgeConfig.objects.filter(name="admin-judge").order_by("version").values_list(
        "version", "model", "is_active"))
    assert rows == [(1, "fake-judge", False), (2, "gpt-4o-mini", True)]


def test_judge_admin_edit_of_rate_limits_updates_in_place(admin_user):
    """Provider limits are not part of what produces a verdict: no new version."""
    config = factories.judge_config("http://127.0.0.1:9/v1", name="limit-judge")
    client = Client()
    client.force_login(admin_user)
    form = _form(config, requests_per_minute=600, tokens_per_minute=90000)
    assert client.post(f"/admin/routing/judgeconfig/{config.pk}/change/", form).status_code == 302
    rows = list(JudgeConfig.objects.filter(name="limit-judge").values_list(
        "version", "requests_per_minute", "tokens_per_minute", "is_active"))
    assert rows == [(1, 600, 90000, True)]
    # A new version (the model changed) keeps the limits.
    config.refresh_from_db()
    assert client.post(f"/admin/routing/judgeconfig/{config.pk}/change/", _form(config, model="m2")).status_code == 302
    rows = list(JudgeConfig.objects.filter(name="limit-judge").order_by("version").values_list(
        "version", "requests_per_minute", "tokens_per_minute", "is_active"))
    assert rows == [(1, 600, 90000, False), (2, 600, 90000, True)]


def test_judge_admin_edit_of_variants_saves_new_version(admin_user):
    config = factories.judge_config("http://127.0.0.1:9/v1", name="variant-judge")
    client = Client()
    client.force_login(admin_user)
    url = f"/admin/routing/judgeconfig/{config.pk}/change/"
    assert client.post(url, _form(config, n_variants=4, fewshot_per_variant=2)).status_code == 302
    rows = list(JudgeConfig.objects.filter(name="variant-judge").order_by("version").values_list(
        "version", "n_variants", "fewshot_per_variant", "is_active"))
    assert rows == [(1, 1, 3, False), (2, 4, 2, True)]


def test_judge_admin_rejects_out_of_range_variants(admin_user):
    config = factories.judge_config("http://127.0.0.1:9/v1", name="bounded-judge")
    client = Client()
    client.force_login(admin_user)
    response = client.post(f"/admin/routing/judgeconfig/{config.pk}/change/", _form(config, n_variants=9))
    assert response.status_code == 200
    assert "Ensure this value is less than or equal to 8." in response.content.decode()
    assert JudgeConfig.objects.filter(name="bounded-judge").count() == 1


def test_judge_admin_add_prefills_default_prompts_and_numbers_versions(admin_user):
    client = Client()
    client.force_login(admin_user)
    page = client.get("/admin/routing/judgeconfig/add/")
    assert "Avoid bias:" in page.content.decode()
    blank = JudgeConfig(name="new-judge", base_url="http://127.0.0.1:9/v1", model="m",
                        pairwise_prompt=DEFAULT_PAIRWISE_PROMPT)
    for _ in range(2):
        response = client.post("/admin/routing/judgeconfig/add/", _form(blank))
        assert response.status_code == 302
    versions = JudgeConfig.objects.filter(name="new-judge").values_list("version", flat=True)
    assert sorted(versions) == [1, 2]


def test_judge_admin_forbidden_to_lead(lead_user):
    client = Client()
    client.force_login(lead_user)
    assert client.get("/admin/routing/judgeconfig/").status_code in (302, 403)


@pytest.mark.parametrize("secret", ["SECRET_KEY", "DATABASE_URL"])
def test_judge_admin_add_refuses_server_secret(admin_user, secret):
    client = Client()
    client.force_login(admin_user)
    blank = JudgeConfig(name="leaky", base_url="http://127.0.0.1:9/v1", model="m", api_key_env=secret)
    response = client.post("/admin/routing/judgeconfig/add/", _form(blank))
    assert response.status_code == 200
    assert escape(OWN_SECRET.format(secret)) in response.content.decode()
    assert not JudgeConfig.objects.filter(name="leaky").exists()


def test_judge_admin_change_refuses_server_secret(admin_user):
    config = factories.judge_config("http://127.0.0.1:9/v1", name="kept", api_key_env="OPENAI_API_KEY")
    client = Client()
    client.force_login(admin_user)
    response = client.post(f"/admin/routing/judgeconfig/{config.pk}/change/", _form(config, api_key_env="SECRET_KEY"))
    assert response.status_code == 200
    assert escape(OWN_SECRET.format("SECRET_KEY")) in response.content.decode()
    rows = list(JudgeConfig.objects.filter(name="kept").values_list("version", "api_key_env", "is_active"))
    assert rows == [(1, "OPENAI_API_KEY", True)]


def test_judge_admin_refuses_link_local_base_url(admin_user, settings):
    settings.JUDGE_ALLOW_PRIVATE_HOSTS = False
    client = Client()
    client.force_login(admin_user)
    blank = JudgeConfig(name="metadata", base_url="http://169.254.169.254/", model="m")
    response = client.post("/admin/routing/judgeconfig/add/", _form(blank))
    assert response.status_code == 200
    assert escape("host 169.254.169.254 is not a public address: 169.254.169.254 is link-local") in (
        response.content.decode())
    assert not JudgeConfig.objects.filter(name="metadata").exists()


def test_judge_admin_group_member_cannot_add_or_change(db):
    ops = factories.user("ops", "admin", is_staff=True)
    config = factories.judge_config("http://127.0.0.1:9/v1", name="guarded")
    client = Client()
    client.force_login(ops)
    change = f"/admin/routing/judgeconfig/{config.pk}/change/"
    assert client.get("/admin/routing/judgeconfig/").status_code == 200  # may still view them
    assert client.get("/admin/routing/judgeconfig/add/").status_code == 403
    assert client.post("/admin/routing/judgeconfig/add/", _form(config, name="sneaky")).status_code == 403
    assert client.post(change, _form(config, api_key_env="OPENAI_API_KEY", base_url="https://x.example/v1")
                       ).status_code == 403
    assert client.post(f"/admin/routing/judgeconfig/{config.pk}/delete/", {"post": "yes"}).status_code == 403
    assert list(JudgeConfig.objects.values_list("name", "version", "api_key_env")) == [("guarded", 1, "")]
    assert not ops.has_perm("routing.manage_judge_configs")
    assert not ops.has_perm("routing.change_judgeconfig") and not ops.has_perm("routing.add_judgeconfig")


def test_judge_admin_model_permissions_alone_do_not_allow_edits(db):
    """A group still holding add/change judgeconfig (granted before the named permission) gets no
    further than viewing: the admin asks for manage_judge_configs."""
    ops = factories.user("ops", "admin", is_staff=True)
    ops.user_permissions.add(*Permission.objects.filter(codename__in=["add_judgeconfig", "change_judgeconfig"]))
    config = factories.judge_config("http://127.0.0.1:9/v1", name="guarded")
    client = Client()
    client.force_login(ops)
    assert client.get("/admin/routing/judgeconfig/add/").status_code == 403
    assert client.post(f"/admin/routing/judgeconfig/{config.pk}/change/", _form(config, model="m2")).status_code == 403
    assert JudgeConfig.objects.filter(name="guarded").count() == 1


def test_judge_admin_superuser_may_add_and_change(admin_user):
    assert admin_user.has_perm("routing.manage_judge_configs")
    client = Client()
    client.force_login(admin_user)
    blank = JudgeConfig(name="su-judge", base_url="http://127.0.0.1:9/v1", model="m")
    assert client.post("/admin/routing/judgeconfig/add/", _form(blank)).status_code == 302
    config = JudgeConfig.objects.get(name="su-judge")
    assert client.post(f"/admin/routing/judgeconfig/{config.pk}/change/", _form(config, model="m2")).status_code == 302
    assert list(JudgeConfig.objects.filter(name="su-judge").order_by("version").values_list("version", "model")) == [
        (1, "m"), (2, "m2")]
