"""``/api/v1/push-subscriptions/``: the patient app's Web Push subscriptions (issue 18).

Patients only (staff get a 403, as on ``/me/``). ``GET`` gives the server's VAPID
public key to subscribe with; ``POST`` stores the browser's subscription (idempotent by
endpoint); ``DELETE`` removes it by endpoint (in the body or as ``?endpoint=``)."""

from __future__ import annotations

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from backend.models import Patient
from backend.permissions import IsPatient
from followup.services.push import push_subscription_delete, push_subscription_save
from followup.services.push_keys import vapid_public_key


class PushSubscriptionApi(APIView):
    permission_classes = [IsPatient]

    class KeysSerializer(serializers.Serializer):
        p256dh = serializers.RegexField(r"^[A-Za-z0-9_-]{80,100}=*$")
        auth = serializers.RegexField(r"^[A-Za-z0-9_-]{16,30}=*$")

    class InputSerializer(serializers.Serializer):
        endpoint = serializers.URLField(max_length=1000)
        keys = serializers.DictField(required=False)

        def validate_endpoint(self, value: str) -> str:
            # A push service is reached over https only (RFC 8030).
            if not value.startswith("https://"):
                raise serializers.ValidationError("The endpoint must be an https URL.")
            return value

    def _patient(self, request: Request) -> Patient:
        return Patient.objects.get(user=request.user)

    @extend_schema(responses={200: OpenApiTypes.OBJECT})
    def get(self, request: Request) -> Response:
        return Response({"public_key": vapid_public_key()})

    @extend_schema(request=OpenApiTypes.OBJECT, responses={201: OpenApiTypes.OBJECT})
    def post(self, request: Request) -> Response:
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        keys = self.KeysSerializer(data=request.data.get("keys") or {})
        if not keys.is_valid():
            return Response({"keys": [f"{name}: {errors[0]}" for name, errors in keys.errors.items()]}, status=400)
        row = push_subscription_save(
            patient=self._patient(request),
            endpoint=data.validated_data["endpoint"],
            p256dh=keys.validated_data["p256dh"],
            auth=keys.validated_data["auth"],
        )
        return Response({"id": row.pk, "endpoint": row.endpoint}, status=status.HTTP_201_CREATED)

    # A DELETE's body is not described by OpenAPI tools (and dropped by some clients):
    # the endpoint may come as ?endpoint= as well, and that is what the schema says.
    @extend_schema(
        parameters=[
            OpenApiParameter("endpoint", str, OpenApiParameter.QUERY, description="the subscription's endpoint")
        ],
        responses={204: None},
    )
    def delete(self, request: Request) -> Response:
        given = request.data if "endpoint" in request.data else {"endpoint": request.query_params.get("endpoint", "")}
        data = self.InputSerializer(data=given)
        data.is_valid(raise_exception=True)
        push_subscription_delete(patient=self._patient(request), endpoint=data.validated_data["endpoint"])
        return Response(status=status.HTTP_204_NO_CONTENT)
