"""System checks that load every protocol file and its SMS answer vocabularies, so that
`manage.py check` (and every `runserver`, `migrate` and test run) fails loudly on an
invalid file, naming the file, the entry and the reason, instead of a patient's
check-in or SMS reply failing later."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django.core.checks import CheckMessage, Error, register

from followup.protocols import DEFAULT_DATA_DIR, ProtocolLoadError, load_all
from followup.sms.vocabulary import vocabulary_clear, vocabulary_for


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


@register("vigil_protocols")
def vocabulary_files_check(app_configs: Iterable[Any] | None = None, **kwargs: Any) -> list[CheckMessage]:
    try:
        slugs = list(load_all(DEFAULT_DATA_DIR))
    except ProtocolLoadError:
        return []  # reported by protocol_files_check
    vocabulary_clear()  # read the files as they are now
    errors: list[CheckMessage] = []
    for slug in slugs:
        try:
            vocabulary_for(slug)
        except ProtocolLoadError as error:
            errors.append(
                Error(
                    f"Invalid SMS answer vocabulary: {error}",
                    hint="Fix the entry named above; SMS replies cannot be read until it validates.",
                    obj=error.file,
                    id="followup.E002",
                )
            )
    return errors
