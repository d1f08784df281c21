"""Django admin of the follow-up's clinic data: the quick replies a clinic offers its
nurses. A clinic's admin (staff flag, not superuser) sees and edits their own
clinic's only; the clinic of a new one is theirs."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin
from django.db.models import QuerySet
from django.http import HttpRequest

from backend.models import LANGUAGE_CHOICES
from followup.models import QuickReply


class QuickReplyForm(forms.ModelForm):
    language = forms.ChoiceField(choices=LANGUAGE_CHOICES)

    class Meta:
        model = QuickReply
        fields = ["clinic", "language", "text", "position"]


@admin.register(QuickReply)
class QuickReplyAdmin(admin.ModelAdmin):
    form = QuickReplyForm
    list_display = ("text", "language", "position", "clinic")
    list_filter = ("language", "clinic")
    ordering = ("clinic", "language", "position", "id")

    def get_queryset(self, request: HttpRequest) -> QuerySet[QuickReply]:
        rows = super().get_queryset(request)
        if request.user.is_superuser:
            return rows
        return rows.filter(clinic_id=getattr(request.user, "clinic_id", None))

    def get_exclude(self, request: HttpRequest, obj: Any = None) -> list[str]:
        return [] if request.user.is_superuser else ["clinic"]

    def save_model(self, request: HttpRequest, obj: QuickReply, form: Any, change: bool) -> None:
        if not request.user.is_superuser:
            obj.clinic_id = request.user.clinic_id  # type: ignore[union-attr]
        super().save_model(request, obj, form, change)
