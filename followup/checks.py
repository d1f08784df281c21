"""A system check that loads every protocol file, so that `manage.py check` (and every
`runserver`, `migrate` and test run) fails loudly on an invalid protocol, naming the
file, the entry and the reason, instead of a patient's check-in failing later."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django.core.checks import CheckMessage, Error, register

from followup.protocols import DEFAULT_DATA_DIR, ProtocolLoadError, load_all


@register("vigil_protocols")
def protocol_files_check(app_configs: Iterable[Any] | None = None, **kwargs: Any) -> list[CheckMessage]:
    try:
        load_all(DEFAULT_DATA_DIR)
    except ProtocolLoadError as error:
        return [
            Error(
                f"Invalid protocol file: {error}",
                hint="Fix the entry named above; the protocol is not loaded until it validates.",
                obj=error.file,
                id="followup.E001",
            )
        ]
    return []
