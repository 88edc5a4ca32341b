"""embeddingGenerate and llmRouter, run through the real openai, anthropic and
groq SDKs against the local provider server."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import pytest
from conftest import build, run_script
from workflow_builders import diagnostics

from catalyst.local_server.embeddings import embed
from catalyst.mock_groq import MockGroqServer, MockSettings

REPLY = "Mock reply to: "


def workflow(*nodes: dict[str, Any], edges: list[dict[str, str]] | None = None,
             inputs: dict[str, Any] | None = None) -> dict[str, Any]:
    return {"id": "wf", "name": "wf",
            "input": inputs or {"q": {"type": "string", "required": True}},
            "nodes": list(nodes), "edges": edges or []}


def node(node_id: str, node_type: str, config: dict[str, Any], **data: Any) -> dict[str, Any]:
    return {"id": node_id, "type": node_type, "data": {"label": node_id, "config": config, **data}}


def outputs(script: Path, server: MockGroqServer, *args: str) -> dict[str, Any]:
    run = run_script(script, "--json", *args, server=server)
    assert run.returncode == 0, run.stderr
    result: dict[str, Any] = json.loads(run.stdout)["outputs"]
    return result


def close(vector: list[float], expected: list[float]) -> bool:
    return all(abs(a - b) < 1e-6 for a, b in zip(vector, expected, strict=True))


# -- embeddingGenerate ----------------------------------------------------------------


def test_openai_embeddings_of_one_text(tmp_path: Path, groq_server: MockGroqServer) -> None:
    script = build(tmp_path, workflow(node("emb", "embeddingGenerate", {
        "provider": "openai", "apiKey": "OPENAI_API_KEY", "model": "text-embedding-3-small",
        "text": "{{ input.q }}", "dimensions": 16})))

    output = outputs(script, groq_server, "--input", "q=green tea")["emb"]

    assert output["model"] == "text-embedding-3-small" and output["dimensions"] == 16
    (vector,) = output["embeddings"]
    assert close(vector, embed("green tea", 16))
    assert output["usage"]["total_tokens"] > 0
    assert output["cost_usd"] == pytest.approx(output["usage"]["total_tokens"] * 0.02 / 1e6)
    (request,) = groq_server.embedding_requests()
    assert request.path == "/v1/embeddings"
    assert request.body["input"] == ["green tea"] and request.body["dimensions"] == 16


def test_many_texts_are_split_under_the_input_limit_and_joined_in_order(
    tmp_path: Path, groq_server: MockGroqServer
) -> None:
    texts = [f"text number {i}" for i in range(2050)]
    document = workflow(
        node("texts", "editFields", {"mode": "replace", "fields": {"texts": "{{ input.texts }}"}}),
        node("emb", "embeddingGenerate", {"model": "text-embedding-3-small", "dimensions": 8}),
        edges=[{"id": "e", "source": "texts", "target": "emb"}],
        inputs={"texts": {"type": "array", "required": True}},
    )
    script = build(tmp_path, document)
    source = tmp_path / "texts.json"
    source.write_text(json.dumps({"texts": texts}))

    output = outputs(script, groq_server, "--inputs-json", str(source))["emb"]

    assert len(output["embeddings"]) == 2050
    for index in (0, 1, 2047, 2048, 2049):
        assert close(output["embeddings"][index], embed(texts[index], 8)), index
    sizes = sorted(len(request.body["input"]) for request in groq_server.embedding_requests())
    assert sizes == [2, 2048]


def test_voyage_takes_its_own_size_and_role_names(
    tmp_path: Path, groq_server: MockGroqServer
) -> None:
    script = build(tmp_path, workflow(node("emb", "embeddingGenerate", {
        "provider": "voyage", "model": "voyage-4-lite", "text": ["tea", "{{ input.q }}"],
        "dimensions": 256, "inputType": "document"})))

    output = outputs(script, groq_server, "--input", "q=coffee")["emb"]

    assert output["provider"] == "voyage" and output["dimensions"] == 256
    assert close(output["embeddings"][1], embed("coffee", 256))
    (request,) = groq_server.embedding_requests()
    assert request.path == "/voyage/v1/embeddings"
    assert request.body["output_dimension"] == 256 and request.body["input_type"] == "document"
    assert "dimensions" not in request.body


def test_voyage_requests_stay_under_its_token_limit(
    tmp_path: Path, groq_server: MockGroqServer
) -> None:
    # voyage-4-large takes 120,000 tokens a request; each text counts as up to 50,001.
    texts = ["x" * 150_000, "y" * 150_000, "z" * 150_000]
    script = build(tmp_path, workflow(
        node("emb", "embeddingGenerate", {"provider": "voyage", "model": "voyage-4-large",
                                          "text": "{{ input.texts }}"}),
        inputs={"texts": {"type": "array", "required": True}}))
    source = tmp_path / "texts.json"
    source.write_text(json.dumps({"texts": texts}))

    output = outputs(script, groq_server, "--inputs-json", str(source))["emb"]

    assert len(output["embeddings"]) == 3
    assert [len(r.body["input"]) for r in groq_server.embedding_requests()] in ([2, 1], [1, 2])


def test_an_empty_text_is_refused_before_any_request(
    tmp_path: Path, groq_server: MockGroqServer
) -> None:
    script = build(tmp_path, workflow(node("emb", "embeddingGenerate", {"text": "{{ input.q }}"},
                                           retries=0)))

    run = run_script(script, "--input", "q= ", server=groq_server)

    assert run.returncode == 1
    assert "text 0 is empty" in run.stderr
    assert groq_server.embedding_requests() == []


@pytest.mark.parametrize(
    ("config", "path", "hint"),
    [({"model": "text-embedding-ada-002", "dimensions": 256}, "dimensions", "leave"),
     ({"model": "text-embedding-3-small", "dimensions": 4096}, "dimensions", "at most 1536"),
     ({"provider": "voyage", "model": "voyage-4", "dimensions": 300}, "dimensions",
      "256, 512, 1024, 2048"),
     ({"inputType": "query"}, "inputType", "voyage"),
     ({"provider": "together"}, "model", "model")],
)
def test_embedding_config_errors_name_the_field_and_the_way_out(
    config: dict[str, Any], path: str, hint: str
) -> None:
    found = diagnostics(workflow(node("emb", "embeddingGenerate", {"text": "x", **config})))

    (problem,) = [p for p in found if p.severity == "error"]
    assert problem.node_id == "emb"
    assert problem.path == f"/nodes/0/data/config/{path}"
    assert hint in (problem.hint or "")


def test_nothing_to_embed_is_an_error() -> None:
    (problem,) = diagnostics(workflow(node("emb", "embeddingGenerate", {})))
    assert problem.code == "missing-input"


# -- llmRouter ----------------------------------------------------------------------------

CANDIDATES = [
    {"provider": "openai", "model": "gpt-5.4"},
    {"provider": "groq", "model": "openai/gpt-oss-20b"},
    {"provider": "anthropic", "model": "claude-haiku-4-5"},
]
PATHS = {"openai": "/v1/chat/completions", "groq": "/openai/v1/chat/completions",
         "anthropic": "/v1/messages"}


@pytest.mark.parametrize(
    ("strategy", "provider", "model", "reason"),
    [("cost", "groq", "openai/gpt-oss-20b", "cost: cheapest of 3 models"),
     ("speed", "groq", "openai/gpt-oss-20b", "speed: fastest of 3 models (1000 output tokens/s)"),
     ("quality", "openai", "gpt-5.4", "quality: best of 3 models (rank 5")],
)
def test_router_picks_by_strategy_and_says_why(
    tmp_path: Path, groq_server: MockGroqServer, strategy: str, provider: str, model: str,
    reason: str,
) -> None:
    # The original editor's spellings: models as JSON text.
    script = build(tmp_path, workflow(node("route", "llmRouter", {
        "routingStrategy": strategy, "models": json.dumps(CANDIDATES),
        "prompt": "{{ input.q }}"})), name=strategy)

    output = outputs(script, groq_server, "--input", "q=hello")["route"]

    assert (output["provider"], output["model"]) == (provider, model)
    assert output["routing_reason"].startswith(reason)
    assert output["content"] == REPLY + "hello"
    assert set(output["usage"]) >= {"prompt_tokens", "completion_tokens", "total_tokens"}
    assert [r.path for r in groq_server.chat_requests()] == [PATHS[provider]]


def test_load_balance_takes_turns_and_skips_an_open_breaker(
    tmp_path: Path, groq_server: MockGroqServer, load_script: Any
) -> None:
    script = build(tmp_path, workflow(node("route", "llmRouter", {
        "routingStrategy": "load_balance", "models": CANDIDATES, "prompt": "{{ input.q }}",
        "circuitBreaker": {"failures": 1, "cooldown_s": 600}}, retries=0)))
    module = load_script(script)

    async def models(calls: int) -> list[str]:
        picked = []
        for _ in range(calls):
            events: list[dict[str, Any]] = []
            result = await module.run_workflow({"q": "hi"}, on_event=events.append)
            (route,) = [e for e in events if e["type"] == "route"]
            assert route["strategy"] == "load_balance"
            picked.append(result["outputs"]["route"]["model"])
        return picked

    assert asyncio.run(models(4)) == ["gpt-5.4", "openai/gpt-oss-20b", "claude-haiku-4-5",
                                      "gpt-5.4"]
    # Groq goes down: its turn falls to the next model; its breaker opens, and
    # on its next turn it is not called at all.
    groq_server.settings = MockSettings(
        fail_models={"openai/gpt-oss-20b": (503, "service_unavailable", "down")})
    assert asyncio.run(models(4)) == ["claude-haiku-4-5", "claude-haiku-4-5", "gpt-5.4",
                                      "claude-haiku-4-5"]
    groq_calls = [r for r in groq_server.chat_requests() if r.path == PATHS["groq"]]
    assert [r.status for r in groq_calls] == [200, 503]


def test_router_falls_back_through_the_candidates_to_the_fallback_model(
    tmp_path: Path, groq_server: MockGroqServer
) -> None:
    script = build(tmp_path, workflow(node("route", "llmRouter", {
        "routingStrategy": "cost", "models": CANDIDATES[:2],
        "fallbackModel": "claude-sonnet-4-6", "prompt": "{{ input.q }}"}, retries=0)))
    down = (503, "service_unavailable", "down")
    groq_server.settings = MockSettings(
        fail_models={"openai/gpt-oss-20b": down, "gpt-5.4": down})

    output = outputs(script, groq_server, "--input", "q=hi")["route"]

    assert (output["provider"], output["model"]) == ("anthropic", "claude-sonnet-4-6")
    assert output["routing_reason"].endswith(
        "answered by anthropic/claude-sonnet-4-6 after groq/openai/gpt-oss-20b, "
        "openai/gpt-5.4 failed")


@pytest.mark.parametrize(
    ("config", "path", "words"),
    [({"routingStrategy": "cheapest"}, "routingStrategy", ["cost", "load_balance"]),
     ({"fallbackModel": "my-model"}, "fallbackModel", ["provider:model", "groq", "anthropic"]),
     ({"models": []}, "models", ["at least 1"]),
     ({"models": [{"provider": "azure", "model": "x"}]}, "models/0/provider", ["openai"])],
)
def test_router_config_errors(config: dict[str, Any], path: str, words: list[str]) -> None:
    found = diagnostics(workflow(node("route", "llmRouter",
                                      {"models": CANDIDATES, "prompt": "x", **config})))

    (problem,) = [p for p in found if p.severity == "error"]
    assert problem.path == f"/nodes/0/data/config/{path}"
    for word in words:
        assert word in problem.message + (problem.hint or "")


def test_router_warns_about_a_retired_candidate() -> None:
    found = diagnostics(workflow(node("route", "llmRouter", {
        "models": [{"provider": "openai", "model": "gpt-4"}], "prompt": "x"})))

    (warning,) = found
    assert warning.code == "model-decommissioned"
    assert warning.path == "/nodes/0/data/config/models/0/model"
