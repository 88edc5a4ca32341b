"""Golden records: every example workflow's generated script, stored as a readable `.py` file.

The snapshots live in `tests/__snapshots__/test_snapshots/` and are meant to be
read in review: a template change shows up as a diff of real Python. Refresh
them with `pytest tests/test_snapshots.py --snapshot-update` and read the diff.

The cases come from the examples folder itself, so a new example (or a new
workflow in a manifest) without a stored snapshot fails here until it has one.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import example_targets, target_id
from syrupy.assertion import SnapshotAssertion
from syrupy.extensions.single_file import SingleFileSnapshotExtension, WriteMode

from catalyst.compiler import compile_file

EXAMPLES = Path(__file__).resolve().parent.parent / "examples" / "workflows"


TARGETS = example_targets()


class PythonSourceSnapshot(SingleFileSnapshotExtension):
    """One snapshot = one `.py` file holding the generated script verbatim."""

    # syrupy 7 reads `file_extension`; 4.x-6.x read `_file_extension`.
    file_extension = "py"
    _file_extension = "py"
    _write_mode = WriteMode.TEXT


@pytest.fixture
def script_snapshot(snapshot: SnapshotAssertion) -> SnapshotAssertion:
    return snapshot.use_extension(PythonSourceSnapshot)


def test_examples_are_found() -> None:
    # A broken glob must not silently turn the snapshot suite into zero cases.
    assert len(TARGETS) >= 8
    assert ("support_triage.json", "triage") in TARGETS
    assert ("support_triage.json", "draft_reply") in TARGETS


# A class, so snapshot files are named `TestGeneratedScript.test_matches_snapshot[…].py`:
# a name starting `test_` would make pytest collect (import) the stored scripts.
class TestGeneratedScript:
    @pytest.mark.parametrize("target", TARGETS, ids=[target_id(t) for t in TARGETS])
    def test_matches_snapshot(
        self, target: tuple[str, str | None], script_snapshot: SnapshotAssertion
    ) -> None:
        name, workflow_id = target
        compiled = compile_file(EXAMPLES / name, workflow_id)
        assert compiled.source == script_snapshot
