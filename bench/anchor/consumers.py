"""/ws/bench-anchor/: the anchor's websocket, the bare minimum a live feed needs.

Authenticates a knox token from ``?token=`` (as Vigil's feed does for programs), joins
one group and forwards each event as it comes: no stored events,
no replay, no ordering checks. Vigil's /ws/alerts/ is measured against it."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import parse_qs

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncWebsocketConsumer
from knox.auth import TokenAuthentication
from rest_framework.exceptions import AuthenticationFailed

from bench.anchor.views import ANCHOR_GROUP


def _user_for(key: str) -> Any:
    try:
        user, _token = TokenAuthentication().authenticate_credentials(key.encode())
    except (AuthenticationFailed, UnicodeError, ValueError):
        return None
    return user


class AnchorFeedConsumer(AsyncWebsocketConsumer):
    group: str | None = None

    async def connect(self) -> None:
        query = parse_qs(self.scope.get("query_string", b"").decode("latin1"))
        user = await database_sync_to_async(_user_for)((query.get("token") or [""])[0])
        if user is None:
            await self.close()
            return
        self.group = ANCHOR_GROUP
        await self.channel_layer.group_add(self.group, self.channel_name)
        await self.accept()

    async def disconnect(self, code: int) -> None:
        if self.group:
            await self.channel_layer.group_discard(self.group, self.channel_name)

    async def anchor_event(self, message: dict[str, Any]) -> None:
        await self.send(text_data=json.dumps(message["event"]))
