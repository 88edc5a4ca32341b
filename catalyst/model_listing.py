"""`catalyst models`: Catalyst's model table (catalyst/provider_models.py), and
with `--live` what each provider's `GET /models` says about it now.

The live listing goes through each provider's own SDK, with the key and
address from the provider's variables (GROQ_API_KEY, GROQ_BASE_URL, …). It
never prints a key: a provider's message passes through `printable`, and the
key's own value is cut out of it first.
"""

from __future__ import annotations

import argparse
import os
import re
from dataclasses import dataclass, field
from typing import Any

from catalyst import provider_models
from catalyst.provider_models import PROVIDERS, Provider

# Providers whose API lists no models (Voyage's has only the embeddings endpoint).
UNLISTED_PROVIDERS = frozenset({"voyage"})
LIVE_TIMEOUT_S = 20.0
# A dated snapshot of an alias: claude-haiku-4-5-20251001 for claude-haiku-4-5.
_DATED = re.compile(r"-\d{8}$")


@dataclass
class LiveListing:
    """What one provider's models list said (or why it was not asked)."""

    provider: str
    # listed, key missing, no list, error.
    status: str
    message: str = ""
    ids: list[str] = field(default_factory=list)

    def to_dict(self, rows: list[dict[str, Any]]) -> dict[str, Any]:
        mine = [row for row in rows if row["provider"] == self.provider]
        return {
            "provider": self.provider,
            "status": self.status,
            "message": self.message,
            "listed": len(self.ids) if self.status == "listed" else None,
            "unknown_to_catalyst": [row["id"] for row in mine
                                    if row["status"] == "unknown to Catalyst"],
            "not_listed": [row["id"] for row in mine
                           if row["status"] == "current" and row.get("live") == "not listed"],
        }


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--provider", metavar="NAME",
                        help="one provider: " + ", ".join(p.name for p in PROVIDERS))
    parser.add_argument("--live", action="store_true",
                        help="also ask each provider's GET /models (needs its key variable): "
                        "models the API lists that the table does not know, and table models "
                        "it no longer lists")
    parser.add_argument("--json", action="store_true", help="print JSON for machines")


def table_rows(provider_name: str | None = None) -> list[dict[str, Any]]:
    """Every model of the table (one provider's, or all), current then retired."""
    rows: list[dict[str, Any]] = []
    for found in PROVIDERS:
        if provider_name is not None and found.name != provider_name:
            continue
        for chat in provider_models.chat_models_of(found.name):
            rows.append({
                "provider": found.name, "kind": "chat", "id": chat.id,
                "context_window": chat.context_window,
                "max_output_tokens": chat.max_completion_tokens,
                "usd_per_million_input": chat.usd_per_million_input,
                "usd_per_million_output": chat.usd_per_million_output,
                "requests_per_minute": chat.requests_per_minute,
                "tokens_per_minute": chat.tokens_per_minute,
                "status": "current",
            })
        for embedding in provider_models.embedding_models_of(found.name):
            rows.append({
                "provider": found.name, "kind": "embeddings", "id": embedding.id,
                "context_window": None, "max_output_tokens": None,
                "usd_per_million_input": embedding.usd_per_million,
                "usd_per_million_output": None,
                "requests_per_minute": None, "tokens_per_minute": None,
                "dimensions": embedding.dimensions,
                "status": "current",
            })
        for retired in provider_models.retired_models_of(found.name):
            rows.append({
                "provider": found.name, "kind": "chat", "id": retired.id,
                "context_window": None, "max_output_tokens": None,
                "usd_per_million_input": None, "usd_per_million_output": None,
                "requests_per_minute": None, "tokens_per_minute": None,
                "status": "retired", "replacement": retired.replacement,
                "retired_on": retired.retired_on,
            })
    return rows


def list_live(found: Provider) -> LiveListing:
    """Ask the provider's API which models it serves to this key."""
    if found.name in UNLISTED_PROVIDERS:
        return LiveListing(found.name, "no list", f"{found.label} has no models list")
    key = os.environ.get(found.key_env)
    address = os.environ.get(found.base_url_env)
    if not key:
        if found.key_optional and not address:
            return LiveListing(found.name, "key missing", f"{found.base_url_env} is not set "
                               f"(a local host; {found.key_env} optional): not asked")
        if not found.key_optional:
            return LiveListing(found.name, "key missing", f"{found.key_env} is not set: not asked")
        key = "unused"  # a local host needs no key, but the SDK wants one
    try:
        ids = _fetch_ids(found, key, address or found.base_url)
    except Exception as exc:  # whatever the SDK raises: reported, the table still printed
        message = f"{type(exc).__name__}: {exc}".replace(key, "***")
        return LiveListing(found.name, "error", message)
    return LiveListing(found.name, "listed", f"{found.label} lists {len(ids)} models", ids)


def _fetch_ids(found: Provider, key: str, address: str) -> list[str]:
    if found.sdk == "groq":
        import groq

        with groq.Groq(api_key=key, base_url=address, timeout=LIVE_TIMEOUT_S,
                       max_retries=1) as client:
            return [model.id for model in client.models.list().data]
    if found.sdk == "anthropic":
        import anthropic

        with anthropic.Anthropic(api_key=key, base_url=address, timeout=LIVE_TIMEOUT_S,
                                 max_retries=1) as anthropic_client:
            return [model.id for model in anthropic_client.models.list()]
    import openai

    with openai.OpenAI(api_key=key, base_url=address, timeout=LIVE_TIMEOUT_S,
                       max_retries=1) as openai_client:
        return [model.id for model in openai_client.models.list()]


def merge_live(rows: list[dict[str, Any]], listing: LiveListing) -> list[dict[str, Any]]:
    """The rows of `listing.provider` marked listed / not listed, and a row for
    each id the API lists that the table does not know."""
    if listing.status != "listed":
        return rows
    listed = set(listing.ids)
    known: set[str] = set()
    for row in rows:
        if row["provider"] != listing.provider:
            continue
        dated = {found for found in listed if _DATED.sub("", found) == row["id"]}
        row["live"] = "listed" if row["id"] in listed or dated else "not listed"
        known.add(row["id"])
        known.update(dated)
    for unknown in listing.ids:
        if unknown not in known:
            rows.append({
                "provider": listing.provider, "kind": None, "id": unknown,
                "context_window": None, "max_output_tokens": None,
                "usd_per_million_input": None, "usd_per_million_output": None,
                "requests_per_minute": None, "tokens_per_minute": None,
                "status": "unknown to Catalyst", "live": "listed",
            })
    return rows


def _number(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:g}"
    return f"{value:,}"


def _status(row: dict[str, Any]) -> str:
    if row["status"] == "retired":
        when = f" {row['retired_on']}" if row.get("retired_on") else ""
        return f"retired{when} -> {row['replacement']}"
    return str(row["status"])


def format_table(rows: list[dict[str, Any]], live: bool) -> str:
    headers = ["provider", "kind", "model", "context", "max out", "$/M in", "$/M out", "rpm",
               "tpm", "status"]
    if live:
        headers.append("live")
    lines = []
    for row in rows:
        line = [row["provider"], row["kind"] or "-", row["id"], _number(row["context_window"]),
                _number(row["max_output_tokens"]), _number(row["usd_per_million_input"]),
                _number(row["usd_per_million_output"]), _number(row["requests_per_minute"]),
                _number(row["tokens_per_minute"]), _status(row)]
        if live:
            line.append(row.get("live", "-"))
        lines.append(line)
    widths = [max(len(cell) for cell in column) for column in zip(headers, *lines, strict=False)]
    return "\n".join(
        "  ".join(cell.ljust(width) for cell, width in zip(line, widths, strict=True)).rstrip()
        for line in [headers, *lines]
    )


@dataclass(frozen=True)
class ModelsReport:
    rows: list[dict[str, Any]]
    live: list[dict[str, Any]]
    failed: bool


def models_report(provider_name: str | None, live: bool) -> ModelsReport:
    rows = table_rows(provider_name)
    listings: list[LiveListing] = []
    if live:
        for found in PROVIDERS:
            if provider_name is None or found.name == provider_name:
                listing = list_live(found)
                listings.append(listing)
                rows = merge_live(rows, listing)
    return ModelsReport(rows, [listing.to_dict(rows) for listing in listings],
                        any(listing.status == "error" for listing in listings))
