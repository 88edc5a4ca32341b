"""`catalyst serve` over real HTTP: the server runs as `catalyst serve --port P
--data-dir TMP` in a child process (tests/backend_server.py), requests go
through httpx."""

from __future__ import annotations

import ast
import copy
import json
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from backend_server import Served, serve_exit
from conftest import EXAMPLES

from catalyst.mock_groq import MockGroqServer

pytestmark = pytest.mark.e2e

SUMMARIZE = json.loads((EXAMPLES / "summarize.json").read_text())
TRIAGE = EXAMPLES / "support_triage.json"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    # Replies stream at 10 tokens/s: a preview lasts seconds, long enough to watch.
    with Served(tmp_path_factory.mktemp("serve"), "--preview-tokens-per-second", "10") as served:
        yield served


def _cli_json(*args: str) -> Any:
    done = subprocess.run(["catalyst", *args, "--format", "json"], capture_output=True,
                          text=True, timeout=120)
    return json.loads(done.stdout)


def _events(response: httpx.Response) -> Iterator[dict[str, Any]]:
    """Server-sent events as they arrive."""
    kind = None
    for line in response.iter_lines():
        if line.startswith("event: "):
            kind = line[len("event: "):]
        elif line.startswith("data: "):
            event = json.loads(line[len("data: "):])
            assert event["type"] == kind
            yield event


def _run(server: Served, document: dict[str, Any], inputs: dict[str, Any],
         **extra: Any) -> list[dict[str, Any]]:
    body = {"document": document, "inputs": inputs, **extra}
    with server.client.stream("POST", "/api/runs", json=body) as response:
        assert response.status_code == 200, response.read()
        assert response.headers["content-type"].startswith("text/event-stream")
        return list(_events(response))


# -- the compiler's commands ---------------------------------------------------------------


def test_nodes_is_the_cli_catalog(server: Served) -> None:
    assert server.client.get("/api/nodes").json() == _cli_json("nodes")


def test_models_table(server: Served) -> None:
    table = server.client.get("/api/models").json()
    cli = subprocess.run(["catalyst", "models", "--json"], capture_output=True, text=True,
                         timeout=120, check=True)
    assert table["models"] == json.loads(cli.stdout)["models"]
    rows = {(m["provider"], m["id"]): m for m in table["models"]}
    current = rows["groq", "openai/gpt-oss-20b"]
    assert current["status"] == "current"
    assert current["context_window"] > 0 and current["usd_per_million_output"] is not None
    retired = [m for m in table["models"] if m["status"] == "retired"]
    assert retired and all(m["replacement"] for m in retired)
    assert {p["name"] for p in table["providers"]} >= {"groq", "openai", "anthropic"}


def test_validate_is_the_cli_report(server: Served, tmp_path: Path) -> None:
    broken = copy.deepcopy(SUMMARIZE)
    broken["nodes"][1]["data"]["config"]["temperature"] = "hot"
    broken["edges"].append({"id": "e2", "source": "nowhere", "target": "groq-1"})
    path = tmp_path / "workflow.json"
    path.write_text(json.dumps(broken))
    answer = server.client.post("/api/validate", json={"document": broken})
    assert answer.status_code == 200
    expected = _cli_json("validate", str(path))
    for diagnostic in expected["diagnostics"]:
        diagnostic["source"] = "workflow.json"
    assert answer.json() == expected
    assert not expected["valid"] and len(expected["diagnostics"]) >= 2


def test_validate_manifest_every_workflow_or_one(server: Served) -> None:
    document = json.loads(TRIAGE.read_text())
    assert server.client.post("/api/validate", json={"document": document}).json()["valid"]
    one = server.client.post("/api/validate", json={"document": document, "workflow": "nope"})
    assert one.json()["diagnostics"][0]["code"] == "workflow-not-found"


def test_generate_is_the_cli_script_cold_and_warm(server: Served) -> None:
    expected = subprocess.run(["catalyst", "generate", str(TRIAGE), "--workflow", "triage"],
                              capture_output=True, text=True, timeout=120, check=True).stdout
    document = json.loads(TRIAGE.read_text())
    for _ in range(2):
        answer = server.client.post("/api/generate",
                                    json={"document": document, "workflow": "triage"})
        assert answer.status_code == 200
        assert answer.json()["script"] == expected.replace(TRIAGE.name, "workflow.json")
    assert "groq>=1.7,<2" in answer.json()["requirements"]


def test_generate_unformatted_preview(server: Served) -> None:
    answer = server.client.post("/api/generate?format=false", json={"document": SUMMARIZE})
    payload = answer.json()
    assert payload["formatted"] is False
    ast.parse(payload["script"])
    formatted = server.client.post("/api/generate", json={"document": SUMMARIZE}).json()
    assert formatted["script"] != payload["script"]


def test_generate_with_errors_is_422_with_diagnostics(server: Served) -> None:
    broken = copy.deepcopy(SUMMARIZE)
    broken["nodes"][1]["type"] = "noSuchNode"
    answer = server.client.post("/api/generate", json={"document": broken})
    assert answer.status_code == 422
    assert answer.json()["diagnostics"][0]["code"] == "unknown-node-type"
    assert answer.json()["script"] is None


def test_upgrade_rewrites_spellings_and_keeps_the_rest(server: Served) -> None:
    old = copy.deepcopy(SUMMARIZE)
    old["nodes"][1]["data"]["config"]["maxTokens"] = 100
    text = json.dumps(old, indent=4)
    answer = server.client.post("/api/upgrade", json={"text": text})
    assert answer.status_code == 200, answer.text
    payload = answer.json()
    assert payload["changed"]
    assert '"max_completion_tokens": 100' in payload["text"]
    assert any("maxTokens" in change["description"] for change in payload["changes"])
    not_json = server.client.post("/api/upgrade", json={"text": "[1"})
    assert not_json.status_code == 422
    assert not_json.json()["diagnostics"][0]["code"] == "invalid-json"


def test_graph_mermaid_and_dot(server: Served) -> None:
    mermaid = server.client.post("/api/graph", json={"document": SUMMARIZE})
    assert mermaid.status_code == 200 and mermaid.text.startswith("flowchart")
    dot = server.client.post("/api/graph", json={"document": SUMMARIZE, "format": "dot"})
    assert dot.text.startswith("digraph")
    assert server.client.get("/api/graph", params={"run": "nope"}).status_code == 404


# -- preview runs ----------------------------------------------------------------------


def test_run_streams_events_as_they_happen(server: Served) -> None:
    # The local server replies at 10 tokens/s (the fixture): the run goes on for
    # seconds, so it is seen running mid-stream.
    body = {"document": SUMMARIZE, "inputs": {"text": "one two three " * 20}}
    seen: list[str] = []
    with server.client.stream("POST", "/api/runs", json=body) as response:
        events = _events(response)
        started = next(events)
        assert started["type"] == "run_started"
        run_id = started["id"]
        for event in events:
            seen.append(event["type"])
            if event["type"] == "token":
                break
        # the stream is open and the run is still going
        record = server.client.get(f"/api/runs/{run_id}").json()
        assert record["status"] == "running"
        assert record["nodes"]["groq-1"]["status"] == "running"
        seen += [event["type"] for event in events]
    assert seen[0] == "node_started"
    assert seen[-2:] == ["workflow_finished", "run_finished"]
    record = server.client.get(f"/api/runs/{run_id}").json()
    assert record["status"] == "succeeded"
    groq = record["nodes"]["groq-1"]
    assert groq["status"] == "ok" and groq["usage"]["total_tokens"] > 0
    assert groq["latency_ms"] > 0 and groq["output"]["content"].startswith("Mock reply")
    assert record["nodes"]["prompt-1"]["output"]["messages"]
    assert record["local_providers"] == ["groq"]
    assert record["usage"]["total_tokens"] > 0
    assert record["tokens_streamed"] > 20
    listed = server.client.get("/api/runs").json()["runs"]
    assert listed[0]["id"] == run_id
    # the stored run's events again (a finished run: its summary)
    with server.client.stream("GET", f"/api/runs/{run_id}/events") as response:
        assert [e["type"] for e in _events(response)] == ["run_finished"]
    graph = server.client.get("/api/graph", params={"run": run_id})
    assert graph.text.startswith("flowchart")


def test_inputs_are_values_never_files(server: Served) -> None:
    events = _run(server, SUMMARIZE, {"text": "@/etc/passwd"})
    finished = next(e for e in events if e["type"] == "workflow_finished")
    content = finished["result"]["outputs"]["groq-1"]["content"]
    assert "@/etc/passwd" in content and "root:" not in content


def test_bad_inputs_fail_the_run(server: Served) -> None:
    events = _run(server, SUMMARIZE, {})
    assert events[-1]["run"]["status"] == "failed"
    assert "text" in events[-1]["run"]["error"]


def test_run_time_limit(server: Served) -> None:
    events = _run(server, SUMMARIZE, {"text": "one two three " * 20}, time_limit_s=1)
    run = events[-1]["run"]
    assert run["status"] == "timed_out" and "1 s" in run["error"]
    record = server.client.get(f"/api/runs/{run['id']}").json()
    assert record["nodes"]["groq-1"]["status"] == "not_run"


def test_run_of_invalid_workflow_is_422(server: Served) -> None:
    broken = copy.deepcopy(SUMMARIZE)
    broken["edges"] = [{"id": "e", "source": "x", "target": "y"}]
    answer = server.client.post("/api/runs", json={"document": broken, "inputs": {}})
    assert answer.status_code == 422 and not answer.json()["valid"]


def test_runs_survive_a_restart(tmp_path: Path) -> None:
    with Served(tmp_path / "data") as first:
        run_id = _run(first, SUMMARIZE, {"text": "keep me"})[0]["id"]
        before = first.client.get(f"/api/runs/{run_id}").json()
    assert (tmp_path / "data" / "runs.sqlite3").is_file()
    with Served(tmp_path / "data") as second:
        assert second.client.get(f"/api/runs/{run_id}").json() == before
        assert [r["id"] for r in second.client.get("/api/runs").json()["runs"]] == [run_id]
    assert before["status"] == "succeeded"


def test_a_run_cut_off_by_a_stop_is_failed_after_the_restart(tmp_path: Path) -> None:
    body = {"document": SUMMARIZE, "inputs": {"text": "one two three " * 20}}
    with Served(tmp_path / "data", "--preview-tokens-per-second", "5") as first:
        with first.client.stream("POST", "/api/runs", json=body) as response:
            run_id = next(_events(response))["id"]
        assert first.client.get(f"/api/runs/{run_id}").json()["status"] == "running"
        first.process.kill()  # no shutdown: the run is left marked running
    with Served(tmp_path / "data") as second:
        record = second.client.get(f"/api/runs/{run_id}").json()
    assert record["status"] == "failed" and "stopped" in record["error"]
    assert record["nodes"]["groq-1"]["status"] == "not_run"


def test_configured_key_is_used_and_never_shown(tmp_path: Path,
                                                groq_server: MockGroqServer) -> None:
    secret = "local-test-secret-5f1c2a9e"
    env = {"GROQ_API_KEY": secret, "GROQ_BASE_URL": groq_server.base_url}
    with Served(tmp_path / "data", env=env) as served:
        # the prompt echoes the key back: it must not reach the client or the store
        events = _run(served, SUMMARIZE, {"text": f"my key is {secret}"})
        run_id = events[0]["id"]
        record = served.client.get(f"/api/runs/{run_id}").json()
        listing = served.client.get("/api/runs").text
    assert record["status"] == "succeeded" and record["local_providers"] == []
    assert groq_server.chat_requests(), "the configured provider was not called"
    for text in (json.dumps(events), json.dumps(record), listing):
        assert secret not in text
    assert "[redacted]" in record["nodes"]["groq-1"]["output"]["content"]
    stored = (tmp_path / "data" / "runs.sqlite3").read_bytes()
    assert secret.encode() not in stored


# -- safety ----------------------------------------------------------------------------


def test_refuses_a_public_address_without_a_token(tmp_path: Path) -> None:
    done = serve_exit(tmp_path, ["--host", "0.0.0.0"])
    assert done.returncode == 2 and "--auth-token-env" in done.stderr
    done = serve_exit(tmp_path, ["--host", "0.0.0.0", "--auth-token-env", "EMPTY_TOKEN"],
                      env={"EMPTY_TOKEN": ""})
    assert done.returncode == 2


def test_bearer_token(tmp_path: Path) -> None:
    token = "t0ken-for-the-backend-tests"
    env = {"CATALYST_TEST_TOKEN": token}
    with Served(tmp_path, "--auth-token-env", "CATALYST_TEST_TOKEN", env=env,
                token=token) as served:
        assert served.client.get("/api/nodes").status_code == 200
        anonymous = httpx.get(served.url + "/api/nodes")
        assert anonymous.status_code == 401
        assert anonymous.headers["www-authenticate"] == "Bearer"
        wrong = httpx.get(served.url + "/api/nodes", headers={"authorization": "Bearer nope"})
        assert wrong.status_code == 401
        assert token not in anonymous.text


def test_size_limits(tmp_path: Path) -> None:
    with Served(tmp_path, "--max-body-bytes", "20000", "--max-nodes", "5") as served:
        big = {"document": {"nodes": [], "padding": "x" * 30_000}}
        assert served.client.post("/api/validate", json=big).status_code == 413

        def chunks() -> Iterator[bytes]:  # no Content-Length: counted as it arrives
            yield b'{"document": {"nodes": [], "padding": "'
            for _ in range(10):
                yield b"x" * 4000
            yield b'"}}'

        chunked = served.client.post("/api/validate", content=chunks(),
                                     headers={"content-type": "application/json"})
        assert chunked.status_code == 413
        many = copy.deepcopy(SUMMARIZE)
        many["nodes"] = [{**SUMMARIZE["nodes"][0], "id": f"p{i}"} for i in range(6)]
        for path in ("/api/validate", "/api/generate", "/api/graph", "/api/runs"):
            answer = served.client.post(path, json={"document": many})
            assert answer.status_code == 413, path
            assert "at most 5" in answer.json()["detail"]
        deep: Any = []
        for _ in range(200):
            deep = [deep]
        answer = served.client.post("/api/validate", json={"document": {"nodes": deep}})
        assert answer.status_code == 200 and answer.json()["diagnostics"][0]["code"] == "too-deep"


def test_json_only_and_cors(tmp_path: Path) -> None:
    with Served(tmp_path, "--cors-origin", "http://editor.test") as served:
        form = httpx.post(served.url + "/api/validate", content=b"document=1",
                          headers={"content-type": "application/x-www-form-urlencoded"})
        assert form.status_code == 415
        preflight = {"access-control-request-method": "POST",
                     "access-control-request-headers": "content-type"}
        allowed = httpx.options(served.url + "/api/validate",
                                headers={"origin": "http://editor.test", **preflight})
        assert allowed.headers["access-control-allow-origin"] == "http://editor.test"
        other = httpx.options(served.url + "/api/validate",
                              headers={"origin": "http://evil.test", **preflight})
        assert "access-control-allow-origin" not in other.headers
        simple = httpx.get(served.url + "/api/health", headers={"origin": "http://evil.test"})
        assert "access-control-allow-origin" not in simple.headers
