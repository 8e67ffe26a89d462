import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.core.exceptions import ImproperlyConfigured

from hybridqc.env import env_bool, env_int, env_list

ROOT = Path(__file__).resolve().parents[2]


def test_env_bool_rejects_garbage(monkeypatch):
    monkeypatch.setenv("X_FLAG", "maybe")
    with pytest.raises(ImproperlyConfigured, match="X_FLAG='maybe' is not a boolean"):
        env_bool("X_FLAG", False)


def test_env_bool_reads_common_spellings(monkeypatch):
    monkeypatch.setenv("X_FLAG", "Yes")
    assert env_bool("X_FLAG", False) is True


def test_env_int_rejects_garbage(monkeypatch):
    monkeypatch.setenv("X_NUM", "12x")
    with pytest.raises(ImproperlyConfigured, match="X_NUM='12x' is not an integer"):
        env_int("X_NUM", 1)


def test_env_list_splits_and_strips(monkeypatch):
    monkeypatch.setenv("X_LIST", " a, b ,,c")
    assert env_list("X_LIST", []) == ["a", "b", "c"]


def test_wsgi_refuses_to_serve_without_secret_key():
    env = {"PATH": "/usr/bin:/bin", "DJANGO_SETTINGS_MODULE": "hybridqc.settings"}
    proc = subprocess.run([sys.executable, "-c", "import hybridqc.wsgi"], env=env, capture_output=True, text=True)
    assert proc.returncode == 1
    assert "SECRET_KEY must be set to serve HybridQC" in proc.stderr


@pytest.mark.parametrize(("raw", "message"), [("0", "X_NUM=0 is below the minimum 1"),
                                              ("201", "X_NUM=201 is above the maximum 200")])
def test_env_int_rejects_values_out_of_range(monkeypatch, raw, message):
    monkeypatch.setenv("X_NUM", raw)
    with pytest.raises(ImproperlyConfigured, match=message):
        env_int("X_NUM", 5, min_value=1, max_value=200)


def _serve_env(*make_args: str) -> dict[str, str]:
    """The variables `make serve` sets on the line that starts gunicorn and the workers (make -n: nothing runs)."""
    proc = subprocess.run(["make", "-n", "serve", "SECRET_KEY=x", *make_args], cwd=ROOT, capture_output=True,
                          text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    line = next(line for line in proc.stdout.splitlines() if " bash -c " in line)
    return dict(word.split("=", 1) for word in line.split(" bash -c ")[0].split())


def _served_security(env: dict[str, str]) -> list[str]:
    code = ("import django; django.setup(); from django.conf import settings as s; "
            "print(s.SECURE_SSL_REDIRECT, s.SESSION_COOKIE_SECURE, s.CSRF_COOKIE_SECURE, s.SECURE_HSTS_SECONDS)")
    proc = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=60,
                          env={"PATH": os.environ["PATH"], "DJANGO_SETTINGS_MODULE": "hybridqc.settings",
                               "SECRET_KEY": "x" * 50, **env})
    assert proc.returncode == 0, proc.stderr
    return proc.stdout.split()


def test_make_serve_speaks_plain_http_locally_and_https_when_asked():
    local = _serve_env()
    assert local["SECURE_HTTPS"] == "0"
    assert _served_security(local) == ["False", "False", "False", "0"]
    assert _served_security(_serve_env("SERVE_HTTPS=1")) == ["True", "True", "True", "31536000"]
