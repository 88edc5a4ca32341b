"""Which model providers a workflow calls, and with which models and keys:
what a generated script's `--check` checks before anything runs.

Read from the planned nodes' configs by the conventions every provider-calling
node type follows (chat nodes, llmRouter, embeddingGenerate): a node that needs
a provider adapter (a `provider:*` runtime part) calls `model` on `provider`
(else on its adapter's own provider) with `api_key` and `base_url`; then each
of `fallback_models` (a model id of the same provider, or `{"provider",
"model", "api_key", "base_url"}`); a router calls each of `models` and its
`fallback_model`. A value still holding an expression is known only at run
time: the use is kept, its model None (not checked).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

from catalyst import provider_models
from catalyst.expressions import is_template
from catalyst.registry import NodeType

UseKind = Literal["chat", "embeddings", "other"]
_PROVIDER_PART = "provider:"


@dataclass(frozen=True)
class ProviderUse:
    """One model a node may call, on one provider, with one key."""

    node_id: str
    # "model" (what the node calls first), "fallback", or "candidate" (a router's).
    role: str
    provider: str
    # None: the config gives it by an expression, known only at run time.
    model: str | None
    # What --check's test call is: a chat completion, an embedding, or none.
    kind: UseKind
    # The variable holding the key (None: the host needs none).
    api_key: str | None
    base_url: str | None

    def to_dict(self) -> dict[str, Any]:
        return {
            "node": self.node_id,
            "role": self.role,
            "provider": self.provider,
            "model": self.model,
            "kind": self.kind,
            "api_key": self.api_key,
            "base_url": self.base_url,
        }


def provider_uses(
    node_id: str, node_type: NodeType, config: Mapping[str, Any]
) -> list[ProviderUse]:
    """The models one node may call, in the order it tries them."""
    parts = node_type.runtime_parts(config)
    adapters = [name[len(_PROVIDER_PART):] for name in parts if name.startswith(_PROVIDER_PART)]
    if not adapters:
        return []
    chat = "chat" in node_type.shared_runtimes
    uses: list[ProviderUse] = []

    def add(role: str, provider: Any, model: Any, api_key: Any, base_url: Any) -> None:
        if not isinstance(provider, str) or provider_models.provider(provider) is None:
            return  # an expression, or a name validation has refused
        known = isinstance(model, str) and not is_template(model)
        uses.append(ProviderUse(
            node_id=node_id,
            role=role,
            provider=provider,
            model=model if known else None,
            kind=_kind(chat, provider, model if known else None),
            api_key=_secret_name(api_key),
            base_url=base_url if isinstance(base_url, str) and not is_template(base_url)
            else None,
        ))

    if isinstance(config.get("models"), list):
        for candidate in config["models"]:
            if isinstance(candidate, Mapping):
                add("candidate", candidate.get("provider"), candidate.get("model"),
                    candidate.get("api_key"), candidate.get("base_url"))
        fallback = config.get("fallback_model")
        if isinstance(fallback, Mapping):
            add("fallback", fallback.get("provider"), fallback.get("model"),
                fallback.get("api_key"), fallback.get("base_url"))
        return uses
    if "model" not in config:
        return uses
    provider = config.get("provider", adapters[0])
    api_key, base_url = config.get("api_key"), config.get("base_url")
    add("model", provider, config["model"], api_key, base_url)
    for fallback in config.get("fallback_models") or ():
        if isinstance(fallback, Mapping):
            add("fallback", fallback.get("provider"), fallback.get("model"),
                fallback.get("api_key"), fallback.get("base_url"))
        else:
            add("fallback", provider, fallback, api_key, base_url)
    return uses


def _kind(chat: bool, provider: str, model: str | None) -> UseKind:
    if chat:
        return "chat"
    found = provider_models.provider(provider)
    if model is not None and provider_models.embedding_model(provider, model) is not None:
        return "embeddings"
    if found is not None and "embeddings" in found.serves:
        return "embeddings"
    return "other"


def _secret_name(value: Any) -> str | None:
    if isinstance(value, Mapping) and isinstance(value.get("$secret"), str):
        return str(value["$secret"])
    return None
