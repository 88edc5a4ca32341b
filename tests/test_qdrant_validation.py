"""qdrantSearch / qdrantUpsert at generate time: one test per problem, each pinned to the
node, the JSON pointer of the field as the file spells it, and a hint."""

from __future__ import annotations

import json
from typing import Any

import pytest
from workflow_builders import checked, diagnostics, edge, edit_fields_node, graph, node, only

from catalyst.diagnostics import Diagnostic
from catalyst.registry import node_types
from catalyst.shapes import walk

NODES = "/nodes/0/data/config"


def search(config: dict[str, Any], node_id: str = "s") -> dict[str, Any]:
    return node(node_id, "qdrantSearch", {"collection": "docs", **config})


def upsert(config: dict[str, Any], node_id: str = "u") -> dict[str, Any]:
    return node(node_id, "qdrantUpsert", {"collection": "docs", **config})


def problem(document: dict[str, Any], code: str) -> Diagnostic:
    found = only(diagnostics(document), code)
    assert found.hint, f"{code} has no hint"
    return found


def errors(document: dict[str, Any]) -> list[Diagnostic]:
    return [d for d in diagnostics(document) if d.is_error]


# -- what is accepted ---------------------------------------------------------------------


def test_the_original_editors_fields_and_json_text_are_accepted() -> None:
    original = node("s", "qdrantSearch", {
        "url": "http://localhost:6333", "apiKey": "QDRANT_API_KEY", "collection": "docs",
        "queryVector": "[0.1, 0.2, 0.3]", "limit": 5, "scoreThreshold": 0.7,
    })
    config = checked(graph(original)).configs["s"].values
    assert config == {
        "collection": "docs", "url": "http://localhost:6333",
        "api_key": {"$secret": "QDRANT_API_KEY"}, "query_vector": [0.1, 0.2, 0.3],
        "limit": 5, "score_threshold": 0.7,
    }


def test_fields_the_editor_left_blank_are_unset() -> None:
    blank = search({"url": "", "apiKey": "", "path": " ", "scoreThreshold": "",
                    "queryVector": "[1, 0]"})
    assert checked(graph(blank)).configs["s"].values == {
        "collection": "docs", "query_vector": [1, 0], "limit": 10}


@pytest.mark.parametrize("vector", [
    [0.1, 0.2], [[0.1, 0.2]], {"embeddings": [[0.1, 0.2]], "model": "m", "dimensions": 2},
    {"embedding": [0.1, 0.2]}, "{{ nodes['embed'].output.embeddings[0] }}",
    ["{{ input.x }}", 0.2],
])
def test_query_vector_forms(vector: Any) -> None:
    embed = edit_fields_node("embed", {"embeddings": [[0.1, 0.2]]})
    checked(graph(embed, search({"queryVector": vector}), inputs={"x": {"type": "number"}}))


def test_upsert_forms() -> None:
    embed = edit_fields_node("embed", {"embeddings": [[0.1, 0.2], [0.3, 0.4]]})
    checked(graph(
        embed,
        upsert({"payloads": ["one", {"text": "two", "lang": "en"}]}),
        upsert({"points": json.dumps([{"id": 1, "vector": [1, 2]},
                                      {"id": "5C56C793-69F3-4FBF-87E6-C4BF54C28C26",
                                       "vector": [3, 4], "payload": {"a": 1}}])}, "u2"),
        upsert({"vectors": "{{ nodes.embed.output }}", "idField": "doc",
                "distance": "euclidean", "createCollection": False}, "u3"),
        edges=[edge("embed", "u")],
    ))


def test_filter_forms() -> None:
    checked(graph(
        search({"queryVector": [1], "filter": {"lang": "en", "tags": ["a", "b"], "draft": False}}),
        search({"queryVector": [1], "filter": json.dumps({"must": [
            {"key": "year", "range": {"gte": 2020}},
            {"should": [{"key": "a", "match": {"any": [1, 2]}}]}],
            "must_not": [{"has_id": [7]}]})}, "s2"),
        search({"queryVector": [1],
                "filter": {"must": [{"key": "year", "range": {"gte": "{{ input.year }}"}}]}}, "s3"),
        search({"queryVector": [1], "filter": "{{ input.filter }}"}, "s4"),
        inputs={"year": {"type": "integer"}, "filter": {"type": "object"}},
    ))


def test_outputs_are_typed() -> None:
    hits = node_types()["qdrantSearch"].output_schema
    assert walk(hits, (0, "payload", "text")).missing is None
    assert walk(hits, (0, "scor")).missing == 1
    written = node_types()["qdrantUpsert"].output_schema
    assert walk(written, ("ids", 0)).missing is None
    assert walk(written, ("count",)).available == ("collection", "upserted", "ids", "created")


def test_reading_a_field_a_hit_does_not_have_is_an_error() -> None:
    reader = node("read", "log", {"message": "{{ nodes.s.output[0].text }}"})
    found = only(diagnostics(graph(search({"queryVector": [1]}), reader)),
                 "unknown-output-field")
    assert found.hint is not None and "id, score, payload" in found.hint


# -- errors, one per kind -----------------------------------------------------------------


def test_missing_collection() -> None:
    found = problem(graph(node("s", "qdrantSearch", {"queryVector": [1]})), "missing-config")
    assert (found.node_id, found.path) == ("s", f"{NODES}/collection")


@pytest.mark.parametrize(("key", "value", "allowed"), [
    ("limit", 0, "1 to 10000"), ("limit", 10_001, "1 to 10000"),
    ("scoreThreshold", 1.5, "0 to 1"), ("scoreThreshold", -0.1, "0 to 1"),
])
def test_out_of_range(key: str, value: float, allowed: str) -> None:
    found = problem(graph(search({"queryVector": [1], key: value})), "out-of-range")
    assert (found.node_id, found.path) == ("s", f"{NODES}/{key}")
    assert found.hint == f"allowed range: {allowed}"


def test_url_and_path_both_set() -> None:
    found = problem(graph(search({"queryVector": [1], "url": "http://localhost:6333",
                                  "path": "data"})), "url-and-path")
    assert (found.node_id, found.path) == ("s", f"{NODES}/path")
    assert "not both" in (found.hint or "")


@pytest.mark.parametrize("url", ["localhost:6333", "ftp://qdrant", "http://"])
def test_url_that_is_not_http(url: str) -> None:
    found = problem(graph(search({"queryVector": [1], "url": url})), "invalid-url")
    assert found.path == f"{NODES}/url"
    assert "http://localhost:6333" in (found.hint or "")


def test_api_key_without_url() -> None:
    found = problem(graph(upsert({"vectors": [1], "apiKey": "QDRANT_API_KEY"})),
                    "api-key-without-url")
    assert (found.node_id, found.path) == ("u", f"{NODES}/apiKey")


def test_api_key_over_plain_http_is_a_warning_except_on_this_machine() -> None:
    remote = search({"queryVector": [1], "url": "http://qdrant.internal:6333",
                     "apiKey": "QDRANT_API_KEY"})
    found = problem(graph(remote), "insecure-api-key")
    assert (found.severity, found.path) == ("warning", f"{NODES}/apiKey")
    local = search({"queryVector": [1], "url": "http://localhost:6333",
                    "apiKey": "QDRANT_API_KEY"})
    assert diagnostics(graph(local)) == []


def test_a_pasted_key_is_refused_without_repeating_it() -> None:
    key = "a8Fk2Lq9Zx7Vb3Nm4Hj6Pw1Rt5Yc0Ud"
    found = problem(graph(search({"queryVector": [1], "url": "https://q.example.com",
                                  "apiKey": key})), "secret-in-config")
    assert found.path == f"{NODES}/apiKey"
    assert key not in found.message + (found.hint or "")


def test_api_key_must_name_a_variable() -> None:
    found = only(errors(graph(search({"queryVector": [1], "url": "https://q.example.com",
                                      "apiKey": "{{ input.key }}"}),
                              inputs={"key": {"type": "string"}})), "invalid-config")
    assert found.path == f"{NODES}/apiKey"
    assert found.hint is not None and "environment variable" in found.hint


def test_collection_name_with_a_slash() -> None:
    found = problem(graph(search({"queryVector": [1], "collection": "team/docs"})),
                    "invalid-collection-name")
    assert found.path == f"{NODES}/collection"


def test_nothing_to_search_with() -> None:
    found = problem(graph(search({})), "missing-query-vector")
    assert (found.node_id, found.path) == ("s", NODES)
    assert "connect an embedding node" in (found.hint or "")


def test_an_edge_into_input_is_a_query_vector() -> None:
    embed = edit_fields_node("embed", {"embeddings": [[0.1, 0.2]]})
    checked(graph(embed, search({}), edges=[edge("embed", "s")]))


@pytest.mark.parametrize(("vector", "message"), [
    ([0.1, "a"], "query_vector[1] is not a finite number"),
    ([], "query_vector holds no vector"),
    ([[0.1], [0.2]], "query_vector holds 2 vectors; a search takes one"),
    ({"vector": [1]}, "query_vector is an object without `embeddings` or `embedding`"),
    ([[0.1, 0.2], [0.1]], "query_vector mixes vectors of 1, 2 dimensions"),
    ([True, 1], "query_vector[0] is not a finite number"),
])
def test_bad_query_vector(vector: Any, message: str) -> None:
    found = problem(graph(search({"queryVector": json.dumps(vector)})), "invalid-query-vector")
    assert (found.path, found.message) == (f"{NODES}/queryVector", message)


def test_query_vector_text_that_is_not_json() -> None:
    found = problem(graph(search({"queryVector": "[0.1, 0.2"})), "invalid-json-text")
    assert found.path == f"{NODES}/queryVector"


@pytest.mark.parametrize(("written", "message"), [
    ({"must": [{"key": "a", "match": {"valu": 1}}]}, "filter: must[0].match.value: Field required"),
    ({"must": [{"key": "a", "rang": {"gte": 1}}]},
     "filter: must[0].rang: Extra inputs are not permitted"),
    ({"must": [{"key": "a", "range": {"gte": "x"}}]},
     "filter: must[0].range.gte: Input should be a valid number, unable to parse string as a "
     "number"),
    ({"must": [], "lang": "en"}, "filter: mixes Qdrant's must with payload fields (lang)"),
    ({"price": 9.5}, "filter: 'price': the shorthand matches a text, integer or boolean, or a "
     "list of texts or integers; other conditions need Qdrant's form"),
    ({"tags": []}, "filter: 'tags': the shorthand matches a text, integer or boolean, or a "
     "list of texts or integers; other conditions need Qdrant's form"),
])
def test_bad_filter(written: dict[str, Any], message: str) -> None:
    for form in (written, json.dumps(written)):
        found = problem(graph(search({"queryVector": [1], "filter": form})), "invalid-filter")
        assert (found.node_id, found.path, found.message) == ("s", f"{NODES}/filter", message)
        assert "must" in (found.hint or "") and "shorthand" in (found.hint or "")


def test_filter_errors_beside_an_expression_are_still_found() -> None:
    written = {"must": [{"key": "y", "range": {"gte": "{{ input.year }}"}},
                        {"key": "b", "match": {"valu": 1}}]}
    found = problem(graph(search({"queryVector": [1], "filter": written}),
                          inputs={"year": {"type": "integer"}}), "invalid-filter")
    assert found.message == "filter: must[1].match.value: Field required"


def test_filter_in_qdrants_form_waits_for_run_time_without_qdrant_client(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from catalyst.nodes import qdrant_values

    monkeypatch.setattr(qdrant_values, "_filter_model", lambda: None)
    assert qdrant_values.filter_problem({"must": [{"key": "a", "match": {"valu": 1}}]}) is None
    assert qdrant_values.filter_problem({"price": 9.5}) is not None  # the shorthand needs no library


def test_nothing_to_store() -> None:
    found = problem(graph(upsert({})), "missing-points")
    assert (found.node_id, found.path) == ("u", NODES)


def test_points_and_vectors_both_set() -> None:
    found = errors(graph(upsert({"points": [{"vector": [1]}], "vectors": [[1]],
                                 "ids": [1]})))
    assert sorted((d.code, d.path) for d in found) == [
        ("points-and-vectors", f"{NODES}/ids"),
        ("points-and-vectors", f"{NODES}/vectors"),
    ]
    assert all(d.hint for d in found)


@pytest.mark.parametrize(("points", "message"), [
    ([], "points is empty"),
    ([{"vector": [1, 2], "text": "a"}], "points[0] has unknown key 'text' (keys: id, vector, "
     "payload)"),
    ([{"payload": {}}], "points[0] has no vector"),
    ([{"vector": [1, 2]}, {"vector": [1]}], "points mix vectors of 1, 2 dimensions"),
    ([{"vector": [1], "id": "doc-1"}], "points[0].id: 'doc-1' is not a UUID"),
    ([{"vector": [1], "payload": "text"}], "points[0].payload is not an object"),
    (["{{ input.x }}", 3], "points[1] is not an object"),
])
def test_bad_points(points: list[Any], message: str) -> None:
    found = problem(graph(upsert({"points": points}), inputs={"x": {"type": "object"}}),
                    "invalid-points")
    assert (found.path, found.message) == (f"{NODES}/points", message)


def test_bad_vectors_payloads_and_ids() -> None:
    found = errors(graph(upsert({"vectors": [[1, 2], [1, "x"]], "payloads": ["a", 3],
                                 "ids": [-1, 2, 3]})))
    assert sorted((d.code, d.path, d.message) for d in found) == [
        ("invalid-payloads", f"{NODES}/payloads", "payloads[1] is neither an object nor a text"),
        ("invalid-point-id", f"{NODES}/ids", "ids[0]: -1 is not an unsigned 64-bit integer"),
        ("invalid-vectors", f"{NODES}/vectors", "vectors[1][1] is not a finite number"),
    ]
    assert all(d.hint for d in found)


def test_payloads_or_ids_that_do_not_pair_with_the_vectors() -> None:
    found = errors(graph(upsert({"vectors": [[1], [2]], "payloads": ["a"], "ids": [1, 2, 3]})))
    assert sorted((d.code, d.path, d.message) for d in found) == [
        ("count-mismatch", f"{NODES}/ids", "3 ids for 2 vectors"),
        ("count-mismatch", f"{NODES}/payloads", "1 payloads for 2 vectors"),
    ]


def test_ids_and_id_field_both_set() -> None:
    found = problem(graph(upsert({"vectors": [[1]], "ids": [1], "idField": "doc"})),
                    "ids-and-id-field")
    assert found.path == f"{NODES}/idField"


def test_unknown_distance_lists_the_distances() -> None:
    found = problem(graph(upsert({"vectors": [[1]], "distance": "hamming"})), "invalid-config")
    assert found.path == f"{NODES}/distance"
    assert found.hint == "use one of: 'Cosine', 'Dot', 'Euclid' or 'Manhattan'"


def test_every_problem_at_once() -> None:
    found = errors(graph(search({"url": "ftp://x"}), upsert({"points": [], "path": "d",
                                                             "url": "http://localhost:6333"})))
    assert sorted((d.node_id, d.code) for d in found) == [
        ("s", "invalid-url"), ("s", "missing-query-vector"),
        ("u", "invalid-points"), ("u", "url-and-path"),
    ]
