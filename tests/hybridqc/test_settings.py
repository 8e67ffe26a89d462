import subprocess
import sys

import pytest
from django.core.exceptions import ImproperlyConfigured

from hybridqc.env import env_bool, env_int, env_list


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
