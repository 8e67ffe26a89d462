"""Forms of the router pages: the batch's router settings and the backtest."""

from __future__ import annotations

from django import forms

from routing.batches.models import Batch


class RouterSettingsForm(forms.ModelForm):
    """Routing mode, target agreement (alpha), confidence (delta) and audit rate of a batch."""

    class Meta:
        model = Batch
        fields = ["routing_mode", "alpha", "delta", "audit_rate"]
        labels = {"routing_mode": "Mode", "alpha": "Alpha (1 - target agreement)",
                  "delta": "Delta (1 - confidence)", "audit_rate": "Audit rate"}

    def _share(self, name: str, low: float, high: float) -> float:
        value = self.cleaned_data[name]
        if value is None or not low < value < high:
            raise forms.ValidationError(f"must be between {low} and {high} (exclusive)")
        return value

    def clean_alpha(self) -> float:
        return self._share("alpha", 0.0, 1.0)

    def clean_delta(self) -> float:
        return self._share("delta", 0.0, 1.0)

    def clean_audit_rate(self) -> float:
        value = self.cleaned_data["audit_rate"]
        if value is None or not 0.0 <= value <= 1.0:
            raise forms.ValidationError("must be between 0 and 1")
        return value


class BacktestForm(forms.Form):
    batch = forms.ModelChoiceField(queryset=Batch.objects.all(), empty_label=None,
                                   error_messages={"invalid_choice": "Choose an existing batch."})
    alpha = forms.FloatField(initial=0.10, min_value=0.001, max_value=0.999)
    delta = forms.FloatField(initial=0.10, min_value=0.001, max_value=0.999)
    splits = forms.IntegerField(initial=200, min_value=1, max_value=2000)
