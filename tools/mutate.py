"""Mutation testing for Catalyst: do the behaviour tests notice a broken runtime?

A small mutator of our own works on the text of the runtime templates
(`templates/*.jinja`, `nodes/*.jinja`) and, with `--area catalyst`, on the
compiler's Python. Each mutant changes one line: an operator swapped, a
constant changed, a statement deleted (replaced by `pass`), a condition
inverted. Every mutant runs the behaviour tests in a private copy of the
repository, with the snapshot tests left out (a snapshot sees any change; the
question is whether a test of *behaviour* does). A mutant is killed when a test
fails, survives when all pass.

    python tools/mutate.py --sample 40 --seed 1 --jobs 2     # a sample, per area
    python tools/mutate.py --list                              # every mutant, not run
    python tools/mutate.py --only nodes/groq_completion.jinja:137   # one line's mutants

Not part of CI: a sample takes minutes. docs/testing.md records the last score.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RUNTIME_TEMPLATES = (
    "templates/runtime.jinja",
    "templates/cli.jinja",
    "templates/expressions.jinja",
    "nodes/groq_completion.jinja",
)
OTHER_TEMPLATES = tuple(
    sorted(
        str(path.relative_to(ROOT))
        for folder in ("templates", "nodes")
        for path in (ROOT / folder).glob("*.jinja")
        if str(path.relative_to(ROOT)) not in RUNTIME_TEMPLATES
    )
)
# Behaviour tests, quickest and most pointed first, so most mutants die early
# (-x stops at the first failure). Snapshots are left out on purpose; so are
# the install test (it builds a wheel) and the compiler's own lint/type checks.
BEHAVIOUR_TESTS = (
    "tests/test_runtime_paths.py",
    "tests/test_production.py",
    "tests/test_batch.py",
    "tests/test_e2e_examples.py",
    "tests/test_expressions.py",
    "tests/test_planning.py",
    "tests/test_validation.py",
    "tests/test_loading.py",
    "tests/test_literals.py",
    "tests/test_identifiers.py",
    "tests/test_properties.py",
    "tests/test_mock_groq.py",
    "tests/test_cli.py",
    "tests/test_generated_quality.py",
)
MUTANT_TIMEOUT_S = 900

# (name, pattern, replacement): one mutant per match of the pattern on a line.
SWAPS: tuple[tuple[str, str, str], ...] = (
    ("==→!=", r"==", "!="),
    ("!=→==", r"!=", "=="),
    ("<=→<", r"<=", "<"),
    (">=→>", r">=", ">"),
    ("<→<=", r"(?<![<\-])<(?![<=])", "<="),
    (">→>=", r"(?<![>\-])>(?![>=])", ">="),
    ("+→-", r"(?<=\s)\+(?=\s)", "-"),
    ("-→+", r"(?<=\s)-(?=\s)", "+"),
    ("*→/", r"(?<=\s)\*(?=\s)", "/"),
    ("/→*", r"(?<=\s)/(?=\s)", "*"),
    ("**→*", r"\*\*", "*"),
    ("+=→-=", r"\+=", "-="),
    ("and→or", r"\band\b", "or"),
    ("or→and", r"\bor\b", "and"),
    ("is not→is", r"\bis not\b", "is"),
    ("is→is not", r"\bis\b(?! not)", "is not"),
    ("not in→in", r"\bnot in\b", "in"),
    ("True→False", r"\bTrue\b", "False"),
    ("False→True", r"\bFalse\b", "True"),
    ("min→max", r"\bmin\(", "max("),
    ("max→min", r"\bmax\(", "min("),
    ("all→any", r"\ball\(", "any("),
    ("any→all", r"\bany\(", "all("),
    ("break→continue", r"^(\s*)break$", r"\1continue"),
    ("continue→break", r"^(\s*)continue$", r"\1break"),
)
NUMBER = re.compile(r"(?<![\w.])(\d+\.\d+|\d+)(?![\w.])")
CONDITION = re.compile(r"^(\s*)(if|elif|while) (.+):$")
SIMPLE_STATEMENT = re.compile(r"^\s*(?!(return|raise|yield|pass|else|elif|except|finally|try|"
                              r"def|class|async def|with|async with|for|async for|if|while|"
                              r"@|import|from)\b)\S")


@dataclass(frozen=True)
class Mutant:
    path: str
    line: int  # 1-based
    kind: str
    before: str
    after: str

    @property
    def name(self) -> str:
        return f"{self.path}:{self.line} {self.kind}"


@dataclass
class Outcome:
    mutant: Mutant
    status: str  # killed | survived | timeout
    seconds: float
    failed_test: str | None


def _code_lines(text: str) -> Iterator[tuple[int, str]]:
    """(index, line) for lines of Python code: not docstrings, comments, Jinja tags."""
    in_docstring = False
    for index, line in enumerate(text.splitlines()):
        stripped = line.strip()
        quotes = stripped.count('"""')
        if in_docstring:
            if quotes % 2 == 1:
                in_docstring = False
            continue
        if stripped.startswith(('"""', 'r"""')):
            if quotes % 2 == 1:
                in_docstring = True
            continue
        if (not stripped or stripped.startswith("#") or "{%" in line or "{#" in line
                or "#}" in line):
            continue
        yield index, line


def _balanced(line: str) -> bool:
    code = re.sub(r"(\"[^\"]*\"|'[^']*')", "", line)
    return all(code.count(a) == code.count(b) for a, b in ("()", "[]", "{}"))


def mutants_of(path: str) -> list[Mutant]:
    text = (ROOT / path).read_text(encoding="utf-8")
    lines = text.splitlines()
    found: list[Mutant] = []

    def add(index: int, kind: str, after: str) -> None:
        if after != lines[index]:
            found.append(Mutant(path, index + 1, kind, lines[index], after))

    for index, line in _code_lines(text):
        code, _, _ = line.partition("  # ")
        for kind, pattern, replacement in SWAPS:
            for match in re.finditer(pattern, code):
                start, end = match.span()
                add(index, kind, line[:start] + match.expand(replacement) + line[end:])
        for match in NUMBER.finditer(code):
            value = match[1]
            changed = str(float(value) * 2) if "." in value else str(int(value) + 1)
            if value == "1":
                changed = "0"
            add(index, f"{value}→{changed}", line[: match.start()] + changed + line[match.end():])
        condition = CONDITION.match(code)
        if condition:
            indent, keyword, test = condition.groups()
            add(index, f"invert {keyword}", f"{indent}{keyword} not ({test}):")
        # Delete a whole one-line statement (kept syntactically valid with pass).
        following = lines[index + 1] if index + 1 < len(lines) else ""
        indent = len(line) - len(line.lstrip())
        next_indent = len(following) - len(following.lstrip())
        statement = SIMPLE_STATEMENT.match(line) or line.lstrip().startswith(("return ", "raise "))
        if (_balanced(line) and not code.rstrip().endswith((":", ",", "\\", "(", "[", "{"))
                and (not following.strip() or next_indent <= indent)
                and statement and not line.lstrip().startswith(("}", ")", "]"))):
            add(index, "delete", " " * indent + "pass")
    return found


def area_of(path: str) -> str:
    if path in RUNTIME_TEMPLATES:
        return "runtime templates"
    if path.endswith(".jinja"):
        return "other templates"
    return "catalyst/"


def _copy_repository(target: Path) -> None:
    ignore = shutil.ignore_patterns(".git", "__pycache__", "*.egg-info", ".mypy_cache",
                                    ".ruff_cache", ".pytest_cache", "build", "dist", "mutants")
    shutil.copytree(ROOT, target, ignore=ignore, symlinks=True)
    # The package installs nodes/ and templates/ as catalyst.nodes and
    # catalyst.templates; in the copy, links make `import catalyst.*` find them.
    (target / "catalyst" / "nodes").symlink_to("../nodes")
    (target / "catalyst" / "templates").symlink_to("../templates")


def _environment(copy: Path) -> dict[str, str]:
    environment = dict(os.environ, PYTHONPATH=str(copy), PYTHONDONTWRITEBYTECODE="1")
    # `catalyst` on PATH must be this interpreter's, i.e. the copy's code.
    environment["PATH"] = str(Path(sys.executable).parent) + os.pathsep + environment["PATH"]
    return environment


def _check_copy(copy: Path) -> None:
    probe = ("import catalyst, importlib.resources as r; "
             "print(catalyst.__file__); print(r.files('catalyst.templates'))")
    shown = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                           env=_environment(copy), cwd=copy, check=True).stdout
    if str(copy) not in shown.split("\n")[0] or "templates" not in shown:
        raise SystemExit(f"the copy does not shadow the installed catalyst:\n{shown}")


def run_mutant(mutant: Mutant, copy: Path, tests: tuple[str, ...]) -> Outcome:
    target = copy / mutant.path
    original = target.read_text(encoding="utf-8")
    lines = original.splitlines(keepends=True)
    ending = "\n" if lines[mutant.line - 1].endswith("\n") else ""
    lines[mutant.line - 1] = mutant.after + ending
    target.write_text("".join(lines), encoding="utf-8")
    started = time.monotonic()
    try:
        completed = subprocess.run(
            [sys.executable, "-m", "pytest", "-x", "-q", "-p", "no:cacheprovider",
             "--timeout", "120", *tests],
            capture_output=True, text=True, env=_environment(copy), cwd=copy,
            timeout=MUTANT_TIMEOUT_S, check=False,
        )
    except subprocess.TimeoutExpired:
        return Outcome(mutant, "timeout", time.monotonic() - started, None)
    finally:
        target.write_text(original, encoding="utf-8")
    seconds = time.monotonic() - started
    if completed.returncode == 0:
        return Outcome(mutant, "survived", seconds, None)
    failed = re.search(r"^FAILED (\S+)", completed.stdout, re.MULTILINE)
    errored = re.search(r"^ERROR (\S+)", completed.stdout, re.MULTILINE)
    culprit = failed or errored
    return Outcome(mutant, "killed", seconds, culprit[1] if culprit else completed.stdout[-200:])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--area", choices=("runtime", "templates", "catalyst", "all"),
                        default="runtime", help="runtime: the four runtime templates "
                        "(default); templates: every .jinja; catalyst: the compiler's Python")
    parser.add_argument("--sample", type=int, default=40, help="mutants to run (0: all)")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--jobs", type=int, default=2, help="mutants run in parallel")
    parser.add_argument("--only", help="PATH[:LINE]: just the mutants of that file or line")
    parser.add_argument("--list", action="store_true", help="list the mutants, run nothing")
    parser.add_argument("--report", type=Path, help="write every outcome as JSON here")
    args = parser.parse_args(argv)

    paths = {
        "runtime": RUNTIME_TEMPLATES,
        "templates": RUNTIME_TEMPLATES + OTHER_TEMPLATES,
        "catalyst": tuple(sorted(str(path.relative_to(ROOT))
                                 for path in (ROOT / "catalyst").rglob("*.py"))),
    }
    paths["all"] = paths["templates"] + paths["catalyst"]
    chosen = list(paths[args.area])
    line_filter: int | None = None
    if args.only:
        only_path, _, only_line = args.only.partition(":")
        chosen = [only_path]
        line_filter = int(only_line) if only_line else None
    mutants = [m for path in chosen for m in mutants_of(path)
               if line_filter is None or m.line == line_filter]
    if args.sample and len(mutants) > args.sample and not args.only:
        mutants = sorted(random.Random(args.seed).sample(mutants, args.sample),
                         key=lambda m: (m.path, m.line))
    if args.list:
        for mutant in mutants:
            print(f"{mutant.name}\n    - {mutant.before.strip()}\n    + {mutant.after.strip()}")
        print(f"{len(mutants)} mutant(s)")
        return 0

    tests = BEHAVIOUR_TESTS
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="catalyst-mutants-") as folder:
        copies = []
        for job in range(max(1, args.jobs)):
            copy = Path(folder) / f"copy{job}"
            _copy_repository(copy)
            _check_copy(copy)
            copies.append(copy)
        free = list(copies)

        def one(mutant: Mutant) -> Outcome:
            copy = free.pop()
            try:
                outcome = run_mutant(mutant, copy, tests)
            finally:
                free.append(copy)
            mark = {"killed": "killed  ", "survived": "SURVIVED", "timeout": "timeout "}
            print(f"{mark[outcome.status]} {outcome.seconds:6.1f}s  {mutant.name}"
                  + (f"  <- {outcome.failed_test}" if outcome.failed_test else ""), flush=True)
            if outcome.status == "survived":
                print(f"    - {mutant.before.strip()}\n    + {mutant.after.strip()}", flush=True)
            return outcome

        print(f"{len(mutants)} mutant(s), {len(copies)} at a time", flush=True)
        with ThreadPoolExecutor(max_workers=len(copies)) as pool:
            outcomes = list(pool.map(one, mutants))

    by_area: dict[str, list[Outcome]] = defaultdict(list)
    for outcome in outcomes:
        by_area[area_of(outcome.mutant.path)].append(outcome)
    print(f"\n{'area':<20} {'killed':>7} {'survived':>9} {'score':>7}")
    for area, items in sorted(by_area.items()):
        killed = sum(item.status != "survived" for item in items)
        print(f"{area:<20} {killed:>7} {len(items) - killed:>9} {killed / len(items):>7.0%}")
    print(f"took {time.monotonic() - started:.0f} s")
    if args.report:
        args.report.write_text(json.dumps(
            [{**asdict(o), "mutant": asdict(o.mutant)} for o in outcomes], indent=1))
    return 1 if any(o.status == "survived" for o in outcomes) else 0


if __name__ == "__main__":
    sys.exit(main())
