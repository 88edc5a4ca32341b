"""Voyage's embeddings protocol, served under a prefix: `POST /voyage/v1/embeddings`.

The real endpoint is `https://api.voyageai.com/v1/embeddings`; its path would
collide with OpenAI's `/v1/embeddings`, and both send `Authorization: Bearer`,
so Voyage gets its own prefix (`voyageai.Client(base_url=".../voyage/v1")`)
rather than a guess from body fields. Body: `input` (string or up to 1,000),
`model`, `input_type` (null/query/document: accepted, the vector is the same),
`output_dimension` (256/512/1024/2048, default 1024), `output_dtype` (only
`float` here), `encoding_format` (null or base64), `truncation`. Same vectors as
OpenAI's endpoint for the same text and size. Errors are `{"detail": "..."}`.
"""

from __future__ import annotations

from typing import Any

from catalyst.local_server.catalog import voyage_model
from catalyst.local_server.embeddings import to_base64
from catalyst.local_server.errors import ApiError, invalid_request
from catalyst.local_server.flows import run_embeddings
from catalyst.local_server.protocol import EmbeddingRequest, EmbeddingWire
from catalyst.local_server.replies import count_tokens
from catalyst.local_server.responder import Responder
from catalyst.local_server.settings import VOYAGE_EMBEDDINGS_PATH

MAX_INPUTS = 1000
INPUT_TYPES = (None, "query", "document")


def _texts(raw: Any) -> list[str] | ApiError:
    items = [raw] if isinstance(raw, str) else raw
    if not isinstance(items, list) or not items:
        return invalid_request("input: must be a non-empty string or list of strings.")
    if len(items) > MAX_INPUTS:
        return invalid_request(
            f"The batch size limit is {MAX_INPUTS}. Your batch size is {len(items)}."
        )
    if not all(isinstance(item, str) and item for item in items):
        return invalid_request("input: every item must be a non-empty string.")
    return list(items)


def check_embeddings(body: Any) -> EmbeddingRequest | ApiError:
    if not isinstance(body, dict):
        return invalid_request("Request body must be a JSON object.")
    texts = _texts(body.get("input"))
    if isinstance(texts, ApiError):
        return texts
    model_id = body.get("model")
    model = voyage_model(model_id) if isinstance(model_id, str) else None
    if model is None:
        return invalid_request(f"Model {model_id} is not supported.")
    if body.get("input_type") not in INPUT_TYPES:
        return invalid_request("input_type: must be null, 'query' or 'document'.")
    size = body.get("output_dimension") or model.dimensions
    if size not in model.allowed_dimensions:
        return invalid_request(
            f"output_dimension: {size} is not supported by {model.id}; "
            f"use one of {list(model.allowed_dimensions)}."
        )
    if body.get("output_dtype") not in (None, "float"):
        return invalid_request("output_dtype: the local server returns float vectors only.")
    encoding = body.get("encoding_format")
    if encoding not in (None, "base64"):
        return invalid_request("encoding_format: must be null or 'base64'.")
    tokens = sum(count_tokens(text) for text in texts)
    return EmbeddingRequest(model.id, tuple(texts), size, encoding == "base64", tokens)


class VoyageWire(EmbeddingWire):
    name = "voyage"

    def unauthorized(self) -> ApiError:
        return ApiError(
            401, "Provided API key is invalid.", "authentication_error", "invalid_api_key"
        )

    def error_body(self, error: ApiError, request_id: str) -> dict[str, Any]:
        return {"detail": error.message}

    def handle(self, responder: Responder) -> None:
        exchange = responder.exchange
        if exchange.method == "POST" and exchange.path == VOYAGE_EMBEDDINGS_PATH:
            run_embeddings(responder, self)
        else:
            responder.send_error(ApiError(404, "Not Found", "not_found_error"))

    def validate_embeddings(self, body: Any) -> EmbeddingRequest | ApiError:
        return check_embeddings(body)

    def embeddings_body(
        self, request: EmbeddingRequest, vectors: list[list[float]]
    ) -> dict[str, Any]:
        return {
            "object": "list",
            "data": [
                {
                    "object": "embedding",
                    "embedding": to_base64(vector) if request.base64 else vector,
                    "index": index,
                }
                for index, vector in enumerate(vectors)
            ],
            "model": request.model_id,
            "usage": {"total_tokens": request.tokens},
        }
