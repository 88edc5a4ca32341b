"""FormatCache (the editor backend's incremental formatting) gives the same bytes.

`format_parts(parts, cache)` formats a workflow's own parts block by block and
reuses blocks it has formatted before; the script must be byte for byte what
`format_parts(parts)` (black on each part whole) gives, cold and warm, before
and after an edit.
"""

from __future__ import annotations

import copy
import json
import sys
from pathlib import Path
from typing import Any

import pytest
from conftest import EXAMPLES, example_targets, target_id

from catalyst.formatting import FormatCache, format_parts, format_source, top_level_blocks
from catalyst.loading import load_document
from catalyst.planning import plan_workflow
from catalyst.rendering import Part, render_parts
from catalyst.validation import check_workflow

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "bench"))
from codegen import build_workflow


def _parts(document: Any, workflow_id: str | None = None) -> list[Part]:
    loaded = load_document(document, source_name="w.json", workflow_id=workflow_id)
    assert loaded.workflow is not None, loaded.diagnostics
    checked = check_workflow(loaded.workflow)
    assert checked.ok, checked.diagnostics
    return render_parts(plan_workflow(checked))


@pytest.mark.parametrize("target", example_targets(), ids=target_id)
def test_examples_same_bytes_with_cache(target: tuple[str, str | None]) -> None:
    name, workflow_id = target
    parts = _parts(json.loads((EXAMPLES / name).read_text()), workflow_id)
    cache = FormatCache()
    expected = format_parts(parts)
    assert format_parts(parts, cache) == expected  # cold
    assert format_parts(parts, cache) == expected  # warm
    assert cache.hits > 0


def test_large_workflow_edit_same_bytes_and_reuses_blocks() -> None:
    document = build_workflow(100)
    cache = FormatCache()
    assert format_parts(_parts(document), cache) == format_parts(_parts(document))
    edited = copy.deepcopy(document)
    node = next(n for n in edited["nodes"] if n["type"] == "groqCompletion")
    node["data"]["config"]["systemPrompt"] += " Edited."
    node["data"]["label"] += " (edited)"
    misses = cache.misses
    parts = _parts(edited)
    assert format_parts(parts, cache) == format_parts(parts)
    # the node's function and its row of the step table; the rest is reused
    assert cache.misses - misses <= 3
    # a label too long for one line: black wraps its step row, row by row the same
    node["data"]["label"] = "A very long label " * 12 + "with 'quotes' and (brackets],"
    parts = _parts(edited)
    assert format_parts(parts, cache) == format_parts(parts)


@pytest.mark.parametrize("text", [
    "STEPS = (\n    Step('a', 'A', f),\n    Step('b', 'B', g, links={'x': (Link('a'),)}),\n)\n"
    "# result\nSINKS: tuple[str, ...] = ('b',)\n",
    "X = [\n    1,\n    2,\n]\n",
    "X = {\n    'a': 1,\n    'b': 2,\n}\n",
    "X = (\n    1, 2,\n    3,\n)\n",
    "X = (\n    'a' 'b',\n    'c',\n)\n\nY = 1\n",
    "X = (\n    (1,\n    2),\n)\n",
    "X = (\n    " + ", ".join(f"'item{i}'" for i in range(30)) + ",\n    2,\n)\n",
])
def test_collections_item_by_item_same_as_black(text: str) -> None:
    assert FormatCache().format_part(text) == format_source(text)


def test_cache_is_bounded() -> None:
    cache = FormatCache(size=2)
    for index in range(5):
        cache.format(f"x = {index}\n")
    assert len(cache._formatted) == 2
    by_size = FormatCache(max_chars=110)  # 52 characters an entry
    for index in range(5):
        by_size.format(f"x = {'1' * 20}{index}\n")
    assert by_size._chars <= 110 and len(by_size._formatted) == 2


def test_blocks_split_at_top_level_definitions() -> None:
    text = "import os\n\nX = 1\n\n\n# about f\ndef f(\n    a,\n):\n    return a\n\n\nY = (\n    1,\n)\n"
    blocks = top_level_blocks(text)
    assert blocks == ["import os\n\nX = 1\n\n\n", "# about f\ndef f(\n    a,\n):\n    return a\n\n\n",
                      "Y = (\n    1,\n)\n"]


def test_a_split_inside_a_string_falls_back_to_the_whole_part() -> None:
    text = 'X = """\n\ndef not_code():\n"""\n\n\ndef f():\n    return X\n'
    cache = FormatCache()
    assert cache.format_part(text) == format_source(text)


@pytest.mark.parametrize("header", [
    "# plain\n# two\nimport os\n",
    "#no space\nimport os\n",
    "# fmt: off\nimport os\n",
    "# trailing  \nimport os\n",
    "# ok\n\nimport os\n",
])
def test_leading_comments_same_as_black(header: str) -> None:
    assert FormatCache().format_part(header + "x=1\n") == format_source(header + "x=1\n")
