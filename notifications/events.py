"""Dashboard events: stored first, then carried to the clinic's websocket group.

`event_publish` is called inside the transaction that made the change; the row gets
its `seq` there, and the fan-out runs only after commit, so a client never sees an
event that was rolled back, and a client that missed one finds it with `?since=`."""

from __future__ import annotations

from typing import Any

from django.db import transaction

from backend.write_batch import insert_rows
from notifications.layer_bridge import layer_call
from notifications.models import Event

EVENT_TYPES = frozenset(
    {"alert.created", "alert.updated", "check_in.received", "appointment.updated", "message.created"}
)


def clinic_group(clinic_id: int) -> str:
    return f"clinic.{clinic_id}"


def event_message(event: Event) -> dict[str, Any]:
    return {"seq": event.seq, "type": event.type, "data": event.data}


def event_fan_out(*events: Event) -> None:
    """Carry committed events to their clinics' groups, in the order given (one call
    into the channel layer for a check-in's events together)."""

    async def send_all(layer: Any) -> None:
        for event in events:
            await layer.group_send(
                clinic_group(event.clinic_id), {"type": "vigil.event", "event": event_message(event)}
            )

    layer_call(send_all)


def event_publish(*, clinic_id: int, type: str, data: dict[str, Any]) -> Event:
    if type not in EVENT_TYPES:
        raise ValueError(f"unknown event type {type!r}")
    event = Event(clinic_id=clinic_id, type=type, data=data)
    # Inside a write_batch the row (and its seq) is written with the batch's others.
    insert_rows([event], then=_fan_out_after_commit)
    return event


def _fan_out_after_commit(events: list[Event]) -> None:
    # robust: the event is already committed, so a channel layer that is down (Redis
    # outage) must not turn the caller's success into a 500; connected dashboards
    # catch up from the stored row (?since= and the consumer's database sweep).
    committed = tuple(events)
    transaction.on_commit(lambda: event_fan_out(*committed), robust=True)
