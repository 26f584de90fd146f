"""Forms of the reconciliation part: ledger source (checked against the live ledger),
counterpart upload and "run now"."""

from __future__ import annotations

from typing import Any

from django import forms
from django.core.exceptions import ValidationError

from verifiers.models import LedgerSource
from verifiers.reconcile import balances, services

MAX_CSV_BYTES = 1_000_000


class LedgerSourceForm(forms.ModelForm):
    """Saves only a source whose mapping fits the real ledger database: one message per problem."""

    class Meta:
        model = LedgerSource
        fields = "__all__"

    def clean_time_zone(self) -> str:
        name = self.cleaned_data["time_zone"].strip()
        try:
            balances.zone(name)
        except balances.CutoffError as exc:
            raise ValidationError(str(exc)) from None
        return name

    def clean(self) -> dict[str, Any]:
        super().clean()
        cleaned = self.cleaned_data
        if self.errors:
            return cleaned  # fix the fields first; the ledger check needs them all
        problems = services.ledger_source_problems(self.instance_with(cleaned))
        for problem in problems:
            self.add_error(None, problem)
        return cleaned

    def instance_with(self, cleaned: dict[str, Any]) -> LedgerSource:
        source = LedgerSource(pk=self.instance.pk)
        for field in LedgerSource._meta.concrete_fields:
            if field.name in cleaned:
                setattr(source, field.name, cleaned[field.name])
        return source


class CounterpartUploadForm(forms.Form):
    """A ``currency,total`` CSV for one source and cut-off date; errors keep their line numbers."""

    source = forms.ModelChoiceField(queryset=LedgerSource.objects.order_by("name"))
    cutoff_date = forms.DateField(
        help_text="Local date of the cut-off (for 2026-11-25 00:00 Asia/Seoul: 2026-11-25).",
        widget=forms.DateInput(attrs={"type": "date"}),
    )
    file = forms.FileField(help_text="CSV with header currency,total (optional as_of).")

    def clean_file(self) -> str:
        upload = self.cleaned_data["file"]
        if upload.size > MAX_CSV_BYTES:
            raise ValidationError(f"The file is {upload.size:,} bytes; the limit is {MAX_CSV_BYTES:,}.")
        raw = upload.read()
        try:
            text = raw.decode("utf-8-sig")
        except UnicodeDecodeError:
            raise ValidationError("The file is not UTF-8 text.") from None
        try:
            self.totals = balances.parse_counterpart_csv(text)
        except balances.CounterpartCsvError as exc:
            raise ValidationError(exc.problems) from None
        return text


class RunNowForm(forms.Form):
    """Start a run of one source for a cut-off (blank: the latest scheduled cut-off)."""

    source = forms.ModelChoiceField(queryset=LedgerSource.objects.order_by("name"))
    cutoff = forms.CharField(
        required=False,
        help_text="ISO date-time, e.g. 2026-11-25T00:00+09:00 (no offset: the source's time zone). "
        "Blank: the latest scheduled cut-off.",
    )

    def clean(self) -> dict[str, Any]:
        super().clean()
        cleaned = self.cleaned_data
        source: LedgerSource | None = cleaned.get("source")
        if source is None:
            return cleaned
        text = (cleaned.get("cutoff") or "").strip()
        try:
            cutoff = services.parse_cutoff(text, source) if text else services.default_cutoff(source)
        except (services.ReconcileError, balances.CutoffError) as exc:
            raise ValidationError({"cutoff": str(exc)}) from None
        cleaned["cutoff_instant"] = cutoff
        return cleaned
