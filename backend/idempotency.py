"""Idempotency-Key support for DRF write views (API.md, Conventions).

A client that lost the reply to a write (a patient's phone on a train) retries it with
the same ``Idempotency-Key`` header. The same key with the same body gets the first
response back, same status and same id, and nothing is written twice; the same key
with a different body is a 409 (the client reused a key: refusing beats guessing).
A key is scoped to the caller and the path and honoured for ``IDEMPOTENCY_TTL``.

Race-safety: the view runs inside one transaction together with the insert of the
``IdempotencyRecord``. Two concurrent requests with one key both run the view, but
the unique constraint (user, path, key) lets only one insert commit: the other's
transaction, its write included, rolls back, and it answers with the winner's
stored response. Only successful (2xx) responses are stored: an error changed
nothing, so a retry simply runs again.
"""

from __future__ import annotations

import functools
import hashlib
import json
from collections.abc import Callable
from datetime import timedelta
from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone
from rest_framework.renderers import JSONRenderer
from rest_framework.request import Request
from rest_framework.response import Response

from backend.models import IdempotencyRecord

HEADER = "Idempotency-Key"
IDEMPOTENCY_TTL = timedelta(hours=24)
MAX_KEY_LENGTH = 200
REPLAY_HEADER = "Idempotent-Replayed"

View = Callable[..., Response]


def body_fingerprint(data: Any) -> str:
    """sha256 of the parsed body in canonical JSON: the same JSON sent with other
    whitespace or key order is the same body."""
    canonical = json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def _replay(record: IdempotencyRecord, fingerprint: str) -> Response:
    if record.body_hash != fingerprint:
        return Response(
            {HEADER: ["This key was already used with a different request body."]},
            status=409,
        )
    response = Response(record.response_body, status=record.status_code)
    response[REPLAY_HEADER] = "true"
    return response


def _live_record(*, user_id: int, path: str, key: str) -> IdempotencyRecord | None:
    return IdempotencyRecord.objects.filter(
        user_id=user_id, path=path, key=key, created_at__gte=timezone.now() - IDEMPOTENCY_TTL
    ).first()


def idempotency_records_purge() -> int:
    """Delete records past their lifetime (for a periodic task); returns how many."""
    deleted, _ = IdempotencyRecord.objects.filter(created_at__lt=timezone.now() - IDEMPOTENCY_TTL).delete()
    return deleted


def idempotent(view: View) -> View:
    """Decorate a DRF view method (``def post(self, request, ...)``)."""

    @functools.wraps(view)
    def wrapper(self: Any, request: Request, *args: Any, **kwargs: Any) -> Response:
        key = request.headers.get(HEADER)
        if key is None:
            return view(self, request, *args, **kwargs)
        key = key.strip()
        if not key or len(key) > MAX_KEY_LENGTH:
            return Response({HEADER: [f"Give a key of 1 to {MAX_KEY_LENGTH} characters."]}, status=400)
        if not request.user or not request.user.is_authenticated:
            return view(self, request, *args, **kwargs)
        user_id = request.user.pk
        path = request.path[:300]
        fingerprint = body_fingerprint(request.data)

        existing = _live_record(user_id=user_id, path=path, key=key)
        if existing is not None:
            return _replay(existing, fingerprint)
        try:
            with transaction.atomic():
                # A record past its lifetime frees the key (a live one is never deleted).
                IdempotencyRecord.objects.filter(
                    user_id=user_id, path=path, key=key, created_at__lt=timezone.now() - IDEMPOTENCY_TTL
                ).delete()
                # Looked up again inside the transaction: on SQLite, writers queue at
                # BEGIN IMMEDIATE, so a request that waited for a concurrent twin sees
                # its committed record here.
                existing = _live_record(user_id=user_id, path=path, key=key)
                if existing is not None:
                    return _replay(existing, fingerprint)
                response = view(self, request, *args, **kwargs)
                if 200 <= response.status_code < 300:
                    body = json.loads(JSONRenderer().render(response.data) or b"null")
                    IdempotencyRecord.objects.create(
                        user_id=user_id,
                        path=path,
                        key=key,
                        body_hash=fingerprint,
                        status_code=response.status_code,
                        response_body=body,
                    )
        except IntegrityError:
            # A concurrent request with this key committed first; ours rolled back.
            winner = _live_record(user_id=user_id, path=path, key=key)
            if winner is None:
                raise
            return _replay(winner, fingerprint)
        return response

    # backend.openapi documents the header and its 409 on every operation marked so.
    wrapper.accepts_idempotency_key = True  # type: ignore[attr-defined]
    return wrapper
