"""The mock Groq server, exercised through the real `groq` SDK wherever possible."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import email.utils
import json
import logging
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import groq
import httpx
import pytest
from groq.types.chat import ChatCompletionMessageParam

from catalyst.mock_groq import MockGroqServer, MockSettings, RecordedRequest
from catalyst.mock_groq.cli import add_arguments, run
from catalyst.mock_groq.replies import count_tokens, prompt_tokens
from catalyst.mock_groq.wire import go_duration

MODEL = "openai/gpt-oss-20b"
KEY = "test-key"
CHAT_URL = "/openai/v1/chat/completions"


def user(text: str) -> list[ChatCompletionMessageParam]:
    return [{"role": "user", "content": text}]


def error_body(error: groq.APIStatusError) -> dict[str, Any]:
    """The `error` object of an HTTP error (the SDK keeps the whole JSON body)."""
    assert isinstance(error.body, dict)
    inner = error.body["error"]
    assert isinstance(inner, dict)
    return inner


class FakeClock:
    def __init__(self, now: float = 1000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def server() -> Iterator[MockGroqServer]:
    with MockGroqServer(MockSettings()) as running:
        yield running


def client(server: MockGroqServer, **options: Any) -> groq.Groq:
    return groq.Groq(base_url=server.base_url, api_key=KEY, **options)


# --- replies and usage -------------------------------------------------------


def test_non_streamed_reply_has_groqs_shape_and_usage(server: MockGroqServer) -> None:
    messages = [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "  hello\n\n  world  "},
    ]
    completion = client(server).chat.completions.create(model=MODEL, messages=messages)  # type: ignore[arg-type]

    assert completion.id == "chatcmpl-1"
    assert completion.object == "chat.completion"
    assert completion.model == MODEL
    assert completion.service_tier == "on_demand"
    assert completion.system_fingerprint == "fp_mock"
    assert completion.x_groq is not None and completion.x_groq.id.startswith("req_")
    choice = completion.choices[0]
    assert choice.message.role == "assistant"
    assert choice.message.content == "Mock reply to: hello world"
    assert choice.finish_reason == "stop"
    usage = completion.usage
    assert usage is not None
    # "Be brief." is 2 tokens, "  hello\n\n  world  " is 3; +4 per message.
    assert usage.prompt_tokens == (2 + 4) + (3 + 4) == prompt_tokens(messages)
    assert usage.completion_tokens == 5
    assert usage.total_tokens == usage.prompt_tokens + usage.completion_tokens
    for field in ("queue_time", "prompt_time", "completion_time", "total_time"):
        assert isinstance(getattr(usage, field), float)


def test_default_reply_quotes_the_last_user_message_only(
    server: MockGroqServer,
) -> None:
    long_text = "word " * 100
    messages = [
        {"role": "user", "content": "first question"},
        {"role": "assistant", "content": "an answer"},
        {"role": "user", "content": [{"type": "text", "text": long_text}]},
    ]
    reply = client(server).chat.completions.create(model=MODEL, messages=messages)  # type: ignore[arg-type]
    expected = "Mock reply to: " + " ".join(long_text.split())[:200]
    assert reply.choices[0].message.content == expected


def test_json_mode_replies_with_a_json_object(server: MockGroqServer) -> None:
    reply = client(server).chat.completions.create(
        model=MODEL, messages=user("give json"), response_format={"type": "json_object"}
    )
    content = reply.choices[0].message.content
    assert content is not None
    assert json.loads(content) == {"reply": "Mock reply to: give json"}


@pytest.mark.parametrize("limit_field", ["max_completion_tokens", "max_tokens"])
def test_completion_limit_truncates_with_finish_reason_length(
    server: MockGroqServer, limit_field: str
) -> None:
    reply = client(server).chat.completions.create(
        model=MODEL, messages=user("a b c d"), extra_body={limit_field: 3}
    )
    assert reply.choices[0].message.content == "Mock reply to: "
    assert reply.choices[0].finish_reason == "length"
    assert reply.usage is not None and reply.usage.completion_tokens == 3


def test_stop_sequences_cut_before_the_earliest_match(server: MockGroqServer) -> None:
    sdk = client(server)
    one = sdk.chat.completions.create(
        model=MODEL, messages=user("alpha beta"), stop="beta"
    )
    assert one.choices[0].message.content == "Mock reply to: alpha "
    many = sdk.chat.completions.create(
        model=MODEL, messages=user("alpha beta"), stop=["beta", "reply"]
    )
    assert many.choices[0].message.content == "Mock "
    assert many.choices[0].finish_reason == "stop"


def test_fixed_and_callable_replies(server: MockGroqServer) -> None:
    sdk = client(server)
    server.update(reply="Fixed answer.")
    fixed = sdk.chat.completions.create(model=MODEL, messages=user("x"))
    assert fixed.choices[0].message.content == "Fixed answer."

    server.update(reply=lambda body: f"{body['model']} saw {len(body['messages'])}")
    computed = sdk.chat.completions.create(model=MODEL, messages=user("x"))
    assert computed.choices[0].message.content == f"{MODEL} saw 1"


# --- streaming ---------------------------------------------------------------


def test_stream_deltas_concatenate_and_final_chunk_carries_usage(
    server: MockGroqServer,
) -> None:
    stream = client(server).chat.completions.create(
        model=MODEL, messages=user("stream me please"), stream=True
    )
    chunks = list(stream)

    first, *middle, last = chunks
    assert first.choices[0].delta.role == "assistant"
    assert first.choices[0].delta.content == ""
    assert first.x_groq is not None and first.x_groq.id
    assert all(c.choices[0].finish_reason is None for c in middle)
    text = "".join(c.choices[0].delta.content or "" for c in chunks)
    assert text == "Mock reply to: stream me please"
    assert len(middle) == count_tokens(text)
    assert last.choices[0].finish_reason == "stop"
    assert last.x_groq is not None and last.x_groq.usage is not None
    assert last.usage is not None
    assert (
        last.x_groq.usage.completion_tokens
        == last.usage.completion_tokens
        == len(middle)
    )
    assert {c.id for c in chunks} == {first.id}
    assert all(c.object == "chat.completion.chunk" for c in chunks)


def test_paced_stream_arrives_token_by_token(server: MockGroqServer) -> None:
    server.update(tokens_per_second=10.0)  # 100 ms between tokens
    started = time.monotonic()
    arrivals = [
        time.monotonic() - started
        for chunk in client(server).chat.completions.create(
            model=MODEL, messages=user("one two three four five"), stream=True
        )
        if chunk.choices[0].delta.content
    ]
    assert len(arrivals) == 8
    # 7 gaps of 100 ms: if httpx only saw the body at the end, all arrivals would
    # be within a millisecond or two of each other. Half the spread is the bar,
    # so a loaded machine (a late first token) does not fail it.
    assert arrivals[-1] - arrivals[0] >= 0.35


def test_ttft_and_latency_delay_the_first_token(server: MockGroqServer) -> None:
    server.update(latency_ms=30.0, ttft_ms=40.0)
    started = time.monotonic()
    for chunk in client(server).chat.completions.create(
        model=MODEL, messages=user("hi"), stream=True
    ):
        if chunk.choices[0].delta.content:
            assert time.monotonic() - started >= 0.07
            break


def test_async_client_streams_too(server: MockGroqServer) -> None:
    async def collect() -> str:
        sdk = groq.AsyncGroq(base_url=server.base_url, api_key=KEY)
        stream = await sdk.chat.completions.create(
            model=MODEL, messages=user("async"), stream=True
        )
        parts = [chunk.choices[0].delta.content or "" async for chunk in stream]
        await sdk.close()
        return "".join(parts)

    assert asyncio.run(collect()) == "Mock reply to: async"


# --- models ------------------------------------------------------------------


def test_models_list_and_retrieve(server: MockGroqServer) -> None:
    sdk = client(server)
    listed = sdk.models.list()
    ids = [m.id for m in listed.data]
    assert MODEL in ids and "openai/gpt-oss-120b" in ids
    assert all(m.active and m.context_window for m in listed.data)  # type: ignore[attr-defined]

    model = sdk.models.retrieve(MODEL)
    assert model.id == MODEL
    assert model.context_window == 131_072  # type: ignore[attr-defined]

    with pytest.raises(groq.NotFoundError, match="does not exist"):
        sdk.models.retrieve("no/such-model")


# --- request errors ----------------------------------------------------------


def test_rejected_key_raises_authentication_error(server: MockGroqServer) -> None:
    bad = groq.Groq(base_url=server.base_url, api_key="bad-key", max_retries=0)
    with pytest.raises(groq.AuthenticationError) as caught:
        bad.chat.completions.create(model=MODEL, messages=user("x"))
    assert error_body(caught.value) == {
        "message": "Invalid API Key",
        "type": "invalid_request_error",
        "code": "invalid_api_key",
    }

    server.update(api_key="the-only-key")
    with pytest.raises(groq.AuthenticationError):
        client(server).models.list()
    accepted = groq.Groq(base_url=server.base_url, api_key="the-only-key")
    assert accepted.models.list().data


def test_unknown_model_raises_not_found_with_groqs_message(
    server: MockGroqServer,
) -> None:
    with pytest.raises(groq.NotFoundError) as caught:
        client(server).chat.completions.create(model="made-up", messages=user("x"))
    assert error_body(caught.value) == {
        "message": "The model `made-up` does not exist or you do not have access to it.",
        "type": "invalid_request_error",
        "code": "model_not_found",
    }


def test_decommissioned_model_names_its_replacement(server: MockGroqServer) -> None:
    with pytest.raises(groq.BadRequestError) as caught:
        client(server).chat.completions.create(
            model="llama-3.1-8b-instant", messages=user("x")
        )
    body = error_body(caught.value)
    assert body["code"] == "model_decommissioned"
    assert "openai/gpt-oss-20b" in body["message"]


@pytest.mark.parametrize(
    ("messages", "extra"),
    [
        ([], {}),
        (user("x"), {"logprobs": True}),
        (user("x"), {"top_logprobs": 2}),
        (user("x"), {"logit_bias": {"1": 5}}),
        (user("x"), {"n": 2}),
        ([{"role": "user", "content": "x", "name": "bob"}], {}),
        (user("x"), {"max_completion_tokens": 70_000}),
    ],
)
def test_unsupported_requests_are_rejected(
    server: MockGroqServer, messages: list[dict[str, Any]], extra: dict[str, Any]
) -> None:
    with pytest.raises(groq.BadRequestError):
        client(server).chat.completions.create(
            model=MODEL,
            messages=messages,  # type: ignore[arg-type]
            **extra,
        )


def test_context_length_exceeded(server: MockGroqServer) -> None:
    with pytest.raises(groq.BadRequestError) as caught:
        client(server).chat.completions.create(
            model=MODEL, messages=user("w " * 140_000)
        )
    body = error_body(caught.value)
    assert body["code"] == "context_length_exceeded"
    assert body["param"] == "messages"


# --- rate limits and faults --------------------------------------------------


def test_injected_rate_limit_is_retried_by_the_sdk(server: MockGroqServer) -> None:
    server.update(rate_limit_every=2, retry_after_ms=5)
    sdk = client(server)
    sdk.chat.completions.create(model=MODEL, messages=user("one"))
    second = sdk.chat.completions.create(model=MODEL, messages=user("two"))

    assert second.choices[0].message.content == "Mock reply to: two"
    chats = server.chat_requests()
    assert [(r.status, r.retry_count) for r in chats] == [(200, 0), (429, 0), (200, 1)]


def test_rate_limit_without_retries_raises_with_retry_after(
    server: MockGroqServer,
) -> None:
    server.update(rate_limit_every=1, retry_after_s=2.5)
    with pytest.raises(groq.RateLimitError) as caught:
        client(server, max_retries=0).chat.completions.create(
            model=MODEL, messages=user("x")
        )
    error = caught.value
    assert error.response.headers["retry-after"] == "3"
    assert "retry-after-ms" not in error.response.headers
    body = error_body(error)
    assert body["type"] == "requests"
    assert body["code"] == "rate_limit_exceeded"
    assert f"Rate limit reached for model `{MODEL}`" in body["message"]
    assert "Please try again in 2.5s." in body["message"]


def test_retry_after_as_an_http_date(server: MockGroqServer) -> None:
    server.update(rate_limit_every=1, retry_after_s=30, retry_after_date=True)
    with pytest.raises(groq.RateLimitError) as caught:
        client(server, max_retries=0).chat.completions.create(
            model=MODEL, messages=user("x")
        )
    header = caught.value.response.headers["retry-after"]
    assert header.endswith(" GMT"), header
    ahead = email.utils.parsedate_to_datetime(header).timestamp() - time.time()
    # Whole seconds on the wire: 30 s ahead, give or take the truncated fraction.
    assert 28.5 <= ahead <= 30.5, header


def test_rate_limit_headers_replace_the_computed_ones(server: MockGroqServer) -> None:
    spent = {"x-ratelimit-remaining-tokens": "0", "x-ratelimit-reset-tokens": "2m59.56s"}
    server.update(rate_limit_headers=spent)
    with httpx.Client(base_url=server.base_url) as http:
        response = http.post(CHAT_URL, json={"model": MODEL, "messages": user("x")},
                             headers={"Authorization": f"Bearer {KEY}"})
    assert response.status_code == 200
    assert {name: response.headers[name] for name in spent} == spent
    assert response.headers["x-ratelimit-limit-tokens"] == "250000"  # the rest as before


def test_hold_until_in_flight_proves_concurrency(server: MockGroqServer) -> None:
    server.update(hold_until_in_flight=2)

    def ask() -> None:
        client(server).chat.completions.create(model=MODEL, messages=user("x"))

    async def both() -> None:
        await asyncio.gather(asyncio.to_thread(ask), asyncio.to_thread(ask))

    asyncio.run(both())
    # Both were in the server at once. (A sequential client would have its
    # first request held for the whole timeout, then one at a time.)
    assert server.max_in_flight == 2


def test_rpm_limit_uses_a_real_sliding_window() -> None:
    clock = FakeClock()
    with MockGroqServer(MockSettings(rpm_limit=2), clock=clock) as server:
        sdk = client(server, max_retries=0)
        raw = sdk.chat.completions.with_raw_response
        first = raw.create(model=MODEL, messages=user("1"))
        assert first.headers["x-ratelimit-limit-requests"] == "2"
        assert first.headers["x-ratelimit-remaining-requests"] == "1"
        assert first.headers["x-ratelimit-reset-requests"] == "1m0s"
        clock.now += 30.0
        second = raw.create(model=MODEL, messages=user("2"))
        assert second.headers["x-ratelimit-remaining-requests"] == "0"
        clock.now += 10.0

        with pytest.raises(groq.RateLimitError) as caught:
            sdk.chat.completions.create(model=MODEL, messages=user("3"))
        # The first request leaves the window 60 s after it was made, 20 s from now.
        assert caught.value.response.headers["retry-after"] == "20"
        message = error_body(caught.value)["message"]
        assert "Limit 2, Used 2, Requested 1. Please try again in 20s." in message

        clock.now += 20.0
        assert sdk.chat.completions.create(model=MODEL, messages=user("4")).choices
        # The limit is per model, as on Groq.
        assert sdk.chat.completions.create(
            model="openai/gpt-oss-120b", messages=user("5")
        )


def test_tpm_limit_refuses_by_tokens() -> None:
    clock = FakeClock()
    with MockGroqServer(
        MockSettings(tpm_limit=30, retry_after_ms=1), clock=clock
    ) as server:
        sdk = client(server, max_retries=0)
        sdk.chat.completions.create(model=MODEL, messages=user("a b c"))  # 7 + 6 tokens
        sdk.chat.completions.create(model=MODEL, messages=user("a b c"))
        clock.now += 15.0
        with pytest.raises(groq.RateLimitError) as caught:
            sdk.chat.completions.create(model=MODEL, messages=user("a b c"))
        assert error_body(caught.value)["type"] == "tokens"
        assert caught.value.response.headers["retry-after"] == "45"
        assert caught.value.response.headers["retry-after-ms"] == "45000"

        with pytest.raises(groq.APIStatusError) as too_big:
            sdk.chat.completions.create(model=MODEL, messages=user("x " * 40))
        assert too_big.value.status_code == 413


def test_server_errors_raise_when_retries_are_off(server: MockGroqServer) -> None:
    server.update(server_error_share=1.0)
    with pytest.raises(groq.InternalServerError) as caught:
        client(server, max_retries=0).chat.completions.create(
            model=MODEL, messages=user("x")
        )
    assert caught.value.status_code in (500, 502, 503)
    assert error_body(caught.value)["type"] == "internal_server_error"


def test_fault_shares_are_deterministic_for_a_seed() -> None:
    def statuses(seed: int) -> list[int | None]:
        settings = MockSettings(seed=seed, server_error_share=0.3, rate_limit_share=0.2)
        with MockGroqServer(settings) as server:
            sdk = client(server, max_retries=0)
            for _ in range(12):
                with contextlib.suppress(groq.APIStatusError):
                    sdk.chat.completions.create(model=MODEL, messages=user("x"))
            return [r.status for r in server.chat_requests()]

    first = statuses(7)
    assert first == statuses(7)
    assert {200, 429} <= set(first)
    assert any(s is not None and s >= 500 for s in first)


def test_dropped_connection_raises_api_connection_error(server: MockGroqServer) -> None:
    server.update(reset_share=1.0)
    with pytest.raises(groq.APIConnectionError):
        client(server, max_retries=0).chat.completions.create(
            model=MODEL, messages=user("x")
        )
    assert [r.status for r in server.chat_requests()] == [None]


def test_cut_stream_raises_remote_protocol_error(server: MockGroqServer) -> None:
    # The stream uses chunked encoding, so a socket closed before the final
    # chunk is an incomplete body: httpx raises, and the groq SDK lets that
    # httpx error through unwrapped while iterating (it is not a groq.APIError).
    server.update(cut_stream_after=2)
    received: list[str] = []
    stream = client(server, max_retries=0).chat.completions.create(
        model=MODEL, messages=user("one two three"), stream=True
    )
    with pytest.raises(httpx.RemoteProtocolError):
        for chunk in stream:
            received.append(chunk.choices[0].delta.content or "")
    assert "".join(received) == "Mock reply "


def test_stream_error_event_raises_api_error(server: MockGroqServer) -> None:
    server.update(stream_error_after=1)
    received: list[str] = []
    stream = client(server).chat.completions.create(
        model=MODEL, messages=user("one two"), stream=True
    )
    with pytest.raises(groq.APIError) as caught:
        for chunk in stream:
            received.append(chunk.choices[0].delta.content or "")
    assert "".join(received) == "Mock "
    assert isinstance(caught.value.body, dict)
    assert caught.value.body["type"] == "internal_server_error"


def test_fail_models_forces_an_error_for_one_model(server: MockGroqServer) -> None:
    server.update(
        fail_models={"openai/gpt-oss-120b": (503, "over_capacity", "Over capacity")}
    )
    sdk = client(server, max_retries=0)
    with pytest.raises(groq.InternalServerError, match="Over capacity"):
        sdk.chat.completions.create(model="openai/gpt-oss-120b", messages=user("x"))
    assert sdk.chat.completions.create(model=MODEL, messages=user("x")).choices


# --- recording, headers, lifecycle -------------------------------------------


def test_requests_are_recorded_without_secrets(server: MockGroqServer) -> None:
    secret = "gsk_super_secret_value"
    sdk = groq.Groq(base_url=server.base_url, api_key=secret)
    sdk.chat.completions.create(model=MODEL, messages=user("x"))
    sdk.models.list()

    recorded = server.requests
    assert [(r.method, r.path, r.status) for r in recorded] == [
        ("POST", CHAT_URL, 200),
        ("GET", "/openai/v1/models", 200),
    ]
    assert all(
        isinstance(r, RecordedRequest) and r.authorization_present for r in recorded
    )
    assert "authorization" not in recorded[0].headers
    assert secret not in repr(recorded)
    assert recorded[0].body == {"model": MODEL, "messages": user("x")}
    assert recorded[0].received_at <= recorded[1].received_at
    assert len(server.chat_requests()) == 1

    server.reset()
    assert server.requests == []


def test_every_response_carries_rate_limit_headers(server: MockGroqServer) -> None:
    auth = {"Authorization": f"Bearer {KEY}"}
    names = [
        "x-ratelimit-limit-requests",
        "x-ratelimit-limit-tokens",
        "x-ratelimit-remaining-requests",
        "x-ratelimit-remaining-tokens",
        "x-ratelimit-reset-requests",
        "x-ratelimit-reset-tokens",
        "x-request-id",
    ]
    with httpx.Client(base_url=server.base_url) as http:
        ok = http.post(
            CHAT_URL, json={"model": MODEL, "messages": user("x")}, headers=auth
        )
        unauthorised = http.get("/openai/v1/models")
        missing = http.get("/openai/v1/nothing-here", headers=auth)
        streamed = http.post(
            CHAT_URL,
            json={"model": MODEL, "messages": user("x"), "stream": True},
            headers=auth,
        )
    for response in (ok, unauthorised, missing, streamed):
        assert all(name in response.headers for name in names), response.headers
    assert ok.headers["content-type"] == "application/json"
    assert unauthorised.status_code == 401
    assert missing.status_code == 404
    assert missing.json()["error"]["type"] == "invalid_request_error"
    assert streamed.headers["content-type"] == "text/event-stream"
    assert streamed.text.endswith("data: [DONE]\n\n")
    assert "event:" not in streamed.text
    assert server.requests[1].authorization_present is False


def test_client_hanging_up_mid_stream_is_quiet(
    server: MockGroqServer,
    caplog: pytest.LogCaptureFixture,
    capfd: pytest.CaptureFixture[str],
) -> None:
    server.update(tokens_per_second=200.0)
    with caplog.at_level(logging.DEBUG, logger="catalyst.mock_groq"):
        stream = client(server).chat.completions.create(
            model=MODEL, messages=user("a b c d e f g h i j k l"), stream=True
        )
        next(iter(stream))
        stream.close()
        time.sleep(0.15)  # long enough for the server to hit the closed socket
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING]
    assert "Traceback" not in capfd.readouterr().err


def test_server_restarts_and_refuses_base_url_when_stopped() -> None:
    server = MockGroqServer(port=0)
    with pytest.raises(RuntimeError):
        _ = server.base_url
    server.start()
    assert server.base_url.startswith("http://127.0.0.1:")
    server.stop()
    server.stop()  # idempotent
    with server:
        assert client(server).models.list().data


def test_settings_reject_nonsense() -> None:
    with pytest.raises(ValueError, match="rate_limit_share"):
        MockSettings(rate_limit_share=30)
    with pytest.raises(ValueError, match="rpm_limit"):
        MockSettings(rpm_limit=0)
    with pytest.raises(ValueError, match="x-ratelimit"):
        MockSettings(rate_limit_headers={"retry-after": "1"})
    with pytest.raises(ValueError, match="hold_until_in_flight"):
        MockSettings(hold_until_in_flight=-1)


@pytest.mark.parametrize(
    ("seconds", "text"),
    [(0, "0s"), (0.0004, "1ms"), (0.48, "480ms"), (7.66, "7.66s"), (179.56, "2m59.56s"),
     (60, "1m0s"), (4.77, "4.77s"), (3723.5, "1h2m3.5s")],
)  # fmt: skip
def test_go_duration_matches_groqs_header_style(seconds: float, text: str) -> None:
    assert go_duration(seconds) == text


# --- CLI ---------------------------------------------------------------------


def parse_cli(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    add_arguments(parser)
    return parser.parse_args(list(argv))


@pytest.mark.parametrize("host", ["0.0.0.0", "192.168.1.10", "example.com", "::"])
def test_cli_refuses_non_loopback_hosts(
    host: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run(parse_cli("--host", host)) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "loopback" in err


def test_cli_serves_until_ctrl_c() -> None:
    root = Path(__file__).resolve().parents[1]
    code = (
        "import argparse, sys\n"
        "from catalyst.mock_groq.cli import add_arguments, run\n"
        "p = argparse.ArgumentParser(); add_arguments(p)\n"
        "sys.exit(run(p.parse_args(['--port', '0', '--reply', 'pong'])))\n"
    )
    env = {**os.environ, "PYTHONPATH": str(root)}
    process = subprocess.Popen(
        [sys.executable, "-c", code], stderr=subprocess.PIPE, text=True, env=env
    )
    try:
        assert process.stderr is not None
        banner = process.stderr.readline()
        assert banner.startswith("local server on http://127.0.0.1:")
        assert "any API key works" in banner
        fields = dict(word.split("=", 1) for word in banner.split() if "_BASE_URL=" in word)
        base_url = fields["GROQ_BASE_URL"]
        assert fields["OPENAI_BASE_URL"] == base_url + "/v1"
        assert fields["ANTHROPIC_BASE_URL"] == base_url
        sdk = groq.Groq(base_url=base_url, api_key=KEY)
        reply = sdk.chat.completions.create(model=MODEL, messages=user("ping"))
        assert reply.choices[0].message.content == "pong"
        process.send_signal(signal.SIGINT)
        assert process.wait(timeout=5) == 0
        assert "Traceback" not in process.stderr.read()
    finally:
        if process.poll() is None:
            process.kill()
