"""Runs one generated script for a preview and prints its events as JSON lines.

Copied next to the script and run as `python -I preview_runner.py SCRIPT` in a
child process (so a preview cannot take down the backend, and is killed at its
time limit). It imports nothing from Catalyst: only the script. Inputs arrive
as a JSON object on stdin: never as command-line `@file` arguments, so a
preview cannot make the script read a local file.

Output: one JSON object per line, the script's own events (node_started,
token, node_finished, node_failed, node_skipped, workflow_finished,
workflow_failed) plus `node_output` (a node's output, when the script's
runtime lets the runner see it) and `input_error`.
"""

from __future__ import annotations

import asyncio
import importlib.util
import json
import math
import sys
from typing import Any

MAX_INPUT_BYTES = 1_000_000


def _jsonable(value: Any) -> Any:
    """Strict JSON: NaN and infinities become strings, anything else odd its str()."""
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    if isinstance(value, dict):
        return {str(key): _jsonable(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(item) for item in value]
    if value is None or isinstance(value, (str, int, float, bool)):
        return value
    return str(value)


def _emit(event: dict[str, Any]) -> None:
    sys.stdout.write(json.dumps(_jsonable(event), ensure_ascii=False, allow_nan=False) + "\n")
    sys.stdout.flush()


def main() -> int:
    raw = sys.stdin.buffer.read(MAX_INPUT_BYTES + 1)
    try:
        inputs = json.loads(raw)
        if not isinstance(inputs, dict):
            raise ValueError("inputs must be a JSON object")
    except ValueError as exc:
        _emit({"type": "input_error", "error": str(exc)})
        return 2
    spec = importlib.util.spec_from_file_location("catalyst_preview", sys.argv[1])
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    run_class = getattr(module, "Run", None)
    finish = getattr(run_class, "_finish", None)
    if finish is not None:
        def _finish(self: Any, step: Any, output: Any, stats: dict[str, Any]) -> None:
            _emit({"type": "node_output", "node": step.id, "output": output})
            finish(self, step, output, stats)

        run_class._finish = _finish  # type: ignore[union-attr]
    try:
        module.check_inputs(inputs)
    except module.InputError as exc:
        _emit({"type": "input_error", "error": str(exc)})
        return 2
    try:
        asyncio.run(module.run_workflow(inputs, on_event=_emit))
    except module.WorkflowError:
        return 1  # run_workflow has emitted workflow_failed
    return 0


if __name__ == "__main__":
    sys.exit(main())
