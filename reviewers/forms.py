"""Forms of the reviewer pages; the API uses DRF serializers with the same rules."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from django import forms
from django.contrib.auth import get_user_model
from django.contrib.auth.forms import PasswordResetForm

from .services.queue import FLAGS

CHOICE_KEYS = {"1": 1, "2": 2, "t": 0, "0": 0}
CRITERIA = ["correctness", "helpfulness", "safety"]


class LabelForm(forms.Form):
    """A label: 1 / 2 / t (tie) for pairwise items, a number for rating items, plus extras.
    ``task`` is the item the form was shown with: the view refuses it for any other item."""

    task = forms.CharField(max_length=16)
    choice = forms.ChoiceField(choices=[(k, k) for k in CHOICE_KEYS], required=False)
    rating = forms.FloatField(required=False)
    rationale = forms.CharField(required=False, max_length=5000)
    flags = forms.MultipleChoiceField(choices=list(FLAGS.items()), required=False)
    seconds_spent = forms.FloatField(required=False, min_value=0, max_value=86400)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        for name in CRITERIA:
            self.fields[f"crit_{name}"] = forms.ChoiceField(
                choices=[("", "-"), ("1", "1"), ("2", "2"), ("t", "tie")], required=False
            )

    def service_kwargs(self) -> dict[str, Any]:
        d = self.cleaned_data
        return label_input(choice=d["choice"], rating=d["rating"], rationale=d["rationale"], flags=d["flags"],
                           seconds_spent=d["seconds_spent"],
                           criteria={n: d[f"crit_{n}"] for n in CRITERIA if d.get(f"crit_{n}")})


def label_input(*, choice: str | None, rating: float | None, rationale: str | None, flags: list[str] | None,
                seconds_spent: float | None, criteria: Mapping[str, str] | None) -> dict[str, Any]:
    """A submitted label as ``review_label_submit`` takes it, from the keys a reviewer types
    (1 / 2 / t): the one mapping the review form and the review API share."""
    return {
        "choice": CHOICE_KEYS[choice] if choice else None,
        "rating": rating,
        "rationale": rationale or "",
        "flags": flags or [],
        "seconds_spent": seconds_spent,
        "criteria": {k: CHOICE_KEYS[v] for k, v in (criteria or {}).items() if v} or None,
    }


class CorrectionForm(LabelForm):
    """A new verdict for a label already given: the label form without the item it was shown with."""

    task = None  # type: ignore[assignment]


class SkipForm(forms.Form):
    task = forms.CharField(max_length=16)
    reason = forms.CharField(max_length=2000)
    escalate = forms.BooleanField(required=False)


class RosterImportForm(forms.Form):
    file = forms.FileField(help_text="CSV with the columns of the export.")


class GoldBatchForm(forms.Form):
    batch = forms.CharField(max_length=200)
    from_labels = forms.BooleanField(required=False, initial=True)


def form_errors(form: forms.Form) -> str:
    """One readable line with every field error."""
    return "; ".join(f"{field}: {' '.join(str(e) for e in errs)}" for field, errs in form.errors.items())


class ResetOrInviteForm(PasswordResetForm):
    """Password reset by e-mail that also reaches accounts without a password yet (reviewers made
    by a roster import): for them the link is how they set their first one."""

    def get_users(self, email: str) -> Any:
        users = get_user_model()._default_manager.filter(email__iexact=email, is_active=True)
        return (u for u in users if u.email.lower() == email.lower())
