"""The one internal workflow model: both input shapes load into these types.

Nothing after loading knows whether a workflow came from the editor graph or
from a project manifest. Every element remembers its JSON pointer in the source
file so later problems can point back at it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

InputType = Literal["string", "number", "integer", "boolean", "object", "array"]
INPUT_TYPES: tuple[InputType, ...] = ("string", "number", "integer", "boolean", "object", "array")


@dataclass(frozen=True)
class InputSpec:
    """A declared workflow input, as the generated CLI will accept it."""

    name: str
    type: InputType
    required: bool
    description: str
    default: Any = None
    has_default: bool = False
    path: str = ""


@dataclass(frozen=True)
class SecretSpec:
    """A secret the project declares (manifest `secrets`): an environment variable."""

    name: str
    required: bool = True
    description: str = ""


@dataclass(frozen=True)
class Trigger:
    """How a manifest workflow is started (`trigger`): a trigger type and its config."""

    type: str
    config: dict[str, Any]
    path: str


@dataclass(frozen=True)
class Node:
    """A node as drawn: type, label and raw configuration (validated later)."""

    id: str
    type: str
    label: str
    config: dict[str, Any]
    path: str
    config_path: str
    type_version: int = 1
    # Editor run settings (timeout, retries, onError, fallbackValue) kept raw
    # for the node types and validators that understand them.
    settings: dict[str, Any] = field(default_factory=dict)
    # Pointer of the object holding those settings (`data` in an editor graph).
    settings_path: str = ""


@dataclass(frozen=True)
class Edge:
    """A wire between two ports. Handles are None when the editor left them out."""

    id: str | None
    source: str
    target: str
    source_handle: str | None
    target_handle: str | None
    path: str

    @property
    def label(self) -> str:
        return self.id if self.id is not None else f"{self.source}->{self.target}"


@dataclass(frozen=True)
class Workflow:
    """One workflow, normalised."""

    id: str
    name: str
    description: str
    inputs: tuple[InputSpec, ...]
    nodes: tuple[Node, ...]
    edges: tuple[Edge, ...]
    globals: dict[str, Any]
    secrets: tuple[SecretSpec, ...]
    source_name: str
    # sha256 of what the file means (canvas layout left out): see loading.content_digest.
    source_sha256: str
    # Pointer prefix of the workflow inside its file ("" for an editor graph).
    path: str = ""
    output_type: str = "json"
    # How a streamed result goes out: "sse" or "ndjson" (manifest `output.format`).
    output_format: str | None = None
    execution: dict[str, Any] = field(default_factory=dict)
    trigger: Trigger | None = None
    # The project's deployment settings (manifest `config`: runtime, framework, port).
    project_config: dict[str, Any] = field(default_factory=dict)

    def node(self, node_id: str) -> Node | None:
        for node in self.nodes:
            if node.id == node_id:
                return node
        return None
