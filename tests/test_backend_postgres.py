"""Run history in PostgreSQL (`catalyst serve --database postgresql://…`).

A throwaway server: initdb into a temporary directory, pg_ctl start on a free
loopback port, deleted at the end (as root, PostgreSQL runs as `nobody`: it
refuses root). Skipped when the PostgreSQL binaries or psycopg are missing.
"""

from __future__ import annotations

import json
import os
import pwd
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from backend_server import Served, free_port
from conftest import EXAMPLES

pytestmark = pytest.mark.e2e

psycopg = pytest.importorskip("psycopg")


@pytest.fixture(scope="module")
def postgres_url() -> Iterator[str]:
    pg_ctl = shutil.which("pg_ctl")
    if pg_ctl is None or shutil.which("initdb") is None:
        pytest.skip("PostgreSQL binaries (initdb, pg_ctl) are not on PATH")
    options: dict[str, Any] = {}
    base = tempfile.mkdtemp(prefix="catalyst-pg-")
    if os.geteuid() == 0:
        account = pwd.getpwnam("nobody")
        options = {"user": account.pw_uid, "group": account.pw_gid}
        os.chown(base, account.pw_uid, account.pw_gid)
    data = Path(base) / "data"
    port = free_port()

    def run(*command: str) -> None:
        subprocess.run(command, check=True, capture_output=True, timeout=120, cwd=base,
                       **options)

    try:
        run("initdb", "-D", str(data), "-U", "postgres", "-A", "trust")
        run("pg_ctl", "start", "-D", str(data), "-w", "-t", "60", "-l", f"{base}/log",
            "-o", f"-p {port} -k {base} -c listen_addresses=127.0.0.1")
        yield f"postgresql://postgres@127.0.0.1:{port}/postgres"
    finally:
        subprocess.run(["pg_ctl", "stop", "-D", str(data), "-m", "immediate", "-w"],
                       capture_output=True, timeout=60, cwd=base, **options)
        shutil.rmtree(base, ignore_errors=True)


def test_store_round_trip(postgres_url: str) -> None:
    from catalyst.backend.storage import PostgresRunStore

    store = PostgresRunStore(postgres_url)
    try:
        first = {"id": "a", "created_at": "2026-01-01T00:00:00", "status": "running",
                 "nodes": {"n": {"status": "running"}}, "note": "nul \u0000 and ü"}
        store.save(first)
        store.save({**first, "id": "b", "created_at": "2026-01-02T00:00:00"})
        store.save({**first, "status": "succeeded"})
        assert store.get("a")["status"] == "succeeded"  # type: ignore[index]
        assert store.get("a")["note"] == "nul \ufffd and ü"  # type: ignore[index]
        assert [r["id"] for r in store.recent(10, 0)][:2] == ["b", "a"]
        assert store.get("missing") is None
    finally:
        store.close()


def test_serve_keeps_runs_in_postgres_across_a_restart(postgres_url: str, tmp_path: Path) -> None:
    document = json.loads((EXAMPLES / "summarize.json").read_text())
    body = {"document": document, "inputs": {"text": "kept in PostgreSQL"}}
    with Served(tmp_path, "--database", postgres_url) as first:
        with first.client.stream("POST", "/api/runs", json=body) as response:
            lines = [line for line in response.iter_lines() if line.startswith("data: ")]
        run_id = json.loads(lines[0][len("data: "):])["id"]
        before = first.client.get(f"/api/runs/{run_id}").json()
    assert before["status"] == "succeeded"
    assert not (tmp_path / "runs.sqlite3").exists()
    with Served(tmp_path, "--database", postgres_url) as second:
        assert second.client.get(f"/api/runs/{run_id}").json() == before
