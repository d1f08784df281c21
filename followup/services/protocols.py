"""Protocol versions: publishing the data files into the database, and loading a
stored version back into a ``ProtocolDefinition``.

The files under ``followup/protocols/data/<slug>/`` are the source; a
``ProtocolVersion`` row is a published copy of them (the whole texts, in its
``ProtocolVersionTexts`` row). A patient stays on the version they were enrolled on, so
every evaluation loads the rules from the STORED texts of that version, never from
the files as they are today: a protocol edited next month must not change how last
month's check-ins are judged, and every alert names the version that fired it.
"""

from __future__ import annotations

import tempfile
import threading
from collections.abc import Mapping
from pathlib import Path

from django.db import IntegrityError, transaction

from followup.models import Protocol, ProtocolVersion, ProtocolVersionTexts
from followup.protocols import DEFAULT_DATA_DIR, ProtocolDefinition, ProtocolLoadError, load_protocol
from followup.protocols.loader import PROTOCOL_FILE, RULES_FILE

PROTOCOL_FILES = (PROTOCOL_FILE, RULES_FILE)

_lock = threading.Lock()
# Stored versions never change, so a definition loaded for a version is good for the
# life of the process. The key holds the content hash too: a rolled-back transaction
# can hand the same id to another version (SQLite reuses ids after a rollback).
_by_version: dict[tuple[int, str], ProtocolDefinition] = {}
# Loaded data files, keyed by directory and the files' modification times: a changed
# file is re-read (and re-validated) on the next call, an unchanged one is not.
_by_directory: dict[tuple[str, tuple[int, ...]], tuple[ProtocolDefinition, dict[str, str]]] = {}
# What identifies a stored version (and its protocol's slug) never changes either, so the
# check-in path takes its version from here instead of joining two more tables into its
# first statement (issue 17). Filled when a version is published or first read; a
# publication overwrites its id's entry, as a rolled-back one may have left it there.
_VERSION_FIELDS = ("id", "protocol_id", "version", "content_hash", "published_at")
_PROTOCOL_FIELDS = ("id", "slug")
_version_rows: dict[int, tuple[tuple[object, ...], tuple[object, ...]]] = {}


class ProtocolNotFound(LookupError):
    """No protocol data directory with that slug."""


def protocol_files_read(*, directory: Path) -> dict[str, str]:
    """The texts of a protocol directory's files, as they are stored in a version."""
    return {name: (directory / name).read_text(encoding="utf-8") for name in PROTOCOL_FILES}


def protocol_definition_from_texts(
    *, files: Mapping[str, str], label: str = "stored", sources: Mapping[str, str] | None = None
) -> ProtocolDefinition:
    """Validate and compile a protocol from its file texts.

    The loader reads from a directory, so the texts are written to a throw-away one.
    An error names the file as ``sources`` gives it (by file name), else as
    ``<label>/<file>``, then the entry and the reason."""
    missing = [name for name in PROTOCOL_FILES if name not in files]
    if missing:
        raise ValueError(f"protocol texts lack {', '.join(missing)}")
    with tempfile.TemporaryDirectory(prefix="vigil-protocol-") as root:
        directory = Path(root) / label
        directory.mkdir()
        for name in PROTOCOL_FILES:
            (directory / name).write_text(files[name], encoding="utf-8")
        try:
            return load_protocol(directory)
        except ProtocolLoadError as error:
            name = Path(error.file).name
            shown = (sources or {}).get(name, f"{label}/{name}")
            raise ProtocolLoadError(shown, error.entry, error.reason) from error


def _directory_definition(directory: Path) -> tuple[ProtocolDefinition, dict[str, str]]:
    stamp = tuple((directory / name).stat().st_mtime_ns for name in PROTOCOL_FILES)
    key = (str(directory), stamp)
    with _lock:
        cached = _by_directory.get(key)
    if cached is not None:
        return cached
    files = protocol_files_read(directory=directory)
    definition = protocol_definition_from_texts(
        files=files, label=directory.name, sources={name: str(directory / name) for name in PROTOCOL_FILES}
    )
    if definition.slug != directory.name:
        raise ProtocolLoadError(
            str(directory / PROTOCOL_FILE),
            "slug",
            f"slug '{definition.slug}' must match its directory name '{directory.name}'",
        )
    with _lock:
        _by_directory[key] = (definition, files)
    return definition, files


def protocol_slugs(*, data_dir: Path = DEFAULT_DATA_DIR) -> list[str]:
    """The slugs of the protocols in the data directory (one directory each)."""
    root = Path(data_dir)
    return sorted(path.name for path in root.iterdir() if (path / PROTOCOL_FILE).is_file())


def protocol_version_current(slug: str, *, data_dir: Path = DEFAULT_DATA_DIR) -> ProtocolVersion:
    """The published version matching the protocol's files today.

    When the files' content hash differs from every stored version, a new version is
    published (its texts stored) and becomes current; the previous one stays for the
    patients enrolled on it. Comments and layout do not change the hash. Two workers
    publishing at once are serialised by a lock on the protocol row and the unique
    (protocol, content_hash) constraint. Raises ``ProtocolNotFound`` for an unknown
    slug and ``ProtocolLoadError`` for an invalid file (naming file and entry).
    """
    directory = Path(data_dir) / slug
    if not (directory / PROTOCOL_FILE).is_file():
        raise ProtocolNotFound(f"no protocol '{slug}' in {data_dir}")
    definition, files = _directory_definition(directory)
    existing = (
        ProtocolVersion.objects.select_related("protocol")
        .filter(protocol__slug=slug, content_hash=definition.content_hash, is_current=True)
        .first()
    )
    if existing is not None:
        return existing
    try:
        return _publish(slug=slug, definition=definition, files=files)
    except IntegrityError:
        # Another worker published the same content between our read and our write.
        return ProtocolVersion.objects.select_related("protocol").get(
            protocol__slug=slug, content_hash=definition.content_hash
        )


def _publish(*, slug: str, definition: ProtocolDefinition, files: dict[str, str]) -> ProtocolVersion:
    with transaction.atomic():
        protocol, _created = Protocol.objects.get_or_create(slug=slug, defaults={"title": definition.title})
        protocol = Protocol.objects.select_for_update().get(pk=protocol.pk)
        if protocol.title != definition.title:
            protocol.title = definition.title
            protocol.save(update_fields=["title"])
        same = ProtocolVersion.objects.filter(protocol=protocol, content_hash=definition.content_hash).first()
        ProtocolVersion.objects.filter(protocol=protocol, is_current=True).exclude(pk=getattr(same, "pk", None)).update(
            is_current=False
        )
        if same is not None:
            # The files went back to an earlier published content: that version is
            # current again (no duplicate row for the same content).
            if not same.is_current:
                same.is_current = True
                same.save(update_fields=["is_current"])
            return same
        version = definition.version
        if ProtocolVersion.objects.filter(protocol=protocol, version=version).exists():
            # The content changed but the file's version string did not: keep the
            # versions apart so that an alert's rule version names exactly one.
            version = f"{definition.version}+{definition.content_hash[:8]}"
        created = ProtocolVersion.objects.create(
            protocol=protocol,
            version=version,
            content_hash=definition.content_hash,
            is_current=True,
        )
        ProtocolVersionTexts.objects.create(version=created, files=dict(files))
    with _lock:
        _by_version[(created.pk, created.content_hash)] = definition
    _version_remember(created)
    return created


def _version_remember(version: ProtocolVersion) -> None:
    row = tuple(getattr(version, name) for name in _VERSION_FIELDS)
    protocol_row = tuple(getattr(version.protocol, name) for name in _PROTOCOL_FIELDS)
    with _lock:
        _version_rows[version.pk] = (row, protocol_row)


def protocol_version_stored(version_id: int) -> ProtocolVersion:
    """The stored version ``version_id`` with its protocol, from what never changes of
    them (one query the first time in a process). A new instance each call; what may
    change (``is_current``, the protocol's title) is deferred, read if asked for."""
    with _lock:
        remembered = _version_rows.get(version_id)
    if remembered is None:
        version = ProtocolVersion.objects.select_related("protocol").get(pk=version_id)
        _version_remember(version)
        return version
    row, protocol_row = remembered
    version = ProtocolVersion.from_db("default", _VERSION_FIELDS, row)
    ProtocolVersion.protocol.field.set_cached_value(
        version, Protocol.from_db("default", _PROTOCOL_FIELDS, protocol_row)
    )
    return version


def protocol_definition(version: ProtocolVersion) -> ProtocolDefinition:
    """The definition of a stored version, loaded from its stored texts (cached)."""
    key = (version.pk, version.content_hash)
    with _lock:
        cached = _by_version.get(key)
    if cached is not None:
        return cached
    files = ProtocolVersionTexts.objects.get(version_id=version.pk).files
    definition = protocol_definition_from_texts(files=files, label=version.protocol.slug)
    with _lock:
        _by_version[key] = definition
    return definition


def protocol_versions_sync(*, data_dir: Path = DEFAULT_DATA_DIR) -> list[ProtocolVersion]:
    """Publish every protocol of the data directory whose files changed."""
    return [protocol_version_current(slug, data_dir=data_dir) for slug in protocol_slugs(data_dir=data_dir)]
