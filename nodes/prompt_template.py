"""promptTemplate: chat messages whose contents are templates."""

from __future__ import annotations

from pydantic import Field

from catalyst.config_types import Message, NodeConfig
from catalyst.registry import NodeType, Port


class PromptTemplateConfig(NodeConfig):
    """Messages to render; contents may use inputs, globals and upstream outputs."""

    messages: list[Message] = Field(
        min_length=1,
        description="Messages in order; each content may use {{ … }} expressions.",
    )


NODE_TYPES = (
    NodeType(
        type="promptTemplate",
        category="llm",
        display_name="Prompt template",
        description="Build chat messages from templates over inputs and upstream outputs.",
        icon="message-square-text",
        color="#6366f1",
        config_model=PromptTemplateConfig,
        template="prompt_template.jinja",
        inputs=(Port("input", "After", "any", "Optional: run after this node."),),
        outputs=(Port("output", "Messages", "messages", "The rendered messages.",
                      field="messages"),),
        output_description="{messages: [{role, content}], text}",
        example={
            "messages": [
                {"role": "system", "content": "You are a careful editor."},
                {"role": "user", "content": "Summarise: {{ input.text }}"},
            ]
        },
    ),
)
