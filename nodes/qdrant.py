"""qdrantSearch and qdrantUpsert: vector search over Qdrant, and loading points into it.

Both talk to a Qdrant server when `url` is set, and otherwise run Qdrant embedded in
the script's own process (qdrant-client's local mode): in a folder (`path`, data kept
between runs) or in memory. So a retrieval workflow runs on a fresh machine with no
server at all.

Vectors compose with embedding nodes: wherever a vector is expected, an embedding
node's output `{embeddings: [[…], …], model, dimensions, usage}` (or `{embedding}`), a
list of vectors or one vector is accepted. Search takes exactly one vector; upsert
stores one point per vector, paired in order with `payloads` (objects, or texts stored
as `{"text": …}`) and `ids`.

Filters take Qdrant's own JSON (`{"must": [{"key": "lang", "match": {"value": "en"}}]}`,
checked with qdrant-client's `models.Filter` when it is installed) or a shorthand
`{"lang": "en", "tags": ["a", "b"]}`: every field must equal the value (a list: any of
its values).
"""

from __future__ import annotations

from typing import Any, Literal
from urllib.parse import urlsplit

from pydantic import AliasChoices, Field, field_validator

from catalyst.config_types import NodeConfig, SecretRef, json_text, value_aliases
from catalyst.diagnostics import Diagnostic
from catalyst.nodes.qdrant_values import (
    filter_problem,
    id_problem,
    is_template,
    points_problem,
    vectors_in,
)
from catalyst.registry import NodeCheckContext, NodeType, Port
from catalyst.shapes import BOOLEAN, INTEGER, NUMBER, STRING, Schema, any_of, array, closed

QDRANT_DEPENDENCY = "qdrant-client>=1.20,<2"
DISTANCES = ("Cosine", "Dot", "Euclid", "Manhattan")
MAX_LIMIT = 10_000
# Characters Qdrant refuses in a collection name.
_BAD_NAME_CHARACTERS = '<>:"/\\|?*\0'
_LOCAL_HOSTS = ("localhost", "127.0.0.1", "::1")

_VECTOR_HINT = (
    "a JSON array of numbers, e.g. [0.1, 0.2, 0.3]; an embedding node's output "
    "{\"embeddings\": [[…]]} or an expression such as "
    "{{ nodes['embed'].output.embeddings[0] }}"
)
_FILTER_HINT = (
    'Qdrant\'s filter JSON, e.g. {"must": [{"key": "lang", "match": {"value": "en"}}]}, '
    'or the shorthand {"lang": "en", "tags": ["a", "b"]} (each field equals the value; '
    "a list: any of its values)"
)
_ID_HINT = (
    "an id is an unsigned integer or a UUID string; leave ids out for ids derived from "
    "each payload, or set id_field to take them from a payload field"
)
# What an expression giving vectors may hold at run time: the node itself then says
# precisely what is wrong inside a list (`query_vector[1] is not a finite number`).
_VECTOR_SCHEMA: dict[str, Any] = {
    "anyOf": [{"type": "array"}, {"type": "object"}, {"type": "string"}]
}


def _blank_is_unset(value: Any) -> Any:
    # The original editor's form saves a field the user cleared as "".
    return None if isinstance(value, str) and not value.strip() else value


class QdrantConnection(NodeConfig):
    """Which Qdrant: a server (`url`), a folder (`path`), or in memory (neither)."""

    collection: str = Field(
        min_length=1,
        max_length=255,
        validation_alias=AliasChoices("collection", "collection_name", "collectionName"),
        description="Collection name; may use {{ … }} expressions.",
    )
    url: str | None = Field(
        None,
        description="Qdrant server, e.g. http://localhost:6333 (no port: 6333). Unset: "
        "Qdrant runs embedded in the script (in `path`, or in memory).",
        examples=["http://localhost:6333"],
    )
    path: str | None = Field(
        None,
        description="Embedded Qdrant: the folder its data lives in (relative to the working "
        "directory; one script at a time may open it). Unset, with no url: in memory, for as "
        "long as the run (a batch: the whole batch).",
        examples=["qdrant_data"],
    )
    api_key: SecretRef | None = Field(
        None,
        validation_alias=AliasChoices("api_key", "apiKey"),
        description='Environment variable with the Qdrant API key (servers only): "NAME" or '
        '{"$secret": "NAME"}.',
        json_schema_extra={"x-secret": True},
    )
    vector_name: str | None = Field(
        None,
        validation_alias=AliasChoices("vector_name", "vectorName", "using"),
        description="The named vector to use, for collections with several; unset: the "
        "collection's one unnamed vector.",
    )

    @field_validator("url", "path", "api_key", "vector_name", mode="before")
    @classmethod
    def _cleared(cls, value: Any) -> Any:
        return _blank_is_unset(value)


class QdrantSearchConfig(QdrantConnection):
    """One nearest-neighbour search: the points closest to a vector."""

    query_vector: Any = Field(
        None,
        validation_alias=AliasChoices("query_vector", "queryVector", "vector"),
        description="The vector to search with: " + _VECTOR_HINT + ". Unset: the value on "
        "`input`.",
        examples=[[0.1, 0.2, 0.3]],
        json_schema_extra={**json_text(), **_VECTOR_SCHEMA},
    )
    limit: int = Field(10, ge=1, le=MAX_LIMIT, description="How many points at most.")
    score_threshold: float | None = Field(
        None,
        ge=0,
        le=1,
        validation_alias=AliasChoices("score_threshold", "scoreThreshold"),
        description="Only points scoring at least this (Cosine similarity, 0 to 1).",
    )
    filter: dict[str, Any] | None = Field(
        None,
        validation_alias=AliasChoices("filter", "query_filter", "queryFilter"),
        description="Only points whose payload matches: " + _FILTER_HINT + ". JSON or JSON "
        "text; values may use {{ … }} expressions.",
        examples=[{"lang": "en"}],
        json_schema_extra=json_text(),
    )

    @field_validator("score_threshold", "query_vector", "filter", mode="before")
    @classmethod
    def _cleared_search(cls, value: Any) -> Any:
        return _blank_is_unset(value)


class QdrantUpsertConfig(QdrantConnection):
    """Points to write (insert or replace by id), and how to create a missing collection."""

    points: list[Any] | None = Field(
        None,
        description='Points as [{"id"?, "vector", "payload"?}]; unset: `vectors` (or the '
        "value on `input`) with `payloads`. JSON or JSON text.",
        examples=[[{"vector": [0.1, 0.2, 0.3], "payload": {"text": "hello"}}]],
        json_schema_extra=json_text(),
    )
    vectors: Any = Field(
        None,
        description="The vectors to store: an embedding node's output {\"embeddings\": […]}, "
        "a list of vectors or one vector. Unset: the value on `input`.",
        examples=[[[0.1, 0.2, 0.3]]],
        json_schema_extra={**json_text(), **_VECTOR_SCHEMA},
    )
    payloads: list[Any] | None = Field(
        None,
        description="One payload per vector, in order: an object, or a text stored as "
        '{"text": …}. Unset: empty payloads.',
        examples=[["First document", {"text": "Second", "lang": "en"}]],
        json_schema_extra=json_text(),
    )
    ids: list[Any] | None = Field(
        None,
        description="One id per vector (unsigned integers or UUIDs). Unset: a UUID derived "
        "from each payload (uuid5 of its canonical JSON; the vector's when the payload is "
        "empty), so loading the same documents again replaces them.",
        json_schema_extra=json_text(),
    )
    id_field: str | None = Field(
        None,
        min_length=1,
        validation_alias=AliasChoices("id_field", "idField"),
        description="Take each id from this payload field (an integer or UUID as it is, "
        "anything else through uuid5).",
    )
    distance: Literal["Cosine", "Dot", "Euclid", "Manhattan"] = Field(
        "Cosine",
        description="Distance of a collection this node creates.",
        json_schema_extra=value_aliases(
            {
                **{name.lower(): name for name in DISTANCES},
                **{name.upper(): name for name in DISTANCES},
                "euclidean": "Euclid", "Euclidean": "Euclid", "EUCLIDEAN": "Euclid",
                "dot_product": "Dot", "DotProduct": "Dot",
            }
        ),
    )
    create_collection: bool = Field(
        True,
        validation_alias=AliasChoices("create_collection", "createCollection"),
        description="Create the collection when it does not exist (vector size from the "
        "first vector).",
    )

    @field_validator("points", "vectors", "payloads", "ids", "id_field", mode="before")
    @classmethod
    def _cleared_upsert(cls, value: Any) -> Any:
        return _blank_is_unset(value)


# -- checks ----------------------------------------------------------------------------


def _written(context: NodeCheckContext, name: str) -> bool:
    return name in context.written_keys


def _problem(context: NodeCheckContext, field: str | None, code: str, message: str,
             hint: str, severity: Literal["error", "warning"] = "error") -> Diagnostic:
    path = context.pointer(field) if field else context.config_path
    return Diagnostic(code, message, path, node_id=context.node_id, hint=hint,
                      severity=severity)


def _connection_problems(config: QdrantConnection, context: NodeCheckContext) -> list[Diagnostic]:
    problems: list[Diagnostic] = []
    url, path = config.url, config.path
    if url is not None and path is not None:
        problems.append(_problem(
            context, "path", "url-and-path", "both url and path are set",
            "set url for a Qdrant server, or path for Qdrant embedded in a folder; not both",
        ))
    if url is not None and not is_template(url):
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            problems.append(_problem(
                context, "url", "invalid-url", f"url {url!r} is not an http(s) URL",
                "write the server's address, e.g. http://localhost:6333 or "
                "https://xyz.cloud.qdrant.io:6333; leave url out for embedded Qdrant",
            ))
        elif config.api_key is not None and parts.scheme == "http" and \
                parts.hostname not in _LOCAL_HOSTS:
            problems.append(_problem(
                context, "api_key", "insecure-api-key",
                f"the API key would travel unencrypted to {parts.hostname}",
                "use an https:// url", severity="warning",
            ))
    if config.api_key is not None and url is None and not _written(context, "url"):
        problems.append(_problem(
            context, "api_key", "api-key-without-url",
            "api_key is set but there is no url: embedded Qdrant takes no API key",
            "set url to the Qdrant server the key is for, or remove api_key",
        ))
    if config.api_key is not None and _looks_like_a_key(config.api_key.env):
        problems.append(_problem(
            context, "api_key", "secret-in-config",
            "api_key looks like the key itself, not the name of a variable holding it",
            'put the key in an environment variable and name it: "QDRANT_API_KEY" or '
            '{"$secret": "QDRANT_API_KEY"}',
        ))
    name = config.collection
    if not is_template(name) and any(char in _BAD_NAME_CHARACTERS for char in name):
        problems.append(_problem(
            context, "collection", "invalid-collection-name",
            f"collection name {name!r} holds a character Qdrant refuses",
            "leave out " + " ".join(c for c in _BAD_NAME_CHARACTERS if c != "\0"),
        ))
    return problems


def _looks_like_a_key(name: str) -> bool:
    """Variable names are words (QDRANT_API_KEY); a pasted key is a long jumble."""
    return len(name) >= 24 and "_" not in name and any(c.isdigit() for c in name) and \
        any(c.islower() for c in name) and any(c.isupper() for c in name)


def _search_check(config: QdrantSearchConfig, context: NodeCheckContext) -> list[Diagnostic]:
    problems = _connection_problems(config, context)
    vector = config.query_vector
    if vector is None and "input" not in context.connected_inputs:
        problems.append(_problem(
            context, None, "missing-query-vector",
            "nothing to search with: no query_vector and no edge into `input`",
            "set query_vector to " + _VECTOR_HINT + ", or connect an embedding node to `input`",
        ))
    elif vector is not None:
        found, reason = vectors_in(vector, "query_vector")
        if reason is None and found is not None and len(found) != 1:
            reason = f"query_vector holds {len(found)} vectors; a search takes one"
        if reason is not None:
            problems.append(_problem(context, "query_vector", "invalid-query-vector", reason,
                                     "query_vector is " + _VECTOR_HINT))
    if config.filter is not None:
        reason = filter_problem(config.filter)
        if reason is not None:
            problems.append(_problem(context, "filter", "invalid-filter",
                                     f"filter: {reason}", "write " + _FILTER_HINT))
    return problems


def _upsert_check(config: QdrantUpsertConfig, context: NodeCheckContext) -> list[Diagnostic]:
    problems = _connection_problems(config, context)
    has_points, has_vectors = _written(context, "points"), _written(context, "vectors")
    if has_points and has_vectors:
        problems.append(_problem(
            context, "vectors", "points-and-vectors", "both points and vectors are set",
            "give whole points ([{id?, vector, payload?}]) or vectors with payloads, not both",
        ))
    if not (has_points or has_vectors or "input" in context.connected_inputs):
        problems.append(_problem(
            context, None, "missing-points",
            "nothing to store: no points, no vectors and no edge into `input`",
            "connect an embedding node to `input` (with payloads), or set points "
            '([{"vector": [0.1, 0.2], "payload": {"text": "…"}}]) or vectors',
        ))
    if has_points:
        for name in ("payloads", "ids"):
            if _written(context, name):
                problems.append(_problem(
                    context, name, "points-and-vectors",
                    f"{name} go with vectors; points carry their own",
                    "put each point's id and payload inside it, or use vectors instead of points",
                ))
    if config.ids is not None and config.id_field is not None:
        problems.append(_problem(context, "id_field", "ids-and-id-field",
                                 "both ids and id_field are set", "keep one of them"))
    count: int | None = None
    if config.points is not None:
        reason = points_problem(config.points)
        if reason is not None:
            problems.append(_problem(
                context, "points", "invalid-points", reason,
                'each point is {"id"?, "vector": [numbers], "payload"?: {…}}; ' + _ID_HINT,
            ))
    if config.vectors is not None:
        found, reason = vectors_in(config.vectors, "vectors")
        if reason is not None:
            problems.append(_problem(context, "vectors", "invalid-vectors", reason,
                                     "vectors are " + _VECTOR_HINT.replace("[0]", "")))
        count = len(found) if found is not None else None
    if config.payloads is not None:
        bad = next((i for i, item in enumerate(config.payloads)
                    if not isinstance(item, (dict, str))), None)
        if bad is not None:
            problems.append(_problem(
                context, "payloads", "invalid-payloads",
                f"payloads[{bad}] is neither an object nor a text",
                'each payload is an object ({"text": "…", "lang": "en"}) or a text',
            ))
        problems += _count_problem(context, "payloads", len(config.payloads), count)
    if config.ids is not None:
        bad = next((i for i, item in enumerate(config.ids) if id_problem(item)), None)
        if bad is not None:
            problems.append(_problem(context, "ids", "invalid-point-id",
                                     f"ids[{bad}]: {id_problem(config.ids[bad])}", _ID_HINT))
        problems += _count_problem(context, "ids", len(config.ids), count)
    return problems


def _count_problem(context: NodeCheckContext, name: str, given: int,
                   vectors: int | None) -> list[Diagnostic]:
    if vectors is None or given == vectors:
        return []
    return [_problem(context, name, "count-mismatch",
                     f"{given} {name} for {vectors} vectors",
                     f"give one entry of {name} per vector, in the same order")]


# -- shapes and types --------------------------------------------------------------------

POINT_ID: Schema = any_of(INTEGER, STRING)
HIT = closed({"id": POINT_ID, "score": NUMBER, "payload": {"type": "object"}})
SEARCH_OUTPUT = array(HIT)
UPSERT_OUTPUT = closed(
    {"collection": STRING, "upserted": INTEGER, "ids": array(POINT_ID), "created": BOOLEAN},
    description="What was written: `ids` in the order of the points.",
)
_IMPORTS = (
    "import json",
    "import math",
    "import os",
    "import uuid",
    "import warnings",
    "import httpx",
    "from qdrant_client import AsyncQdrantClient",
    "import qdrant_client.models",
    "from qdrant_client.common.client_exceptions import QdrantException",
    "from qdrant_client.common.client_exceptions import ResourceExhaustedResponse",
    "from qdrant_client.http.exceptions import ApiException, ResponseHandlingException",
    "from qdrant_client.http.exceptions import UnexpectedResponse",
)
# qdrant-client depends on httpx; the script names it because it imports it.
_DEPENDENCIES = (QDRANT_DEPENDENCY, "httpx>=0.23,<1")

NODE_TYPES = (
    NodeType(
        type="qdrantSearch",
        category="data",
        display_name="Qdrant search",
        description="Find the points nearest a vector in a Qdrant collection (a server, or "
        "Qdrant embedded in the script), optionally filtered by payload.",
        icon="search",
        color="#dc244c",
        config_model=QdrantSearchConfig,
        template="qdrant.jinja",
        inputs=(Port("input", "Vector", "json",
                     "The query vector when query_vector is unset: an embedding node's output, "
                     "a list of one vector, or a vector. Otherwise it only orders the node."),),
        outputs=(Port("output", "Hits", "json", "The hits, best first."),),
        dependencies=_DEPENDENCIES,
        imports=_IMPORTS,
        check=_search_check,
        output_description="[{id, score, payload}], best first",
        output_schema=SEARCH_OUTPUT,
        example={
            "url": "http://localhost:6333",
            "api_key": {"$secret": "QDRANT_API_KEY"},
            "collection": "docs",
            "query_vector": "{{ nodes['embed'].output.embeddings[0] }}",
            "limit": 5,
            "score_threshold": 0.5,
            "filter": {"lang": "en"},
        },
    ),
    NodeType(
        type="qdrantUpsert",
        category="data",
        display_name="Qdrant upsert",
        description="Write points (vectors with payloads) into a Qdrant collection, creating "
        "it when missing; ids derived from payloads make re-runs replace, not duplicate.",
        icon="database",
        color="#dc244c",
        config_model=QdrantUpsertConfig,
        template="qdrant.jinja",
        inputs=(Port("input", "Vectors", "json",
                     "What to store when neither points nor vectors is set: an embedding "
                     "node's output, a list of vectors, or a list of {id?, vector, payload?}. "
                     "Otherwise it only orders the node."),),
        outputs=(Port("output", "Result", "json", "{collection, upserted, ids, created}"),),
        dependencies=_DEPENDENCIES,
        imports=_IMPORTS,
        check=_upsert_check,
        output_description="{collection, upserted, ids, created}",
        output_schema=UPSERT_OUTPUT,
        example={
            "path": "qdrant_data",
            "collection": "docs",
            "payloads": "{{ input.documents }}",
        },
    ),
)
