"""DRF authentication by personal API token: ``Authorization: Bearer <token>`` (or ``Token <token>``)."""

from __future__ import annotations

from typing import Any

from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework.authentication import BaseAuthentication, get_authorization_header
from rest_framework.exceptions import AuthenticationFailed, Throttled
from rest_framework.request import Request

from hybridqc.throttling import TokenFailureThrottle

from .tokens import ApiTokenRefused, api_token_authenticate

KEYWORDS = ("bearer", "token")


class ApiTokenAuthentication(BaseAuthentication):
    """A token authenticates as its user: the user's role and permissions apply unchanged."""

    def authenticate(self, request: Request) -> tuple[Any, Any] | None:
        parts = get_authorization_header(request).split()
        if not parts or parts[0].lower().decode(errors="replace") not in KEYWORDS:
            return None
        if len(parts) != 2:
            raise AuthenticationFailed("Invalid Authorization header: expected 'Bearer <token>'.")
        try:
            raw = parts[1].decode("ascii")
        except UnicodeDecodeError as exc:
            raise AuthenticationFailed("Invalid token.") from exc
        try:
            token = api_token_authenticate(raw=raw)
        except ApiTokenRefused as exc:
            self._failure_count(request)
            raise AuthenticationFailed(str(exc)) from exc
        return token.user, token

    def _failure_count(self, request: Request) -> None:
        throttle = TokenFailureThrottle()
        view: Any = (request.parser_context or {}).get("view")
        if not throttle.allow_request(request, view):
            raise Throttled(wait=throttle.wait())

    def authenticate_header(self, request: Request) -> str:
        return 'Bearer realm="api"'


class ApiTokenScheme(OpenApiAuthenticationExtension):
    """How the schema describes the token (drf-spectacular finds it by the class path)."""

    target_class = "dashboard.authentication.ApiTokenAuthentication"
    name = "apiToken"

    def get_security_definition(self, auto_schema: Any) -> dict[str, str]:
        return {"type": "http", "scheme": "bearer", "description": "A personal API token (hqc_…)."}
