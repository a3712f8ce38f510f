"""media/missing-file, as the linter reports it (server/src/core/dataset/mediaFiles.ts): the files a record's
`images`, `videos` and `audios` lists name must be regular files. Relative paths are resolved against the
dataset file's folder (LLaMA-Factory's default media_dir), absolute paths are taken as they are, and
http(s) URLs are accepted unchecked (nothing downloads). A path is only ever stat()ed, never opened, and
device trees (/dev, /proc, /sys) are refused without a stat.
"""

from __future__ import annotations

import os
import re
import stat
from pathlib import Path
from typing import Any

RULE = "media/missing-file"
MEDIA_KEYS = ("images", "videos", "audios")
_URL = re.compile(r"^https?://", re.IGNORECASE)
_DEVICE_TREES = re.compile(r"^(/(dev|proc|sys)(/|$)|\\\\[.?]\\)")


def media_target(file: str, folder: Path) -> tuple[str, str]:
    """("url", ""), ("path", resolved path) or ("refused", why)."""
    if _URL.match(file):
        return "url", ""
    if not file.strip():
        return "refused", "the path is empty"
    if "\0" in file:
        return "refused", "the path holds a NUL character"
    if _DEVICE_TREES.match(file):
        return "refused", "it names a device, not a regular file"
    path = os.path.normpath(file if os.path.isabs(file) else os.path.join(str(folder), file))
    if _DEVICE_TREES.match(path.replace(os.sep, "/") if os.sep != "/" else path):
        return "refused", "it names a device, not a regular file"
    return "path", path


class MediaChecker:
    """Existence of media files, asked once per path."""

    def __init__(self) -> None:
        self._known: dict[str, str] = {}

    def status(self, path: str) -> str:
        if path not in self._known:
            try:
                mode = os.stat(path).st_mode
                self._known[path] = "file" if stat.S_ISREG(mode) else "not-file"
            except (OSError, ValueError):
                self._known[path] = "missing"
        return self._known[path]

    def problems(self, record: Any, folder: Path) -> list[str]:
        """One message (ending in the rule id) per file of the record that is missing or not a regular file."""
        out: list[str] = []
        if not isinstance(record, dict):
            return out
        for key in MEDIA_KEYS:
            files = record.get(key)
            if not isinstance(files, list):
                continue
            for index, file in enumerate(files):
                if not isinstance(file, str):
                    continue
                kind, detail = media_target(file, folder)
                shown = f"{key}[{index}] {file!r}"
                if kind == "refused":
                    out.append(f"media file {shown} cannot be used: {detail} [{RULE}]")
                elif kind == "path":
                    status = self.status(detail)
                    if status == "missing":
                        out.append(f"media file {shown} does not exist (looked for {detail}) [{RULE}]")
                    elif status == "not-file":
                        out.append(f"media file {shown} is not a regular file ({detail}) [{RULE}]")
        return out
