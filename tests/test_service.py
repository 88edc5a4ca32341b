"""Workflows whose entry is an httpEndpoint: `python script.py serve` over real HTTP.

Each test starts the generated script as a subprocess (uvicorn on a free
loopback port) with its providers aimed at the local server, and talks to it
with httpx, as a client of the deployed service would.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from conftest import PROVIDER_VARIABLES, build, compile_example, provider_env
from workflow_builders import as_manifest, diagnostics, edge, graph, node

from catalyst.mock_groq import MockGroqServer

pytestmark = pytest.mark.e2e

REPLY_ROUTE = "/api/v1/reply"


@dataclass
class Service:
    url: str
    process: subprocess.Popen[str]
    log: Path

    def stderr(self) -> str:
        return self.log.read_text(encoding="utf-8")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@contextmanager
def serving(script: Path, *args: str, server: MockGroqServer | None = None,
            env: dict[str, str] | None = None) -> Iterator[Service]:
    """`python script serve --port P` until the block ends (then SIGTERM)."""
    port = free_port()
    environment = {k: v for k, v in os.environ.items() if k not in PROVIDER_VARIABLES}
    if server is not None:
        environment.update(provider_env(server))
    environment.update(env or {})
    log = script.with_suffix(f".{port}.log")
    with log.open("w", encoding="utf-8") as sink:
        process = subprocess.Popen(
            [sys.executable, str(script), "serve", "--port", str(port), *args],
            env=environment, stdout=sink, stderr=subprocess.STDOUT, text=True,
        )
    service = Service(f"http://127.0.0.1:{port}", process, log)
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                httpx.get(service.url + "/health", timeout=1)
                break
            except httpx.TransportError:
                if process.poll() is not None or time.monotonic() > deadline:
                    raise AssertionError("the service did not start:\n" + service.stderr()) from None
                time.sleep(0.05)
        yield service
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


@pytest.fixture(scope="module")
def reply_script(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """support_triage.json's draft_reply: a manifest trigger POST /api/v1/reply, streaming."""
    script = tmp_path_factory.mktemp("service") / "draft_reply.py"
    script.write_text(compile_example("support_triage.json", "draft_reply").source,
                      encoding="utf-8")
    return script


@pytest.fixture(scope="module")
def typed_script(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Inputs of every type behind a trigger node at GET /greet and one at POST /greet."""
    inputs = {
        "who": {"type": "string", "required": True, "description": "Whom to greet"},
        "times": {"type": "integer", "default": 1, "description": "How often"},
        "loud": {"type": "boolean", "default": False},
        "score": {"type": "number"},
        "tags": {"type": "array", "default": []},
        "extra": {"type": "object", "default": {}},
    }
    document = graph(
        node("get", "httpEndpoint", {"method": "GET", "path": "/greet"}, label="GET"),
        node("post", "httpEndpoint", {"method": "POST", "path": "/greet",
                                      "description": "Greet someone"}, label="POST"),
        node("hello", "editFields", {"mode": "replace", "fields": {
            "greeting": "hello {{ input.who }}", "times": "{{ input.times }}",
            "loud": "{{ input.loud }}", "tags": "{{ input.tags }}"}}, label="Hello"),
        edges=[edge("get", "hello", id="e1"), edge("post", "hello", id="e2")],
        inputs=inputs, name="Greeter",
    )
    return build(tmp_path_factory.mktemp("typed"), document, "greeter")


def sse_events(response: httpx.Response) -> Iterator[tuple[float, dict[str, Any]]]:
    """(arrival time, event) for each server-sent event, as it arrives."""
    kind = None
    for line in response.iter_lines():
        if line.startswith("event: "):
            kind = line[len("event: "):]
        elif line.startswith("data: "):
            event = json.loads(line[len("data: "):])
            assert event["type"] == kind
            yield time.monotonic(), event


# -- the result as JSON ----------------------------------------------------------------


def test_post_answers_the_runs_result_as_json(reply_script: Path, groq_server: MockGroqServer
                                             ) -> None:
    with serving(reply_script, server=groq_server) as service:
        response = httpx.post(service.url + REPLY_ROUTE, json={"message": "Where is my parcel?"},
                              timeout=30)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/json"
    result = response.json()
    assert set(result) == {"outputs", "usage", "latency_ms", "nodes"}
    assert result["outputs"]["draft"]["content"].endswith("Reply to: Where is my parcel?")
    assert result["usage"]["total_tokens"] > 0
    [request] = groq_server.chat_requests()
    assert request.body["messages"][-1] == {"role": "user",
                                            "content": "Reply to: Where is my parcel?"}


def test_one_set_of_provider_clients_serves_every_request(
    reply_script: Path, groq_server: MockGroqServer
) -> None:
    with serving(reply_script, server=groq_server) as service:
        for _ in range(4):
            response = httpx.post(service.url + REPLY_ROUTE, json={"message": "hi"}, timeout=30)
            assert response.status_code == 200
    # One client, one pooled keep-alive connection reused by every run.
    assert groq_server.connections_accepted == 1


@pytest.mark.parametrize(
    ("body", "field", "why"),
    [
        ({}, "message", "Field required"),
        ({"message": 3}, "message", "valid string"),
        ({"message": "hi", "mesage": "typo"}, "mesage", "Extra inputs are not permitted"),
    ],
)
def test_bad_input_is_a_422_naming_the_field(
    reply_script: Path, groq_server: MockGroqServer, body: dict[str, Any], field: str, why: str
) -> None:
    with serving(reply_script, server=groq_server) as service:
        response = httpx.post(service.url + REPLY_ROUTE, json=body, timeout=30)
    assert response.status_code == 422
    problems = response.json()["detail"]
    assert any(p["loc"] == ["body", field] and why in p["msg"] for p in problems), problems
    assert groq_server.chat_requests() == []


def test_typed_inputs_defaults_and_nan(typed_script: Path) -> None:
    with serving(typed_script) as service:
        ok = httpx.post(service.url + "/greet", json={"who": "Ada", "times": 2}, timeout=30)
        as_text = httpx.post(service.url + "/greet", json={"who": "Ada", "times": "2"},
                             timeout=30)
        nan = httpx.post(service.url + "/greet", content=b'{"who": "Ada", "score": NaN}',
                         headers={"content-type": "application/json"}, timeout=30)
        not_json = httpx.post(service.url + "/greet", content=b"{", timeout=30,
                              headers={"content-type": "application/json"})
    assert ok.status_code == 200, ok.text
    assert ok.json()["outputs"]["hello"] == {"greeting": "hello Ada", "times": 2,
                                             "loud": False, "tags": []}
    assert as_text.status_code == 422
    assert as_text.json()["detail"][0]["loc"] == ["body", "times"]
    assert nan.status_code == 422
    assert "'score'" in nan.json()["detail"][0]["msg"]
    assert not_json.status_code == 422


def test_get_route_takes_inputs_as_query_parameters(typed_script: Path) -> None:
    with serving(typed_script) as service:
        ok = httpx.get(service.url + "/greet", params={"who": "Bo", "loud": "true",
                                                       "tags": '["a"]'}, timeout=30)
        bad = httpx.get(service.url + "/greet", params={"who": "Bo", "times": "many"},
                        timeout=30)
        missing = httpx.get(service.url + "/greet", timeout=30)
    assert ok.status_code == 200, ok.text
    assert ok.json()["outputs"]["hello"] == {"greeting": "hello Bo", "times": 1, "loud": True,
                                             "tags": ["a"]}
    assert bad.status_code == 422
    assert "'times'" in bad.json()["detail"][0]["msg"]
    assert missing.status_code == 422
    assert "'who'" in missing.json()["detail"][0]["msg"]


def test_openapi_describes_the_inputs(typed_script: Path) -> None:
    with serving(typed_script) as service:
        document = httpx.get(service.url + "/openapi.json", timeout=30).json()
    post = document["paths"]["/greet"]["post"]
    assert post["summary"] == "Greet someone"
    reference = post["requestBody"]["content"]["application/json"]["schema"]["$ref"]
    body = document["components"]["schemas"][reference.rsplit("/", 1)[-1]]
    assert body["required"] == ["who"]
    assert body["additionalProperties"] is False
    properties = body["properties"]
    assert properties["who"] == {"type": "string", "title": "Who", "description": "Whom to greet"}
    assert properties["times"]["type"] == "integer"
    assert properties["times"]["default"] == 1
    assert properties["loud"]["type"] == "boolean"
    assert properties["score"]["type"] == "number"
    assert "default" not in properties["score"]
    assert properties["tags"]["type"] == "array"
    assert properties["extra"]["type"] == "object"
    assert set(post["responses"]) >= {"200", "422", "413", "429", "500", "502", "503", "504"}
    assert "text/event-stream" in post["responses"]["200"]["content"]
    parameters = {p["name"]: p for p in document["paths"]["/greet"]["get"]["parameters"]}
    assert parameters["who"]["required"] is True
    assert parameters["times"]["schema"] == {"type": "integer", "default": 1}


# -- server-sent events ---------------------------------------------------------------


def test_sse_sends_tokens_as_they_arrive(reply_script: Path, groq_server: MockGroqServer) -> None:
    groq_server.update(tokens_per_second=10)
    with serving(reply_script, server=groq_server) as service, httpx.stream(
        "POST", service.url + REPLY_ROUTE, json={"message": "one two three four"},
        headers={"Accept": "text/event-stream"}, timeout=30,
    ) as response:
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        events = list(sse_events(response))
    kinds = [event["type"] for _, event in events]
    assert kinds[0] == "node_started"
    assert kinds[-1] == "workflow_finished"
    tokens = [(at, event) for at, event in events if event["type"] == "token"]
    assert len(tokens) >= 6
    finished_at = events[-1][0]
    # The first token came long before the run ended (tokens are 100 ms apart).
    assert finished_at - tokens[0][0] > 0.4
    content = events[-1][1]["result"]["outputs"]["draft"]["content"]
    assert "".join(event["text"] for _, event in tokens) == content


def test_a_client_that_disconnects_cancels_the_stream(
    reply_script: Path, groq_server: MockGroqServer
) -> None:
    # 40 words at 5 tokens a second: the reply would take 8 s to finish.
    groq_server.update(tokens_per_second=5, reply=" ".join(["word"] * 40))
    with serving(reply_script, server=groq_server) as service:
        with httpx.stream("POST", service.url + REPLY_ROUTE, json={"message": "hi"},
                          headers={"Accept": "text/event-stream"}, timeout=30) as response:
            for _, event in sse_events(response):
                if event["type"] == "token":
                    break
        started = time.monotonic()
        # The service dropped its stream from the local server: nothing in flight there.
        while True:
            groq_server.reset()  # max_in_flight starts again from the current count
            if groq_server.max_in_flight == 0:
                break
            assert time.monotonic() - started < 4, "the provider stream was not abandoned"
            time.sleep(0.1)
        time.sleep(0.2)
        assert "the client disconnected: run cancelled" in service.stderr()
        assert httpx.get(service.url + "/health", timeout=5).status_code == 200


def test_a_client_that_gives_up_on_json_cancels_the_run(
    reply_script: Path, groq_server: MockGroqServer
) -> None:
    groq_server.update(latency_ms=3000)
    with serving(reply_script, server=groq_server) as service:
        with pytest.raises(httpx.ReadTimeout):
            httpx.post(service.url + REPLY_ROUTE, json={"message": "hi"}, timeout=0.5)
        deadline = time.monotonic() + 2
        while "run cancelled" not in service.stderr():
            assert time.monotonic() < deadline, service.stderr()
            time.sleep(0.05)


# -- failures -------------------------------------------------------------------------


def test_a_provider_failure_is_a_502_without_secrets(
    reply_script: Path, groq_server: MockGroqServer
) -> None:
    secret = "gsk_" + "S3cretS3cretS3cretS3cret"
    groq_server.update(api_key="the-right-key")
    with serving(reply_script, server=groq_server, env={"GROQ_API_KEY": secret}) as service:
        response = httpx.post(service.url + REPLY_ROUTE, json={"message": "hi"}, timeout=30)
        streamed = httpx.post(service.url + REPLY_ROUTE, json={"message": "hi"}, timeout=30,
                              headers={"Accept": "text/event-stream"})
    assert response.status_code == 502, response.text
    error = response.json()["error"]
    assert error["type"] == "provider_error"
    assert error["node"] == "draft"
    assert "draft" in error["message"]
    for text in (response.text, streamed.text):
        assert secret not in text
        assert "Traceback" not in text
    assert streamed.status_code == 200
    assert '"type": "workflow_failed"' in streamed.text


# -- probes, auth, limits ---------------------------------------------------------------


def test_health_and_ready(reply_script: Path, groq_server: MockGroqServer) -> None:
    with serving(reply_script, server=groq_server) as service:
        assert httpx.get(service.url + "/health").json() == {"status": "ok"}
        assert httpx.get(service.url + "/ready").json() == {"status": "ready", "missing": []}
    with serving(reply_script, server=groq_server, env={"GROQ_API_KEY": ""}) as service:
        assert httpx.get(service.url + "/health").status_code == 200
        ready = httpx.get(service.url + "/ready")
        assert ready.status_code == 503
        assert ready.json() == {"status": "not_ready", "missing": ["GROQ_API_KEY"]}
        assert "GROQ_API_KEY is not set" in service.stderr()


def test_bearer_token(reply_script: Path, groq_server: MockGroqServer) -> None:
    env = {"SERVICE_TOKEN": "let-me-in"}
    with serving(reply_script, "--auth-token-env", "SERVICE_TOKEN", server=groq_server,
                 env=env) as service:
        url = service.url + REPLY_ROUTE
        missing = httpx.post(url, json={"message": "hi"})
        wrong = httpx.post(url, json={"message": "hi"}, headers={"Authorization": "Bearer no"})
        right = httpx.post(url, json={"message": "hi"}, timeout=30,
                           headers={"Authorization": "Bearer let-me-in"})
        health = httpx.get(service.url + "/health")
        document = httpx.get(service.url + "/openapi.json").json()
    for refused in (missing, wrong):
        assert refused.status_code == 401
        assert refused.headers["www-authenticate"] == "Bearer"
        assert refused.json()["error"]["type"] == "unauthorized"
    assert right.status_code == 200
    assert health.status_code == 200
    assert "HTTPBearer" in document["components"]["securitySchemes"]
    assert len(groq_server.chat_requests()) == 1


def test_auth_token_variable_must_be_set(reply_script: Path) -> None:
    completed = subprocess.run(
        [sys.executable, str(reply_script), "serve", "--auth-token-env", "NOT_SET_ANYWHERE"],
        capture_output=True, text=True, timeout=60, check=False,
        env={k: v for k, v in os.environ.items() if k != "NOT_SET_ANYWHERE"},
    )
    assert completed.returncode == 2
    assert "NOT_SET_ANYWHERE" in completed.stderr


def test_request_body_limit(reply_script: Path, groq_server: MockGroqServer) -> None:
    with serving(reply_script, "--max-body-bytes", "1000", server=groq_server) as service:
        url = service.url + REPLY_ROUTE
        declared = httpx.post(url, json={"message": "x" * 2000})

        def chunks() -> Iterator[bytes]:
            yield b'{"message": "'
            for _ in range(20):
                yield b"x" * 100
            yield b'"}'

        chunked = httpx.post(url, content=chunks(), headers={"content-type": "application/json"})
        small = httpx.post(url, json={"message": "x" * 100}, timeout=30)
    for response in (declared, chunked):
        assert response.status_code == 413
        assert response.json()["error"]["type"] == "too_large"
    assert small.status_code == 200
    assert len(groq_server.chat_requests()) == 1


def test_concurrency_limit_answers_429(reply_script: Path, groq_server: MockGroqServer) -> None:
    groq_server.update(latency_ms=1500)
    with serving(reply_script, "--max-concurrency", "1", server=groq_server) as service:
        url = service.url + REPLY_ROUTE
        first: list[httpx.Response] = []
        worker = threading.Thread(target=lambda: first.append(
            httpx.post(url, json={"message": "one"}, timeout=30)))
        worker.start()
        deadline = time.monotonic() + 10
        while not groq_server.max_in_flight:  # the run is waiting on the provider
            assert time.monotonic() < deadline
            time.sleep(0.02)
        second = httpx.post(url, json={"message": "two"}, timeout=30)
        worker.join()
    assert second.status_code == 429
    assert second.headers["retry-after"] == "1"
    assert second.json()["error"]["type"] == "busy"
    assert first[0].status_code == 200


def test_sigterm_lets_the_request_in_flight_finish(
    reply_script: Path, groq_server: MockGroqServer
) -> None:
    groq_server.update(latency_ms=1500)
    with serving(reply_script, server=groq_server) as service:
        answers: list[httpx.Response] = []
        worker = threading.Thread(target=lambda: answers.append(
            httpx.post(service.url + REPLY_ROUTE, json={"message": "hi"}, timeout=30)))
        worker.start()
        deadline = time.monotonic() + 10
        while not groq_server.max_in_flight:  # the run is waiting on the provider
            assert time.monotonic() < deadline
            time.sleep(0.02)
        service.process.send_signal(signal.SIGTERM)
        time.sleep(0.3)
        assert not answers  # still in flight
        with pytest.raises(httpx.TransportError):
            httpx.get(service.url + "/health", timeout=2)  # no new requests once stopping
        worker.join()
        service.process.wait(timeout=20)
        log = service.stderr()
    assert answers[0].status_code == 200, answers[0].text
    assert answers[0].json()["outputs"]["draft"]["content"]
    assert "Application shutdown complete" in log


# -- the contract, fuzzed ----------------------------------------------------------------


@pytest.mark.slow
@pytest.mark.parametrize("which", ["typed", "reply"])
def test_schemathesis_finds_no_5xx_and_no_schema_mismatch(
    which: str, typed_script: Path, reply_script: Path, groq_server: MockGroqServer,
    tmp_path: Path,
) -> None:
    """The app's own OpenAPI document, fuzzed: the typed inputs' GET and POST
    routes, and the example's model-calling route against the local server."""
    script = typed_script if which == "typed" else reply_script
    with serving(script, server=groq_server) as service:
        completed = subprocess.run(
            [str(Path(sys.executable).with_name("schemathesis")), "run",
             service.url + "/openapi.json", "--checks", "all", "--max-examples", "15",
             "--seed", "1", "--no-color", "--request-timeout", "10", "--workers", "1"],
            capture_output=True, text=True, timeout=240, check=False, cwd=tmp_path,
        )
    assert completed.returncode == 0, completed.stdout[-6000:] + completed.stderr[-2000:]


# -- scripts without an httpEndpoint -------------------------------------------------------


def test_only_scripts_with_an_http_entry_serve() -> None:
    compiled = compile_example("summarize.json")
    assert not any(r.startswith(("fastapi", "uvicorn")) for r in compiled.plan.dependencies)
    assert "serve_main" not in compiled.source
    served = compile_example("support_triage.json", "triage")
    assert {"fastapi>=0.115,<1", "uvicorn>=0.30,<1"} <= set(served.plan.dependencies)


@pytest.mark.parametrize(("path", "code"), [("/health", "reserved-path"),
                                            ("/openapi.json", "reserved-path"),
                                            ("/items/{id}", "invalid-path"),
                                            ("/a b", "invalid-path")])
def test_a_trigger_path_the_service_cannot_take(path: str, code: str) -> None:
    document = graph(
        node("http", "httpEndpoint", {"method": "POST", "path": path}, label="HTTP"),
        node("hello", "editFields", {"mode": "replace", "fields": {"a": "b"}}, label="Hello"),
        edges=[edge("http", "hello", id="e1")],
    )
    [problem] = [d for d in diagnostics(document) if d.is_error]
    assert problem.code == code
    assert problem.node_id == "http"
    assert problem.hint
    manifest_document = as_manifest(document, "flow")
    manifest_document["workflows"]["flow"]["trigger"] = {
        "type": "httpEndpoint", "config": {"path": path}}
    assert code in {d.code for d in diagnostics(manifest_document) if d.is_error}


# -- a manifest as one app ---------------------------------------------------------------


def generate_app(manifest_path: Path, folder: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "catalyst.cli", "generate", str(manifest_path), "--app",
         "-o", str(folder / "app.py")],
        capture_output=True, text=True, timeout=120, check=False,
    )


def test_a_manifest_serves_as_one_app(tmp_path: Path, groq_server: MockGroqServer) -> None:
    from conftest import EXAMPLES

    generated = generate_app(EXAMPLES / "support_triage.json", tmp_path)
    assert generated.returncode == 0, generated.stderr
    assert sorted(p.name for p in tmp_path.glob("*.py")) == [
        "app.draft_reply.py", "app.py", "app.triage.py"]
    with serving(tmp_path / "app.py", server=groq_server) as service:
        triage = httpx.post(service.url + "/api/v1/triage", json={"message": "URGENT"},
                            timeout=30)
        reply = httpx.post(service.url + REPLY_ROUTE, json={"message": "hi"}, timeout=30)
        invalid = httpx.post(service.url + "/api/v1/triage", json={}, timeout=30)
        wrong_method = httpx.get(service.url + REPLY_ROUTE, timeout=30)
        ready = httpx.get(service.url + "/ready", timeout=30)
        document = httpx.get(service.url + "/openapi.json", timeout=30).json()
    assert triage.status_code == 200, triage.text
    assert set(triage.json()["outputs"]) == {"record"}
    assert reply.status_code == 200
    assert reply.json()["outputs"]["draft"]["content"].endswith("Reply to: hi")
    assert invalid.status_code == 422
    assert invalid.json()["detail"][0]["loc"] == ["body", "message"]
    assert wrong_method.status_code == 405
    assert wrong_method.headers["allow"] == "POST"
    assert ready.json() == {"status": "ready", "missing": []}
    assert {"/health", "/ready", "/api/v1/triage", REPLY_ROUTE} <= set(document["paths"])
    assert {"TriageInputs", "DraftReplyInputs"} <= set(document["components"]["schemas"])


def test_an_app_needs_distinct_routes(tmp_path: Path) -> None:
    from conftest import EXAMPLES

    document = json.loads((EXAMPLES / "support_triage.json").read_text(encoding="utf-8"))
    document["workflows"]["draft_reply"]["trigger"]["config"]["path"] = "/api/v1/triage"
    manifest_path = tmp_path / "clash.json"
    manifest_path.write_text(json.dumps(document), encoding="utf-8")
    generated = generate_app(manifest_path, tmp_path)
    assert generated.returncode == 2
    assert "both serve POST /api/v1/triage" in generated.stderr
    assert not (tmp_path / "app.py").exists()
