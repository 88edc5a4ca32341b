"""OpenAI, Anthropic and OpenAI-compatible hosts on the shared chat runtime.

Each test compiles a workflow, runs the generated script through the real SDK
(openai, anthropic, groq) against the local provider server, and checks what
came back and what was sent.
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from conftest import PROVIDER_VARIABLES, build, provider_env, run_script
from workflow_builders import diagnostics

from catalyst.mock_groq import MockGroqServer, MockSettings

REPLY = "Mock reply to: "
INPUTS = {"name": {"type": "string", "required": True}}


def workflow(*nodes: dict[str, Any], edges: list[dict[str, str]] | None = None) -> dict[str, Any]:
    return {"id": "wf", "name": "wf", "input": INPUTS, "nodes": list(nodes),
            "edges": edges or []}


def llm(node_id: str, node_type: str, config: dict[str, Any], **data: Any) -> dict[str, Any]:
    return {"id": node_id, "type": node_type, "data": {"label": node_id, "config": config, **data}}


def run_json(script: Path, server: MockGroqServer, *args: str,
             env: dict[str, str] | None = None) -> dict[str, Any]:
    run = run_script(script, "--input", "name=Ann", "--json", *args, server=server, env=env)
    assert run.returncode == 0, run.stderr
    result: dict[str, Any] = json.loads(run.stdout)
    return result


# -- OpenAI -------------------------------------------------------------------------


def test_openai_completion_sends_openai_parameters_and_returns_the_common_output(
    tmp_path: Path, groq_server: MockGroqServer
) -> None:
    script = build(tmp_path, workflow(llm("gpt", "openaiCompletion", {
        "apiKey": "OPENAI_API_KEY", "model": "gpt-5.4-mini", "system": "Be brief.",
        "prompt": "Greet {{ input.name }}", "temperature": 0.3, "maxTokens": 40, "seed": 7})))

    output = run_json(script, groq_server)["outputs"]["gpt"]

    assert output["content"] == REPLY + "Greet Ann"
    assert output["provider"] == "openai" and output["model"] == "gpt-5.4-mini"
    assert output["finish_reason"] == "stop"
    usage = output["usage"]
    assert usage["total_tokens"] == usage["prompt_tokens"] + usage["completion_tokens"] > 0
    # gpt-5.4-mini lists at US$0.75 / 4.50 per million tokens.
    expected = (usage["prompt_tokens"] * 0.75 + usage["completion_tokens"] * 4.50) / 1e6
    assert output["cost_usd"] == pytest.approx(expected)
    (request,) = groq_server.chat_requests()
    assert request.path == "/v1/chat/completions"
    assert request.authorization_present
    assert request.body["messages"] == [
        {"role": "system", "content": "Be brief."}, {"role": "user", "content": "Greet Ann"}]
    assert request.body["max_completion_tokens"] == 40
    assert "max_tokens" not in request.body
    assert (request.body["temperature"], request.body["seed"]) == (0.3, 7)


def test_openai_streams_tokens_and_reads_usage_from_the_last_chunk(
    tmp_path: Path, groq_server: MockGroqServer
) -> None:
    script = build(tmp_path, workflow(llm("gpt", "openaiCompletion", {
        "model": "gpt-5.4-nano", "prompt": "Greet {{ input.name }}", "stream": True})))

    run = run_script(script, "--input", "name=Ann", "--stream", server=groq_server)

    assert run.returncode == 0, run.stderr
    assert run.stdout.strip() == REPLY + "Greet Ann"
    (request,) = groq_server.chat_requests()
    assert request.body["stream"] is True
    assert request.body["stream_options"] == {"include_usage": True}
    assert "usage:" in run.stderr and "about $" in run.stderr


# -- Anthropic ----------------------------------------------------------------------


def test_anthropic_sends_system_apart_and_a_default_max_tokens(
    tmp_path: Path, groq_server: MockGroqServer
) -> None:
    script = build(tmp_path, workflow(llm("claude", "anthropicCompletion", {
        "apiKey": "ANTHROPIC_API_KEY", "model": "claude-haiku-4-5", "system": "Be brief.",
        "prompt": "Greet {{ input.name }}", "temperature": 0.5, "stop": "END"})))

    output = run_json(script, groq_server)["outputs"]["claude"]

    assert output["content"] == REPLY + "Greet Ann"
    # The original editor's names beside the common ones.
    assert output["stop_reason"] == "end_turn" and output["finish_reason"] == "stop"
    usage = output["usage"]
    assert usage["input_tokens"] == usage["prompt_tokens"] > 0
    assert usage["output_tokens"] == usage["completion_tokens"] > 0
    assert output["cost_usd"] == pytest.approx(
        (usage["input_tokens"] * 1.0 + usage["output_tokens"] * 5.0) / 1e6)
    (request,) = groq_server.chat_requests()
    assert request.path == "/v1/messages"
    assert "anthropic-version" in request.headers
    body = request.body
    assert body["system"] == "Be brief."
    assert body["messages"] == [{"role": "user", "content": "Greet Ann"}]
    assert body["max_tokens"] == 4096
    assert body["temperature"] == 0.5
    assert body["stop_sequences"] == ["END"]


def test_anthropic_streams_named_events(
    tmp_path: Path, groq_server: MockGroqServer, load_script: Any
) -> None:
    script = build(tmp_path, workflow(llm("claude", "anthropicCompletion", {
        "model": "claude-sonnet-4-6", "prompt": "Greet {{ input.name }}", "maxTokens": 64,
        "stream": True})))
    module = load_script(script)

    async def collect() -> list[dict[str, Any]]:
        return [event async for event in module.stream_workflow({"name": "Ann"})]

    events = asyncio.run(collect())

    tokens = [event["text"] for event in events if event["type"] == "token"]
    assert len(tokens) > 1 and "".join(tokens) == REPLY + "Greet Ann"
    output = events[-1]["result"]["outputs"]["claude"]
    assert events[-1]["type"] == "workflow_finished"
    assert output["content"] == "".join(tokens)
    assert output["usage"]["output_tokens"] > 0 and output["usage"]["input_tokens"] > 0
    assert output["stop_reason"] == "end_turn"
    (request,) = groq_server.chat_requests()
    assert request.body["stream"] is True and request.body["max_tokens"] == 64


def test_anthropic_temperature_above_one_is_refused_with_the_range(tmp_path: Path) -> None:
    document = workflow(llm("claude", "anthropicCompletion", {"prompt": "x", "temperature": 1.5}))

    problems = diagnostics(document)
    (problem,) = [p for p in problems if p.severity == "error"]
    assert problem.node_id == "claude"
    assert problem.path == "/nodes/0/data/config/temperature"
    assert "1" in problem.message


# -- OpenAI-compatible hosts -----------------------------------------------------------


@pytest.mark.parametrize(
    ("preset", "key_env"),
    [("together", "TOGETHER_API_KEY"), ("fireworks", "FIREWORKS_API_KEY"),
     ("openrouter", "OPENROUTER_API_KEY"), ("deepinfra", "DEEPINFRA_API_KEY")],
)
def test_compatible_preset_uses_its_key_variable_and_address(
    tmp_path: Path, groq_server: MockGroqServer, preset: str, key_env: str
) -> None:
    script = build(tmp_path, workflow(llm("host", "openaiCompletion", {
        "provider": preset, "model": "vendor/some-model", "prompt": "Greet {{ input.name }}",
        "maxTokens": 30})), name=preset)
    source = script.read_text()
    assert key_env in source

    output = run_json(script, groq_server)["outputs"]["host"]

    assert output["provider"] == preset and output["model"] == "vendor/some-model"
    assert output["cost_usd"] is None  # no prices for another host's models
    (request,) = groq_server.chat_requests()
    assert request.path == "/compatible/v1/chat/completions"
    # Compatible hosts read the older budget name.
    assert request.body["max_tokens"] == 30 and "max_completion_tokens" not in request.body

    missing = run_script(script, "--input", "name=Ann", server=groq_server,
                         env={key_env: ""})
    assert missing.returncode == 2
    assert key_env in missing.stderr


def test_local_hosts_need_no_key(tmp_path: Path, groq_server: MockGroqServer) -> None:
    script = build(tmp_path, workflow(llm("local", "openaiCompletion", {
        "provider": "ollama", "model": "llama3.2", "prompt": "Greet {{ input.name }}"})))
    environment = {"OLLAMA_API_KEY": ""}

    output = run_json(script, groq_server, env=environment)["outputs"]["local"]

    assert output["content"] == REPLY + "Greet Ann"


def test_a_base_url_of_your_own(tmp_path: Path, groq_server: MockGroqServer) -> None:
    script = build(tmp_path, workflow(llm("mine", "openaiCompletion", {
        "baseUrl": groq_server.compatible_base_url, "apiKey": "MY_HOST_KEY",
        "model": "my-model", "prompt": "Greet {{ input.name }}"})))

    output = run_json(script, groq_server, env={"MY_HOST_KEY": "k"})["outputs"]["mine"]

    assert output["model"] == "my-model"
    assert groq_server.chat_requests()[0].path == "/compatible/v1/chat/completions"


def test_unknown_preset_lists_the_valid_ones() -> None:
    document = workflow(llm("x", "openaiCompletion", {"provider": "togther", "prompt": "x"}))

    (problem,) = diagnostics(document)
    assert problem.path == "/nodes/0/data/config/provider"
    for name in ("openai", "together", "fireworks", "openrouter", "deepinfra", "ollama", "vllm"):
        assert name in problem.message + (problem.hint or "")


# -- retired models and errors -----------------------------------------------------------


@pytest.mark.parametrize(
    ("node_type", "model", "replacement"),
    [("openaiCompletion", "gpt-4-turbo-preview", "gpt-5.4"),
     ("openaiCompletion", "gpt-3.5-turbo", "gpt-4.1-mini"),
     ("anthropicCompletion", "claude-3-opus-20240229", "claude-opus-4-8"),
     ("anthropicCompletion", "claude-3-5-sonnet-20241022", "claude-sonnet-4-6")],
)
def test_retired_models_warn_with_a_replacement(
    node_type: str, model: str, replacement: str
) -> None:
    document = workflow(llm("x", node_type, {"model": model, "prompt": "x"}))

    (warning,) = diagnostics(document)
    assert warning.code == "model-decommissioned" and warning.severity == "warning"
    assert warning.path == "/nodes/0/data/config/model"
    assert repr(replacement) in (warning.hint or "")


def test_a_retired_model_fails_at_run_time_naming_the_replacement(
    tmp_path: Path, groq_server: MockGroqServer
) -> None:
    script = build(tmp_path, workflow(llm("claude", "anthropicCompletion", {
        "model": "claude-3-opus-20240229", "prompt": "x"}, retries=0)))

    run = run_script(script, "--input", "name=Ann", server=groq_server)

    assert run.returncode == 1
    assert "claude-opus-4-8" in run.stderr


@pytest.mark.parametrize(
    ("node_type", "key_env", "label"),
    [("openaiCompletion", "OPENAI_API_KEY", "OpenAI"),
     ("anthropicCompletion", "ANTHROPIC_API_KEY", "Anthropic")],
)
def test_a_rejected_key_names_its_variable_and_never_its_value(
    tmp_path: Path, node_type: str, key_env: str, label: str
) -> None:
    script = build(tmp_path, workflow(llm("llm", node_type, {"prompt": "x"})), name=node_type)
    with MockGroqServer(MockSettings(api_key="the-right-key")) as server:
        run = run_script(script, "--input", "name=Ann", server=server,
                         env={key_env: "sk-wrong-secret-value"})

        statuses = [request.status for request in server.chat_requests()]

    assert run.returncode == 1
    assert f"{label} rejected the API key in {key_env} (401)" in run.stderr
    assert "sk-wrong-secret-value" not in run.stderr + run.stdout
    # A bad key is not worth a retry.
    assert statuses == [401]


@pytest.mark.parametrize("node_type", ["openaiCompletion", "anthropicCompletion"])
def test_the_sdk_retries_a_rate_limited_call_after_retry_after(
    tmp_path: Path, node_type: str
) -> None:
    # Two calls; every second request gets a 429 asking for a 5 ms wait.
    document = workflow(
        llm("a", node_type, {"prompt": "first {{ input.name }}"}),
        llm("b", node_type, {"prompt": "second {{ input.name }}"}),
    )
    script = build(tmp_path, document, name=node_type)
    with MockGroqServer(MockSettings(rate_limit_every=2, retry_after_ms=5)) as server:
        result = run_json(script, server)
        requests = server.chat_requests()

    assert result["outputs"]["a"]["content"] == REPLY + "first Ann"
    assert result["outputs"]["b"]["content"] == REPLY + "second Ann"
    assert sorted(request.status or 0 for request in requests) == [200, 200, 429]
    (limited,) = [request for request in requests if request.status == 429]
    (retried,) = [request for request in requests if request.retry_count == 1]
    assert retried.status == 200 and retried.body == limited.body


# -- across providers -----------------------------------------------------------------


def test_a_groq_outage_falls_back_to_claude_and_the_events_say_so(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, load_script: Any,
    groq_server: MockGroqServer,
) -> None:
    document = workflow(llm("llm", "groqCompletion", {
        "model": "openai/gpt-oss-20b", "prompt": "Greet {{ input.name }}",
        "fallbackModels": [{"provider": "anthropic", "model": "claude-haiku-4-5"}],
        "circuitBreaker": {"failures": 1, "cooldown_s": 600}}, retries=0))
    script = build(tmp_path, document)
    assert "class AnthropicProvider" in script.read_text()
    module = load_script(script)
    groq_server.settings = MockSettings(
        fail_models={"openai/gpt-oss-20b": (503, "service_unavailable", "Groq is down")})

    async def run() -> tuple[dict[str, Any], list[dict[str, Any]]]:
        events: list[dict[str, Any]] = []
        result = await module.run_workflow({"name": "Ann"}, on_event=events.append)
        return result, events

    first, first_events = asyncio.run(run())
    second, second_events = asyncio.run(run())

    for result in (first, second):
        output = result["outputs"]["llm"]
        assert output["provider"] == "anthropic" and output["model"] == "claude-haiku-4-5"
        assert output["content"] == REPLY + "Greet Ann"
        assert "stop_reason" in output
    (fallback,) = [e for e in first_events if e["type"] == "fallback"]
    assert fallback["provider"] == "groq" and fallback["model"] == "openai/gpt-oss-20b"
    assert "503" in fallback["reason"] and "Groq is down" in fallback["reason"]
    # The breaker opened after one failure: the second run does not call Groq at all.
    (skipped,) = [e for e in second_events if e["type"] == "fallback"]
    assert skipped["reason"] == "circuit breaker open"
    paths = [request.path for request in groq_server.chat_requests()]
    assert paths == ["/openai/v1/chat/completions", "/v1/messages", "/v1/messages"]
    assert second["outputs"]["llm"]["fallbacks"] == [
        {"provider": "groq", "model": "openai/gpt-oss-20b", "reason": "circuit breaker open"}]


def test_a_fallback_to_another_provider_needs_that_providers_key(
    tmp_path: Path, groq_server: MockGroqServer
) -> None:
    script = build(tmp_path, workflow(llm("llm", "groqCompletion", {
        "prompt": "x", "fallbackModels": [{"provider": "openai", "model": "gpt-5.4-mini"}]})))

    run = run_script(script, "--input", "name=Ann", server=groq_server,
                     env={"OPENAI_API_KEY": ""})

    assert run.returncode == 2
    assert "OPENAI_API_KEY" in run.stderr
    assert groq_server.chat_requests() == []


def test_only_the_providers_a_workflow_uses_are_in_its_script(tmp_path: Path) -> None:
    source = build(tmp_path, workflow(llm("gpt", "openaiCompletion", {"prompt": "x"}))
                   ).read_text()

    assert "class OpenAIProvider" in source
    assert "class GroqProvider" not in source and "import groq" not in source
    assert "class AnthropicProvider" not in source and "import anthropic" not in source
    assert '"openai>=3.51,<4"' in source


def test_every_provider_fills_in_its_local_server_variables() -> None:
    with MockGroqServer(MockSettings()) as server:
        environment = provider_env(server)
    assert environment["OPENAI_BASE_URL"].endswith("/v1")
    assert environment["TOGETHER_BASE_URL"].endswith("/compatible/v1")


# -- `catalyst run` -------------------------------------------------------------------


def test_catalyst_run_uses_the_local_server_for_each_provider_without_a_key(
    tmp_path: Path, groq_server: MockGroqServer
) -> None:
    source = tmp_path / "two.json"
    source.write_text(json.dumps(workflow(
        llm("gpt", "openaiCompletion", {"prompt": "Greet {{ input.name }}"}),
        llm("claude", "anthropicCompletion", {"prompt": "Greet {{ input.name }}"}),
    )))
    # OpenAI has a key (aimed at this test's server); Anthropic has none.
    environment = {k: v for k, v in os.environ.items() if k not in PROVIDER_VARIABLES}
    environment.update(OPENAI_API_KEY="test-key", OPENAI_BASE_URL=groq_server.openai_base_url)

    completed = subprocess.run(
        [sys.executable, "-m", "catalyst.cli", "run", str(source), "--input", "name=Ann",
         "--json"], capture_output=True, text=True, env=environment, timeout=120, check=False)

    assert completed.returncode == 0, completed.stderr
    assert "ANTHROPIC_API_KEY is not set, so Anthropic calls go to Catalyst's local server" \
        in completed.stderr
    assert "OPENAI_API_KEY" not in completed.stderr
    outputs = json.loads(completed.stdout)["outputs"]
    assert outputs["claude"]["content"] == REPLY + "Greet Ann"
    # The OpenAI call went to the server the key was meant for.
    assert [request.path for request in groq_server.chat_requests()] == ["/v1/chat/completions"]


# -- rate budgets -------------------------------------------------------------------------


def test_anthropics_own_rate_limit_headers_set_the_token_budget(
    tmp_path: Path, groq_server: MockGroqServer, load_script: Any
) -> None:
    """Anthropic says its per-minute limits as anthropic-ratelimit-*; the budget follows."""
    module = load_script(build(tmp_path, workflow(llm("claude", "anthropicCompletion", {
        "model": "claude-haiku-4-5", "prompt": "Greet {{ input.name }}"}))))
    assert module.CHAT_MODELS["anthropic"]["claude-haiku-4-5"]["tokens_per_minute"] == 250_000
    # The server sends the x-ratelimit-* figures under Anthropic's names.
    groq_server.update(rate_limit_headers={"x-ratelimit-limit-tokens": "8000"})

    result = asyncio.run(module.run_workflow({"name": "Ann"}))

    assert result["outputs"]["claude"]["content"] == REPLY + "Greet Ann"
    headers = groq_server.chat_requests()[0]
    assert headers.path == "/v1/messages"
    assert module._LEARNED["anthropic", "claude-haiku-4-5"].tokens_per_minute == 8000


def test_anthropic_reset_times_become_pauses(tmp_path: Path, load_script: Any) -> None:
    import datetime as dt

    module = load_script(build(tmp_path, workflow(llm("claude", "anthropicCompletion", {
        "prompt": "x"}))))
    soon = (dt.datetime.now(dt.UTC) + dt.timedelta(seconds=30)).isoformat()

    translated = module._anthropic_rate_headers({
        "anthropic-ratelimit-tokens-remaining": "0",
        "anthropic-ratelimit-tokens-reset": soon,
        "anthropic-ratelimit-requests-limit": "50",
        "anthropic-ratelimit-requests-reset": "not a time",
        "retry-after": "3",
    })

    assert translated["x-ratelimit-remaining-tokens"] == "0"
    assert translated["x-ratelimit-limit-requests"] == "50"
    assert translated["retry-after"] == "3"
    assert "x-ratelimit-reset-requests" not in translated
    assert 27 < module.duration_seconds(translated["x-ratelimit-reset-tokens"]) <= 30
