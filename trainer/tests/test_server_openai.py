"""`serve --openai`: the official `openai` client against the real server (one warm base, adapters swapped), and
the `export` protocol message. One job is trained through the server and shared with the session's adapter."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Iterator
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import openai
import pytest
from test_server_support import TOKEN, ServerProcess, connected, messages_dataset, tiny_config

GREEDY = {"temperature": 0, "max_tokens": 24}
QUESTION = [{"role": "user", "content": "What is 3 plus 4?"}]


class OpenAIServerProcess(ServerProcess):
    """The server with --openai: the WebSocket port first, then `openai PORT`."""

    openai_port = 0

    def start(self) -> "OpenAIServerProcess":
        super().start()
        assert self.process is not None and self.process.stdout is not None
        line = self.process.stdout.readline().decode().strip()
        assert line.startswith("openai "), (line, self.stderr_text())
        self.openai_port = int(line.split()[1])
        return self

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.openai_port}/v1"


@pytest.fixture(scope="module")
def server(trained_run: dict[str, Any], tmp_path_factory: pytest.TempPathFactory) -> Iterator[OpenAIServerProcess]:
    assert trained_run["returncode"] == 0, trained_run["stderr"][-2000:]
    adapter = trained_run["dir"] / "out" / "adapter"
    root = tmp_path_factory.mktemp("server-openai")
    with OpenAIServerProcess(root / "state", "--openai", "--adapter", f"calc={adapter}") as running:
        yield running


@pytest.fixture(scope="module")
def job_id(server: OpenAIServerProcess) -> str:
    async def scenario() -> str:
        client = await connected(server)
        job = await client.submit_upload(tiny_config(steps=4), messages_dataset(24))
        frames = await client.watch_to_end(job["job_id"], timeout=240)
        assert frames[-1]["event"]["state"] == "done", frames[-3:]
        await client.connection.close()
        return str(job["job_id"])

    return asyncio.run(scenario())


@pytest.fixture
def client(server: OpenAIServerProcess) -> openai.OpenAI:
    return openai.OpenAI(base_url=server.base_url, api_key=TOKEN, max_retries=0, timeout=120)


def test_models_lists_the_base_every_finished_job_and_each_named_adapter(client: openai.OpenAI, job_id: str) -> None:
    models = {model.id: model for model in client.models.list()}
    assert {"builtin:tiny-llama", "calc", job_id} <= set(models)
    assert models["calc"].owned_by == "modelfactory-adapter" and models[job_id].owned_by == "modelfactory-job"
    assert client.models.retrieve("calc").id == "calc"


def test_chat_completion_with_the_base_and_an_adapter_greedy_and_repeatable(client: openai.OpenAI, job_id: str) -> None:
    def ask(model: str) -> Any:
        return client.chat.completions.create(model=model, messages=QUESTION, **GREEDY)  # type: ignore[arg-type]

    base, tuned, base_again, job = ask("builtin:tiny-llama"), ask("calc"), ask("builtin:tiny-llama"), ask(job_id)
    for reply in (base, tuned, job):
        assert reply.object == "chat.completion" and reply.choices[0].message.role == "assistant"
        assert reply.choices[0].message.content and reply.choices[0].finish_reason in ("stop", "length")
        assert reply.usage is not None and reply.usage.prompt_tokens > 0 and reply.usage.completion_tokens > 0
    assert tuned.choices[0].message.content != base.choices[0].message.content  # the adapter is applied
    assert base_again.choices[0].message.content == base.choices[0].message.content  # and swapped off again
    assert tuned.model == "calc"


def test_the_same_answer_streamed(client: openai.OpenAI) -> None:
    whole = client.chat.completions.create(model="calc", messages=QUESTION, **GREEDY)  # type: ignore[arg-type]
    stream = client.chat.completions.create(
        model="calc", messages=QUESTION, stream=True, stream_options={"include_usage": True}, **GREEDY  # type: ignore[arg-type]
    )
    chunks = list(stream)
    text = "".join(chunk.choices[0].delta.content or "" for chunk in chunks if chunk.choices)
    assert text == whole.choices[0].message.content
    assert chunks[0].choices[0].delta.role == "assistant"
    reasons = [chunk.choices[0].finish_reason for chunk in chunks if chunk.choices and chunk.choices[0].finish_reason]
    assert reasons == [whole.choices[0].finish_reason]
    assert chunks[-1].usage is not None and chunks[-1].usage.completion_tokens == whole.usage.completion_tokens  # type: ignore[union-attr]


def test_20_concurrent_streaming_clients(server: OpenAIServerProcess) -> None:
    async def one(index: int) -> tuple[int, str]:
        async with openai.AsyncOpenAI(base_url=server.base_url, api_key=TOKEN, max_retries=0, timeout=300) as api:
            model = "calc" if index % 2 else "builtin:tiny-llama"
            stream = await api.chat.completions.create(
                model=model, messages=[{"role": "user", "content": f"What is {index % 9 + 1} plus 2?"}],
                stream=True, stream_options={"include_usage": True}, temperature=0, max_tokens=16,
            )
            text, tokens = "", 0
            async for chunk in stream:
                if chunk.choices:
                    text += chunk.choices[0].delta.content or ""
                if chunk.usage is not None:
                    tokens = chunk.usage.completion_tokens
            return tokens, text

    async def scenario() -> list[tuple[int, str]]:
        return await asyncio.gather(*(one(index) for index in range(20)))

    started = time.perf_counter()
    results = asyncio.run(scenario())
    elapsed = time.perf_counter() - started
    tokens = sum(count for count, _ in results)
    print(f"\n20 concurrent streaming clients: {tokens} tokens in {elapsed:.2f} s = {tokens / elapsed:.1f} tokens/s, "
          f"{20 / elapsed:.2f} requests/s, no errors")
    assert all(count > 0 and text for count, text in results)


def test_wrong_token_is_401_unknown_model_is_404_bad_input_is_400(server: OpenAIServerProcess) -> None:
    wrong = openai.OpenAI(base_url=server.base_url, api_key="not-the-token-0123456789", max_retries=0)
    with pytest.raises(openai.AuthenticationError) as refused:
        wrong.models.list()
    assert refused.value.status_code == 401
    with pytest.raises(openai.AuthenticationError):
        wrong.chat.completions.create(model="calc", messages=QUESTION)  # type: ignore[arg-type]
    right = openai.OpenAI(base_url=server.base_url, api_key=TOKEN, max_retries=0)
    with pytest.raises(openai.NotFoundError) as missing:
        right.chat.completions.create(model="no-such-model", messages=QUESTION)  # type: ignore[arg-type]
    assert missing.value.code == "model_not_found"
    with pytest.raises(openai.BadRequestError):
        right.chat.completions.create(model="calc", messages=[{"role": "tool", "content": "x"}])  # type: ignore[list-item]
    with pytest.raises(openai.BadRequestError):
        right.chat.completions.create(model="calc", messages=QUESTION, max_tokens=10**6)  # type: ignore[arg-type]
    # A browser page (it sends an Origin) is refused; so is a body over --max-message-bytes.
    def status(path: str, headers: dict[str, str], body: bytes | None = None) -> tuple[int, Any]:
        request = urllib.request.Request(f"{server.base_url}{path}", data=body,
                                         headers={"Authorization": f"Bearer {TOKEN}", **headers})
        try:
            with urllib.request.urlopen(request, timeout=60) as response:
                return response.status, json.loads(response.read())
        except urllib.error.HTTPError as error:
            return error.code, json.loads(error.read())

    assert status("/models", {"Origin": "http://evil.example"})[0] == 403
    huge = json.dumps({"model": "calc", "messages": [{"role": "user", "content": "x" * (2 << 20)}]}).encode()
    code, reply = status("/chat/completions", {"Content-Type": "application/json"}, huge)
    assert code == 413 and "error" in reply


def test_export_through_the_protocol_streams_progress_and_stays_in_the_exports_folder(
    server: OpenAIServerProcess, job_id: str
) -> None:
    async def scenario() -> tuple[list[dict[str, Any]], dict[str, Any], dict[str, Any], dict[str, Any]]:
        client = await connected(server)
        request_id = await client.send({"type": "export", "job_id": job_id, "name": "shipped", "merge": True,
                                        "ollama": True, "system": "You add."})
        progress: list[dict[str, Any]] = []
        while True:
            frame = await client.reply(request_id, timeout=300)
            if frame["type"] != "export_progress":
                break
            progress.append(frame)
        again = await client.request({"type": "export", "job_id": job_id, "name": "shipped"})
        escape = await client.request({"type": "export", "job_id": job_id, "name": "../outside"})
        await client.connection.close()
        return progress, frame, again, escape

    progress, done, again, escape = asyncio.run(scenario())
    assert done["type"] == "export_done", done
    folder = Path(done["path"])
    assert folder == server.state_dir.resolve() / "exports" / "shipped"
    assert done["merged"] is True and "Modelfile" in done["files"] and "config.json" in done["files"]
    assert 'SYSTEM """You add."""' in (folder / "Modelfile").read_text()
    card = (folder / "README.md").read_text()
    assert "train_loss" in card  # the job's event log gives the card its evaluation summary
    fractions = [frame["fraction"] for frame in progress]
    assert fractions == sorted(fractions) and fractions[-1] == 1.0 and len(fractions) >= 4
    assert again["type"] == "error" and again["code"] == "export-exists"
    assert escape["type"] == "error" and escape["code"] == "bad-message"


def test_past_max_concurrent_chats_a_request_is_429_and_the_rest_finish(tmp_path: Path) -> None:
    """The API alone (--no-websocket), at most 2 generations queued or running."""
    with OpenAIServerProcess(tmp_path / "state", "--openai", "--no-websocket", "--openai-base", "builtin:tiny-llama",
                             "--max-concurrent-chats", "2") as alone:
        assert alone.port == alone.openai_port

        async def one(api: openai.AsyncOpenAI) -> str:
            try:
                reply = await api.chat.completions.create(model="builtin:tiny-llama", messages=QUESTION,
                                                          temperature=0, max_tokens=48)  # type: ignore[arg-type]
            except openai.RateLimitError as refused:
                assert refused.status_code == 429
                return "refused"
            assert reply.choices[0].message.content
            return "answered"

        async def scenario() -> list[str]:
            async with openai.AsyncOpenAI(base_url=alone.base_url, api_key=TOKEN, max_retries=0, timeout=300) as api:
                return list(await asyncio.gather(*(one(api) for _ in range(6))))

        outcomes = asyncio.run(scenario())
        assert outcomes.count("answered") == 2 and outcomes.count("refused") == 4, outcomes
        # Once they are done, there is room again.
        again = openai.OpenAI(base_url=alone.base_url, api_key=TOKEN, max_retries=0, timeout=120)
        assert again.chat.completions.create(model="builtin:tiny-llama", messages=QUESTION, **GREEDY)  # type: ignore[arg-type]
