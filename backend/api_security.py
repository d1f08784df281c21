"""The staff member's own credentials through the API: a websocket ticket, and their
sessions and tokens (listed; ended one by one). Doorways over ``backend.ws_tickets``
and ``backend.sessions``."""

from __future__ import annotations

from django.utils.translation import gettext as _
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from knox.models import AuthToken
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from backend.audit import AuditContext
from backend.models import User
from backend.permissions import IsClinicStaff
from backend.sessions import TOKEN_ID_LENGTH, signed_in_session_end, signed_in_session_list, token_end, token_list
from backend.ws_tickets import TicketStoreUnavailable, ws_ticket_create

# Seconds a client waits before asking for a ticket again while Redis is away.
TICKET_RETRY_AFTER = 30


class WsTicketCreateApi(APIView):
    """A single-use ticket for `/ws/alerts/?ticket=` (valid 30 s, bound to the caller
    and to the Origin header of this request: none for a program)."""

    permission_classes = [IsClinicStaff]

    class OutputSerializer(serializers.Serializer):
        class Meta:
            ref_name = "WsTicket"

        ticket = serializers.CharField()
        expires_at = serializers.DateTimeField()

    @extend_schema(
        request=None,
        responses={
            201: OutputSerializer,
            503: OpenApiResponse(
                description="Redis (the ticket store and the live feed's channel layer) does not answer: "
                '`{"detail": "...", "code": "ticket_store_unavailable"}`; try again after Retry-After seconds.'
            ),
        },
    )
    def post(self, request: Request) -> Response:
        user: User = request.user  # type: ignore[assignment]
        auth = request.auth
        try:
            ticket = ws_ticket_create(
                user=user,
                origin=request.META.get("HTTP_ORIGIN", ""),
                token_digest=auth.digest if isinstance(auth, AuthToken) else "",
                session_key="" if isinstance(auth, AuthToken) else (request.session.session_key or ""),
            )
        except TicketStoreUnavailable:
            return Response(
                {
                    "detail": _(
                        "The live feed is unavailable: its message store (Redis) does not answer. "
                        "No ticket was made; try again shortly."
                    ),
                    "code": "ticket_store_unavailable",
                },
                status=status.HTTP_503_SERVICE_UNAVAILABLE,
                headers={"Retry-After": str(TICKET_RETRY_AFTER)},
            )
        body = self.OutputSerializer({"ticket": ticket.ticket, "expires_at": ticket.expires_at}).data
        return Response(body, status=status.HTTP_201_CREATED)


class SessionRowSerializer(serializers.Serializer):
    class Meta:
        ref_name = "SignedInSession"

    id = serializers.IntegerField()
    created_at = serializers.DateTimeField()
    last_seen_at = serializers.DateTimeField()
    ip_address = serializers.IPAddressField(allow_null=True)
    user_agent = serializers.CharField()
    current = serializers.BooleanField()


class TokenRowSerializer(serializers.Serializer):
    class Meta:
        ref_name = "ApiTokenRow"

    id = serializers.CharField()
    created_at = serializers.DateTimeField()
    expires_at = serializers.DateTimeField(allow_null=True)
    current = serializers.BooleanField()


class CredentialListApi(APIView):
    """The caller's own signed-in browser sessions and live API tokens."""

    permission_classes = [IsClinicStaff]

    class OutputSerializer(serializers.Serializer):
        class Meta:
            ref_name = "OwnCredentials"

        sessions = SessionRowSerializer(many=True)
        tokens = TokenRowSerializer(many=True)

    @extend_schema(responses={200: OutputSerializer})
    def get(self, request: Request) -> Response:
        user: User = request.user  # type: ignore[assignment]
        current_token = request.auth if isinstance(request.auth, AuthToken) else None
        current_session = getattr(request._request, "session", None)
        current_key = current_session.session_key if current_session is not None and current_token is None else None
        sessions = [
            {
                "id": row.pk,
                "created_at": row.created_at,
                "last_seen_at": row.last_seen_at,
                "ip_address": row.ip_address,
                "user_agent": row.user_agent,
                "current": row.session_key == current_key,
            }
            for row in signed_in_session_list(user=user)
        ]
        tokens = [vars(row) for row in token_list(user=user, current=current_token)]
        return Response(self.OutputSerializer({"sessions": sessions, "tokens": tokens}).data)


class SessionEndApi(APIView):
    permission_classes = [IsClinicStaff]

    @extend_schema(request=None, responses={204: None, 404: OpenApiResponse()})
    def delete(self, request: Request, pk: int) -> Response:
        user: User = request.user  # type: ignore[assignment]
        if not signed_in_session_end(user=user, session_id=pk, audit=AuditContext.of(request._request)):
            return Response({"detail": "Not found."}, status=status.HTTP_404_NOT_FOUND)
        return Response(status=status.HTTP_204_NO_CONTENT)


class TokenEndApi(APIView):
    permission_classes = [IsClinicStaff]

    @extend_schema(
        request=None,
        parameters=[
            OpenApiParameter(
                "token_id",
                str,
                OpenApiParameter.PATH,
                pattern=f"^[0-9a-f]{{{TOKEN_ID_LENGTH}}}$",
                description="The token's `id` as `GET /api/v1/auth/sessions/` lists it.",
            )
        ],
        responses={204: None, 404: OpenApiResponse()},
    )
    def delete(self, request: Request, token_id: str) -> Response:
        user: User = request.user  # type: ignore[assignment]
        if not token_end(user=user, token_id_=token_id, audit=AuditContext.of(request._request)):
            return Response({"detail": "Not found."}, status=status.HTTP_404_NOT_FOUND)
        return Response(status=status.HTTP_204_NO_CONTENT)
