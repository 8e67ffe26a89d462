"""Typed readers of the environment for settings: each fails loudly (ImproperlyConfigured naming
the variable) on a malformed value instead of falling back silently."""

from __future__ import annotations

import os
import re

from django.core.exceptions import ImproperlyConfigured


def env_str(name: str, default: str | None = None) -> str:
    value = os.environ.get(name, default)
    if value is None:
        raise ImproperlyConfigured(f"environment variable {name} is required")
    return value


def env_bool(name: str, default: bool) -> bool:
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    if raw.lower() in {"1", "true", "yes", "on"}:
        return True
    if raw.lower() in {"0", "false", "no", "off"}:
        return False
    raise ImproperlyConfigured(f"{name}={raw!r} is not a boolean (use 1/0, true/false)")


def _env_number[T: (int, float)](name: str, default: T, cast: type[T], kind: str) -> T:
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    try:
        return cast(raw)
    except ValueError as exc:
        raise ImproperlyConfigured(f"{name}={raw!r} is not {kind}") from exc


def _in_range(name: str, value: int, min_value: int | None, max_value: int | None) -> int:
    # A limit of 0 or -1 would refuse everything (or nothing) without saying why: refuse to start.
    if min_value is not None and value < min_value:
        raise ImproperlyConfigured(f"{name}={value} is below the minimum {min_value}")
    if max_value is not None and value > max_value:
        raise ImproperlyConfigured(f"{name}={value} is above the maximum {max_value}")
    return value


def env_int(name: str, default: int, *, min_value: int | None = None, max_value: int | None = None) -> int:
    return _in_range(name, _env_number(name, default, int, "an integer"), min_value, max_value)


def env_float(name: str, default: float) -> float:
    return _env_number(name, default, float, "a number")


def env_list(name: str, default: list[str]) -> list[str]:
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    return [item.strip() for item in raw.split(",") if item.strip()]


THROTTLE_RATE = re.compile(r"^[1-9][0-9]*/(s|sec|second|m|min|minute|h|hour|d|day)$")


def env_rate(name: str, default: str) -> str:
    """A DRF throttle rate such as ``60/min``; DRF reads only the period's first letter, so a typo
    like ``60/mni`` would silently mean per minute: refuse anything but the spelled-out forms."""
    raw = os.environ.get(name) or default
    if not THROTTLE_RATE.fullmatch(raw):
        raise ImproperlyConfigured(f"{name}={raw!r} is not a rate like 60/min (periods: s, min, hour, day)")
    return raw


def env_regex(name: str, default: str) -> str:
    raw = os.environ.get(name) or default
    try:
        re.compile(raw)
    except re.error as exc:
        raise ImproperlyConfigured(f"{name}={raw!r} is not a regular expression: {exc}") from exc
    return raw


def env_pair(name: str) -> tuple[str, str] | None:
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return None
    parts = [p.strip() for p in raw.split(",")]
    if len(parts) != 2 or not all(parts):
        raise ImproperlyConfigured(f"{name}={raw!r} must be two comma-separated values (header,value)")
    return parts[0], parts[1]
