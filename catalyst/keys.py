"""API keys pasted where they do not belong: how to spot them and how to print them.

Workflow files are shared, committed and pasted into issues, so a key in one
leaks with every copy. Catalyst refuses them and never repeats one in full:
whatever it prints about a key shows only its provider prefix.
"""

from __future__ import annotations

import re

# Groq (gsk_), Anthropic (sk-ant-), OpenAI project and classic keys (sk-proj-, sk-).
# A key is a prefix plus a long run of key characters; a short `sk-1` is not one.
_KEY = re.compile(r"(?P<prefix>gsk_|sk-ant-|sk-proj-|sk-)[A-Za-z0-9_\-]{16,}")

PROVIDERS = {"gsk_": "Groq", "sk-ant-": "Anthropic", "sk-proj-": "OpenAI", "sk-": "OpenAI"}


def find_key(text: str) -> str | None:
    """The provider whose key `text` seems to contain, or None."""
    match = _KEY.search(text)
    return PROVIDERS[match["prefix"]] if match else None


def looks_like_key(text: str) -> bool:
    return _KEY.search(text) is not None


def redact(text: str) -> str:
    """`text` with anything that looks like a key cut to its prefix: `gsk_…`."""
    return _KEY.sub(lambda match: match["prefix"] + "…", text)
