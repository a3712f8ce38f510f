"""Training on a published Datanet version: `dataset: {datanet_version: "https://hub.example/NAME@VERSION"}`.

The version is pulled from the hub (`modelfactory hub serve`) into a local cache named by its sha256
and verified against the sha256 the hub published; a cached copy is checked again before each use. The
token is read from MODELFACTORY_HUB_TOKEN. The run writes `datanet-attribution.json` beside its adapter:
the version, its sha256, and how many records of each contributor and contribution trained it.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import tempfile
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

from .errors import DatasetError
from .digest import sha256_of

VERSION_REF = re.compile(r"^(https?://[^\s]+?)/([a-z0-9][a-z0-9._-]*)@([1-9][0-9]{0,8})$")
MAX_META_BYTES = 16 * 1024 * 1024
TIMEOUT_S = 60


def parse_version_ref(ref: str) -> tuple[str, str, int]:
    m = VERSION_REF.match(ref)
    if m is None:
        raise DatasetError(f"dataset.datanet_version names a published Datanet version as https://HUB/NAME@VERSION, not {ref!r}")
    return m.group(1), m.group(2), int(m.group(3))


def cache_dir() -> Path:
    base = os.environ.get("MODELFACTORY_CACHE") or os.path.join(os.path.expanduser("~"), ".cache", "modelfactory")
    return Path(base) / "datanets"


def _get(url: str, token: str | None) -> Any:
    request = urllib.request.Request(url, headers={"authorization": f"Bearer {token}"} if token else {})
    try:
        return urllib.request.urlopen(request, timeout=TIMEOUT_S)  # noqa: S310 (http(s) only, checked by VERSION_REF)
    except urllib.error.HTTPError as exc:
        body = exc.read(4096).decode("utf-8", "replace")
        try:
            body = json.loads(body).get("error", body)
        except (ValueError, AttributeError):
            pass
        raise DatasetError(f"the hub refused {url} ({exc.code}): {body}") from exc
    except urllib.error.URLError as exc:
        raise DatasetError(f"cannot reach the hub at {url}: {exc.reason}") from exc



def pull_version(ref: str, token: str | None = None) -> tuple[Path, dict[str, Any]]:
    """The local, sha256-verified file of a published Datanet version and the version's metadata (with attribution)."""
    hub, name, version = parse_version_ref(ref)
    token = token if token is not None else os.environ.get("MODELFACTORY_HUB_TOKEN")
    with _get(f"{hub}/v1/datanets/{name}/versions/{version}", token) as res:
        meta = json.loads(res.read(MAX_META_BYTES))
    sha = str(meta.get("sha256", ""))
    if not re.fullmatch(r"[0-9a-f]{64}", sha):
        raise DatasetError(f"{ref}: the hub answered no sha256 for the version")
    folder = cache_dir()
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / f"{sha}.jsonl"
    if target.is_file() and sha256_of(target) == sha:
        return target, meta
    digest = hashlib.sha256()
    fd, tmp = tempfile.mkstemp(dir=folder, prefix=".pull-")
    try:
        with os.fdopen(fd, "wb") as out, _get(f"{hub}/v1/datanets/{name}/versions/{version}/data", token) as res:
            for block in iter(lambda: res.read(1 << 20), b""):
                digest.update(block)
                out.write(block)
            out.flush()
            os.fsync(out.fileno())
        if digest.hexdigest() != sha:
            raise DatasetError(f"{ref}: the download's sha256 {digest.hexdigest()} is not the version's {sha}")
        os.replace(tmp, target)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return target, meta


def attribution(ref: str, meta: dict[str, Any]) -> dict[str, Any]:
    """The attribution manifest of a run trained on a published Datanet version."""
    return {
        "datanet": ref,
        "version": meta.get("version"),
        "sha256": meta.get("sha256"),
        "records": meta.get("records"),
        "contributors": meta.get("contributors", {}),
        "contributions": meta.get("contributions", []),
    }


def write_attribution(output_dir: Path, ref: str | None, meta: dict[str, Any] | None) -> Path | None:
    """Writes `datanet-attribution.json` into the run's output folder when it trained on a published Datanet version."""
    if ref is None or meta is None:
        return None
    output_dir.mkdir(parents=True, exist_ok=True)
    path = output_dir / "datanet-attribution.json"
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(attribution(ref, meta), indent=2, sort_keys=True), encoding="utf-8")
    os.replace(tmp, path)
    return path
