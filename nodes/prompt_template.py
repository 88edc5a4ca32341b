"""promptTemplate: chat messages whose contents are templates."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from pydantic import Field, model_validator
from pydantic_core import PydanticCustomError

from catalyst.config_types import Message, NodeConfig, json_text
from catalyst.diagnostics import Diagnostic, json_pointer
from catalyst.expressions import ROOTS
from catalyst.registry import NodeCheckContext, NodeType, Port
from catalyst.shapes import STRING, array, closed

_MESSAGE = closed({"role": STRING, "content": STRING})


class PromptTemplateConfig(NodeConfig):
    """Messages to render; contents may use inputs, globals, upstream outputs and `variables`.

    The original editor's form (`system`, `template`, `variables`) and the
    message list mean the same: the system message, then `messages`, then
    `template` as the last user message.
    """

    system: str | None = Field(None, description="System message; may use {{ … }} expressions.")
    messages: list[Message] = Field(
        default_factory=list,
        description="Messages in order; each content may use {{ … }} expressions.",
    )
    template: str | None = Field(
        None, description="A user message sent last; may use {{ … }} expressions."
    )
    variables: dict[str, Any] = Field(
        default_factory=dict,
        description="Names for the templates, e.g. {\"topic\": \"{{ input.topic }}\"}: "
        "{{ topic }} then reads it. JSON value or JSON text.",
        examples=[{"topic": "{{ input.topic }}"}],
        json_schema_extra=json_text(),
    )

    @model_validator(mode="after")
    def _something_to_say(self) -> PromptTemplateConfig:
        if not (self.messages or self.template or self.system):
            raise PydanticCustomError(
                "missing_prompt", "nothing to render: give `template` or `messages` (or both)"
            )
        return self


def check(config: PromptTemplateConfig, context: NodeCheckContext) -> Sequence[Diagnostic]:
    problems = []
    for name in config.variables:
        if not name.isidentifier() or name in ROOTS:
            problems.append(Diagnostic(
                "invalid-config",
                f"variable name {name!r} cannot be used in a template",
                context.pointer("variables") + json_pointer(name),
                node_id=context.node_id,
                hint="use a plain name (letters, digits, _), not input, global or nodes",
            ))
    return problems


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
        output_schema=closed({"messages": array(_MESSAGE), "text": STRING}),
        scope_field="variables",
        text_fields=("system", "template"),
        check=check,
        example={
            "system": "You are a careful editor.",
            "template": "Summarise in the tone of {{ tone }}: {{ input.text }}",
            "variables": {"tone": "a haiku"},
        },
    ),
)
