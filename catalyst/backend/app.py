"""The FastAPI application of `catalyst serve` (create_app builds it from Settings).

Endpoints (all JSON unless said; the OpenAPI document is at /openapi.json):

    GET  /api/health            liveness
    GET  /api/nodes             `catalyst nodes --format json`
    GET  /api/models            providers and the model table
    POST /api/validate          `catalyst validate --format json` of the posted workflow
    POST /api/generate          the script and its requirements (?format=false: skip black)
    POST /api/upgrade           the upgraded file text and its changes
    POST /api/graph             Mermaid (or DOT) text of the posted workflow
    GET  /api/graph?run=ID      the same for the workflow a stored run ran
    POST /api/runs              start a preview run; its events as server-sent events
    GET  /api/runs              past runs, newest first
    GET  /api/runs/{id}         one run: per-node status, outputs, usage, timings
    GET  /api/runs/{id}/events  a run's events (SSE), from its start

A workflow with errors is answered 422 by generate, upgrade, graph and runs,
with the same diagnostics payload validate gives (validate itself answers 200).
"""

from __future__ import annotations

import asyncio
import gc
import hmac
import json
import threading
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, MutableMapping
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from fastapi import FastAPI, Query
from fastapi.middleware.cors import CORSMiddleware
from fastapi.responses import JSONResponse, PlainTextResponse, Response, StreamingResponse
from pydantic import BaseModel, ConfigDict, Field

from catalyst import __version__
from catalyst.backend import service
from catalyst.backend.runs import PreviewRuns
from catalyst.backend.storage import RunStore, open_store
from catalyst.formatting import FormatCache
from catalyst.loading import parse_document

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]


@dataclass(frozen=True)
class Settings:
    data_dir: Path
    database: str | None = None
    auth_token: str | None = None
    cors_origins: tuple[str, ...] = ()
    max_body_bytes: int = 2_000_000
    max_nodes: int = 1_000
    max_edges: int = 5_000
    run_time_limit_s: float = 60.0
    max_active_runs: int = 4
    preview_tokens_per_second: int = 400
    format_cache_blocks: int = 8_192


# -- request and response bodies (they are the OpenAPI document) ---------------------


class WorkflowRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    document: dict[str, Any] = Field(
        description="The workflow file's content: an editor graph (`nodes`, `edges`) or a "
        "project manifest (`schemaVersion`, `workflows`)")
    workflow: str | None = Field(
        default=None, description="Workflow id inside a manifest (validate: every workflow "
        "when omitted)")


class GraphRequest(WorkflowRequest):
    format: Literal["mermaid", "dot"] = "mermaid"


class RunRequest(WorkflowRequest):
    inputs: dict[str, Any] = Field(
        default_factory=dict, description="Input values as JSON (never `@file` references: "
        "a preview cannot read local files)")
    time_limit_s: float | None = Field(
        default=None, gt=0, description="At most the server's --run-time-limit")


class UpgradeRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    text: str = Field(description="The workflow file's text; the upgrade keeps everything "
                      "else in it byte for byte")


class DiagnosticOut(BaseModel):
    source: str
    workflow: str | None
    code: str
    message: str
    path: str
    node_id: str | None
    edge_id: str | None
    hint: str | None
    severity: Literal["error", "warning"]


class Report(BaseModel):
    valid: bool
    diagnostics: list[DiagnosticOut]
    more: int | None = Field(default=None, description="diagnostics left out (over 1000)")


class GenerateResponse(Report):
    script: str | None
    requirements: list[str]
    formatted: bool | None = None


class ChangeOut(BaseModel):
    pointer: str
    description: str


class UpgradeResponse(Report):
    text: str
    changed: bool
    changes: list[ChangeOut]


class Problem(BaseModel):
    detail: str


class ModelsResponse(BaseModel):
    providers: list[dict[str, Any]]
    models: list[dict[str, Any]]


class RunSummary(BaseModel):
    model_config = ConfigDict(extra="allow")

    id: str
    status: Literal["running", "succeeded", "failed", "timed_out"]
    created_at: str
    finished_at: str | None
    workflow: str | None
    workflow_name: str
    latency_ms: float | None
    usage: dict[str, Any] | None
    error: str | None


class RunRecord(RunSummary):
    document: dict[str, Any]
    inputs: dict[str, Any]
    nodes: dict[str, dict[str, Any]]
    outputs: Any
    time_limit_s: float
    local_providers: list[str]
    tokens_streamed: int


class RunList(BaseModel):
    runs: list[RunSummary]


Responses = dict[int | str, dict[str, Any]]
class RequestProblem(BaseModel):
    """FastAPI's answer to a body that does not fit the request schema."""

    detail: list[dict[str, Any]]


_INVALID: Responses = {422: {
    "model": Report | RequestProblem,
    "description": "the workflow has errors (diagnostics), or the body does not fit the schema",
}}
_TOO_LARGE: Responses = {413: {"model": Problem, "description": "body or graph too large"}}
_SSE: dict[str, Any] = {"content": {"text/event-stream": {"schema": {"type": "string"}}},
        "description": "server-sent events: run_started, the script's events "
        "(node_started, token, node_finished, node_failed, node_skipped, workflow_finished "
        "or workflow_failed), then run_finished"}


# -- middleware -------------------------------------------------------------------------


class Guard:
    """Bearer token, JSON-only POSTs and the body size limit, before anything else runs."""

    def __init__(self, app: ASGIApp, settings: Settings) -> None:
        self.app = app
        self.settings = settings

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = {k.decode("latin-1").lower(): v.decode("latin-1")
                   for k, v in scope.get("headers", [])}
        token = self.settings.auth_token
        if token is not None and scope["method"] != "OPTIONS":
            given = headers.get("authorization", "")
            scheme, _, value = given.partition(" ")
            if scheme.lower() != "bearer" or not hmac.compare_digest(
                value.strip().encode(), token.encode()
            ):
                await _problem(send, 401, "a bearer token is required (Authorization: Bearer …)",
                               {"www-authenticate": "Bearer"})
                return
        if scope["method"] in ("POST", "PUT", "PATCH"):
            content_type = headers.get("content-type", "").split(";")[0].strip().lower()
            if content_type != "application/json":
                # Also keeps browsers' form posts (no CORS preflight) out.
                await _problem(send, 415, "send the body as application/json")
                return
        limit = self.settings.max_body_bytes
        length = headers.get("content-length")
        if length is not None and (not length.isdigit() or int(length) > limit):
            await _problem(send, 413, f"the body is larger than {limit} bytes")
            return
        received = 0
        too_large = False

        async def counted() -> Message:
            nonlocal received, too_large
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    too_large = True
                    raise _BodyTooLarge
            return message

        started = False

        async def tracking(message: Message) -> None:
            nonlocal started
            if too_large:
                # Whatever the app made of a cut-off body, the answer is 413.
                if message["type"] == "http.response.start" and not started:
                    started = True
                    await _problem(send, 413, f"the body is larger than {limit} bytes")
                return
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, counted, tracking)
        except _BodyTooLarge:
            if not started:
                await _problem(send, 413, f"the body is larger than {limit} bytes")
        except Exception:
            if too_large and not started:
                await _problem(send, 413, f"the body is larger than {limit} bytes")
            else:
                raise


class _BodyTooLarge(Exception):
    pass


async def _problem(send: Send, status: int, detail: str,
                   extra: Mapping[str, str] | None = None) -> None:
    body = json.dumps({"detail": detail}).encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    headers += [(k.encode(), v.encode()) for k, v in (extra or {}).items()]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


# -- the application ---------------------------------------------------------------------


def create_app(settings: Settings, store: RunStore | None = None) -> FastAPI:
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    store = store if store is not None else open_store(settings.data_dir, settings.database)
    runs = PreviewRuns(store, time_limit_s=settings.run_time_limit_s,
                       max_active=settings.max_active_runs,
                       tokens_per_second=settings.preview_tokens_per_second)
    cache = FormatCache(settings.format_cache_blocks)
    cache_lock = threading.Lock()

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        # What is loaded by now (FastAPI, pydantic, black, the node catalog) lives as
        # long as the process: out of the collector's way, so a full collection during
        # a request does not walk it all again.
        gc.collect()
        gc.freeze()
        try:
            yield
        finally:
            await runs.close()
            store.close()

    app = FastAPI(
        title="Catalyst editor backend", version=__version__, lifespan=lifespan,
        description="Compile, check and preview visual AI workflows (`catalyst serve`).",
    )
    app.state.runs = runs
    app.state.format_cache = cache

    def too_large(request: WorkflowRequest) -> JSONResponse | None:
        nodes, edges = _graph_size(request.document)
        if nodes > settings.max_nodes:
            return JSONResponse({"detail": f"the workflow has {nodes} nodes; this server "
                                 f"takes at most {settings.max_nodes}"}, status_code=413)
        if edges > settings.max_edges:
            return JSONResponse({"detail": f"the workflow has {edges} edges; this server "
                                 f"takes at most {settings.max_edges}"}, status_code=413)
        return None

    @app.get("/api/health", tags=["meta"])
    def health() -> dict[str, str]:
        return {"status": "ok", "version": __version__}

    @app.get("/api/nodes", tags=["catalog"])
    def nodes() -> list[dict[str, Any]]:
        """Every node type: ports, config JSON Schema (with `x-aliases`), output schema,
        example; exactly `catalyst nodes --format json`."""
        return service.nodes()

    @app.get("/api/models", tags=["catalog"], response_model=ModelsResponse)
    def models() -> dict[str, object]:
        """Providers (with the names of their key variables, never values) and every model:
        context window, max output, prices, status current or retired (with replacement)."""
        return service.models()

    @app.post("/api/validate", tags=["compile"], response_model=Report,
              response_model_exclude_unset=True, responses=_TOO_LARGE)
    def validate(request: WorkflowRequest) -> Any:
        """Diagnostics exactly as `catalyst validate --format json` (200 even when invalid)."""
        return too_large(request) or service.validate(request.document, request.workflow)

    @app.post("/api/generate", tags=["compile"], response_model=GenerateResponse,
              response_model_exclude_unset=True, responses={**_INVALID, **_TOO_LARGE})
    def generate(request: WorkflowRequest, format: bool = Query(
        True, description="false: skip black (a live preview; the script is not the final "
        "bytes)")) -> Any:
        """The standalone script, its pip requirements, and warnings as diagnostics.
        Formatting reuses every unchanged top-level block from earlier requests."""
        if (refused := too_large(request)) is not None:
            return refused
        started, started_cpu = time.perf_counter(), time.thread_time()
        with cache_lock:
            result = service.generate(request.document, request.workflow, cache=cache,
                                      formatted=format)
        elapsed_ms = (time.perf_counter() - started) * 1000
        cpu_ms = (time.thread_time() - started_cpu) * 1000
        # Built here (the payload is the model's shape already): skips re-validating a
        # large script on the path the editor calls after every edit.
        return Response(
            json.dumps(result.payload, ensure_ascii=False), status_code=200 if result.ok else 422,
            media_type="application/json",
            headers={"server-timing": f"compile;dur={elapsed_ms:.1f}, cpu;dur={cpu_ms:.1f}"},
        )

    @app.post("/api/upgrade", tags=["compile"], response_model=UpgradeResponse,
              response_model_exclude_unset=True, responses={**_INVALID, **_TOO_LARGE})
    def upgrade(request: UpgradeRequest) -> Any:
        """`catalyst upgrade` of the posted file text: canonical spellings, current models."""
        document, _raw, problems = parse_document(request.text.encode("utf-8", "surrogatepass"))
        if isinstance(document, dict) and (
            refused := too_large(WorkflowRequest(document=document))
        ) is not None:
            return refused
        payload, ok = service.upgrade(request.text, document, problems)
        return payload if ok else JSONResponse(payload, status_code=422)

    @app.post("/api/graph", tags=["compile"],
              responses={200: {"content": {"text/plain": {"schema": {"type": "string"}}},
                               "description": "Mermaid flowchart (or DOT)"},
                         **_INVALID, **_TOO_LARGE})
    def graph(request: GraphRequest) -> Response:
        """The workflow drawn as a Mermaid flowchart (`format: dot` for Graphviz)."""
        if (refused := too_large(request)) is not None:
            return refused
        payload, text = service.graph(request.document, request.workflow, request.format)
        if text is None:
            return JSONResponse(payload, status_code=422)
        return PlainTextResponse(text)

    @app.get("/api/graph", tags=["compile"],
             responses={200: {"content": {"text/plain": {"schema": {"type": "string"}}},
                              "description": "Mermaid flowchart (or DOT)"},
                        404: {"model": Problem}, **_INVALID})
    def graph_of_run(run: str = Query(description="a run id from /api/runs"),
                     format: Literal["mermaid", "dot"] = "mermaid") -> Response:
        """The workflow a stored run ran, drawn (a GET cannot carry a workflow body)."""
        record = runs.get(run)
        if record is None:
            return JSONResponse({"detail": f"no run {run!r}"}, status_code=404)
        payload, text = service.graph(record["document"], record["workflow"], format)
        if text is None:
            return JSONResponse(payload, status_code=422)
        return PlainTextResponse(text)

    @app.post("/api/runs", tags=["runs"],
              responses={200: _SSE, **_INVALID, **_TOO_LARGE,
                         429: {"model": Problem, "description": "too many preview runs"}})
    async def start_run(request: RunRequest) -> Response:
        """Compile the posted workflow and run it once as a preview, streaming its events.

        The run goes on (and is stored) when the client disconnects. Provider calls go
        to Catalyst's local server (canned replies) unless the backend's environment
        holds the provider's key."""
        if (refused := too_large(request)) is not None:
            return refused
        if runs.busy:
            return JSONResponse({"detail": f"{settings.max_active_runs} preview runs are "
                                 "going on; try again when one is done"}, status_code=429)

        def compile_it() -> service.Generated:
            with cache_lock:
                return service.generate(request.document, request.workflow, cache=cache)

        result = await asyncio.to_thread(compile_it)
        if not result.ok or result.plan is None:
            return JSONResponse(result.payload, status_code=422)
        script = result.payload["script"]
        assert isinstance(script, str)
        run_id = runs.start(script=script, plan=result.plan, document=request.document,
                            workflow_id=request.workflow, inputs=request.inputs,
                            time_limit_s=request.time_limit_s)
        return _event_stream(runs, run_id, first={"type": "run_started", "id": run_id})

    @app.get("/api/runs", tags=["runs"], response_model=RunList)
    def list_runs(limit: int = Query(50, ge=1, le=500), offset: int = Query(0, ge=0)) -> Any:
        """Past and running previews, newest first."""
        return {"runs": [_summary_of(r) for r in runs.store.recent(limit, offset)]}

    @app.get("/api/runs/{run_id}", tags=["runs"], response_model=RunRecord,
             responses={404: {"model": Problem}})
    def get_run(run_id: str) -> Any:
        """One run: the workflow it ran, inputs, per-node status, outputs, usage, timings."""
        record = runs.get(run_id)
        if record is None:
            return JSONResponse({"detail": f"no run {run_id!r}"}, status_code=404)
        return record

    @app.get("/api/runs/{run_id}/events", tags=["runs"],
             responses={200: _SSE, 404: {"model": Problem}})
    def run_events(run_id: str) -> Response:
        """A run's events from its start (a finished run: its run_finished event only)."""
        if runs.get(run_id) is None:
            return JSONResponse({"detail": f"no run {run_id!r}"}, status_code=404)
        return _event_stream(runs, run_id)

    app.add_middleware(CORSMiddleware, allow_origins=list(settings.cors_origins),
                       allow_methods=["GET", "POST"],
                       allow_headers=["authorization", "content-type"])
    app.add_middleware(Guard, settings=settings)
    return app


def _summary_of(record: dict[str, Any]) -> dict[str, Any]:
    keep = ("id", "status", "created_at", "finished_at", "workflow", "workflow_name",
            "latency_ms", "usage", "error")
    return {key: record.get(key) for key in keep}


def _event_stream(runs: PreviewRuns, run_id: str,
                  first: dict[str, Any] | None = None) -> StreamingResponse:
    async def frames() -> AsyncIterator[bytes]:
        if first is not None:
            yield _frame(first)
        async for event in runs.events(run_id):
            yield _frame(event)

    return StreamingResponse(frames(), media_type="text/event-stream", headers={
        "cache-control": "no-store", "x-accel-buffering": "no",
        "location": f"/api/runs/{run_id}",
    })


def _frame(event: dict[str, Any]) -> bytes:
    kind = str(event.get("type", "message")).replace("\n", " ")
    data = json.dumps(event, ensure_ascii=False, default=str)
    return f"event: {kind}\ndata: {data}\n\n".encode()


def _graph_size(document: dict[str, Any]) -> tuple[int, int]:
    """Nodes and edges in the document, across a manifest's workflows."""
    graphs: list[Any] = [document]
    workflows = document.get("workflows")
    if isinstance(workflows, dict):
        graphs = list(workflows.values())
    nodes = edges = 0
    for graph in graphs:
        if isinstance(graph, dict):
            nodes += len(graph.get("nodes") or ()) if isinstance(graph.get("nodes"),
                                                                 (list, dict)) else 0
            edges += len(graph.get("edges") or ()) if isinstance(graph.get("edges"),
                                                                 (list, dict)) else 0
    return nodes, edges
