"""json_edits: edits land at their pointers and nothing else in the text changes."""

from __future__ import annotations

import copy
import itertools
import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from catalyst.diagnostics import json_pointer
from catalyst.json_edits import (
    MAX_DEPTH,
    Edit,
    JsonDocument,
    RenameKey,
    ReplaceValue,
    apply_edits,
)

# --- RenameKey -------------------------------------------------------------


def test_rename_keeps_position_value_and_surroundings() -> None:
    text = '{"a": 1,  "maxTokens" :\t2, "z": [3]}'
    out = apply_edits(text, [RenameKey("/maxTokens", "max_completion_tokens")])
    assert out == '{"a": 1,  "max_completion_tokens" :\t2, "z": [3]}'


def test_rename_nested_member() -> None:
    text = '{"nodes": [{"id": "n1", "config": {"maxTokens": 5}}]}'
    out = apply_edits(text, [RenameKey("/nodes/0/config/maxTokens", "max_completion_tokens")])
    assert out == '{"nodes": [{"id": "n1", "config": {"max_completion_tokens": 5}}]}'


def test_rename_writes_new_key_as_json_without_ascii_escapes() -> None:
    out = apply_edits('{"a": 1}', [RenameKey("/a", 'say "thé"\n')])
    assert out == '{"say \\"thé\\"\\n": 1}'


def test_rename_to_the_same_key_keeps_the_token_as_written() -> None:
    text = '{"\\u0061": 1}'
    assert apply_edits(text, [RenameKey("/a", "a")]) == text


def test_swapping_two_keys_is_not_a_collision() -> None:
    out = apply_edits('{"a": 1, "b": 2}', [RenameKey("/a", "b"), RenameKey("/b", "a")])
    assert out == '{"b": 1, "a": 2}'


# --- ReplaceValue ------------------------------------------------------------


def test_replace_scalar_values() -> None:
    text = '{"level": "warn", "model": "old-model", "n": 1.0}'
    edits: list[Edit] = [
        ReplaceValue("/level", "warning"),
        ReplaceValue("/model", "new-model"),
        ReplaceValue("/n", None),
    ]
    assert apply_edits(text, edits) == '{"level": "warning", "model": "new-model", "n": null}'


def test_replace_array_item_and_non_ascii_value() -> None:
    assert apply_edits("[1, 2, 3]", [ReplaceValue("/1", "thé")]) == '[1, "thé", 3]'


def test_replace_root_keeps_surrounding_whitespace() -> None:
    assert apply_edits(' \n "x" \n', [ReplaceValue("", [1])]) == " \n [1] \n"


def test_json_text_becomes_a_value_on_one_line_in_a_one_line_document() -> None:
    text = '{"inputs": "{\\"topic\\": \\"tea\\"}", "b": 1}'
    out = apply_edits(text, [ReplaceValue("/inputs", {"topic": "tea"})])
    assert out == '{"inputs": {"topic": "tea"}, "b": 1}'


def test_replaced_container_follows_pretty_layout_of_its_surroundings() -> None:
    text = json.dumps({"a": {"inputs": "{}", "b": [1, 2]}}, indent=2)
    out = apply_edits(text, [ReplaceValue("/a/inputs", {"topic": ["tea"]})])
    expected = {"a": {"inputs": {"topic": ["tea"]}, "b": [1, 2]}}
    assert out == json.dumps(expected, indent=2)


def test_replaced_container_follows_its_own_layout_with_crlf_and_tabs() -> None:
    text = '{\r\n\t"a": [\r\n\t\t1\r\n\t],\r\n\t"b": 2\r\n}\r\n'
    out = apply_edits(text, [ReplaceValue("/a", {"x": [1]})])
    assert out == '{\r\n\t"a": {\r\n\t\t"x": [\r\n\t\t\t1\r\n\t\t]\r\n\t},\r\n\t"b": 2\r\n}\r\n'


def test_rename_and_replace_of_one_member_both_apply() -> None:
    text = '{"maxTokens": "5", "x": 1}'
    edits: list[Edit] = [
        RenameKey("/maxTokens", "max_completion_tokens"),
        ReplaceValue("/maxTokens", 5),
    ]
    assert apply_edits(text, edits) == '{"max_completion_tokens": 5, "x": 1}'


# --- what must survive untouched -----------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        '{"a":1,"b":[true,false,null],"c":{}}',
        '{\r\n\t"a" :  1.0 ,\r\n\t"b": [ 1e3, -0, 1E-2 ],\r\n\t"c": "\\u00e9\\/"\r\n}\r\n',
        "  [ ]  ",
        '{"nan": NaN, "inf": -Infinity}',
    ],
)
def test_no_edits_returns_the_text_unchanged(text: str) -> None:
    assert apply_edits(text, []) == text


def test_text_outside_the_edit_keeps_escapes_numbers_and_spacing() -> None:
    text = '{\r\n\t"\\u00e9" :  1.0,\r\n\t"big": 1e3,  "x" : "old" ,\r\n\t"tail": [1,2 ,3]\r\n}'
    out = apply_edits(text, [ReplaceValue("/x", "new")])
    assert out == text.replace('"old"', '"new"')


# --- pointers ----------------------------------------------------------------


def test_escaped_keys_are_addressed_with_rfc6901_escapes() -> None:
    text = '{"a/b": 1, "m~n": 2, "a\\/c": 3}'
    assert json_pointer("a/b") == "/a~1b"
    edits: list[Edit] = [
        ReplaceValue(json_pointer("a/b"), 10),
        RenameKey(json_pointer("m~n"), "mn"),
        ReplaceValue("/a~1c", 30),
    ]
    assert apply_edits(text, edits) == '{"a/b": 10, "mn": 2, "a\\/c": 30}'


def test_locate_reports_value_and_key_spans() -> None:
    text = '{"a": [10, {"b": "x"}]}'
    doc = JsonDocument(text)
    location = doc.locate("/a/1/b")
    assert text[slice(*location.value_span)] == '"x"'
    assert location.key_span is not None and text[slice(*location.key_span)] == '"b"'
    assert doc.locate("/a/0").key_span is None
    assert doc.locate("").value_span == (0, len(text))


@pytest.mark.parametrize("pointer", ["/missing", "/a/2", "/a/01", "/a/-", "/a/0/x", "/a/x"])
def test_unknown_pointer_is_a_key_error_naming_it(pointer: str) -> None:
    with pytest.raises(KeyError) as raised:
        apply_edits('{"a": [1, 2]}', [ReplaceValue(pointer, 0)])
    assert raised.value.args == (pointer,)


@pytest.mark.parametrize("pointer", ["a", "/a~2", "/a~"])
def test_malformed_pointer_is_a_value_error(pointer: str) -> None:
    with pytest.raises(ValueError, match="pointer"):
        apply_edits('{"a": 1}', [ReplaceValue(pointer, 0)])


# --- refused edits -------------------------------------------------------------


def test_rename_to_an_existing_key_is_refused() -> None:
    with pytest.raises(ValueError, match="already has that key"):
        apply_edits(
            '{"maxTokens": 1, "max_completion_tokens": 2}',
            [RenameKey("/maxTokens", "max_completion_tokens")],
        )


def test_two_renames_to_one_key_are_refused() -> None:
    with pytest.raises(ValueError, match="already has that key"):
        apply_edits('{"a": 1, "b": 2}', [RenameKey("/a", "c"), RenameKey("/b", "c")])


@pytest.mark.parametrize("pointer", ["", "/0"])
def test_renaming_something_without_a_key_is_refused(pointer: str) -> None:
    with pytest.raises(ValueError, match="no key"):
        apply_edits("[1]", [RenameKey(pointer, "x")])


@pytest.mark.parametrize("inner", [ReplaceValue("/a/b", 2), RenameKey("/a/b", "c")])
def test_edits_inside_a_replaced_value_are_refused(inner: Edit) -> None:
    with pytest.raises(ValueError, match="inside the value replaced at '/a'"):
        apply_edits('{"a": {"b": 1}}', [ReplaceValue("/a", {}), inner])


def test_the_same_edit_twice_is_refused() -> None:
    with pytest.raises(ValueError, match="more than one ReplaceValue"):
        apply_edits('{"a": 1}', [ReplaceValue("/a", 2), ReplaceValue("/a", 3)])


# --- duplicate keys --------------------------------------------------------------


def test_duplicate_keys_address_the_last_occurrence_like_json_loads() -> None:
    text = '{"a": {"x": 1}, "a": {"y": 2}}'
    assert apply_edits(text, [ReplaceValue("/a/y", 3)]) == '{"a": {"x": 1}, "a": {"y": 3}}'
    with pytest.raises(KeyError):
        apply_edits(text, [ReplaceValue("/a/x", 3)])


def test_renaming_a_duplicated_key_is_refused() -> None:
    with pytest.raises(ValueError, match="occurs 2 times"):
        apply_edits('{"a": 1, "a": 2}', [RenameKey("/a", "b")])


# --- invalid and hostile input -----------------------------------------------------


@pytest.mark.parametrize(
    "text",
    ["", "[", '{"a" 1}', "[1 2]", '{"a": 1,}', "1 2", "\ufeff{}", "{1: 2}", '"\x01"', "[01]"],
)
def test_invalid_json_is_a_decode_error(text: str) -> None:
    with pytest.raises(json.JSONDecodeError):
        JsonDocument(text)


@pytest.mark.parametrize(("opener", "closer"), [("[", "]"), ('{"a":', "}")])
def test_nesting_is_limited_without_recursion(opener: str, closer: str) -> None:
    JsonDocument(opener * MAX_DEPTH + "0" + closer * MAX_DEPTH)
    with pytest.raises(ValueError, match="nested deeper than"):
        JsonDocument(opener * (MAX_DEPTH + 1) + "0" + closer * (MAX_DEPTH + 1))
    # Far past Python's recursion limit: still the same clear error.
    with pytest.raises(ValueError, match="nested deeper than"):
        JsonDocument(opener * 100_000)


# --- properties ----------------------------------------------------------------------

json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=8),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=5), children, max_size=4)
    ),
    max_leaves=15,
)

STYLES: list[dict[str, Any]] = [
    {"indent": None},
    {"indent": 2},
    {"indent": "\t"},
    {"separators": (",", ":")},
    {"indent": 2, "ensure_ascii": False},
]


def dump(value: Any, style_index: int) -> str:
    style = STYLES[style_index % len(STYLES)]
    text = json.dumps(value, **style)
    # Every other example with Windows line endings (strings escape raw ones).
    return text.replace("\n", "\r\n") if style_index >= len(STYLES) else text


styles = st.integers(0, 2 * len(STYLES) - 1)
Path = tuple[str | int, ...]


def paths(value: Any, prefix: Path = ()) -> list[Path]:
    found = [prefix]
    if isinstance(value, dict):
        for key, child in value.items():
            found += paths(child, (*prefix, key))
    elif isinstance(value, list):
        for index, child in enumerate(value):
            found += paths(child, (*prefix, index))
    return found


def get(value: Any, path: Path) -> Any:
    for part in path:
        value = value[part]
    return value


def reference_edit(value: Any, edits: list[tuple[str, Path, Any]]) -> Any:
    """The edits done on the parsed value; ValueError where apply_edits must refuse."""
    value = copy.deepcopy(value)
    replaced = [path for kind, path, _ in edits if kind == "replace"]
    for _, path, _ in edits:
        if any(len(outer) < len(path) and path[: len(outer)] == outer for outer in replaced):
            raise ValueError("edit inside a replaced value")
    for kind, path, new in edits:
        if kind == "replace":
            if not path:
                return new  # nothing else can be edited (checked above)
            get(value, path[:-1])[path[-1]] = new
    renames: dict[Path, dict[str, str]] = {}
    for kind, path, new in edits:
        if kind == "rename":
            renames.setdefault(path[:-1], {})[str(path[-1])] = new
    # Deepest objects first, so the keys on the way to them are still the original ones.
    for parent_path in sorted(renames, key=len, reverse=True):
        parent = get(value, parent_path)
        renamed = {renames[parent_path].get(key, key): child for key, child in parent.items()}
        if len(renamed) < len(parent):
            raise ValueError("rename collision")
        parent.clear()
        parent.update(renamed)
    return value


@st.composite
def documents_with_edits(draw: st.DrawFn) -> tuple[Any, str, list[tuple[str, Path, Any]]]:
    value = draw(json_values)
    text = dump(value, draw(styles))
    targets = draw(st.lists(st.sampled_from(paths(value)), unique=True, max_size=4))
    edits: list[tuple[str, Path, Any]] = []
    for path in targets:
        in_object = bool(path) and isinstance(get(value, path[:-1]), dict)
        kinds = draw(st.sampled_from(["replace", "rename", "both"] if in_object else ["replace"]))
        if kinds in ("replace", "both"):
            edits.append(("replace", path, draw(json_values)))
        if kinds in ("rename", "both"):
            # Often an existing key of the same object, to provoke collisions and swaps.
            siblings = list(get(value, path[:-1]))
            edits.append(("rename", path, draw(st.sampled_from(siblings) | st.text(max_size=5))))
    return value, text, edits


def to_edits(edits: list[tuple[str, Path, Any]]) -> list[Edit]:
    return [
        ReplaceValue(json_pointer(*path), new)
        if kind == "replace"
        else RenameKey(json_pointer(*path), new)
        for kind, path, new in edits
    ]


@settings(max_examples=150)
@given(json_values, styles)
def test_no_edits_leave_every_style_unchanged(value: Any, style: int) -> None:
    text = dump(value, style)
    assert apply_edits(text, []) == text


@settings(max_examples=150)
@given(json_values, styles)
def test_located_spans_hold_the_values_and_keys(value: Any, style: int) -> None:
    text = dump(value, style)
    doc = JsonDocument(text)
    for path in paths(value):
        location = doc.locate(json_pointer(*path))
        assert json.loads(text[slice(*location.value_span)]) == get(value, path)
        if location.key_span is not None:
            assert json.loads(text[slice(*location.key_span)]) == path[-1]


@settings(max_examples=200)
@given(documents_with_edits())
def test_edits_match_the_same_edits_on_the_parsed_value(
    case: tuple[Any, str, list[tuple[str, Path, Any]]],
) -> None:
    value, text, edits = case
    try:
        expected = reference_edit(value, edits)
    except ValueError:
        with pytest.raises(ValueError):
            apply_edits(text, to_edits(edits))
        return
    assert json.loads(apply_edits(text, to_edits(edits))) == expected


@settings(max_examples=200)
@given(documents_with_edits())
def test_text_outside_the_edited_spans_is_unchanged(
    case: tuple[Any, str, list[tuple[str, Path, Any]]],
) -> None:
    value, text, edits = case
    try:
        reference_edit(value, edits)
    except ValueError:
        return  # refused edits are the other property's business
    doc = JsonDocument(text)
    spans = []
    for kind, path, _ in edits:
        location = doc.locate(json_pointer(*path))
        span = location.value_span if kind == "replace" else location.key_span
        assert span is not None
        spans.append(span)
    out = doc.apply(to_edits(edits))
    if not spans:
        assert out == text
        return
    spans.sort()
    assert out.startswith(text[: spans[0][0]])
    assert out.endswith(text[spans[-1][1] :])
    # The untouched stretches between edits appear in order, each intact.
    position = spans[0][0]
    for (_, end), (next_start, _) in itertools.pairwise(spans):
        gap = text[end:next_start]
        position = out.index(gap, position) + len(gap)
