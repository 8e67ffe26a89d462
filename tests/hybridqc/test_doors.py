"""The doors: login lockout, password rules, secure production defaults, CSP without inline script."""

from __future__ import annotations

import os
import re
import secrets
import subprocess
import sys
from pathlib import Path

import pytest
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError

from tests import factories

ROOT = Path(__file__).resolve().parents[2]
LOGIN = "/accounts/login/"


def _login(client, password: str):
    return client.post(LOGIN, {"username": "lead", "password": password})


@pytest.mark.django_db
def test_login_lockout_refuses_the_right_password_after_the_limit(client, settings):
    settings.AXES_FAILURE_LIMIT = 3
    factories.lead()
    statuses = [_login(client, "wrong-guess").status_code for _ in range(3)]
    locked = _login(client, factories.PASSWORD)
    assert statuses == [200, 200, 429]
    assert locked.status_code == 429
    assert b"Too many failed logins" in locked.content
    assert "_auth_user_id" not in client.session


@pytest.mark.django_db
def test_login_lockout_leaves_other_usernames_alone(client, settings):
    settings.AXES_FAILURE_LIMIT = 2
    factories.lead()
    factories.admin()
    for _ in range(2):
        _login(client, "wrong-guess")
    response = client.post(LOGIN, {"username": "admin", "password": factories.PASSWORD})
    assert response.status_code == 302
    assert client.session["_auth_user_id"] == str(factories.User.objects.get(username="admin").pk)


@pytest.mark.django_db
def test_login_under_the_limit_succeeds_and_resets_the_count(client, settings):
    settings.AXES_FAILURE_LIMIT = 3
    factories.lead()
    _login(client, "wrong-guess")
    _login(client, "wrong-guess")
    assert _login(client, factories.PASSWORD).status_code == 302


@pytest.mark.parametrize(
    ("password", "message"),
    [("short1", "This password is too short"), ("password123", "This password is too common"),
     ("48213974210987", "This password is entirely numeric"), ("lead-user-lead", "too similar to the username")],
)
def test_password_validators_refuse_weak_passwords(password, message):
    user = factories.User(username="lead-user-lead")
    with pytest.raises(ValidationError) as caught:
        validate_password(password, user)
    assert any(message in m for m in caught.value.messages)


def test_password_validators_accept_a_strong_password():
    assert validate_password("correct horse battery 93", factories.User(username="lead")) is None


def _production_env(**extra: str) -> dict[str, str]:
    keep = {k: os.environ[k] for k in ("PATH", "DATABASE_URL", "CELERY_BROKER_URL") if k in os.environ}
    return {**keep, "DEBUG": "0", "SECRET_KEY": secrets.token_urlsafe(64),
            "ALLOWED_HOSTS": "hybridqc.example.com", **extra}


def test_check_deploy_with_production_settings_prints_no_warning():
    proc = subprocess.run([sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
                          cwd=ROOT, env=_production_env(), capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert "System check identified no issues (0 silenced)." in proc.stdout
    assert "WARNINGS" not in proc.stderr


def _setting(name: str, **env: str) -> str:
    code = f"import django; django.setup(); from django.conf import settings; print(repr(settings.{name}))"
    proc = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=60,
                          env=_production_env(DJANGO_SETTINGS_MODULE="hybridqc.settings", **env))
    assert proc.returncode == 0, proc.stderr
    return proc.stdout.strip().splitlines()[-1]


def test_production_defaults_are_secure_when_debug_is_off():
    names = ["SESSION_COOKIE_SECURE", "CSRF_COOKIE_SECURE", "SECURE_SSL_REDIRECT", "SECURE_HSTS_SECONDS"]
    assert [_setting(n) for n in names] == ["True", "True", "True", "31536000"]


def test_proxy_ssl_header_is_read_from_the_environment():
    assert _setting("SECURE_PROXY_SSL_HEADER", SECURE_PROXY_SSL_HEADER="HTTP_X_FORWARDED_PROTO,https") == (
        "('HTTP_X_FORWARDED_PROTO', 'https')"
    )


def test_proxy_ssl_header_malformed_fails_loudly():
    code = "import django; django.setup()"
    proc = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=60,
                          env=_production_env(DJANGO_SETTINGS_MODULE="hybridqc.settings",
                                              SECURE_PROXY_SSL_HEADER="HTTP_X_FORWARDED_PROTO"))
    assert proc.returncode == 1
    assert "SECURE_PROXY_SSL_HEADER='HTTP_X_FORWARDED_PROTO' must be two comma-separated values" in proc.stderr


@pytest.mark.django_db
def test_security_headers_on_every_page(client):
    response = client.get(LOGIN)
    assert response.headers["X-Frame-Options"] == "DENY"
    assert response.headers["Referrer-Policy"] == "same-origin"
    assert response.headers["Content-Security-Policy"] == (
        "default-src 'self'; script-src 'self'; style-src 'self'; "
        "img-src 'self' data:; object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'"
    )


INLINE_SCRIPT = [
    (re.compile(r"<script(?![^>]*\bsrc=)[^>]*>", re.I), "a <script> without src"),
    (re.compile(r"\son[a-z]+\s*=", re.I), "an on* handler attribute"),
    (re.compile(r"\shx-on", re.I), "an hx-on attribute (evaluated as script by htmx)"),
    (re.compile(r"javascript:", re.I), "a javascript: URL"),
]


def test_templates_carry_no_inline_script():
    found = [
        f"{path.relative_to(ROOT)}: {what}"
        for path in sorted((ROOT / "templates").rglob("*.html"))
        for pattern, what in INLINE_SCRIPT
        if pattern.search(path.read_text())
    ]
    assert found == []


TEMPLATE_COMMENT = re.compile(r"\{#.*?#\}", re.S)
INLINE_STYLE = [
    (re.compile(r"""\sstyle\s*=\s*["'{]""", re.I), "a style attribute"),
    (re.compile(r"<style[\s>]", re.I), "a <style> element"),
]


def test_templates_and_python_html_carry_no_inline_style():
    """Templates, and HTML built in Python (format_html, mark_safe) in the apps."""
    sources = sorted((ROOT / "templates").rglob("*.html"))
    apps = ("dashboard", "reviewers", "routing", "hybridqc")
    sources += sorted(p for app in apps for p in (ROOT / app).rglob("*.py"))
    found = [
        f"{path.relative_to(ROOT)}: {what}"
        for path in sources
        for pattern, what in INLINE_STYLE
        if pattern.search(TEMPLATE_COMMENT.sub("", path.read_text()))
    ]
    assert found == []


def test_inline_style_scan_finds_a_style_attribute():
    """The control: the patterns above match what the CSP would refuse."""
    html = '<span style="width:3%"></span><STYLE>b{}</STYLE>'
    found = [what for pattern, what in INLINE_STYLE if pattern.search(html)]
    assert found == ["a style attribute", "a <style> element"]
