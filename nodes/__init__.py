"""Node type definitions: one module per node type (or family), plus its template.

Installed as `catalyst.nodes`. Each module exports `NODE_TYPES`, a tuple of
`catalyst.registry.NodeType`; each names a Jinja template beside it that
defines the macro `runtime(plan)`, the code the generated script needs for that
type.
"""
