"""Twilio error codes in words, with a verdict on whether retrying can help.

One function, :func:`describe_twilio_error`, serves both places a Twilio code shows
up: the REST reply to ``messages.create`` (21xxx, 20xxx) and the ``ErrorCode`` of a
delivery status callback (30xxx).

``permanent`` means "sending the same request again cannot succeed until someone
changes something" (the number, the patient's consent, our configuration). The
outbox stops retrying a permanent failure and shows it to staff; a transient one
(rate limits, Twilio or carrier trouble, our network) is retried a few times behind
the message's idempotency key. Whether the fault is the recipient's or ours is in
``code``: 21610, for example, means the patient texted STOP to the carrier.

The messages name no phone number and quote no message body: they are stored on
message rows and shown on staff pages, and must stay free of PHI.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["TwilioErrorVerdict", "describe_twilio_error"]


@dataclass(frozen=True, slots=True)
class TwilioErrorVerdict:
    message: str
    permanent: bool


# code: (readable message, permanent)
_KNOWN: dict[int, tuple[str, bool]] = {
    # --- Our configuration or account: retrying the same request cannot help. ---
    20003: (
        "Twilio rejected our credentials (check the account SID and auth token)",
        True,
    ),
    20404: ("Twilio resource not found (check the account SID)", True),
    21212: ("The configured 'From' number is not a valid phone number", True),
    21603: ("No 'From' number or Messaging Service is configured", True),
    21606: ("The configured 'From' number cannot send SMS to this destination", True),
    21659: (
        "The configured 'From' number is not a Twilio number for this destination",
        True,
    ),
    21701: ("The configured Messaging Service does not exist on this account", True),
    21705: ("The configured Messaging Service SID is invalid", True),
    30002: ("The Twilio account is suspended", True),
    30010: ("The message price exceeds the configured maximum price", True),
    30032: ("The toll-free sender is not verified", True),
    30034: ("The sender is not registered for US A2P 10DLC", True),
    # --- The recipient's number or consent. ---
    21211: ("The recipient's number is not a valid phone number", True),
    21408: (
        "SMS to the recipient's country is not enabled on the Twilio account",
        True,
    ),
    21604: ("The message has no recipient number", True),
    21608: (
        "The recipient's number is not verified on this Twilio trial account",
        True,
    ),
    21610: (
        (
            "The recipient has unsubscribed: they replied STOP to the carrier, and "
            "Twilio blocks messages to them until they reply START"
        ),
        True,
    ),
    21612: ("The recipient's number cannot be reached by SMS from our sender", True),
    21614: ("The recipient's number is not a mobile number", True),
    30003: ("The recipient's handset is unreachable (Twilio gave up delivering)", True),
    30004: ("The message was blocked by the recipient or their carrier", True),
    30005: ("The recipient's number is unknown to the carrier", True),
    30006: ("The recipient's number is a landline or its carrier is unreachable", True),
    30007: ("The carrier filtered the message", True),
    # --- The message itself. ---
    21602: ("The message body is empty", True),
    21617: ("The message body is longer than Twilio's 1600-character limit", True),
    # --- Transient: rate limits, queues, Twilio or carrier trouble. ---
    14107: ("Too many messages between the same two numbers in 30 seconds", False),
    20429: ("Twilio is rate limiting our requests", False),
    20500: ("Twilio had an internal server error", False),
    20503: ("Twilio is temporarily unavailable", False),
    21611: ("The sender's queue at Twilio is full", False),
    21730: ("Twilio is under maintenance", False),
    30001: ("The sender's queue at Twilio overflowed", False),
    30008: ("Delivery failed for an unknown reason at the carrier", False),
    30009: ("A segment of the message was lost on the way", False),
    30017: ("The carrier's network is congested", False),
    30022: ("The carrier rate limited our sender (US A2P 10DLC)", False),
}


def describe_twilio_error(code: int | None, http_status: int | None = None) -> TwilioErrorVerdict:
    """Say what a Twilio error means and whether retrying the same request can help.

    ``code`` is Twilio's error code (``TwilioRestException.code``, a status callback's
    ``ErrorCode``); ``http_status`` is the status of the REST reply, when there was
    one. An unknown code is judged by the HTTP status: 429 and 5xx are transient,
    other 4xx permanent (a request Twilio refused stays refused). Without either it
    is transient, so the capped retries of the outbox get a chance.
    """
    if code is not None and code in _KNOWN:
        text, permanent = _KNOWN[code]
        return TwilioErrorVerdict(message=f"{text} (Twilio error {code})", permanent=permanent)

    if http_status is None:
        text, permanent = "Twilio failed for an unknown reason", False
    elif http_status == 429:
        text, permanent = "Twilio is rate limiting our requests", False
    elif http_status >= 500:
        text, permanent = "Twilio had a server error", False
    elif http_status >= 400:
        text, permanent = "Twilio refused the request", True
    else:
        text, permanent = "Twilio gave an unexpected reply", False
    where = [f"Twilio error {code}"] if code is not None else []
    if http_status is not None:
        where.append(f"HTTP {http_status}")
    suffix = f" ({', '.join(where)})" if where else ""
    return TwilioErrorVerdict(message=text + suffix, permanent=permanent)
