"""Config building blocks that several node types share."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_serializer


class NodeConfig(BaseModel):
    """Base for node config models: unknown keys are errors, aliases accepted."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)


class SecretRef(BaseModel):
    """Names the environment variable that holds a secret: `{"$secret": "GROQ_API_KEY"}`.

    Config never holds the secret itself; the generated script reads the
    variable when it runs.
    """

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    env: str = Field(
        alias="$secret",
        pattern=r"^[A-Za-z_][A-Za-z0-9_]*$",
        description="Name of the environment variable holding the secret.",
    )

    @model_serializer
    def _as_reference(self) -> dict[str, Any]:
        return {"$secret": self.env}


class Message(BaseModel):
    """One chat message. Its content may hold `{{ … }}` expressions."""

    model_config = ConfigDict(extra="forbid")

    role: Literal["system", "user", "assistant"] = Field(description="Who speaks.")
    content: str = Field(description="Message text; may use {{ … }} expressions.")
