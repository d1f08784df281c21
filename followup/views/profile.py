"""A staff member's own settings (their language) and the language switch of the staff
pages.

The language is stored on the user, not only in the browser: pages
(backend.middleware.StaffLanguageMiddleware) and every SMS to the person
(backend.staff_texts) use it, so the choice follows them to another computer and to
their phone. Empty means the clinic's default language."""

from __future__ import annotations

from django import forms
from django.contrib import messages
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.utils import translation
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_http_methods, require_POST
from django.views.i18n import set_language

from backend.models import LANGUAGE_CHOICES, LANGUAGE_CODES, User
from backend.staff_texts import clinic_language, staff_language
from followup.views.staff import staff_required


class LanguageForm(forms.Form):
    language = forms.ChoiceField(label=gettext_lazy("Language of pages and SMS"), required=False)

    def __init__(self, *args: object, clinic_default: str, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        names = dict(LANGUAGE_CHOICES)
        default = _("The clinic's default (%(language)s)") % {"language": names.get(clinic_default, clinic_default)}
        self.fields["language"].choices = [("", default), *LANGUAGE_CHOICES]


def _language_save(user: User, language: str) -> None:
    if user.language != language:
        user.language = language
        user.save(update_fields=["language"])


@require_http_methods(["GET", "POST"])
@staff_required
def profile(request: HttpRequest) -> HttpResponse:
    user: User = request.user  # type: ignore[assignment]
    clinic_default = clinic_language(user.clinic)
    if request.method == "POST":
        form = LanguageForm(request.POST, clinic_default=clinic_default)
        if form.is_valid():
            _language_save(user, form.cleaned_data["language"])
            # Said in the language just chosen, as the next page will be.
            with translation.override(staff_language(user)):
                messages.success(request, _("Your language is saved."))
            return HttpResponseRedirect(reverse("staff-profile"))
    else:
        form = LanguageForm(initial={"language": user.language}, clinic_default=clinic_default)
    return render(request, "followup/staff/profile.html", {"form": form})


@require_POST
def language_switch(request: HttpRequest) -> HttpResponse:
    """Django's set_language (the cookie, back to ``next``); for a signed-in staff
    member the choice is also saved on their user, so it holds on every computer."""
    response = set_language(request)
    user = request.user
    language = request.POST.get("language", "")
    if user.is_authenticated and getattr(user, "is_clinic_staff", False) and language in LANGUAGE_CODES:
        _language_save(user, language)  # type: ignore[arg-type]
    return response
