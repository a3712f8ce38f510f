"""Chunked dataset uploads: begin (name, size, sha256) -> chunks in order -> end (size and sha256 checked).

Staged files live in `<state_dir>/uploads/<upload_id>.part`. One upload may not exceed `max_upload_bytes`, and
all uploads being staged together may not exceed it either, so a client cannot fill the disk by opening many.
An upload untouched for an hour is dropped. The offset of each chunk must equal the bytes received so far.

Each upload belongs to the connection that last used it, and one connection holds at most
`MAX_UPLOADS_PER_CONNECTION` (of `MAX_STAGED_UPLOADS` in all). When a connection closes, its uploads are
orphaned: a client that lost its connection may still continue one (the upload_id is a 128-bit secret) with
the offset the error names, which makes it that connection's again, but orphans are dropped first whenever
a `begin` needs room, and after `ORPHAN_GRACE_S` in any case. So a client that leaves uploads unfinished never
locks the others out.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
import secrets
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .protocol import ProtocolError

UPLOAD_NAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9._-]{0,127}")  # used with fullmatch: no trailing newline
STALE_AFTER_S = 3600.0
ORPHAN_GRACE_S = 300.0
MAX_STAGED_UPLOADS = 64
MAX_UPLOADS_PER_CONNECTION = 8


def sanitise_name(name: str) -> str:
    """A bare file name, or ProtocolError: no folders, no '..', no leading dot, no odd characters."""
    if not UPLOAD_NAME.fullmatch(name) or ".." in name:
        raise ProtocolError("bad-message", "an upload name is a bare file name of letters, digits, '.', '_' and '-'")
    return name


@dataclass
class Upload:
    upload_id: str
    name: str
    size: int
    sha256: str
    path: Path
    received: int = 0
    finished: bool = False
    touched: float = field(default_factory=time.monotonic)
    owner: object | None = None  # the connection that last used it; None once that connection has closed
    hasher: Any = field(default_factory=hashlib.sha256)


class UploadStore:
    def __init__(self, folder: Path, max_upload_bytes: int) -> None:
        self.folder = folder
        self.max_upload_bytes = max_upload_bytes
        self._uploads: dict[str, Upload] = {}
        # Staged uploads do not outlive the server: a client whose upload was cut off by a restart begins again.
        shutil.rmtree(folder, ignore_errors=True)
        folder.mkdir(parents=True, exist_ok=True)

    def _drop_stale(self) -> None:
        now = time.monotonic()
        for upload in list(self._uploads.values()):
            limit = STALE_AFTER_S if upload.owner is not None else ORPHAN_GRACE_S
            if now - upload.touched > limit:
                self.discard(upload.upload_id)

    def _make_room(self, size: int) -> None:
        """Drop orphaned uploads, least recently used first, until one more of `size` bytes fits."""
        orphans = sorted((u for u in self._uploads.values() if u.owner is None), key=lambda upload: upload.touched)
        for orphan in orphans:
            staged = sum(upload.size for upload in self._uploads.values())
            if len(self._uploads) < MAX_STAGED_UPLOADS and staged + size <= self.max_upload_bytes:
                return
            self.discard(orphan.upload_id)

    def release(self, owner: object) -> None:
        """The connection `owner` has closed: its uploads become orphans (see the module's docstring)."""
        for upload in self._uploads.values():
            if upload.owner is owner:
                upload.owner = None
                upload.touched = time.monotonic()

    def discard(self, upload_id: str) -> None:
        upload = self._uploads.pop(upload_id, None)
        if upload is not None:
            upload.path.unlink(missing_ok=True)

    def _get(self, upload_id: str, owner: object | None = None) -> Upload:
        upload = self._uploads.get(upload_id)
        if upload is None:
            raise ProtocolError("unknown-upload", f"no upload {upload_id!r} (finished, expired or never begun)")
        upload.touched = time.monotonic()
        if owner is not None:
            upload.owner = owner
        return upload

    def begin(self, name: str, size: int, sha256: str, owner: object | None = None) -> Upload:
        self._drop_stale()
        clean_name = sanitise_name(name)
        if owner is not None:
            held = sum(1 for upload in self._uploads.values() if upload.owner is owner)
            if held >= MAX_UPLOADS_PER_CONNECTION:
                raise ProtocolError(
                    "upload-too-large",
                    f"this connection already stages {held} uploads (at most {MAX_UPLOADS_PER_CONNECTION}); "
                    "finish or submit one first",
                )
        self._make_room(size)
        if len(self._uploads) >= MAX_STAGED_UPLOADS:
            raise ProtocolError(
                "upload-too-large", f"{MAX_STAGED_UPLOADS} uploads are already being staged; finish or abandon one"
            )
        staged = sum(upload.size for upload in self._uploads.values())
        if size > self.max_upload_bytes or staged + size > self.max_upload_bytes:
            raise ProtocolError(
                "upload-too-large",
                f"{size} bytes would exceed the server's upload limit of {self.max_upload_bytes} bytes "
                f"({staged} bytes already being staged)",
            )
        upload_id = secrets.token_hex(16)
        upload = Upload(upload_id, clean_name, size, sha256, self.folder / f"{upload_id}.part", owner=owner)
        upload.path.write_bytes(b"")
        self._uploads[upload_id] = upload
        return upload

    def chunk(self, upload_id: str, offset: int, data_b64: str, owner: object | None = None) -> int:
        upload = self._get(upload_id, owner)
        if upload.finished:
            raise ProtocolError("upload-offset", "this upload has already ended")
        if offset != upload.received:
            raise ProtocolError("upload-offset", f"expected offset {upload.received}, got {offset}")
        try:
            data = base64.b64decode(data_b64, validate=True)
        except (binascii.Error, ValueError):
            raise ProtocolError("bad-message", "upload_chunk data is not valid base64") from None
        if upload.received + len(data) > upload.size:
            self.discard(upload_id)
            raise ProtocolError(
                "upload-too-large", "more bytes than the size announced in upload_begin; upload dropped"
            )
        with open(upload.path, "ab") as handle:
            handle.write(data)
        upload.hasher.update(data)
        upload.received += len(data)
        return upload.received

    def end(self, upload_id: str, owner: object | None = None) -> Upload:
        upload = self._get(upload_id, owner)
        if upload.received != upload.size:
            raise ProtocolError("upload-incomplete", f"received {upload.received} of {upload.size} bytes")
        if upload.hasher.hexdigest() != upload.sha256:
            self.discard(upload_id)
            raise ProtocolError(
                "upload-mismatch", "the sha256 of the received bytes differs from upload_begin's; upload dropped"
            )
        upload.finished = True
        return upload

    def peek_finished(self, upload_id: str) -> Upload:
        upload = self._get(upload_id)
        if not upload.finished:
            raise ProtocolError("upload-incomplete", "send upload_end (and have it verified) before submit")
        return upload

    def take(self, upload_id: str) -> Path:
        """Hand a finished upload's file over (renamed to its name); the store forgets it."""
        upload = self.peek_finished(upload_id)
        del self._uploads[upload_id]
        target = self.folder / upload_id
        target.mkdir()
        final = target / upload.name
        upload.path.rename(final)
        return final
