"""What a judge configuration may read and where it may send it.

The worker reads the environment variable a configuration names and sends its value as a bearer
token to the configuration's base URL, both chosen by whoever edits configurations. Unchecked, a
configuration naming SECRET_KEY and pointing at any host would hand over the server's own secrets,
and one pointing at the private network would make the worker a probe of it. Both are checked when
a configuration is saved, again by the worker before a run, and the host before every request
(DNS answers may change between the two).
"""

from __future__ import annotations

import asyncio
import ipaddress
import re
import socket
from dataclasses import dataclass
from urllib.parse import urlsplit

from django.conf import settings

# The process's own secrets: never a judge's key, whatever the pattern or allowlist says.
OWN_SECRETS = frozenset({"SECRET_KEY", "DATABASE_URL", "CELERY_BROKER_URL", "CELERY_RESULT_BACKEND"})
SECRET_LOOKING = re.compile(r"SECRET|PASSWORD|DATABASE|BROKER|AWS_|TOKEN", re.IGNORECASE)
SCHEMES = ("http", "https")
IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
# How refusals name the URL; other outbound URLs checked by the same rules (webhooks) name theirs.
BASE_URL_FIELD = "The judge's base URL (base_url)"


class PolicyRefused(Exception):
    """A refused configuration value; the message names the field and is safe to show anywhere."""


@dataclass(frozen=True)
class KeyEnvPolicy:
    pattern: str
    allowlist: frozenset[str] = frozenset()


@dataclass(frozen=True)
class EndpointPolicy:
    """Plain values (no settings access): the HTTP client checks every request off the main thread."""

    allowed_hosts: tuple[str, ...] = ()
    allow_private: bool = False


def key_env_policy() -> KeyEnvPolicy:
    return KeyEnvPolicy(pattern=settings.JUDGE_API_KEY_ENV_PATTERN,
                        allowlist=frozenset(settings.JUDGE_API_KEY_ENV_ALLOWLIST))


def endpoint_policy() -> EndpointPolicy:
    return EndpointPolicy(allowed_hosts=tuple(h.lower() for h in settings.JUDGE_ALLOWED_HOSTS),
                          allow_private=settings.JUDGE_ALLOW_PRIVATE_HOSTS)


def api_key_env_check(name: str, policy: KeyEnvPolicy) -> None:
    """Refuse an API-key variable name that is not allowlisted by pattern or by name."""
    field = f"The API key variable (api_key_env) {name}"
    if name.upper() in OWN_SECRETS:
        raise PolicyRefused(f"{field} holds one of this server's own secrets; it is never sent to a judge.")
    if name in policy.allowlist:
        return
    if SECRET_LOOKING.search(name):
        raise PolicyRefused(f"{field} looks like one of this server's credentials ({SECRET_LOOKING.pattern}); "
                            "list it in JUDGE_API_KEY_ENV_ALLOWLIST if it really holds a judge's key.")
    if not re.fullmatch(policy.pattern, name):
        raise PolicyRefused(f"{field} does not match JUDGE_API_KEY_ENV_PATTERN ({policy.pattern}).")


def _host_port(url: str, policy: EndpointPolicy, field: str = BASE_URL_FIELD) -> tuple[str, int]:
    """The URL's host and port, if its scheme and host name are allowed (no DNS yet)."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise PolicyRefused(f"{field} {url!r} is not a valid URL.") from exc
    if parts.scheme not in SCHEMES:
        scheme = parts.scheme or "none"
        raise PolicyRefused(f"{field} must use http or https, not {scheme!r}.")
    host = (parts.hostname or "").lower()
    if not host:
        raise PolicyRefused(f"{field} has no host.")
    if policy.allowed_hosts and not _host_listed(host, policy.allowed_hosts):
        raise PolicyRefused(f"{field} host {host} is not in JUDGE_ALLOWED_HOSTS.")
    return host, port or (443 if parts.scheme == "https" else 80)


def _host_listed(host: str, allowed: tuple[str, ...]) -> bool:
    # As Django's ALLOWED_HOSTS: ".example.com" stands for example.com and its subdomains.
    return any(host == a or (a.startswith(".") and (host == a[1:] or host.endswith(a))) for a in allowed)


def _literal(host: str) -> IPAddress | None:
    try:
        return ipaddress.ip_address(host)
    except ValueError:
        return None


def _kind(ip: IPAddress) -> str | None:
    """Why an address is not public (None when it is)."""
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        return _kind(ip.ipv4_mapped)
    for kind in ("loopback", "link_local", "multicast", "private", "reserved", "unspecified"):
        if getattr(ip, f"is_{kind}"):
            return kind.replace("_", "-")
    return None if ip.is_global else "non-public"


def addresses_check(host: str, addresses: list[IPAddress], policy: EndpointPolicy, field: str = BASE_URL_FIELD) -> None:
    """Refuse a host any of whose addresses is private, loopback, link-local, multicast or reserved."""
    if not addresses:
        raise PolicyRefused(f"{field} host {host} does not resolve.")
    if policy.allow_private:
        return
    for ip in addresses:
        kind = _kind(ip)
        if kind:
            raise PolicyRefused(f"{field} host {host} is not a public address: {ip} is "
                                f"{kind}; set JUDGE_ALLOW_PRIVATE_HOSTS=1 to allow self-hosted judges.")


def _addresses(infos: list[tuple]) -> list[IPAddress]:
    # sockaddr[0] of an IPv6 link-local address may carry a "%zone" suffix.
    return [ipaddress.ip_address(str(info[4][0]).split("%")[0]) for info in infos]


def resolve(host: str, port: int) -> list[IPAddress]:
    literal = _literal(host)
    if literal is not None:
        return [literal]
    try:
        return _addresses(socket.getaddrinfo(host, port, type=socket.SOCK_STREAM))
    except OSError:
        return []


async def resolve_async(host: str, port: int) -> list[IPAddress]:
    literal = _literal(host)
    if literal is not None:
        return [literal]
    try:
        infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except OSError:
        return []
    return _addresses(infos)


def base_url_check(url: str, policy: EndpointPolicy, field: str = BASE_URL_FIELD) -> None:
    host, port = _host_port(url, policy, field)
    addresses_check(host, resolve(host, port), policy, field)


async def base_url_check_async(url: str, policy: EndpointPolicy) -> None:
    """The same rule from inside the event loop (the resolver runs in a thread)."""
    host, port = _host_port(url, policy)
    addresses_check(host, await resolve_async(host, port), policy)


def config_refusals(*, api_key_env: str, base_url: str) -> dict[str, str]:
    """Each refused field of a judge configuration with its reason (empty when it may be used)."""
    refused: dict[str, str] = {}
    try:
        if api_key_env:
            api_key_env_check(api_key_env, key_env_policy())
    except PolicyRefused as exc:
        refused["api_key_env"] = str(exc)
    try:
        if base_url:
            base_url_check(base_url, endpoint_policy())
    except PolicyRefused as exc:
        refused["base_url"] = str(exc)
    return refused
