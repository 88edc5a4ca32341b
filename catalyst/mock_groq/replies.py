"""Old import path; see catalyst.local_server.replies."""

from catalyst.local_server.replies import (
    Completion,
    build_completion,
    count_tokens,
    default_reply,
    message_text,
    prompt_tokens,
    tokenize,
)

__all__ = [
    "Completion",
    "build_completion",
    "count_tokens",
    "default_reply",
    "message_text",
    "prompt_tokens",
    "tokenize",
]
