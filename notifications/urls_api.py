"""URL routes of one area (see config/urls.py).

``patients/<id>/messages/`` is routed by ``followup.urls_api_messages``: its view
(the history from ``notifications.api`` plus a nurse's reply) answers both verbs."""

from django.urls import path

from notifications import api_identities

urlpatterns = [
    # A clinic administrator's sending identities (issue 19).
    path("sending-identities/", api_identities.SendingIdentityListApi.as_view(), name="sending-identities"),
    path(
        "sending-identities/<int:pk>/",
        api_identities.SendingIdentityDetailApi.as_view(),
        name="sending-identity",
    ),
]
