"""groqCompletion: one chat completion from Groq, optionally streamed."""

from __future__ import annotations

from pydantic import Field

from catalyst.config_types import SecretRef
from catalyst.groq_models import DEFAULT_CHAT_MODEL, chat_model_ids
from catalyst.nodes.chat_nodes import ChatConfig, chat_api_key, chat_node_type, completion_output


class GroqCompletionConfig(ChatConfig):
    """Settings of one Groq chat completion."""

    model: str = Field(
        DEFAULT_CHAT_MODEL,
        description="Groq model id.",
        json_schema_extra={"examples": chat_model_ids()},
    )
    seed: int | None = Field(None, description="Seed for best-effort determinism.")
    api_key: SecretRef = chat_api_key("groq", "Groq")


NODE_TYPES = (
    chat_node_type(
        type_name="groqCompletion",
        display_name="Groq completion",
        description="Chat completion on Groq's LPU inference, with token streaming.",
        color="#f55036",
        config_model=GroqCompletionConfig,
        template="groq_completion.jinja",
        provider="groq",
        output_schema=completion_output(),
        output_description=(
            "{content, finish_reason, model, provider, usage: {prompt_tokens, "
            "completion_tokens, total_tokens}, cost_usd, latency_ms, fallbacks?}"
        ),
        example={
            "model": DEFAULT_CHAT_MODEL,
            "system_prompt": "You are concise.",
            "prompt": "Summarise: {{ input.text }}",
            "temperature": 0.2,
            "stream": True,
        },
    ),
)
