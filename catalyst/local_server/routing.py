"""Which protocol answers a request: by path, and by headers where paths overlap.

    /openai/v1/...    Groq
    /voyage/v1/...    Voyage
    /compatible/v1/...  an OpenAI-compatible host (OpenAI's wire, any model id)
    /v1/messages...   Anthropic
    other /v1/...     Anthropic when the request carries `anthropic-version` or
                      `x-api-key` (its SDK always sends both), else OpenAI
                      (whose SDK sends `Authorization: Bearer` and neither header)
    anything else     Anthropic by the same headers, else Groq (its unknown-URL 404)
"""

from __future__ import annotations

from catalyst.local_server.exchange import Exchange
from catalyst.local_server.protocol import Wire
from catalyst.local_server.protocols.anthropic import AnthropicWire
from catalyst.local_server.protocols.groq import GroqWire
from catalyst.local_server.protocols.openai import CompatibleWire, OpenAIWire
from catalyst.local_server.protocols.voyage import VoyageWire

GROQ = GroqWire()
OPENAI = OpenAIWire()
ANTHROPIC = AnthropicWire()
VOYAGE = VoyageWire()
COMPATIBLE = CompatibleWire()


def is_anthropic(exchange: Exchange) -> bool:
    return "anthropic-version" in exchange.headers or exchange.api_key is not None


def pick_wire(exchange: Exchange) -> Wire:
    path = exchange.path
    if path.startswith("/openai/"):
        return GROQ
    if path.startswith("/voyage/"):
        return VOYAGE
    if path.startswith("/compatible/"):
        return COMPATIBLE
    if path == "/v1/messages" or path.startswith("/v1/messages/"):
        return ANTHROPIC
    if is_anthropic(exchange):
        return ANTHROPIC
    if path == "/v1" or path.startswith("/v1/"):
        return OPENAI
    return GROQ
