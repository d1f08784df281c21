"""The audit log's one writer. Every API read and write of patient data calls it."""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from django.http import HttpRequest
from rest_framework.throttling import BaseThrottle

from backend.models import AuditAction, AuditRecord, User
from backend.write_batch import insert_rows


def client_address(request: HttpRequest | None) -> str | None:
    """The caller's address as the sign-in throttles see it (DRF's ``get_ident``):
    REMOTE_ADDR, or with ``TRUSTED_PROXIES`` set, the address our own proxy recorded in
    X-Forwarded-For. Never an entry the client wrote itself: an audit trail must not be
    forgeable."""
    if request is None:
        return None
    address = BaseThrottle().get_ident(request)
    try:
        # A proxy count set higher than the proxies there are reaches a client-written
        # entry: keep the connection's own address rather than store (or choke on) it.
        return str(ipaddress.ip_address(address))
    except ValueError:
        return request.META.get("REMOTE_ADDR") or None


@dataclass(frozen=True)
class AuditContext:
    """Where an action came from, for its audit rows: the caller's address (as the
    throttles see it, never a header the client wrote), the HTTP method and path. Built
    once at the edge (``AuditContext.of(request)`` in a view) and passed to services
    explicitly, so no service needs the request object. Work the system does on its
    own (beat, the worker, an inbound SMS) has none. Who acted is the service's own
    ``by``/``actor`` argument: it is domain data too (``created_by``, ``acknowledged_by``)."""

    address: str | None = None
    method: str = ""
    path: str = ""

    @classmethod
    def of(cls, request: HttpRequest | None) -> AuditContext | None:
        if request is None:
            return None
        return cls(address=client_address(request), method=request.method or "", path=request.path[:300])


def audit_record(
    *,
    actor: User | None,
    action: AuditAction | str,
    object_type: str,
    objects: Iterable[tuple[object, int | None]],
    clinic_id: int | None,
    audit: AuditContext | None = None,
) -> int:
    """Write one record per (object id, patient id) pair; returns how many."""
    audit = audit or AuditContext()
    authenticated = actor is not None and actor.is_authenticated
    rows = [
        AuditRecord(
            actor_user_id=actor.pk if authenticated else None,
            actor_username=actor.get_username() if authenticated else "",
            actor_role=getattr(actor, "role", "") if authenticated else "",
            action=action,
            object_type=object_type,
            object_id=str(object_id) if object_id is not None else "",
            patient_id=patient_id,
            clinic_id=clinic_id,
            ip_address=audit.address,
            method=audit.method,
            path=audit.path,
        )
        for object_id, patient_id in objects
    ]
    # Deferred to the end of an open write_batch (one INSERT for a check-in's rows).
    insert_rows(rows)
    return len(rows)


def audit_rows(
    *,
    actor: User | None,
    action: AuditAction | str,
    object_type: str,
    rows: Iterable[Any],
    clinic_id: int | None,
    audit: AuditContext | None = None,
) -> int:
    """One record per model row a service created or changed (its ``pk`` and
    ``patient_id``): the one helper every service writes its audit rows with."""
    return audit_record(
        actor=actor,
        action=action,
        object_type=object_type,
        objects=[(row.pk, row.patient_id) for row in rows],
        clinic_id=clinic_id,
        audit=audit,
    )
