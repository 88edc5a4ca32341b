"""The compiler's own code: mypy strict and ruff, as CI should hold it."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def _run(*command: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", *command], cwd=ROOT, capture_output=True, text=True, check=False
    )


@pytest.mark.slow
def test_catalyst_passes_mypy_strict() -> None:
    result = _run("mypy", "--no-incremental")
    assert result.returncode == 0, result.stdout + result.stderr


def test_catalyst_passes_ruff() -> None:
    result = _run("ruff", "check", "--no-cache", "catalyst", "nodes", "bench", "tests")
    assert result.returncode == 0, result.stdout + result.stderr
