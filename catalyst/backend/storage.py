"""Where preview runs are kept: one small interface, SQLite or PostgreSQL behind it.

A run is a JSON object (see RunRecord in catalyst/backend/models.py); the
stores keep it whole as JSON text with a few columns to list and order by, so
the schema never has to follow the record's fields.
"""

from __future__ import annotations

import json
import sqlite3
import threading
from pathlib import Path
from typing import Any, Protocol

_SCHEMA = """
CREATE TABLE IF NOT EXISTS catalyst_runs (
    id TEXT PRIMARY KEY,
    created_at TEXT NOT NULL,
    status TEXT NOT NULL,
    record TEXT NOT NULL
)
"""


class RunStore(Protocol):
    """Keeps preview runs. Records are JSON-ready dicts with `id`, `created_at`, `status`."""

    def save(self, record: dict[str, Any]) -> None:
        """Insert the run, or replace it when its id is known."""

    def get(self, run_id: str) -> dict[str, Any] | None: ...

    def recent(self, limit: int, offset: int) -> list[dict[str, Any]]:
        """Newest first."""

    def unfinished(self) -> list[dict[str, Any]]:
        """Runs still marked running (after a restart: cut off when the backend stopped)."""

    def close(self) -> None: ...


class SqliteRunStore:
    """Runs in one SQLite file (WAL mode; one connection shared under a lock)."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self._connection = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        with self._lock:
            self._connection.execute("PRAGMA journal_mode=WAL")
            self._connection.execute(_SCHEMA)

    def save(self, record: dict[str, Any]) -> None:
        with self._lock:
            self._connection.execute(
                "INSERT INTO catalyst_runs (id, created_at, status, record) VALUES (?, ?, ?, ?) "
                "ON CONFLICT (id) DO UPDATE SET status = excluded.status, record = excluded.record",
                (record["id"], record["created_at"], record["status"], _dumps(record)),
            )

    def get(self, run_id: str) -> dict[str, Any] | None:
        with self._lock:
            row = self._connection.execute(
                "SELECT record FROM catalyst_runs WHERE id = ?", (run_id,)
            ).fetchone()
        return None if row is None else _loads(row[0])

    def recent(self, limit: int, offset: int) -> list[dict[str, Any]]:
        with self._lock:
            rows = self._connection.execute(
                "SELECT record FROM catalyst_runs ORDER BY created_at DESC, id DESC "
                "LIMIT ? OFFSET ?", (limit, offset),
            ).fetchall()
        return [_loads(row[0]) for row in rows]

    def unfinished(self) -> list[dict[str, Any]]:
        with self._lock:
            rows = self._connection.execute(
                "SELECT record FROM catalyst_runs WHERE status = 'running'"
            ).fetchall()
        return [_loads(row[0]) for row in rows]

    def close(self) -> None:
        with self._lock:
            self._connection.close()


class PostgresRunStore:
    """Runs in a PostgreSQL table (psycopg 3; one connection shared under a lock)."""

    def __init__(self, conninfo: str) -> None:
        import psycopg

        self._lock = threading.Lock()
        self._connection = psycopg.connect(conninfo, autocommit=True)
        with self._lock:
            self._connection.execute(_SCHEMA.replace("record TEXT", "record JSONB"))

    def save(self, record: dict[str, Any]) -> None:
        with self._lock:
            self._connection.execute(
                "INSERT INTO catalyst_runs (id, created_at, status, record) "
                "VALUES (%s, %s, %s, %s::jsonb) ON CONFLICT (id) DO UPDATE "
                "SET status = excluded.status, record = excluded.record",
                (record["id"], record["created_at"], record["status"], _dumps(record)),
            )

    def get(self, run_id: str) -> dict[str, Any] | None:
        with self._lock:
            row = self._connection.execute(
                "SELECT record::text FROM catalyst_runs WHERE id = %s", (run_id,)
            ).fetchone()
        return None if row is None else _loads(row[0])

    def recent(self, limit: int, offset: int) -> list[dict[str, Any]]:
        with self._lock:
            rows = self._connection.execute(
                "SELECT record::text FROM catalyst_runs ORDER BY created_at DESC, id DESC "
                "LIMIT %s OFFSET %s", (limit, offset),
            ).fetchall()
        return [_loads(row[0]) for row in rows]

    def unfinished(self) -> list[dict[str, Any]]:
        with self._lock:
            rows = self._connection.execute(
                "SELECT record::text FROM catalyst_runs WHERE status = 'running'"
            ).fetchall()
        return [_loads(row[0]) for row in rows]

    def close(self) -> None:
        with self._lock:
            self._connection.close()


def open_store(data_dir: Path, database: str | None) -> RunStore:
    """PostgreSQL when `database` is a postgresql:// URL, else SQLite under `data_dir`."""
    if database is not None:
        if not database.startswith(("postgresql://", "postgres://")):
            raise ValueError("--database takes a postgresql:// URL")
        return PostgresRunStore(database)
    return SqliteRunStore(data_dir / "runs.sqlite3")


def _dumps(record: dict[str, Any]) -> str:
    # Strict JSON (PostgreSQL's jsonb refuses NaN); \u0000 is not storable in jsonb text.
    return json.dumps(record, ensure_ascii=False, allow_nan=False, default=str).replace(
        "\\u0000", "\\ufffd"
    )


def _loads(text: str) -> dict[str, Any]:
    value = json.loads(text)
    assert isinstance(value, dict)
    return value
