"""One local server for Groq's, OpenAI's and Anthropic's wire protocols (plus Voyage-shaped
embeddings), with deterministic fault injection and request recording.

Paths (base URLs: Groq `http://127.0.0.1:PORT`, OpenAI `.../v1`, Anthropic
`http://127.0.0.1:PORT`, Voyage `.../voyage/v1`):

    Groq       POST /openai/v1/chat/completions   GET /openai/v1/models[/{id}]
               POST /openai/v1/audio/transcriptions, /translations (multipart),
               POST /openai/v1/audio/speech (JSON in, WAV out)
    OpenAI     POST /v1/chat/completions          POST /v1/embeddings
               GET  /v1/models[/{id}]             (Authorization: Bearer)
    Anthropic  POST /v1/messages                  POST /v1/messages/count_tokens
               GET  /v1/models[/{id}]             (anthropic-version + x-api-key)
    Voyage     POST /voyage/v1/embeddings

Switches (fields of MockSettings, the same for every protocol's chat and
embeddings requests): latency_ms, ttft_ms, tokens_per_second, reply, api_key
(else keys starting `bad`/`invalid` get 401), seed, rate_limit_every,
rate_limit_share, retry_after_s / retry_after_ms / retry_after_date,
rate_limit_headers, hold_until_in_flight, server_error_share (Anthropic: 500
or 529), reset_share, cut_stream_after, stream_error_after, rpm_limit,
tpm_limit, fail_models, max_audio_bytes. Every request is recorded without
credentials (`server.requests`, `chat_requests()`, `embedding_requests()`,
`audio_requests()`; an upload as its form fields, the file as name and size).

Layout: a provider-neutral core (server.py, handler.py, responder.py, flows.py,
faults.py, state.py, replies.py, embeddings.py, routing.py, catalog.py) and one
module per protocol under protocols/ that only knows paths, validation,
bodies, SSE framing and error bodies.
"""

from catalyst.local_server.server import LocalServer, MockGroqServer
from catalyst.local_server.settings import MockSettings, RecordedRequest

__all__ = ["LocalServer", "MockGroqServer", "MockSettings", "RecordedRequest"]
