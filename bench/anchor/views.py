"""POST /bench/anchor/check-ins/: the anchor endpoint (see the package docstring).

It does what any check-in endpoint must do and nothing more: token authentication
(knox, as Vigil), validation of the 25 answers of the default protocol with a plain
serializer, one INSERT (an audit row, an existing append-only table, so no migration is
needed) and one channel-layer event sent after commit."""

from __future__ import annotations

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.db import transaction
from rest_framework import serializers, status
from rest_framework.permissions import IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from backend.models import AuditAction, AuditRecord

# One group for the whole installation: scoping events to a clinic is Vigil's own work
# (its cost is part of what the ratio shows); the anchor only fans out.
ANCHOR_GROUP = "bench-anchor"


class AnchorAnswersSerializer(serializers.Serializer):
    """The default protocol's 25 answers, typed and ranged as the protocol says."""

    temperature_c = serializers.FloatField(min_value=34.0, max_value=43.0)
    chills = serializers.BooleanField()
    jaundice = serializers.BooleanField()
    dark_urine = serializers.BooleanField()
    itching = serializers.BooleanField()
    abdominal_pain = serializers.IntegerField(min_value=0, max_value=10)
    right_upper_pain = serializers.BooleanField()
    abdominal_swelling = serializers.ChoiceField(choices=["none", "mild", "severe"])
    nausea = serializers.BooleanField()
    vomiting_episodes_24h = serializers.IntegerField(min_value=0, max_value=50)
    fluids_kept_down = serializers.BooleanField(required=False)
    vomit_blood = serializers.BooleanField()
    black_stools = serializers.BooleanField()
    bowel_movement_days = serializers.IntegerField(min_value=0, max_value=30)
    appetite = serializers.ChoiceField(choices=["normal", "reduced", "none"])
    weight_kg = serializers.FloatField(min_value=25.0, max_value=300.0)
    heart_rate_bpm = serializers.IntegerField(min_value=20, max_value=250, required=False)
    confusion = serializers.BooleanField()
    shortness_of_breath = serializers.BooleanField()
    leg_swelling = serializers.ChoiceField(choices=["none", "both", "one"])
    swallowing_difficulty = serializers.BooleanField()
    wound = serializers.ChoiceField(choices=["normal", "red", "discharge", "opened"])
    drain_output_ml = serializers.FloatField(min_value=0, max_value=5000, required=False)
    drain_bile_colored = serializers.BooleanField(required=False)
    patient_urgent = serializers.BooleanField()


class AnchorCheckInApi(APIView):
    """Authenticated by the project's default classes (knox token first), as Vigil."""

    permission_classes = [IsAuthenticated]

    class InputSerializer(serializers.Serializer):
        answers = AnchorAnswersSerializer()
        scheduled_check_in = serializers.IntegerField(allow_null=True, required=False)

    def post(self, request: Request) -> Response:
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        user = request.user
        clinic_id = getattr(user, "clinic_id", None)  # None for a patient: no lookup
        with transaction.atomic():
            (row,) = AuditRecord.objects.bulk_create(
                [
                    AuditRecord(
                        actor_user_id=user.pk,
                        actor_username=user.get_username(),
                        actor_role=getattr(user, "role", ""),
                        action=AuditAction.CREATE,
                        object_type="bench_anchor",
                        clinic_id=clinic_id,
                        method="POST",
                        path=request.path[:300],
                    )
                ]
            )
            event = {"type": "anchor.event", "event": {"type": "check_in.received", "data": {"id": row.pk}}}
            transaction.on_commit(lambda: async_to_sync(get_channel_layer().group_send)(ANCHOR_GROUP, event))
        return Response({"id": row.pk, "level": "green"}, status=status.HTTP_201_CREATED)
