"""An alert's rule title in a reader's language, from the protocol's own translations.

The alert stores the title in English as the rule had it when the alert opened
(``Alert.rule_title``); the translations live in the protocol version that fired it
(``rule_titles`` in its protocol.yaml), so a page reads as that version wrote it.
A version stored before the protocol had translated titles reads English."""

from __future__ import annotations

from collections.abc import Iterable

from followup.models import Alert, CheckIn, ProtocolVersion
from followup.protocols.definition import ProtocolDefinition
from followup.services.protocols import protocol_definition


def _fired_by(alert: Alert) -> ProtocolVersion | None:
    """The protocol version whose rule opened the alert: its check-in's, else (a lab
    finding) the patient's enrollment on the version the alert names."""
    check_in_field, version_field = Alert._meta.get_field("check_in"), CheckIn._meta.get_field("protocol_version")
    if check_in_field.is_cached(alert) and alert.check_in is not None and version_field.is_cached(alert.check_in):
        # An alert opened by the check-in being stored: its version is in hand.
        return alert.check_in.protocol_version
    versions = ProtocolVersion.objects.select_related("protocol")
    if alert.check_in_id is not None:
        return versions.filter(
            pk=CheckIn.objects.filter(pk=alert.check_in_id).values("protocol_version_id")[:1]
        ).first()
    return versions.filter(version=alert.rule_version, enrollments__patient_id=alert.patient_id).first()


def alert_protocol(alert: Alert) -> ProtocolDefinition | None:
    """The protocol version that fired ``alert`` (its rule titles, question labels and
    units); None when it cannot be found."""
    version = _fired_by(alert)
    return protocol_definition(version) if version is not None else None


def alert_rule_title(*, alert: Alert, language: str, definition: ProtocolDefinition | None = None) -> str:
    """The alert's rule title in ``language``; the stored English one when the protocol
    version has no translation of it. ``definition``: the alert's protocol when the
    caller has it (``alert_protocol``), else it is looked up."""
    definition = definition if definition is not None else alert_protocol(alert)
    title = definition.rule_title(alert.rule_id, language) if definition is not None else None
    return title or alert.rule_title


def alert_protocols(alerts: Iterable[Alert]) -> dict[int, list[ProtocolDefinition]]:
    """The protocol versions each alert's version name (``rule_version``) names, by
    alert id (one per protocol): one query whatever the number of alerts (a version's
    definition is cached)."""
    alerts = list(alerts)
    if not alerts:
        return {}
    definitions: dict[str, list[ProtocolDefinition]] = {}
    for version in ProtocolVersion.objects.select_related("protocol").filter(
        version__in={alert.rule_version for alert in alerts}
    ):
        definitions.setdefault(version.version, []).append(protocol_definition(version))
    return {alert.pk: definitions.get(alert.rule_version, []) for alert in alerts}


def alert_rule_titles(
    *, alerts: Iterable[Alert], language: str, protocols: dict[int, list[ProtocolDefinition]] | None = None
) -> dict[int, str]:
    """Each alert's rule title in ``language`` (by alert id), for a page of alerts: one
    query for the protocol versions they name (none when ``protocols``, from
    ``alert_protocols``, is given). The stored English title stands in where that
    version has no translation of the rule."""
    alerts = list(alerts)
    protocols = protocols if protocols is not None else alert_protocols(alerts)
    titles = {}
    for alert in alerts:
        found = (definition.rule_title(alert.rule_id, language) for definition in protocols.get(alert.pk, ()))
        titles[alert.pk] = next((title for title in found if title), alert.rule_title)
    return titles


def rule_title_in(*, rule_id: str, title: str, definitions: Iterable[ProtocolDefinition], language: str) -> str:
    """A rule's title in ``language`` as the first of ``definitions`` (the protocols in
    use) that knows the rule has it; ``title`` (the stored English) otherwise. For
    figures that group alerts of a rule across versions (the metrics page)."""
    found = (definition.rule_title(rule_id, language) for definition in definitions)
    return next((one for one in found if one), title)
