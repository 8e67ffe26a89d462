"""Judge configurations may only send a judge's own key, only to allowed public hosts: refused on
save (judge_config_create's full_clean) and again before a run, for rows stored before the rules."""

from __future__ import annotations

import socket

import pytest
from django.core.exceptions import ValidationError

from routing.batches.models import Batch
from routing.judging.judge_runs import judge_run_start
from routing.judging.models import JudgeConfig, JudgeRun, Judgment
from routing.judging.services import judge_chunk_run
from tests import factories
from tests.support import fake_server
from tests.support.fake_server import stats

pytestmark = pytest.mark.django_db
fake_judge = fake_server.fake_judge  # the fixture
OWN_SECRET = ("The API key variable (api_key_env) {} holds one of this server's own secrets; "
              "it is never sent to a judge.")
PUBLIC_IP, PRIVATE_IP = "93.184.215.14", "10.1.2.3"


def _refusal(**fields: object) -> dict[str, list[str]]:
    with pytest.raises(ValidationError) as info:
        factories.judge_config(**{"base_url": "https://judge.example.com/v1", **fields})  # type: ignore[arg-type]
    return info.value.message_dict


@pytest.fixture
def fake_dns(monkeypatch):
    """Name -> addresses for the names the tests use (DNS itself is unreachable here)."""
    answers: dict[str, list[str]] = {"judge.example.com": [PUBLIC_IP]}
    real = socket.getaddrinfo

    def getaddrinfo(host, port, *args, **kwargs):
        if host not in answers:
            return real(host, port, *args, **kwargs)
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (ip, port)) for ip in answers[host]]

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    return answers


@pytest.mark.parametrize("name", ["SECRET_KEY", "DATABASE_URL"])
def test_judge_config_create_refuses_server_secret(fake_dns, name):
    assert _refusal(api_key_env=name) == {"api_key_env": [OWN_SECRET.format(name)]}
    assert not JudgeConfig.objects.exists()


def test_judge_config_create_refuses_names_outside_pattern(fake_dns):
    assert _refusal(api_key_env="HOME") == {"api_key_env": [
        "The API key variable (api_key_env) HOME does not match JUDGE_API_KEY_ENV_PATTERN "
        "(^HYBRIDQC_JUDGE_[A-Z0-9_]+$|^OPENAI_API_KEY$)."]}
    assert _refusal(api_key_env="HYBRIDQC_JUDGE_REDIS_TOKEN") == {"api_key_env": [
        "The API key variable (api_key_env) HYBRIDQC_JUDGE_REDIS_TOKEN looks like one of this server's credentials "
        "(SECRET|PASSWORD|DATABASE|BROKER|AWS_|TOKEN); list it in JUDGE_API_KEY_ENV_ALLOWLIST if it really holds "
        "a judge's key."]}
    assert not JudgeConfig.objects.exists()


def test_judge_config_create_accepts_pattern_and_allowlisted_names(fake_dns, settings):
    settings.JUDGE_API_KEY_ENV_ALLOWLIST = ["HYBRIDQC_JUDGE_REDIS_TOKEN", "SECRET_KEY"]
    for name in ("OPENAI_API_KEY", "HYBRIDQC_JUDGE_VLLM", "HYBRIDQC_JUDGE_REDIS_TOKEN"):
        factories.judge_config("https://judge.example.com/v1", name=name.lower(), api_key_env=name)
    # The server's own secrets stay refused, allowlisted or not.
    assert _refusal(api_key_env="SECRET_KEY") == {"api_key_env": [OWN_SECRET.format("SECRET_KEY")]}
    assert JudgeConfig.objects.count() == 3


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("http://10.0.0.5/v1", "host 10.0.0.5 is not a public address: 10.0.0.5 is private"),
        ("http://127.0.0.1:9/v1", "host 127.0.0.1 is not a public address: 127.0.0.1 is loopback"),
        ("http://169.254.169.254/", "host 169.254.169.254 is not a public address: 169.254.169.254 is link-local"),
        ("http://[::ffff:127.0.0.1]:9/v1",
         "host ::ffff:127.0.0.1 is not a public address: ::ffff:7f00:1 is loopback"),
        ("http://224.0.0.1/v1", "host 224.0.0.1 is not a public address: 224.0.0.1 is multicast"),
    ],
)
def test_judge_config_create_refuses_private_addresses(settings, url, reason):
    settings.JUDGE_ALLOW_PRIVATE_HOSTS = False
    assert _refusal(base_url=url) == {"base_url": [
        f"The judge's base URL (base_url) {reason}; set JUDGE_ALLOW_PRIVATE_HOSTS=1 to allow self-hosted judges."]}
    assert not JudgeConfig.objects.exists()


@pytest.mark.parametrize("allow_private", [False, True])
def test_judge_config_create_refuses_other_schemes(settings, allow_private):
    settings.JUDGE_ALLOW_PRIVATE_HOSTS = allow_private
    assert _refusal(base_url="ftp://x") == {"base_url": ["The judge's base URL (base_url) must use http or https, "
                                                         "not 'ftp'."]}
    assert _refusal(base_url="file:///etc/passwd")["base_url"] == [
        "The judge's base URL (base_url) must use http or https, not 'file'."]


def test_judge_config_create_refuses_name_resolving_to_private_address(settings, fake_dns):
    settings.JUDGE_ALLOW_PRIVATE_HOSTS = False
    fake_dns["judge.example.com"] = [PUBLIC_IP, PRIVATE_IP]  # every address counts, not the first
    assert _refusal() == {"base_url": [
        f"The judge's base URL (base_url) host judge.example.com is not a public address: {PRIVATE_IP} is private; "
        "set JUDGE_ALLOW_PRIVATE_HOSTS=1 to allow self-hosted judges."]}
    fake_dns["judge.example.com"] = [PUBLIC_IP]
    assert factories.judge_config("https://judge.example.com/v1").base_url == "https://judge.example.com/v1"


def test_judge_config_create_allows_private_address_when_setting_on(settings, fake_dns):
    settings.JUDGE_ALLOW_PRIVATE_HOSTS = True
    fake_dns["vllm.internal"] = [PRIVATE_IP]
    assert factories.judge_config("http://vllm.internal:8000/v1").version == 1


def test_judge_config_create_refuses_hosts_outside_allowlist(settings, fake_dns):
    settings.JUDGE_ALLOWED_HOSTS = ["api.openai.com", ".example.com"]
    fake_dns["evil.example.org"] = [PUBLIC_IP]
    assert _refusal(base_url="https://evil.example.org/v1") == {"base_url": [
        "The judge's base URL (base_url) host evil.example.org is not in JUDGE_ALLOWED_HOSTS."]}
    assert factories.judge_config("https://judge.example.com/v1").version == 1  # ".example.com": subdomains


def test_judge_config_create_refuses_unresolvable_host(fake_dns):
    fake_dns["nowhere.example.com"] = []
    assert _refusal(base_url="https://nowhere.example.com/v1") == {"base_url": [
        "The judge's base URL (base_url) host nowhere.example.com does not resolve."]}


def _legacy_run(url: str, **fields: object) -> tuple[Batch, JudgeRun]:
    """A configuration stored before the rules (no full_clean), and a run of it over one example."""
    batch = factories.batch("legacy", items=[factories.pairwise_item(0)]).batch
    config = JudgeConfig.objects.create(name="legacy", base_url=url, model="fake-judge", **fields)
    run = judge_run_start(batch=batch, config=config)
    assert judge_chunk_run(run=run, example_ids=[batch.examples.get().pk]) == 0
    run.refresh_from_db()
    batch.refresh_from_db()
    return batch, run


def test_judge_legacy_config_with_server_secret_fails_run_without_request(fake_judge, monkeypatch):
    monkeypatch.setenv("DATABASE_URL", "postgres://user:pw@db/prod")
    batch, run = _legacy_run(fake_judge.url, api_key_env="DATABASE_URL")
    reason = f"judge legacy@v1 refused: {OWN_SECRET.format('DATABASE_URL')}"
    assert (run.status, run.last_error) == (JudgeRun.Status.FAILED, reason)
    assert (batch.status, batch.status_detail) == (Batch.Status.FAILED, reason)
    assert stats(fake_judge.url)["requests"] == 0
    assert not Judgment.objects.filter(judge="legacy@v1").exists()


def test_judge_legacy_config_on_loopback_fails_run_without_request(fake_judge, settings):
    settings.JUDGE_ALLOW_PRIVATE_HOSTS = False
    _, run = _legacy_run(fake_judge.url)
    assert run.status == JudgeRun.Status.FAILED
    assert run.last_error == (
        "judge legacy@v1 refused: The judge's base URL (base_url) host 127.0.0.1 is not a public address: "
        "127.0.0.1 is loopback; set JUDGE_ALLOW_PRIVATE_HOSTS=1 to allow self-hosted judges.")
    assert stats(fake_judge.url)["requests"] == 0
