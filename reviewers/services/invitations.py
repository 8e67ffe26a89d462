"""Invitations: a reviewer created by a roster import or by an admin has no password; they get
an e-mail with a link to set one. The link is Django's password-reset link (a token bound to the
account's current password hash, so it stops working once a password is set, and after
PASSWORD_RESET_TIMEOUT)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from django.contrib.auth.models import User
from django.contrib.auth.tokens import default_token_generator
from django.core.mail import send_mail
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils.encoding import force_bytes
from django.utils.http import urlsafe_base64_encode

SUBJECT = "You are invited to review on HybridQC"


@dataclass(frozen=True)
class SiteLink:
    """Where the links in an e-mail point: the host the admin used, and whether over HTTPS."""

    domain: str
    https: bool

    def url(self, path: str) -> str:
        return f"{'https' if self.https else 'http'}://{self.domain}{path}"


def set_password_url(*, user: User, site: SiteLink) -> str:
    """The one-time link that lets ``user`` choose a password."""
    uid = urlsafe_base64_encode(force_bytes(user.pk))
    token = default_token_generator.make_token(user)
    return site.url(reverse("password_reset_confirm", kwargs={"uidb64": uid, "token": token}))


def reviewer_invitations_send(*, users: Iterable[User], site: SiteLink) -> int:
    """E-mail each user who has an address a set-password link; returns how many were sent."""
    sent = 0
    for user in users:
        if not user.email or not user.is_active:
            continue
        body = render_to_string("registration/invitation_email.txt",
                                {"user": user, "url": set_password_url(user=user, site=site)})
        send_mail(SUBJECT, body, None, [user.email])
        sent += 1
    return sent
