"""qdrantSearch / qdrantUpsert scripts, run for real.

Embedded Qdrant (in memory, or in a folder) needs no server, so most runs here are the
real thing. The url path runs against `tests/qdrant_server.py`, a small REST stand-in
backed by embedded Qdrant (no Qdrant server binary can be had here), and against a
closed port on 127.0.0.1.
"""

from __future__ import annotations

import asyncio
import importlib.util
import json
import os
import socket
import subprocess
import sys
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from conftest import build, run_script
from qdrant_client import QdrantClient
from qdrant_server import FakeQdrant, FakeQdrantServer
from workflow_builders import edge, graph, node

from catalyst.cli import _missing_requirements

pytestmark = pytest.mark.e2e

NAMESPACE = uuid.UUID("3505e5f7-514c-5934-9a6f-f156a15980ff")
TEXTS = ["Green tea is steamed.", "Espresso is brewed under pressure.", "Rain needs mudguards."]
VECTORS = [[0.9, 0.1, 0.0], [0.2, 0.9, 0.1], [0.0, 0.1, 0.9]]


def derived_id(basis: Any) -> str:
    """The id a point without one gets: uuid5 of its payload's canonical JSON."""
    text = json.dumps(basis, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return str(uuid.uuid5(NAMESPACE, text))


def upsert(node_id: str = "load", **config: Any) -> dict[str, Any]:
    return node(node_id, "qdrantUpsert", {"collection": "docs", **config})


def search(node_id: str = "find", **config: Any) -> dict[str, Any]:
    return node(node_id, "qdrantSearch", {"collection": "docs", **config})


def embedding(node_id: str, vectors: str) -> dict[str, Any]:
    """An embedding node's output, as the embeddingGenerate node will give it."""
    return node(node_id, "editFields", {"mode": "replace", "fields": {
        "embeddings": vectors, "model": "fake-embed", "dimensions": 3,
        "usage": {"total_tokens": 0}}})


# One workflow, many cases: load `vectors` with `payloads`, then search.
PIPELINE = graph(
    upsert(collection="{{ input.collection }}", vectors="{{ input.vectors }}",
           payloads="{{ input.payloads }}"),
    search(collection="{{ input.search_in }}", queryVector="{{ input.query }}",
           filter="{{ input.filter }}", limit="{{ input.limit }}",
           scoreThreshold="{{ input.threshold }}"),
    edges=[edge("load", "find")],
    inputs={
        "vectors": {"type": "array", "default": VECTORS},
        "payloads": {"type": "array", "default": [{"text": t} for t in TEXTS]},
        "query": {"type": "array", "default": [1.0, 0.0, 0.0]},
        "collection": {"type": "string", "default": "docs"},
        "search_in": {"type": "string", "default": "docs"},
        "filter": {"type": "object", "default": {}},
        "limit": {"type": "integer", "default": 10},
        "threshold": {"type": "number", "default": 0},
    },
)


@pytest.fixture
def load_module(tmp_path: Path) -> Iterator[Callable[[dict[str, Any]], ModuleType]]:
    """Compile a workflow and import its script (retry pauses skipped)."""
    loaded: list[str] = []

    def load(document: dict[str, Any]) -> ModuleType:
        script = build(tmp_path, document, f"qdrant_{len(loaded)}")
        name = f"_catalyst_qdrant_{tmp_path.name}_{len(loaded)}"
        spec = importlib.util.spec_from_file_location(name, script)
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        loaded.append(name)
        spec.loader.exec_module(module)

        async def no_pause(_seconds: float) -> None:
            pass

        module._sleep = no_pause
        return module

    yield load
    for name in loaded:
        sys.modules.pop(name, None)


def run(module: ModuleType, inputs: dict[str, Any] | None = None,
        events: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    on_event = events.append if events is not None else None
    result: dict[str, Any] = asyncio.run(module.run_workflow(inputs or {}, on_event=on_event))
    return result


def failure(module: ModuleType, inputs: dict[str, Any] | None = None) -> Exception:
    with pytest.raises(module.WorkflowError) as caught:
        run(module, inputs)
    assert "\n" not in str(caught.value)
    return caught.value


# -- embedded Qdrant ------------------------------------------------------------------------


def test_embedding_outputs_flow_through_upsert_and_search(load_module) -> None:
    # The embedding node's {embeddings, model, dimensions, usage}, on edges both times.
    module = load_module(graph(
        embedding("embed-docs", "{{ input.vectors }}"),
        upsert(payloads="{{ input.texts }}"),
        embedding("embed-question", "{{ [input.question] }}"),
        search(limit=2),
        edges=[edge("embed-docs", "load"), edge("load", "embed-question"),
               edge("embed-question", "find")],
        inputs={"vectors": {"type": "array"}, "texts": {"type": "array"},
                "question": {"type": "array"}},
    ))
    result = run(module, {"vectors": VECTORS, "texts": TEXTS, "question": [1.0, 0.1, 0.0]})

    ids = [derived_id({"text": text}) for text in TEXTS]
    assert result["nodes"]["load"]["status"] == "ok"
    hits = result["outputs"]["find"]
    assert [hit["id"] for hit in hits] == [ids[0], ids[1]]
    assert [hit["payload"] for hit in hits] == [{"text": TEXTS[0]}, {"text": TEXTS[1]}]
    assert hits[0]["score"] > hits[1]["score"] > 0


def test_upsert_reports_what_it_wrote(load_module) -> None:
    module = load_module(graph(upsert(vectors=VECTORS, payloads=TEXTS)))
    assert run(module)["outputs"]["load"] == {
        "collection": "docs", "upserted": 3, "created": True,
        "ids": [derived_id({"text": text}) for text in TEXTS],
    }


def test_search_takes_limit_threshold_and_both_filter_forms(load_module) -> None:
    module = load_module(PIPELINE)
    payloads = [{"text": t, "lang": lang, "year": year}
                for t, lang, year in zip(TEXTS, ["en", "fr", "en"], [2019, 2021, 2023],
                                         strict=True)]
    base = {"payloads": payloads, "query": [0.5, 0.5, 0.5]}

    def texts(**inputs: Any) -> list[str]:
        return [hit["payload"]["text"] for hit in run(module, {**base, **inputs})["outputs"]["find"]]

    assert len(texts()) == 3
    assert texts(limit=1) == [TEXTS[1]]
    assert texts(query=[1.0, 0.0, 0.0], threshold=0.5) == [TEXTS[0]]
    assert texts(filter={"lang": "en"}) == [TEXTS[2], TEXTS[0]]
    assert texts(filter={"year": [2019, 2021]}) == [TEXTS[1], TEXTS[0]]
    qdrant_form = {"must": [{"key": "year", "range": {"gte": 2020}}],
                   "must_not": [{"key": "lang", "match": {"value": "fr"}}]}
    assert texts(filter=qdrant_form) == [TEXTS[2]]
    assert texts(filter={"lang": "de"}) == []


def test_filter_values_may_be_expressions(load_module) -> None:
    module = load_module(graph(
        upsert(vectors=VECTORS, payloads=[{"n": 1}, {"n": 2}, {"n": 3}]),
        search(queryVector=[1, 0, 0],
               filter={"must": [{"key": "n", "range": {"gte": "{{ input.least }}"}}]}),
        edges=[edge("load", "find")], inputs={"least": {"type": "integer"}},
    ))
    hits = run(module, {"least": 2})["outputs"]["find"]
    assert sorted(hit["payload"]["n"] for hit in hits) == [2, 3]


def test_a_folder_keeps_the_points_and_loading_again_replaces_them(
    load_module, tmp_path: Path
) -> None:
    folder = str(tmp_path / "qdrant")
    module = load_module(graph(
        upsert(path=folder, vectors=VECTORS, payloads=TEXTS),
        # The same folder spelt otherwise: one client (a second would meet the lock).
        search(path=f"{folder}/../qdrant/", queryVector=[0, 0, 1], limit=100),
        edges=[edge("load", "find")],
    ))
    first = run(module)
    second = run(module)  # another event loop: the first one's client closed with it
    # The same ids: replaced, not duplicated. (Scores read back from the folder are float32.)
    found = [[(hit["id"], hit["payload"], pytest.approx(hit["score"], abs=1e-6))
              for hit in result["outputs"]["find"]] for result in (first, second)]
    assert found[0] == found[1] and len(found[1]) == 3

    reader = load_module(graph(search(path=folder, queryVector=[0, 0, 1], limit=1)))
    assert run(reader)["outputs"]["find"][0]["payload"] == {"text": TEXTS[2]}


def test_a_folder_another_client_holds_is_a_clear_error(load_module, tmp_path: Path) -> None:
    folder = tmp_path / "qdrant"
    holder = QdrantClient(path=str(folder))
    try:
        module = load_module(graph(search(path=str(folder), queryVector=[1, 0, 0])))
        error = failure(module)
    finally:
        holder.close()
    assert type(error).__name__ == "NodeFailed" and error.fatal
    assert f"embedded Qdrant in {folder} is open in another client" in str(error)


def test_given_ids_and_ids_from_a_payload_field(load_module) -> None:
    module = load_module(graph(
        upsert("given", collection="a", points=[
            {"id": 7, "vector": [1, 0, 0], "payload": {"t": 1}},
            {"id": "5C56C793-69F3-4FBF-87E6-C4BF54C28C26", "vector": [0, 1, 0]},
            {"vector": [0, 0, 1], "payload": {"t": 3}},
        ]),
        upsert("by-field", collection="b", vectors=VECTORS, idField="doc",
               payloads=[{"doc": "intro-1"}, {"doc": 42}, {"doc": str(NAMESPACE)}]),
    ))
    outputs = run(module)["outputs"]
    assert outputs["given"]["ids"] == [7, "5c56c793-69f3-4fbf-87e6-c4bf54c28c26",
                                       derived_id({"t": 3})]
    assert outputs["by-field"]["ids"] == [derived_id("intro-1"), 42, str(NAMESPACE)]


def test_points_on_the_input_edge(load_module) -> None:
    points = node("points", "editFields", {"mode": "replace", "fields": {"rows": [
        {"vector": [1, 0, 0], "payload": {"text": "a"}}, {"vector": [0, 1, 0], "id": 3}]}})
    module = load_module(graph(
        points, node("load", "qdrantUpsert", {"collection": "docs"}),
        edges=[edge("points", "load", source_handle="output")],
    ))
    # editFields hands on the whole object; its `rows` need an expression.
    assert "the value on input is an object with keys rows" in str(failure(module))
    for field in ("points", "vectors"):  # points where vectors are expected are taken too
        module = load_module(graph(points, upsert(**{field: "{{ nodes.points.output.rows }}"}),
                                   edges=[edge("points", "load")]))
        assert run(module)["outputs"]["load"]["ids"] == [derived_id({"text": "a"}), 3]


@pytest.mark.parametrize(("inputs", "message"), [
    ({"search_in": "other"},
     "collection 'other' does not exist in in-memory Qdrant; its collections: docs"),
    ({"query": [1.0, 0.0]}, "collection 'docs' holds vectors of 3 dimensions, not 2"),
    ({"query": [[1, 0, 0], [0, 1, 0]]}, "query_vector holds 2 vectors; a search takes one"),
    ({"query": [1, "x", 0]}, "query_vector[1] is not a finite number (it is a text)"),
    ({"vectors": [[1, 0, 0], [0, 1]]}, "vectors mixes vectors of [2, 3] dimensions"),
    ({"payloads": ["a"]}, "1 payloads for 3 vectors: give one per vector"),
    ({"payloads": [1, 2, 3]}, "payloads[0] is a number; a payload is an object or a text"),
    ({"filter": {"must": [{"key": "a", "match": {"valu": 1}}]}},
     "filter is not a Qdrant filter: must.list"),
    ({"filter": {"price": 1.5}}, "filter field 'price' is a number; the shorthand matches"),
    ({"filter": {"must": [], "lang": "en"}}, "filter mixes Qdrant's must/should/must_not"),
])
def test_run_time_errors_say_what_is_wrong(load_module, inputs: dict[str, Any],
                                           message: str) -> None:
    module = load_module(PIPELINE)
    assert message in str(failure(module, inputs))


def test_expression_values_are_checked_when_the_script_runs(load_module) -> None:
    module = load_module(PIPELINE)
    error = failure(module, {"limit": 0})
    assert "limit is int 0; allowed: integer from 1 to 10000" in str(error)
    error = failure(module, {"threshold": 2})
    assert "score_threshold is int 2; allowed: number from 0 to 1" in str(error)


def test_a_collection_that_does_not_fit(load_module) -> None:
    def going_on(item: dict[str, Any]) -> dict[str, Any]:
        item["data"]["onError"] = "continue"
        return item

    module = load_module(graph(
        upsert("named", vectors=[[1, 0]], vectorName="dense"),
        upsert("plain", collection="plain", vectors=[[1, 0]]),
        going_on(search("unnamed", queryVector=[1, 0])),
        going_on(search("wrong-name", collection="plain", queryVector=[1, 0],
                        vectorName="dense")),
        going_on(upsert("no-create", collection="new", vectors=[[1, 0]],
                        createCollection=False)),
        edges=[edge("named", "unnamed"), edge("plain", "wrong-name"),
               edge("named", "no-create"), edge("plain", "no-create")],
    ))
    outputs = run(module)["outputs"]
    assert outputs["unnamed"]["error"].endswith(
        "collection 'docs' has named vectors (dense): set vector_name")
    assert outputs["wrong-name"]["error"].endswith(
        "collection 'plain' has one unnamed vector: leave vector_name unset")
    assert outputs["no-create"]["error"].endswith(
        "collection 'new' does not exist in in-memory Qdrant; its collections: docs, plain "
        "(create_collection is off)")


def test_named_vectors_round_trip(load_module) -> None:
    module = load_module(graph(
        upsert(vectors=VECTORS, payloads=TEXTS, vectorName="dense", distance="dot"),
        search(queryVector=[0, 1, 0], vectorName="dense", limit=1),
        edges=[edge("load", "find")],
    ))
    (hit,) = run(module)["outputs"]["find"]
    assert hit["payload"] == {"text": TEXTS[1]}
    assert hit["score"] == pytest.approx(0.9)  # Dot: the plain product


def test_a_batch_shares_one_in_memory_qdrant(tmp_path: Path) -> None:
    script = build(tmp_path, PIPELINE, "batch")
    records = tmp_path / "records.jsonl"
    records.write_text("".join(
        json.dumps({"id": i, "payloads": [{"text": t, "record": i} for t in TEXTS]}) + "\n"
        for i in range(6)))
    output = tmp_path / "out.jsonl"
    done = run_script(script, "--batch", str(records), "--output", str(output),
                      "--concurrency", "3")
    assert done.returncode == 0, done.stderr
    lines = [json.loads(line) for line in output.read_text().splitlines()]
    assert [line["status"] for line in lines] == ["ok"] * 6
    # Every record searched after its own load; earlier ones' points are there too.
    found = [len(line["outputs"]["find"]) for line in lines]
    assert min(found) >= 3 and max(found) > 3, found


# -- a Qdrant server -------------------------------------------------------------------------


def remote(url: str, **extra: Any) -> dict[str, Any]:
    """PIPELINE against the server at `url`."""
    document = json.loads(json.dumps(PIPELINE))
    for item in document["nodes"]:
        item["data"]["config"].update(url=url, **extra)
    return document


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_a_server_unreachable_is_retried_then_fails_on_one_line(
    load_module, tmp_path: Path
) -> None:
    url = f"http://127.0.0.1:{closed_port()}"
    module = load_module(remote(url, apiKey="QDRANT_API_KEY"))
    events: list[dict[str, Any]] = []
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("QDRANT_API_KEY", "the-key-value-1234")
        with pytest.raises(module.WorkflowError) as caught:
            run(module, events=events)
    assert f"cannot reach Qdrant at {url}" in str(caught.value)
    assert caught.value.transient
    assert [e["type"] for e in events if e["type"] == "node_retry"] == ["node_retry"] * 2

    # As a user runs it: one line, exit 1, and the key is nowhere.
    script = build(tmp_path, remote(url, apiKey="QDRANT_API_KEY"), "unreachable")
    done = run_script(script, env={"QDRANT_API_KEY": "the-key-value-1234"})
    assert done.returncode == 1
    assert done.stderr.startswith("error: node 'load' (load) failed: cannot reach Qdrant at ")
    assert done.stderr.count("\n") == 1 and "Traceback" not in done.stderr
    assert "the-key-value-1234" not in done.stderr + done.stdout


def test_a_missing_api_key_variable_stops_before_any_request(tmp_path: Path) -> None:
    with FakeQdrantServer() as server:
        script = build(tmp_path, remote(server.url, apiKey="QDRANT_API_KEY"), "no_key")
        done = run_script(script, env={"QDRANT_API_KEY": ""})
        assert done.returncode == 2
        assert "QDRANT_API_KEY" in done.stderr and done.stderr.count("\n") == 1
        assert server.fake.requests == []


def test_against_a_server_with_a_key(load_module) -> None:
    with FakeQdrantServer(FakeQdrant(api_key="the-key-value-1234")) as server, \
            pytest.MonkeyPatch.context() as patch:
        patch.setenv("QDRANT_API_KEY", "the-key-value-1234")
        module = load_module(remote(server.url, apiKey="QDRANT_API_KEY"))
        hits = run(module, {"limit": 2})["outputs"]["find"]
        assert [hit["payload"]["text"] for hit in hits] == TEXTS[:2]
        assert [(r.method, r.path) for r in server.fake.requests] == [
            ("GET", "/collections/docs/exists"), ("PUT", "/collections/docs"),
            ("PUT", "/collections/docs/points"), ("POST", "/collections/docs/points/query"),
        ]
        assert {r.api_key for r in server.fake.requests} == {"the-key-value-1234"}

        patch.setenv("QDRANT_API_KEY", "a-wrong-key-5678")
        error = failure(module)
        assert error.fatal  # a rejected key is not retried
        assert str(error) == (
            f"node 'load' (load) failed: Qdrant at {server.url} rejected the API key in "
            "QDRANT_API_KEY (401): Must provide an API key or an Authorization bearer token")
        assert len(server.fake.requests) == 5


def test_server_errors_are_retried_and_client_errors_explained(load_module) -> None:
    with FakeQdrantServer() as server:
        module = load_module(remote(server.url))
        server.fake.failures = [503]
        assert run(module)["nodes"]["find"]["status"] == "ok"
        assert server.fake.requests[0].path == "/collections/docs/exists"
        assert server.fake.requests[1].path == "/collections/docs/exists"  # tried again

        error = failure(module, {"search_in": "missing"})
        assert str(error).endswith(f"collection 'missing' does not exist in Qdrant at "
                                   f"{server.url}; its collections: docs")
        error = failure(module, {"query": [1, 0]})
        assert "collection 'docs' holds vectors of 3 dimensions, not 2" in str(error)

        server.fake.failures = [503] * 3
        error = failure(module)
        assert error.transient
        assert str(error).endswith(f"Qdrant at {server.url} answered 503: injected 503")


def test_a_batch_creates_the_collection_once_on_a_server(tmp_path: Path) -> None:
    with FakeQdrantServer() as server:
        script = build(tmp_path, remote(server.url), "remote_batch")
        records = tmp_path / "records.jsonl"
        records.write_text("".join(json.dumps({"id": i}) + "\n" for i in range(8)))
        output = tmp_path / "out.jsonl"
        done = run_script(script, "--batch", str(records), "--output", str(output),
                          "--concurrency", "8")
        assert done.returncode == 0, done.stderr
        lines = [json.loads(line) for line in output.read_text().splitlines()]
        assert [line["status"] for line in lines] == ["ok"] * 8
        creates = [r for r in server.fake.requests
                   if (r.method, r.path) == ("PUT", "/collections/docs")]
        # Records race to create it; those that lose see it exists and go on.
        assert len(creates) >= 1
        found = [[hit["id"] for hit in line["outputs"]["find"]] for line in lines]
        assert found == [found[0]] * 8 and found[0]


def test_catalyst_run_knows_qdrant_client_is_installed() -> None:
    # A requirement names a distribution; its module may be spelt otherwise.
    assert _missing_requirements(["qdrant-client>=1.20,<2", "no-such-dist-here>=1"]) == [
        "no-such-dist-here>=1"]


def test_catalyst_run_with_a_qdrant_key_is_not_a_groq_run(tmp_path: Path) -> None:
    # Only a workflow needing GROQ_API_KEY is pointed at the local Groq-protocol server.
    with FakeQdrantServer(FakeQdrant(api_key="the-key-value-1234")) as server:
        workflow = tmp_path / "remote.json"
        workflow.write_text(json.dumps(remote(server.url, apiKey="QDRANT_API_KEY")))
        environment = {k: v for k, v in os.environ.items() if not k.startswith("GROQ_")}
        done = subprocess.run(
            [sys.executable, "-m", "catalyst.cli", "run", str(workflow), "--input", "limit=1"],
            capture_output=True, text=True, timeout=120, check=False,
            env={**environment, "QDRANT_API_KEY": "the-key-value-1234"},
        )
    assert done.returncode == 0, done.stderr
    assert done.stderr == ""
    assert [hit["payload"]["text"] for hit in json.loads(done.stdout)["find"]] == TEXTS[:1]
