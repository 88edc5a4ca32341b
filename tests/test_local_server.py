"""The local server's OpenAI, Anthropic and Voyage protocols, through the real SDKs.

Groq's protocol is covered by test_mock_groq.py; here every OpenAI and
Anthropic case goes through `openai.AsyncOpenAI` / `anthropic.AsyncAnthropic`
exactly as generated scripts will, so what passes here is what the SDKs accept.
"""

from __future__ import annotations

import asyncio
import base64
import math
import os
import signal
import struct
import subprocess
import sys
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import anthropic
import groq
import httpx
import httpx2
import openai
import pytest

from catalyst.cli import build_parser
from catalyst.local_server import LocalServer, MockGroqServer, MockSettings
from catalyst.local_server.embeddings import embed

T = TypeVar("T")

GPT = "gpt-5.4-mini"
CLAUDE = "claude-sonnet-5"
SMALL = "text-embedding-3-small"
KEY = "test-key"


def run(coro: Callable[[], Awaitable[T]]) -> T:
    return asyncio.run(_call(coro))


async def _call(coro: Callable[[], Awaitable[T]]) -> T:
    return await coro()


@pytest.fixture
def server() -> Iterator[LocalServer]:
    with LocalServer(MockSettings()) as running:
        yield running


def oai(server: LocalServer, **options: Any) -> openai.AsyncOpenAI:
    return openai.AsyncOpenAI(base_url=server.openai_base_url, api_key=KEY, **options)


def claude(server: LocalServer, **options: Any) -> anthropic.AsyncAnthropic:
    options.setdefault("api_key", KEY)
    return anthropic.AsyncAnthropic(base_url=server.anthropic_base_url, **options)


def user(text: str) -> list[Any]:
    return [{"role": "user", "content": text}]


def norm(vector: list[float]) -> float:
    return math.sqrt(sum(x * x for x in vector))


def cosine(a: list[float], b: list[float]) -> float:
    return sum(x * y for x, y in zip(a, b, strict=True)) / (norm(a) * norm(b))


def test_old_names_are_the_new_server() -> None:
    import catalyst.mock_groq as old

    assert MockGroqServer is LocalServer is old.MockGroqServer
    assert old.MockSettings is MockSettings


# --- OpenAI chat --------------------------------------------------------------


def test_openai_chat_non_streamed(server: LocalServer) -> None:
    async def go() -> Any:
        async with oai(server) as sdk:
            return await sdk.chat.completions.create(model=GPT, messages=user("hello there"))

    completion = run(go)
    assert completion.id == "chatcmpl-1"
    assert completion.object == "chat.completion"
    assert completion.model == GPT
    assert completion.choices[0].message.content == "Mock reply to: hello there"
    assert completion.choices[0].finish_reason == "stop"
    assert completion.usage is not None
    assert (completion.usage.prompt_tokens, completion.usage.completion_tokens) == (6, 5)
    assert completion._request_id is not None and completion._request_id.startswith("req_mock_")
    assert [(r.path, r.status) for r in server.chat_requests()] == [("/v1/chat/completions", 200)]


def test_openai_stream_with_include_usage_ends_with_a_usage_chunk(server: LocalServer) -> None:
    async def go() -> list[Any]:
        async with oai(server) as sdk:
            stream = await sdk.chat.completions.create(
                model=GPT, messages=user("stream me"), stream=True,
                stream_options={"include_usage": True},
            )
            return [chunk async for chunk in stream]

    chunks = run(go)
    *with_choices, last = chunks
    assert last.choices == []
    assert last.usage is not None and last.usage.completion_tokens == 5
    assert all(c.usage is None for c in with_choices)
    assert with_choices[0].choices[0].delta.role == "assistant"
    assert with_choices[-1].choices[0].finish_reason == "stop"
    text = "".join(c.choices[0].delta.content or "" for c in with_choices)
    assert text == "Mock reply to: stream me"


def test_openai_stream_without_include_usage_has_no_usage_chunk(server: LocalServer) -> None:
    async def go() -> list[Any]:
        async with oai(server) as sdk:
            stream = await sdk.chat.completions.create(model=GPT, messages=user("x"), stream=True)
            return [chunk async for chunk in stream]

    chunks = run(go)
    assert all(c.choices for c in chunks)
    assert chunks[-1].choices[0].finish_reason == "stop"


@pytest.mark.parametrize(
    ("model", "extra", "error"),
    [
        ("no-such-model", {}, openai.NotFoundError),
        ("gpt-3.5-turbo", {}, openai.NotFoundError),  # retired
        (GPT, {"temperature": 3}, openai.BadRequestError),
        (GPT, {"max_completion_tokens": 10_000_000}, openai.BadRequestError),
    ],
)
def test_openai_request_errors(
    server: LocalServer, model: str, extra: dict[str, Any], error: type[Exception]
) -> None:
    async def go() -> None:
        async with oai(server, max_retries=0) as sdk:
            await sdk.chat.completions.create(model=model, messages=user("x"), **extra)

    with pytest.raises(error) as caught:
        run(go)
    assert isinstance(caught.value, openai.APIStatusError)
    # The SDK's .body is the inner error object; OpenAI always sends all four keys.
    assert isinstance(caught.value.body, dict)
    assert set(caught.value.body) == {"message", "type", "param", "code"}


def test_openai_rejected_key(server: LocalServer) -> None:
    async def go() -> None:
        async with openai.AsyncOpenAI(
            base_url=server.openai_base_url, api_key="bad-key", max_retries=0
        ) as sdk:
            await sdk.models.list()

    with pytest.raises(openai.AuthenticationError) as caught:
        run(go)
    assert caught.value.code == "invalid_api_key"
    assert server.requests[0].authorization_present


def test_openai_retry_after_is_honoured(server: LocalServer) -> None:
    server.update(rate_limit_every=2, retry_after_ms=5)

    async def go() -> str | None:
        async with oai(server) as sdk:
            await sdk.chat.completions.create(model=GPT, messages=user("one"))
            second = await sdk.chat.completions.create(model=GPT, messages=user("two"))
            return second.choices[0].message.content

    assert run(go) == "Mock reply to: two"
    assert [(r.status, r.retry_count) for r in server.chat_requests()] == [
        (200, 0), (429, 0), (200, 1),
    ]


def test_openai_rate_limit_and_server_error_without_retries(server: LocalServer) -> None:
    async def ask() -> None:
        async with oai(server, max_retries=0) as sdk:
            await sdk.chat.completions.create(model=GPT, messages=user("x"))

    server.update(rate_limit_every=1, retry_after_s=2)
    with pytest.raises(openai.RateLimitError) as limited:
        run(ask)
    assert limited.value.response.headers["retry-after"] == "2"
    assert limited.value.code == "rate_limit_exceeded"

    server.update(rate_limit_every=0, server_error_share=1.0)
    with pytest.raises(openai.InternalServerError):
        run(ask)

    server.update(server_error_share=0.0, reset_share=1.0)
    with pytest.raises(openai.APIConnectionError):
        run(ask)


def test_openai_error_event_mid_stream_raises(server: LocalServer) -> None:
    server.update(stream_error_after=1)
    received: list[str] = []

    async def go() -> None:
        async with oai(server) as sdk:
            stream = await sdk.chat.completions.create(
                model=GPT, messages=user("one two"), stream=True
            )
            async for chunk in stream:
                received.append(chunk.choices[0].delta.content or "")

    with pytest.raises(openai.APIError) as caught:
        run(go)
    assert not isinstance(caught.value, openai.APIStatusError)  # no status after the 200
    assert "".join(received) == "Mock "


# --- OpenAI embeddings --------------------------------------------------------


def test_embeddings_float_are_deterministic_unit_vectors_in_input_order(
    server: LocalServer,
) -> None:
    texts = ["the cat sat on the mat", "quarterly revenue grew", "the cat sat on a mat"]

    async def go() -> tuple[Any, Any]:
        async with oai(server) as sdk:
            batch = await sdk.embeddings.create(model=SMALL, input=texts, encoding_format="float")
            single = await sdk.embeddings.create(
                model=SMALL, input=texts[1], encoding_format="float"
            )
            return batch, single

    batch, single = run(go)
    vectors = [item.embedding for item in batch.data]
    assert [item.index for item in batch.data] == [0, 1, 2]
    assert all(len(v) == 1536 for v in vectors)
    assert all(abs(norm(v) - 1) < 1e-9 for v in vectors)
    assert single.data[0].embedding == vectors[1]  # same text, same vector, any batch
    assert cosine(vectors[0], vectors[2]) > 0.5 > abs(cosine(vectors[0], vectors[1]))
    assert batch.usage.prompt_tokens == batch.usage.total_tokens == 6 + 3 + 6
    assert batch.model == SMALL
    assert server.embedding_requests()[0].body["encoding_format"] == "float"


def test_embeddings_base64_is_the_sdk_default_and_decodes_to_the_same_vector(
    server: LocalServer,
) -> None:
    async def go() -> Any:
        async with oai(server) as sdk:
            return await sdk.embeddings.create(model=SMALL, input="hello world", dimensions=256)

    result = run(go)
    assert server.embedding_requests()[0].body["encoding_format"] == "base64"
    vector = result.data[0].embedding
    assert len(vector) == 256
    expected = embed("hello world", 256)
    assert max(abs(a - b) for a, b in zip(vector, expected, strict=True)) < 1e-6  # float32

    with httpx.Client(base_url=server.openai_base_url) as http:
        raw = http.post("/embeddings", headers={"Authorization": f"Bearer {KEY}"}, json={
            "model": SMALL, "input": "hello world", "dimensions": 256,
            "encoding_format": "base64"})
    packed = base64.b64decode(raw.json()["data"][0]["embedding"])
    assert list(struct.unpack("<256f", packed)) == pytest.approx(expected, abs=1e-6)


def test_embedding_sizes_follow_the_model_and_dimensions(server: LocalServer) -> None:
    async def size(**request: Any) -> int:
        async with oai(server) as sdk:
            result = await sdk.embeddings.create(input="x", encoding_format="float", **request)
            return len(result.data[0].embedding)

    assert run(lambda: size(model="text-embedding-3-large")) == 3072
    assert run(lambda: size(model=SMALL, dimensions=8)) == 8


@pytest.mark.parametrize(
    ("request_body", "error"),
    [
        ({"model": SMALL, "input": ""}, openai.BadRequestError),
        ({"model": SMALL, "input": ["ok", ""]}, openai.BadRequestError),
        ({"model": SMALL, "input": ["x"] * 2049}, openai.BadRequestError),
        ({"model": SMALL, "input": "x", "dimensions": 4000}, openai.BadRequestError),
        ({"model": "text-embedding-ada-002", "input": "x", "dimensions": 8},
         openai.BadRequestError),
        ({"model": "no-such-embedder", "input": "x"}, openai.NotFoundError),
    ],
)  # fmt: skip
def test_embedding_limits_give_openai_400s(
    server: LocalServer, request_body: dict[str, Any], error: type[Exception]
) -> None:
    async def go() -> None:
        async with oai(server, max_retries=0) as sdk:
            await sdk.embeddings.create(**request_body)

    with pytest.raises(error):
        run(go)


def test_embeddings_meet_the_same_fault_switches(server: LocalServer) -> None:
    server.update(rate_limit_every=2, retry_after_ms=5)

    async def go() -> None:
        async with oai(server) as sdk:
            await sdk.embeddings.create(model=SMALL, input="a")
            await sdk.embeddings.create(model=SMALL, input="b")

    run(go)
    assert [(r.status, r.retry_count) for r in server.embedding_requests()] == [
        (200, 0), (429, 0), (200, 1),
    ]


# --- models: one path, two protocols ------------------------------------------


def test_v1_models_answers_each_sdk_in_its_own_shape(server: LocalServer) -> None:
    async def go() -> tuple[list[str], list[str]]:
        async with oai(server) as openai_sdk, claude(server) as anthropic_sdk:
            openai_ids = [m.id async for m in openai_sdk.models.list()]
            anthropic_ids = [m.id async for m in anthropic_sdk.models.list()]
            model = await anthropic_sdk.models.retrieve(CLAUDE)
            assert model.type == "model" and model.display_name == "Claude Sonnet 5"
            gpt = await openai_sdk.models.retrieve(GPT)
            assert gpt.owned_by == "system"
            return openai_ids, anthropic_ids

    openai_ids, anthropic_ids = run(go)
    assert GPT in openai_ids and SMALL in openai_ids
    assert not any(i.startswith("claude") for i in openai_ids)
    assert CLAUDE in anthropic_ids and all(i.startswith("claude") for i in anthropic_ids)
    assert {r.path for r in server.requests} == {"/v1/models", f"/v1/models/{CLAUDE}",
                                                 f"/v1/models/{GPT}"}


# --- Anthropic messages -------------------------------------------------------


def test_anthropic_message_non_streamed(server: LocalServer) -> None:
    async def go() -> Any:
        async with claude(server) as sdk:
            return await sdk.messages.create(
                model=CLAUDE, max_tokens=100, system="Be brief.", messages=user("hello there")
            )

    message = run(go)
    assert message.id == "msg_mock_1"
    assert message.type == "message" and message.role == "assistant"
    assert message.content[0].type == "text"
    assert message.content[0].text == "Mock reply to: hello there"
    assert message.stop_reason == "end_turn" and message.stop_sequence is None
    # system "Be brief." 2 + 4, user 2 + 4: the same token rule as the other protocols.
    assert (message.usage.input_tokens, message.usage.output_tokens) == (12, 5)
    assert message._request_id is not None
    recorded = server.chat_requests()[0]
    assert recorded.path == "/v1/messages" and recorded.authorization_present
    assert "x-api-key" not in recorded.headers
    # The installed SDK's version string (2026-10-21 in anthropic 2.15), not the 2023 one.
    assert recorded.headers["anthropic-version"]


def test_anthropic_stop_sequence_and_max_tokens(server: LocalServer) -> None:
    async def go() -> tuple[Any, Any]:
        async with claude(server) as sdk:
            stopped = await sdk.messages.create(
                model=CLAUDE, max_tokens=100, messages=user("alpha beta"),
                stop_sequences=["beta"],
            )
            cut = await sdk.messages.create(model=CLAUDE, max_tokens=2, messages=user("a b c"))
            return stopped, cut

    stopped, cut = run(go)
    assert stopped.content[0].text == "Mock reply to: alpha "
    assert (stopped.stop_reason, stopped.stop_sequence) == ("stop_sequence", "beta")
    assert cut.content[0].text == "Mock reply "
    assert cut.stop_reason == "max_tokens" and cut.usage.output_tokens == 2


def test_anthropic_stream_events_in_order(server: LocalServer) -> None:
    async def go() -> list[Any]:
        async with claude(server) as sdk:
            stream = await sdk.messages.create(
                model=CLAUDE, max_tokens=100, messages=user("one two"), stream=True
            )
            return [event async for event in stream]

    events = run(go)
    kinds = [event.type for event in events]
    assert kinds[:2] == ["message_start", "content_block_start"]
    assert kinds[-3:] == ["content_block_stop", "message_delta", "message_stop"]
    deltas = [e.delta.text for e in events if e.type == "content_block_delta"]
    assert "".join(deltas) == "Mock reply to: one two"
    assert events[0].message.usage.input_tokens == 6
    assert events[-2].usage.output_tokens == len(deltas)
    assert events[-2].delta.stop_reason == "end_turn"


def test_anthropic_stream_helper(server: LocalServer) -> None:
    async def go() -> tuple[str, Any]:
        async with claude(server) as sdk, sdk.messages.stream(
            model=CLAUDE, max_tokens=100, messages=user("helper please")
        ) as stream:
            text = "".join([part async for part in stream.text_stream])
            return text, await stream.get_final_message()

    text, final = run(go)
    assert text == "Mock reply to: helper please"
    assert final.content[0].text == text
    assert final.usage.output_tokens == 5 and final.stop_reason == "end_turn"


def test_anthropic_count_tokens(server: LocalServer) -> None:
    async def go() -> int:
        async with claude(server) as sdk:
            counted = await sdk.messages.count_tokens(
                model=CLAUDE, system="Be brief.", messages=user("hello there")
            )
            return counted.input_tokens

    assert run(go) == 12


def test_anthropic_error_body_and_request_id(server: LocalServer) -> None:
    async def go() -> None:
        async with claude(server, api_key="invalid-key", max_retries=0) as sdk:
            await sdk.messages.create(model=CLAUDE, max_tokens=10, messages=user("x"))

    with pytest.raises(anthropic.AuthenticationError) as caught:
        run(go)
    body = caught.value.body
    assert isinstance(body, dict)
    assert body["type"] == "error"
    assert body["error"] == {"type": "authentication_error", "message": "invalid x-api-key"}
    assert body["request_id"] == caught.value.request_id == caught.value.response.headers[
        "request-id"]


@pytest.mark.parametrize(
    ("model", "extra", "error", "kind"),
    [
        ("claude-nonexistent", {}, anthropic.NotFoundError, "not_found_error"),
        # anthropic 2.x dropped `temperature` from create(): newer models refuse it.
        (CLAUDE, {"extra_body": {"temperature": 1.5}}, anthropic.BadRequestError,
         "invalid_request_error"),
        (CLAUDE, {"max_tokens": 500_000, "stream": True}, anthropic.BadRequestError,
         "invalid_request_error"),
    ],
)  # fmt: skip
def test_anthropic_request_errors(
    server: LocalServer, model: str, extra: dict[str, Any], error: type[Exception], kind: str
) -> None:
    request = {"max_tokens": 10, **extra}

    async def go() -> None:
        async with claude(server, max_retries=0) as sdk:
            await sdk.messages.create(model=model, messages=user("x"), **request)

    with pytest.raises(error) as caught:
        run(go)
    assert isinstance(caught.value, anthropic.APIStatusError)
    assert isinstance(caught.value.body, dict) and caught.value.body["error"]["type"] == kind


def test_anthropic_rate_limit_retry_after_and_overload(server: LocalServer) -> None:
    async def ask(retries: int = 0) -> Any:
        async with claude(server, max_retries=retries) as sdk:
            return await sdk.messages.create(model=CLAUDE, max_tokens=10, messages=user("x"))

    server.update(rate_limit_every=1, retry_after_s=3)
    with pytest.raises(anthropic.RateLimitError) as limited:
        run(ask)
    assert limited.value.response.headers["retry-after"] == "3"
    assert isinstance(limited.value.body, dict)
    assert limited.value.body["error"]["type"] == "rate_limit_error"

    server.update(rate_limit_every=0, fail_models={CLAUDE: (529, "overloaded", "Overloaded")})
    with pytest.raises(anthropic.OverloadedError):
        run(ask)

    server.update(fail_models={}, rate_limit_every=2, retry_after_ms=5)
    server.reset()
    run(lambda: ask(2))
    run(lambda: ask(2))
    assert [(r.status, r.retry_count) for r in server.chat_requests()] == [
        (200, 0), (429, 0), (200, 1),
    ]


def test_anthropic_injected_server_errors_use_500_and_529(server: LocalServer) -> None:
    server.update(server_error_share=1.0)
    statuses = set()
    for _ in range(8):
        with pytest.raises(anthropic.InternalServerError) as caught:
            run(lambda: claude(server, max_retries=0).messages.create(
                model=CLAUDE, max_tokens=10, messages=user("x")))
        statuses.add(caught.value.status_code)
    assert statuses == {500, 529}


def test_anthropic_error_event_mid_stream_raises(server: LocalServer) -> None:
    server.update(stream_error_after=1)
    received: list[str] = []

    async def go() -> None:
        async with claude(server) as sdk, sdk.messages.stream(
            model=CLAUDE, max_tokens=100, messages=user("one two")
        ) as stream:
            async for text in stream.text_stream:
                received.append(text)

    with pytest.raises(anthropic.APIStatusError) as caught:
        run(go)
    assert isinstance(caught.value.body, dict)
    assert caught.value.body["error"]["type"] == "overloaded_error"
    assert "".join(received) == "Mock "


def test_anthropic_requires_its_version_header(server: LocalServer) -> None:
    with httpx.Client(base_url=server.base_url) as http:
        response = http.post("/v1/messages", headers={"x-api-key": KEY}, json={
            "model": CLAUDE, "max_tokens": 5, "messages": user("x")})
    assert response.status_code == 400
    assert response.json()["error"]["message"] == "anthropic-version: header is required"
    assert response.headers["request-id"] == response.json()["request_id"]


def test_cut_streams_fail_in_each_sdk(server: LocalServer) -> None:
    # Chunked framing makes a closed socket an incomplete body. openai 3.x wraps
    # that in APIConnectionError; anthropic 2.x lets httpx2's error through.
    server.update(cut_stream_after=2)

    async def openai_stream() -> None:
        async with oai(server, max_retries=0) as sdk:
            stream = await sdk.chat.completions.create(
                model=GPT, messages=user("a b c"), stream=True
            )
            async for _ in stream:
                pass

    async def anthropic_stream() -> None:
        async with claude(server, max_retries=0) as sdk, sdk.messages.stream(
            model=CLAUDE, max_tokens=50, messages=user("a b c")
        ) as stream:
            async for _ in stream.text_stream:
                pass

    with pytest.raises(openai.APIConnectionError):
        run(openai_stream)
    with pytest.raises(httpx2.RemoteProtocolError):
        run(anthropic_stream)


# --- one server for all -------------------------------------------------------


def test_one_server_one_recording_for_all_three_protocols(server: LocalServer) -> None:
    groq.Groq(base_url=server.groq_base_url, api_key=KEY).chat.completions.create(
        model="openai/gpt-oss-20b", messages=user("g"))

    async def go() -> None:
        async with oai(server) as openai_sdk, claude(server) as anthropic_sdk:
            await openai_sdk.chat.completions.create(model=GPT, messages=user("o"))
            await anthropic_sdk.messages.create(model=CLAUDE, max_tokens=9, messages=user("a"))

    run(go)
    assert [r.path for r in server.chat_requests()] == [
        "/openai/v1/chat/completions", "/v1/chat/completions", "/v1/messages"]


# --- Voyage-shaped embeddings -------------------------------------------------


def test_voyage_embeddings_share_the_vectors(server: LocalServer) -> None:
    auth = {"Authorization": f"Bearer {KEY}"}
    with httpx.Client(base_url=server.voyage_base_url, headers=auth) as http:
        ok = http.post("/embeddings", json={
            "input": ["a query", "a document"], "model": "voyage-4", "input_type": "query"})
        short = http.post("/embeddings", json={
            "input": "x", "model": "voyage-4", "output_dimension": 256,
            "encoding_format": "base64"})
        bad_size = http.post("/embeddings", json={
            "input": "x", "model": "voyage-4", "output_dimension": 300})
        bad_key = http.post("/embeddings", headers={"Authorization": "Bearer bad"},
                            json={"input": "x", "model": "voyage-4"})
    assert ok.status_code == 200
    body = ok.json()
    assert body["usage"] == {"total_tokens": 4}
    assert body["data"][0]["embedding"] == embed("a query", 1024)
    packed = base64.b64decode(short.json()["data"][0]["embedding"])
    assert len(packed) == 256 * 4
    assert bad_size.status_code == 400 and set(bad_size.json()) == {"detail"}
    assert bad_key.status_code == 401 and set(bad_key.json()) == {"detail"}


# --- CLI ----------------------------------------------------------------------


def test_cli_has_local_server_and_keeps_mock_groq() -> None:
    parser = build_parser()
    for command in ("local-server", "mock-groq"):
        args = parser.parse_args([command, "--port", "0", "--rpm-limit", "5"])
        assert (args.command, args.port, args.rpm_limit) == (command, 0, 5)


def test_cli_local_server_prints_each_sdks_base_url() -> None:
    root = Path(__file__).resolve().parents[1]
    code = "import sys; from catalyst.cli import main; sys.exit(main(sys.argv[1:]))"
    env = {**os.environ, "PYTHONPATH": str(root)}
    process = subprocess.Popen(
        [sys.executable, "-c", code, "local-server", "--port", "0", "--reply", "pong"],
        stderr=subprocess.PIPE, text=True, env=env,
    )
    try:
        assert process.stderr is not None
        banner = process.stderr.readline()
        urls = dict(word.split("=", 1) for word in banner.split() if "_BASE_URL=" in word)
        assert set(urls) == {"GROQ_BASE_URL", "OPENAI_BASE_URL", "ANTHROPIC_BASE_URL"}
        assert urls["OPENAI_BASE_URL"] == urls["GROQ_BASE_URL"] + "/v1"

        async def ask() -> tuple[str | None, str]:
            async with openai.AsyncOpenAI(base_url=urls["OPENAI_BASE_URL"], api_key=KEY) as o, \
                    anthropic.AsyncAnthropic(base_url=urls["ANTHROPIC_BASE_URL"], api_key=KEY) as a:
                first = await o.chat.completions.create(model=GPT, messages=user("ping"))
                second = await a.messages.create(model=CLAUDE, max_tokens=5, messages=user("p"))
                block = second.content[0]
                assert block.type == "text"
                return first.choices[0].message.content, block.text

        assert run(ask) == ("pong", "pong")
        process.send_signal(signal.SIGINT)
        assert process.wait(timeout=5) == 0
    finally:
        if process.poll() is None:
            process.kill()


def test_connections_accepted_counts_tcp_connections_not_requests(server: LocalServer) -> None:
    # Three requests over one pooled connection, then one over a second client.
    async def calls() -> None:
        async with oai(server) as client:
            for _ in range(3):
                await client.chat.completions.create(
                    model=GPT, messages=[{"role": "user", "content": "hi"}]
                )
        async with oai(server) as client:
            await client.chat.completions.create(
                model=GPT, messages=[{"role": "user", "content": "hi"}]
            )

    run(calls)

    assert len(server.chat_requests()) == 4
    assert server.connections_accepted == 2
    server.reset()
    assert server.connections_accepted == 0
