"""Replies a prompt can ask for: tool calls, JSON of a schema, reasoning.

Deterministic, so tests of tool agents and structured output can say what
the "model" does. In the last user message:

- `[call NAME {"json": "arguments"}]` asks for a call of tool NAME (several
  in one round are parallel calls; arguments that are not JSON are sent as
  they are, for tests of malformed calls);
- `[then]` starts the next round: round k is answered after k rounds of tool
  calls since that user message;
- `[bad json once]` / `[bad schema once]` make the first reply with a JSON
  response format not JSON / not match the schema; the retry is right.

After the last round the reply is the usual `Mock reply to: …` with each
tool result appended (` | NAME: result`), so a test sees what came back.
A json_schema reply is the smallest object the schema allows (first enum
value, "mock" strings, zeros, every required property). With
`include_reasoning` or `reasoning_format: parsed` the message carries
`reasoning`; with `raw` it comes first in the content inside <think>.
"""

from __future__ import annotations

import json
import re
from typing import Any

_DIRECTIVE = re.compile(r"\[call\s+([A-Za-z0-9_-]+)\s*(.*?)\]\s*(?=\[|$)", re.S)


def last_user_text(messages: list[Any]) -> tuple[str, int]:
    """The last user message's text and its index."""
    for index in range(len(messages) - 1, -1, -1):
        message = messages[index]
        if isinstance(message, dict) and message.get("role") == "user":
            content = message.get("content")
            if isinstance(content, list):
                content = " ".join(part["text"] for part in content if isinstance(part, dict)
                                   and isinstance(part.get("text"), str))
            return (content if isinstance(content, str) else ""), index
    return "", -1


def tool_rounds(text: str) -> list[list[tuple[str, str]]]:
    """The rounds of calls a user message asks for: [[(name, arguments), …], …]."""
    rounds = []
    for part in text.split("[then]"):
        calls = [(name, arguments.strip() or "{}") for name, arguments in
                 _DIRECTIVE.findall(part)]
        if calls:
            rounds.append(calls)
    return rounds


def scripted_tool_calls(body: dict[str, Any], ids_prefix: str) -> list[dict[str, Any]]:
    """The calls to answer with now, or [] for a final reply."""
    messages = body.get("messages")
    if not body.get("tools") or not isinstance(messages, list):
        return []
    text, index = last_user_text(messages)
    done = sum(1 for m in messages[index + 1:]
               if isinstance(m, dict) and m.get("role") == "assistant" and m.get("tool_calls"))
    rounds = tool_rounds(text)
    if done >= len(rounds):
        return []
    return [
        {"id": f"call_{ids_prefix}_{done}_{position}", "type": "function",
         "function": {"name": name, "arguments": _arguments(arguments)}}
        for position, (name, arguments) in enumerate(rounds[done])
    ]


def _arguments(text: str) -> str:
    try:
        return json.dumps(json.loads(text), separators=(",", ":"))
    except json.JSONDecodeError:
        return text


def tool_results(messages: list[Any]) -> str:
    """` | NAME: result` for each tool message after the last user message."""
    _text, index = last_user_text(messages)
    names: dict[str, str] = {}
    parts = []
    for message in messages[index + 1:]:
        if not isinstance(message, dict):
            continue
        for call in message.get("tool_calls") or ():
            names[call.get("id", "")] = call.get("function", {}).get("name", "?")
        if message.get("role") == "tool":
            name = names.get(message.get("tool_call_id", ""), "?")
            parts.append(f" | {name}: {message.get('content')}")
    return "".join(parts)


def strip_directives(text: str) -> str:
    return re.sub(r"\[(call\s[^\]]*|then|bad json once|bad schema once)\]", "", text).strip()


def json_reply(body: dict[str, Any], reply: str) -> str | None:
    """The reply for a JSON response format, or None for text."""
    response_format = body.get("response_format")
    if not isinstance(response_format, dict):
        return None
    kind = response_format.get("type")
    raw = body.get("messages")
    messages: list[Any] = raw if isinstance(raw, list) else []
    text, index = last_user_text(messages)
    retried = any(isinstance(m, dict) and m.get("role") == "assistant"
                  for m in messages[index + 1:]) or index < len(messages) - 1
    if "[bad json once]" in text and not retried:
        return "Sure! Here is the JSON: {"
    if kind == "json_object":
        return json.dumps({"reply": reply})
    if kind == "json_schema":
        schema = (response_format.get("json_schema") or {}).get("schema") or {}
        if "[bad schema once]" in text and not retried:
            return json.dumps({"unexpected": True})
        return json.dumps(sample(schema))
    return None


def sample(schema: Any) -> Any:
    """The smallest value the schema allows (first enum value, every required key)."""
    if not isinstance(schema, dict):
        return None
    if "const" in schema:
        return schema["const"]
    if schema.get("enum"):
        return schema["enum"][0]
    for key in ("anyOf", "oneOf"):
        if schema.get(key):
            return sample(schema[key][0])
    kind = schema.get("type")
    if isinstance(kind, list):
        kind = next((k for k in kind if k != "null"), kind[0] if kind else None)
    if kind == "object":
        properties = schema.get("properties") or {}
        return {name: sample(properties.get(name, {})) for name in schema.get("required") or ()}
    if kind == "array":
        return [sample(schema.get("items", {})) for _ in range(schema.get("minItems", 0))]
    if kind == "string":
        return "mock" + "x" * max(0, schema.get("minLength", 0) - 4)
    if kind in ("integer", "number"):
        return schema.get("minimum", 0)
    if kind == "boolean":
        return False
    return None


def reasoning_for(body: dict[str, Any], reply: str) -> tuple[str | None, str]:
    """(reasoning returned apart, the reply text) for the request's reasoning settings."""
    thinking = "Thinking about: " + reply.removeprefix("Mock reply to: ")[:80]
    if body.get("reasoning_format") == "raw":
        return None, f"<think>{thinking}</think>{reply}"
    if body.get("include_reasoning") is True or body.get("reasoning_format") == "parsed":
        return thinking, reply
    return None, reply
