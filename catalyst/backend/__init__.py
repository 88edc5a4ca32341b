"""`catalyst serve`: the HTTP backend of the visual editor (FastAPI).

The compiler's commands (nodes, validate, generate, upgrade, graph) as JSON
endpoints with the same payloads as `--format json`, preview runs streamed as
server-sent events, and the history of those runs in SQLite or PostgreSQL.
Installed with the `serve` extra: `pip install 'catalyst-workflows[serve]'`.
"""
