"""OpenAI's `POST /v1/embeddings`: request checks and the reply body.

`input` is a string, a list of strings, or token arrays (a list of ints, or a
list of those; a token array is embedded as its decimal text). Limits as the
SDK documents them: at most 2,048 inputs, 8,192 tokens per input, 300,000
tokens per request; empty strings rejected. `dimensions` shortens
text-embedding-3-* vectors; `encoding_format` is `float` (the API's default)
or `base64` (the SDK's default: little-endian float32).
"""

from __future__ import annotations

from typing import Any

from catalyst.local_server.catalog import openai_embedding_model
from catalyst.local_server.embeddings import to_base64
from catalyst.local_server.errors import ApiError, invalid_request, model_not_found
from catalyst.local_server.protocol import EmbeddingRequest
from catalyst.local_server.replies import count_tokens

MAX_INPUTS = 2048
MAX_TOKENS_PER_INPUT = 8192
MAX_TOKENS_PER_REQUEST = 300_000
ENCODINGS = ("float", "base64")


def _texts(raw: Any) -> list[str] | ApiError:
    if isinstance(raw, str):
        items: list[Any] = [raw]
    elif isinstance(raw, list) and raw and all(isinstance(x, int) for x in raw):
        items = [raw]  # one token array
    elif isinstance(raw, list):
        items = raw
    else:
        return invalid_request("'$.input' is invalid: expected a string or an array.",
                               param="input")
    if not items:
        return invalid_request("'$.input' is invalid: it must not be empty.", param="input")
    if len(items) > MAX_INPUTS:
        return invalid_request(
            f"'$.input' is too long. Maximum length is {MAX_INPUTS}, but was {len(items)}.",
            param="input",
        )
    texts: list[str] = []
    for index, item in enumerate(items):
        if isinstance(item, list) and item and all(
            isinstance(x, int) and not isinstance(x, bool) for x in item
        ):
            texts.append(" ".join(str(x) for x in item))
        elif isinstance(item, str) and item:
            texts.append(item)
        else:
            return invalid_request(
                f"'$.input[{index}]' is invalid: inputs must be non-empty strings "
                "or token arrays.",
                param="input",
            )
    return texts


def check_embeddings(body: Any) -> EmbeddingRequest | ApiError:
    if not isinstance(body, dict):
        return invalid_request("Request body must be a JSON object.")
    model_id = body.get("model")
    if not isinstance(model_id, str) or not model_id:
        return invalid_request("you must provide a model parameter", param="model")
    if "input" not in body:
        return invalid_request("'input' is a required property", param="input")
    texts = _texts(body["input"])
    if isinstance(texts, ApiError):
        return texts
    encoding = body.get("encoding_format") or "float"
    if encoding not in ENCODINGS:
        return invalid_request(
            f"'{encoding}' is not one of {list(ENCODINGS)} - 'encoding_format'",
            param="encoding_format",
        )
    model = openai_embedding_model(model_id)
    if model is None:
        return model_not_found(model_id)
    dimensions = body.get("dimensions")
    if dimensions is None:
        size = model.dimensions
    elif not model.shortenable:
        return invalid_request(
            "This model does not support specifying dimensions.", param="dimensions"
        )
    elif (
        not isinstance(dimensions, int)
        or isinstance(dimensions, bool)
        or not 1 <= dimensions <= model.dimensions
    ):
        return invalid_request(
            f"Invalid value for 'dimensions' = {dimensions}. "
            f"Must be between 1 and {model.dimensions}.",
            param="dimensions",
        )
    else:
        size = dimensions
    counts = [count_tokens(text) for text in texts]
    for index, count in enumerate(counts):
        if count > MAX_TOKENS_PER_INPUT:
            return invalid_request(
                f"'$.input[{index}]' has {count} tokens; this model's maximum input "
                f"length is {MAX_TOKENS_PER_INPUT} tokens.",
                param="input",
            )
    if sum(counts) > MAX_TOKENS_PER_REQUEST:
        return invalid_request(
            f"Requested {sum(counts)} tokens, max {MAX_TOKENS_PER_REQUEST} tokens per request",
            param="input",
            code="max_tokens_per_request",
        )
    return EmbeddingRequest(model_id, tuple(texts), size, encoding == "base64", sum(counts))


def embeddings_body(request: EmbeddingRequest, vectors: list[list[float]]) -> dict[str, Any]:
    return {
        "object": "list",
        "data": [
            {
                "object": "embedding",
                "index": index,
                "embedding": to_base64(vector) if request.base64 else vector,
            }
            for index, vector in enumerate(vectors)
        ],
        "model": request.model_id,
        "usage": {"prompt_tokens": request.tokens, "total_tokens": request.tokens},
    }
