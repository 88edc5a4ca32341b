"""Reply text and token counts for every protocol: pure functions of the request.

They read an OpenAI-shaped chat body (`messages`, `max_completion_tokens`,
`stop`, `response_format`); the Anthropic module converts its requests to that
shape first, so one rule counts tokens for all three protocols.

Token rule (deliberately simple, not Groq's tokenizer): a token is a run of
non-whitespace plus the whitespace after it, or a run of leading whitespace
(`re.findall(r"\\S+\\s*|\\s+", text)`). Joining the tokens gives the text back,
which is what lets a stream's deltas concatenate to the full reply.

prompt_tokens = sum over messages of (tokens in the message's text + 4).
The text of a message is its `content` (string, or the `text` of its text
parts); the 4 stand for the role and framing tokens real chat templates add.
completion_tokens = tokens in the reply.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

from catalyst.local_server import scripted
from catalyst.local_server.settings import MockSettings

TOKENS_PER_MESSAGE = 4
DEFAULT_REPLY_PREFIX = "Mock reply to: "
QUOTED_USER_CHARS = 200

_TOKEN = re.compile(r"\S+\s*|\s+")


def tokenize(text: str) -> list[str]:
    return _TOKEN.findall(text)


def count_tokens(text: str) -> int:
    return len(tokenize(text))


def message_text(message: Any) -> str:
    """The text a message carries, whether `content` is a string or a list of parts."""
    if not isinstance(message, dict):
        return ""
    content = message.get("content")
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        texts = [
            part["text"]
            for part in content
            if isinstance(part, dict) and isinstance(part.get("text"), str)
        ]
        return " ".join(texts)
    return ""


def prompt_tokens(messages: list[Any]) -> int:
    return sum(count_tokens(message_text(m)) + TOKENS_PER_MESSAGE for m in messages)


def default_reply(body: dict[str, Any]) -> str:
    """`Mock reply to: ` + the last user message, whitespace-collapsed, first 200 chars."""
    messages = body.get("messages")
    last_user = ""
    if isinstance(messages, list):
        for message in reversed(messages):
            if isinstance(message, dict) and message.get("role") == "user":
                last_user = message_text(message)
                break
    text = DEFAULT_REPLY_PREFIX + " ".join(last_user.split())[:QUOTED_USER_CHARS]
    if _wants_json_object(body):
        return json.dumps({"reply": text})
    return text


def _wants_json_object(body: dict[str, Any]) -> bool:
    response_format = body.get("response_format")
    return (
        isinstance(response_format, dict)
        and response_format.get("type") == "json_object"
    )


@dataclass(frozen=True)
class Completion:
    """The reply the server will send, already cut by `stop` and the token limit."""

    tokens: tuple[str, ...]
    finish_reason: str
    prompt_tokens: int
    # The stop sequence that cut the reply, for Anthropic's `stop_sequence`.
    stop_sequence: str | None = None
    # Tool calls asked for instead of text (OpenAI's wire shape), and reasoning.
    tool_calls: tuple[dict[str, Any], ...] = ()
    reasoning: str | None = None

    @property
    def text(self) -> str:
        return "".join(self.tokens)

    @property
    def completion_tokens(self) -> int:
        return len(self.tokens)

    @property
    def total_tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens


def completion_limit(body: dict[str, Any]) -> int | None:
    """`max_completion_tokens`, or the deprecated `max_tokens` when only that is given."""
    for key in ("max_completion_tokens", "max_tokens"):
        value = body.get(key)
        if isinstance(value, int) and not isinstance(value, bool):
            return value
    return None


def stop_sequences(body: dict[str, Any]) -> list[str]:
    stop = body.get("stop")
    if isinstance(stop, str):
        return [stop] if stop else []
    if isinstance(stop, list):
        return [s for s in stop if isinstance(s, str) and s]
    return []


def build_completion(body: dict[str, Any], settings: MockSettings) -> Completion:
    """Apply the configured reply, then `stop`, then the completion-token limit.
    Tool calls, JSON replies and reasoning as the prompt asks (scripted.py)."""
    messages = body.get("messages")
    prompt = prompt_tokens(messages) if isinstance(messages, list) else 0
    calls = scripted.scripted_tool_calls(body, str(prompt))
    if calls:
        return Completion((), "tool_calls", prompt, tool_calls=tuple(calls))
    reasoning = None
    reply = settings.reply
    if reply is None:
        text = default_reply(body)
        if isinstance(messages, list):
            last, _index = scripted.last_user_text(messages)
            quoted = " ".join(scripted.strip_directives(last).split())[:QUOTED_USER_CHARS]
            text = DEFAULT_REPLY_PREFIX + quoted + scripted.tool_results(messages)
            text = scripted.json_reply(body, text) or text
            reasoning, text = scripted.reasoning_for(body, text)
    elif isinstance(reply, str):
        text = reply
    else:
        text = reply(body)
    finish_reason = "stop"
    matched: str | None = None
    cuts = [(i, s) for s in stop_sequences(body) if (i := text.find(s)) >= 0]
    if cuts:
        cut, matched = min(cuts, key=lambda found: found[0])
        text = text[:cut]
    tokens = tokenize(text)
    limit = completion_limit(body)
    if limit is not None and len(tokens) > limit:
        tokens = tokens[:limit]
        finish_reason = "length"
        matched = None
    return Completion(tuple(tokens), finish_reason, prompt, matched, reasoning=reasoning)
