"""The request flows every protocol shares: validate, admit (limits and faults), answer.

Protocols only supply the bodies and events, so a fault switch behaves the same
whichever SDK is talking.
"""

from __future__ import annotations

from catalyst.local_server.embeddings import embed
from catalyst.local_server.errors import ApiError, invalid_request, retry_headers
from catalyst.local_server.faults import DropConnection
from catalyst.local_server.protocol import (
    ChatRequest,
    ChatWire,
    CompletionIds,
    EmbeddingWire,
)
from catalyst.local_server.replies import Completion, build_completion
from catalyst.local_server.responder import Responder
from catalyst.local_server.state import Admission


def run_chat(responder: Responder, wire: ChatWire) -> None:
    state, settings = responder.state, responder.settings
    state.enter_chat(settings.hold_until_in_flight)
    try:
        _chat(responder, wire)
    finally:
        state.leave_chat()


def run_embeddings(responder: Responder, wire: EmbeddingWire) -> None:
    state, settings = responder.state, responder.settings
    body = json_body(responder)
    if body is None:
        return
    checked = wire.validate_embeddings(body)
    if isinstance(checked, ApiError):
        refuse_invalid(responder, checked)
        return
    state.enter_chat(settings.hold_until_in_flight)
    try:
        admission = state.admit_chat(
            checked.model_id, checked.tokens, settings, wire.server_statuses
        )
        if answer_refusal(responder, admission, checked.model_id):
            return
        vectors = [embed(text, checked.dimensions) for text in checked.texts]
        responder.pause(settings.latency_ms / 1000)
        headers = wire.rate_headers(admission.rate_headers)
        responder.send_json(200, wire.embeddings_body(checked, vectors), headers=headers)
    finally:
        state.leave_chat()


def json_body(responder: Responder) -> object | None:
    exchange = responder.exchange
    if exchange.body_error is not None or exchange.body is None:
        problem = invalid_request(
            f"Request body is not valid JSON: {exchange.body_error or 'empty body'}"
        )
        responder.send_error(problem)
        return None
    body: object = exchange.body
    return body


def refuse_invalid(responder: Responder, error: ApiError) -> None:
    body = responder.exchange.body
    model_id = body.get("model") if isinstance(body, dict) else None
    headers = error.headers
    settings = responder.settings
    if error.status == 429 and "retry-after" not in headers:
        headers = {
            **headers,
            **retry_headers(
                settings.retry_after_s, settings.retry_after_ms, settings.retry_after_date
            ),
        }
    responder.send_error(error, model_id, extra_headers=headers)


def answer_refusal(responder: Responder, admission: Admission, model_id: str) -> bool:
    """Answer a refused request (dropped socket or error); False when it may go on."""
    if isinstance(admission.refusal, DropConnection):
        responder.drop()
        return True
    if admission.refusal is not None:
        headers = {
            **responder.wire.rate_headers(admission.rate_headers),
            **admission.refusal.headers,
        }
        responder.send_error(admission.refusal, model_id, extra_headers=headers)
        return True
    return False


def _chat(responder: Responder, wire: ChatWire) -> None:
    state, settings = responder.state, responder.settings
    body = json_body(responder)
    if body is None:
        return
    checked = wire.validate_chat(body, settings)
    if isinstance(checked, ApiError):
        refuse_invalid(responder, checked)
        return
    completion = build_completion(checked.reply_input, settings)
    admission = state.admit_chat(
        checked.model_id, completion.total_tokens, settings, wire.server_statuses
    )
    if answer_refusal(responder, admission, checked.model_id):
        return
    ids = CompletionIds(
        f"{wire.completion_prefix}{admission.completion_number}",
        state.next_request_id(),
        checked.model_id,
    )
    headers = {
        **wire.rate_headers(admission.rate_headers),
        wire.request_id_header: ids.request_id,
    }
    if checked.stream:
        _stream(responder, wire, checked, completion, ids, headers)
    else:
        # Same total time as the equivalent stream, so streamed and non-streamed
        # runs of one workflow can be compared fairly.
        gaps = max(0, completion.completion_tokens - 1)
        responder.pause(settings.latency_ms / 1000 + settings.ttft_ms / 1000)
        if settings.tokens_per_second > 0:
            responder.pause(gaps / settings.tokens_per_second)
        body_out = wire.reply_body(ids, checked, completion, settings)
        responder.send_json(200, body_out, headers=headers)


def _stream(
    responder: Responder,
    wire: ChatWire,
    request: ChatRequest,
    completion: Completion,
    ids: CompletionIds,
    headers: dict[str, str],
) -> None:
    settings = responder.settings
    responder.pause(settings.latency_ms / 1000)
    responder.start_stream(headers)
    for event in wire.stream_open(ids, request, completion):
        responder.write_event(event)
    responder.pause(settings.ttft_ms / 1000)
    for index, token in enumerate(completion.tokens):
        if index == settings.cut_stream_after:
            responder.cut_stream()
            return
        if index == settings.stream_error_after:
            responder.write_event(wire.stream_error(_stream_error(wire, index)))
            responder.end_stream()
            return
        if index > 0 and settings.tokens_per_second > 0:
            responder.pause(1 / settings.tokens_per_second)
        responder.write_event(wire.stream_token(ids, request, token))
    for event in wire.stream_close(ids, request, completion, settings):
        responder.write_event(event)
    responder.end_stream()


def _stream_error(wire: ChatWire, after: int) -> ApiError:
    return ApiError(
        wire.stream_error_status,
        "The server had an error while streaming the response "
        f"(injected after {after} chunks).",
        "internal_server_error",
        "stream_error",
    )
