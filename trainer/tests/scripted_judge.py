"""A scripted LLM judge: a real HTTP server (stdlib `http.server`, a real socket) answering the OpenAI chat
completions API, so the official `openai` client runs for real against it. `script(answer, request)` returns
the reply text the "model" gives for the answer it is asked to grade; every request and its Authorization
header are kept for the test to inspect."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Callable


class ScriptedJudge:
    def __init__(self, script: Callable[[str, dict[str, Any]], str]) -> None:
        self.script = script
        self.requests: list[dict[str, Any]] = []
        self.headers: list[str] = []
        judge = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 (http.server's name)
                if self.path != "/v1/chat/completions":
                    self.send_error(404)
                    return
                length = int(self.headers.get("Content-Length") or 0)
                body = json.loads(self.rfile.read(min(length, 1 << 20)))
                judge.requests.append(body)
                judge.headers.append(self.headers.get("Authorization", ""))
                answer = body["messages"][-1]["content"].split("Answer to grade:\n", 1)[1]
                reply = {
                    "id": f"chatcmpl-{len(judge.requests)}",
                    "object": "chat.completion",
                    "created": 0,
                    "model": body["model"],
                    "choices": [
                        {"index": 0, "finish_reason": "stop", "message": {"role": "assistant", "content": judge.script(answer, body)}}
                    ],
                    "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2},
                }
                data = json.dumps(reply).encode("utf-8")
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *_: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}/v1"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def __enter__(self) -> "ScriptedJudge":
        self._thread.start()
        return self

    def __exit__(self, *_: Any) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(5)
