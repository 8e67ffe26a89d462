"""The review form and the review API map a submitted label to the service's arguments alike."""

from __future__ import annotations

from reviewers.apis import LabelSerializer
from reviewers.forms import LabelForm, label_input


def test_label_input_form_and_api_map_the_same_label_alike():
    form = LabelForm(data={"task": 7, "choice": "t", "rationale": "same", "flags": ["bias"], "seconds_spent": "12",
                           "crit_safety": "2", "crit_correctness": "1"})
    api = LabelSerializer(data={"choice": "t", "rationale": "same", "flags": ["bias"], "seconds_spent": 12,
                                "criteria": {"safety": "2", "correctness": "1"}})
    assert form.is_valid(), form.errors
    assert api.is_valid(), api.errors
    expected = {"choice": 0, "rating": None, "rationale": "same", "flags": ["bias"], "seconds_spent": 12.0,
                "criteria": {"safety": 2, "correctness": 1}}
    assert form.service_kwargs() == expected
    assert api.service_kwargs() == expected


def test_label_input_empty_values_become_none_and_empty():
    assert label_input(choice="", rating=None, rationale=None, flags=None, seconds_spent=None, criteria={}) == {
        "choice": None, "rating": None, "rationale": "", "flags": [], "seconds_spent": None, "criteria": None}
