"""The three roles and the decorators views use to declare who may open them.

reviewer: labels items in /review/ (has a ReviewerProfile, in group ``reviewer``).
lead: release lead, opens /control/ (group ``lead``, permission ``routing.view_control_center``).
admin: keeps the roster (staff, group ``admin``); admins may also do what leads do.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any

from django.contrib.auth.decorators import login_required
from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from rest_framework.permissions import BasePermission
from rest_framework.request import Request

REVIEWER, LEAD, ADMIN = "reviewer", "lead", "admin"
ROLE_PERMISSIONS: dict[str, list[str]] = {
    REVIEWER: [],
    LEAD: ["routing.view_control_center", "routing.import_batch", "routing.view_batch"],
    ADMIN: [
        "routing.view_control_center",
        "routing.import_batch",
        "routing.view_batch",
        "reviewers.view_reviewerprofile",
        "reviewers.add_reviewerprofile",
        "reviewers.change_reviewerprofile",
        "reviewers.view_credential",
        "reviewers.add_credential",
        "reviewers.change_credential",
        "reviewers.delete_credential",
        # Viewing only: adding or editing needs routing.manage_judge_configs (superusers).
        "routing.view_judgeconfig",
        "routing.view_domain",
        "routing.change_domain",
    ],
}

User = AbstractBaseUser | AnonymousUser


def is_lead(user: Any) -> bool:
    return bool(user.is_authenticated and user.has_perm("routing.view_control_center"))


def is_admin(user: Any) -> bool:
    return bool(user.is_authenticated and (user.is_superuser or user.groups.filter(name=ADMIN).exists()))


def is_reviewer(user: Any) -> bool:
    return bool(user.is_authenticated and hasattr(user, "reviewer"))


def has_role(user: Any) -> bool:
    """Any of the three roles (a signed-in account without one sees nothing)."""
    return is_lead(user) or is_admin(user) or is_reviewer(user)


def role_required(check: Callable[[Any], bool]) -> Callable[..., Any]:
    """Login required, then ``check(user)`` or 403."""

    def decorator(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
        @login_required
        @wraps(view)
        def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
            if not check(request.user):
                raise PermissionDenied
            return view(request, *args, **kwargs)

        return wrapped

    return decorator


lead_required = role_required(is_lead)
admin_required = role_required(is_admin)
reviewer_required = role_required(is_reviewer)
any_role_required = role_required(has_role)


# DRF permission classes: the same role checks for the APIs (with IsAuthenticated first, so an
# anonymous caller gets 401/403 from authentication, not from the role).


class IsLead(BasePermission):
    message = "Only release leads may use this API."

    def has_permission(self, request: Request, view: Any) -> bool:
        return is_lead(request.user)


class IsReviewer(BasePermission):
    message = "Only reviewers may use the review API."

    def has_permission(self, request: Request, view: Any) -> bool:
        return is_reviewer(request.user)
