"""A local stand-in for the Hugging Face Hub's HTTP API, enough for huggingface_hub and datasets to download from.

It serves repositories held in memory in the Hub's URL layout (`HF_ENDPOINT=http://127.0.0.1:PORT`):

- `GET /api/{models|datasets}/{repo}[/revision/{rev}]`: repo info with `sha` and `siblings` (sizes, with blobs=true)
- `GET /api/{models|datasets}/{repo}/tree/{rev}[/{path}]` and `POST .../paths-info/{rev}`: file listings
- `HEAD|GET /[datasets/]{repo}/resolve/{rev}/{file}`: the file, with ETag, X-Repo-Commit, Content-Length and
  Range (206) support

and the Hub's failures: `X-Error-Code: RepoNotFound` (404), `GatedRepo` (401 without the right token), plus test
hooks: cut a file's transfer after N bytes (the socket is closed), or hold a transfer after N bytes until released.
Every request is logged with its method, path and Range header.
"""

from __future__ import annotations

import hashlib
import json
import re
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit


@dataclass
class Repo:
    files: dict[str, bytes]
    sha: str = "0123456789abcdef0123456789abcdef01234567"
    gated_token: str | None = None  # when set, requests without `Authorization: Bearer <it>` get 401 GatedRepo


@dataclass
class Cut:
    after_bytes: int
    times: int = 1  # how many transfers of the file are cut
    hold: threading.Event | None = None  # when set, the transfer waits here after after_bytes instead of closing


@dataclass
class FakeHub:
    repos: dict[tuple[str, str], Repo] = field(default_factory=dict)
    cuts: dict[str, Cut] = field(default_factory=dict)
    log: list[tuple[str, str, str | None]] = field(default_factory=list)
    sent_partial: threading.Event = field(default_factory=threading.Event)
    server: ThreadingHTTPServer | None = None

    @property
    def url(self) -> str:
        assert self.server is not None
        host, port = self.server.server_address[:2]
        return f"http://{host}:{port}"

    def add_model_folder(self, repo_id: str, folder: Path, **options: Any) -> Repo:
        files = {path.name: path.read_bytes() for path in sorted(folder.iterdir()) if path.is_file()}
        repo = Repo(files, **options)
        self.repos[("model", repo_id)] = repo
        return repo

    def add_dataset(self, repo_id: str, files: dict[str, bytes], **options: Any) -> Repo:
        repo = Repo(files, **options)
        self.repos[("dataset", repo_id)] = repo
        return repo

    def requests(self, method: str | None = None) -> list[tuple[str, str, str | None]]:
        return [entry for entry in self.log if method is None or entry[0] == method]

    def start(self) -> FakeHub:
        hub = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *_args: Any) -> None:
                return

            def do_HEAD(self) -> None:
                hub._handle(self, head=True)

            def do_GET(self) -> None:
                hub._handle(self, head=False)

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                hub._handle(self, head=False, body=body)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        for cut in self.cuts.values():
            if cut.hold is not None:
                cut.hold.set()
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()

    # ---- request handling --------------------------------------------------------------------------------

    def _handle(self, handler: BaseHTTPRequestHandler, head: bool, body: bytes = b"") -> None:
        path = unquote(urlsplit(handler.path).path)
        query = urlsplit(handler.path).query
        self.log.append((handler.command, path, handler.headers.get("Range")))
        api = re.fullmatch(r"/api/(models|datasets)/([^/]+/[^/]+)(?:/(revision|tree|paths-info)/([^/]+)(/.*)?)?", path)
        if api:
            kind = "model" if api.group(1) == "models" else "dataset"
            self._api(handler, kind, api.group(2), api.group(3), api.group(4) or "main", (api.group(5) or "").lstrip("/"), query, body)
            return
        resolve = re.fullmatch(r"/(datasets/)?([^/]+/[^/]+)/resolve/([^/]+)/(.+)", path)
        if resolve:
            kind = "dataset" if resolve.group(1) else "model"
            self._file(handler, kind, resolve.group(2), resolve.group(3), resolve.group(4), head)
            return
        self._error(handler, 404, "EntryNotFound", "no such endpoint")

    def _repo(self, handler: BaseHTTPRequestHandler, kind: str, repo_id: str, revision: str) -> Repo | None:
        repo = self.repos.get((kind, repo_id))
        if repo is None:
            self._error(handler, 404, "RepoNotFound", "Repository not found")
            return None
        if repo.gated_token is not None and handler.headers.get("Authorization") != f"Bearer {repo.gated_token}":
            self._error(handler, 401, "GatedRepo", "Access to this repository is restricted")
            return None
        if revision not in ("main", repo.sha):
            self._error(handler, 404, "RevisionNotFound", "Invalid rev id")
            return None
        return repo

    def _api(
        self, handler: BaseHTTPRequestHandler, kind: str, repo_id: str, action: str | None, revision: str, sub: str, query: str, body: bytes
    ) -> None:
        repo = self._repo(handler, kind, repo_id, revision)
        if repo is None:
            return
        entries = [
            {"type": "file", "oid": hashlib.sha1(data).hexdigest(), "size": len(data), "path": name}
            for name, data in sorted(repo.files.items())
        ]
        if action == "tree":
            prefix = f"{sub}/" if sub else ""
            listed = [entry for entry in entries if entry["path"].startswith(prefix)]
            if "recursive=true" not in query.lower():
                names = {entry["path"][len(prefix) :].split("/")[0] for entry in listed}
                direct = [entry for entry in listed if "/" not in entry["path"][len(prefix) :]]
                folders = [
                    {"type": "directory", "oid": "0" * 40, "size": 0, "path": prefix + name}
                    for name in sorted(names)
                    if not any(entry["path"] == prefix + name for entry in direct)
                ]
                listed = direct + folders
            self._json(handler, listed)
            return
        if action == "paths-info":
            wanted = set(re.findall(r"paths=([^&]+)", unquote(body.decode("utf-8", "replace"))))
            try:
                wanted |= set(json.loads(body).get("paths", []))
            except ValueError:
                pass
            self._json(handler, [entry for entry in entries if entry["path"] in wanted])
            return
        siblings = [{"rfilename": name, "size": len(data)} for name, data in sorted(repo.files.items())]
        self._json(
            handler,
            {
                "id": repo_id,
                "_id": repo_id,
                "sha": repo.sha,
                "private": False,
                "gated": repo.gated_token is not None,
                "disabled": False,
                "siblings": siblings,
                "tags": [],
                "downloads": 0,
                "likes": 0,
                "lastModified": "2026-01-01T00:00:00.000Z",
                "createdAt": "2026-01-01T00:00:00.000Z",
                "cardData": {},
            },
        )

    def _file(self, handler: BaseHTTPRequestHandler, kind: str, repo_id: str, revision: str, name: str, head: bool) -> None:
        repo = self._repo(handler, kind, repo_id, revision)
        if repo is None:
            return
        data = repo.files.get(name)
        if data is None:
            self._error(handler, 404, "EntryNotFound", "Entry not found")
            return
        etag = hashlib.sha256(data).hexdigest()
        start = 0
        ranged = re.fullmatch(r"bytes=(\d+)-(\d*)", handler.headers.get("Range") or "")
        if ranged:
            start = int(ranged.group(1))
        end = len(data) if not ranged or not ranged.group(2) else int(ranged.group(2)) + 1
        if start > len(data):
            self._error(handler, 416, None, "range not satisfiable")
            return
        part = data[start:end]
        handler.send_response(206 if ranged else 200)
        handler.send_header("ETag", f'"{etag}"')
        handler.send_header("X-Repo-Commit", repo.sha)
        handler.send_header("Accept-Ranges", "bytes")
        handler.send_header("Content-Type", "application/octet-stream")
        handler.send_header("Content-Length", str(len(part)))
        if ranged:
            handler.send_header("Content-Range", f"bytes {start}-{start + len(part) - 1}/{len(data)}")
        handler.end_headers()
        if head:
            return
        cut = self.cuts.get(name)
        if cut is not None and cut.times > 0 and start < cut.after_bytes:
            cut.times -= 1
            handler.wfile.write(part[: cut.after_bytes - start])
            handler.wfile.flush()
            self.sent_partial.set()
            if cut.hold is not None:
                cut.hold.wait(60)
            handler.close_connection = True
            handler.connection.close()
            return
        handler.wfile.write(part)

    @staticmethod
    def _json(handler: BaseHTTPRequestHandler, value: Any) -> None:
        body = json.dumps(value).encode()
        handler.send_response(200)
        handler.send_header("Content-Type", "application/json")
        handler.send_header("Content-Length", str(len(body)))
        handler.end_headers()
        if handler.command != "HEAD":
            handler.wfile.write(body)

    @staticmethod
    def _error(handler: BaseHTTPRequestHandler, status: int, code: str | None, message: str) -> None:
        body = json.dumps({"error": message}).encode()
        handler.send_response(status)
        if code is not None:
            handler.send_header("X-Error-Code", code)
        handler.send_header("X-Error-Message", message)
        handler.send_header("Content-Type", "application/json")
        handler.send_header("Content-Length", str(len(body)))
        handler.end_headers()
        if handler.command != "HEAD":
            handler.wfile.write(body)
