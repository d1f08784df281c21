"""A worklist item's text in the reader's language.

An item stores its text as first written (H17), in the language of whoever's code
wrote it. Where the item's own data says the same thing, the page writes it afresh in
the reader's language instead: a nurse call for an amber alert names the alert's rule
from the protocol's translations. Other kinds show their stored text."""

from __future__ import annotations

from collections.abc import Iterable

from django.utils.translation import gettext

from followup.models import Alert, WorklistItem
from followup.rule_titles import alert_rule_titles


def worklist_details(*, items: Iterable[WorklistItem], language: str) -> dict[int, str]:
    """Each item's text (by item id) for a reader of ``language``: two queries for
    the alerts and their protocol versions, whatever the number of items."""
    items = list(items)
    calls = {item.pk: item.alert_id for item in items if item.kind == WorklistItem.Kind.NURSE_CALL and item.alert_id}
    alerts = list(
        Alert.objects.filter(pk__in=set(calls.values())).only("id", "rule_id", "rule_title", "rule_version")
        if calls
        else []
    )
    titles = alert_rule_titles(alerts=alerts, language=language)
    details = {}
    for item in items:
        alert_id = calls.get(item.pk)
        if alert_id in titles:
            details[item.pk] = gettext("Call the patient today: %(rule)s") % {"rule": titles[alert_id]}
        else:
            details[item.pk] = item.detail
    return details


def worklist_with_details(*, items: Iterable[WorklistItem], language: str) -> list[WorklistItem]:
    """``items`` with ``detail_shown`` set to their text for a reader of ``language``."""
    items = list(items)
    details = worklist_details(items=items, language=language)
    for item in items:
        item.detail_shown = details[item.pk]  # type: ignore[attr-defined]
    return items
