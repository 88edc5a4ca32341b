"""`catalyst`: the command line for pipeline authors, the editor backend and CI.

Exit codes: 0 success; 1 `check` found stale code or `run` failed; 2 the
workflow or the command line is wrong. Expected failures print a report,
never a traceback.
"""

from __future__ import annotations

import argparse
import difflib
import hashlib
import importlib.metadata
import json
import os
import re
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from catalyst import __version__, model_listing, usage_report
from catalyst.backend import serve as serve_cli
from catalyst.compiler import Compiled, check_file, compile_checked
from catalyst.diagnostics import MAX_REPORTED, Diagnostic, format_text, sort_key
from catalyst.formatting import format_source
from catalyst.graph import GRAPH_FORMATS, render_graph
from catalyst.identifiers import snake_case
from catalyst.loading import document_shape, read_document, workflow_ids
from catalyst.local_server import cli as mock_cli
from catalyst.planning import Plan
from catalyst.provider_models import PROVIDERS, Provider
from catalyst.registry import node_types
from catalyst.rendering import render_app, served_routes
from catalyst.terminal import printable, printable_json
from catalyst.upgrade import upgrade_text
from catalyst.writing import write_atomically

EXIT_OK, EXIT_FAILED, EXIT_INVALID = 0, 1, 2
# A bug in Catalyst itself (sysexits' EX_SOFTWARE): never mistaken for bad input.
EXIT_INTERNAL = 70
# Module names a script in the same folder must not take: the standard library
# and what generated scripts import.
_SHADOWED = frozenset(sys.stdlib_module_names) | {
    "groq", "httpx", "jinja2", "aiolimiter", "anyio", "pydantic", "markupsafe", "sniffio",
}


@dataclass(frozen=True)
class Target:
    """One workflow to act on: a file, and the workflow inside it for manifests."""

    path: Path
    workflow_id: str | None

    @property
    def name(self) -> str:
        return f"{self.path}#{self.workflow_id}" if self.workflow_id else str(self.path)

    def script_name(self) -> str:
        """File name for the generated script, stable for `check`."""
        stem = self.path.stem
        if self.workflow_id:
            readable = snake_case(self.workflow_id) or "workflow"
            stem += "." + readable
            if readable != self.workflow_id:
                # Ids that read alike ("a-b", "a_b") must not share a file.
                stem += "-" + hashlib.sha256(self.workflow_id.encode()).hexdigest()[:6]
        if stem in _SHADOWED:
            # `python copy.py` puts copy.py first on sys.path, where it would
            # stand in for the module every script imports.
            stem += "_workflow"
        return stem + ".py"


@dataclass
class Report:
    """Diagnostics gathered across targets, printed once in the chosen format."""

    format: str
    diagnostics: list[tuple[Target, Diagnostic]]

    def add(self, target: Target, diagnostics: Sequence[Diagnostic]) -> None:
        self.diagnostics.extend((target, d) for d in diagnostics)

    @property
    def has_errors(self) -> bool:
        return any(d.is_error for _, d in self.diagnostics)

    def payload(self, extra: dict[str, object] | None = None) -> dict[str, object]:
        """The `--format json` report (the editor backend answers with the same)."""
        ordered = sorted(self.diagnostics, key=lambda item: (item[0].name, sort_key(item[1])))
        payload: dict[str, object] = {
            "valid": not self.has_errors,
            "diagnostics": [
                {"source": str(t.path), "workflow": t.workflow_id, **d.to_dict()}
                for t, d in ordered[:MAX_REPORTED]
            ],
        }
        if len(ordered) > MAX_REPORTED:
            payload["more"] = len(ordered) - MAX_REPORTED
        payload.update(extra or {})
        return payload

    def emit(self, extra: dict[str, object] | None = None, *, quiet_if_clean: bool = False) -> None:
        if self.format == "json":
            print(json_text(self.payload(extra)))
            return
        if quiet_if_clean and not self.diagnostics:
            return
        by_target: dict[str, list[Diagnostic]] = {}
        for target, diagnostic in self.diagnostics:
            by_target.setdefault(target.name, []).append(diagnostic)
        for name, diagnostics in by_target.items():
            print(format_text(diagnostics, name), file=sys.stderr)


def json_text(payload: object) -> str:
    """JSON for stdout: characters that could drive a terminal stay escaped."""
    return printable_json(payload)


def error(message: str) -> None:
    """One line on stderr, safe to print whatever the user's files hold."""
    print(printable(f"error: {message}"), file=sys.stderr)


def _targets(
    paths: Sequence[str], workflow_id: str | None, *, every_workflow: bool
) -> list[Target]:
    """Expand directories to their *.json files and manifests to their workflows."""
    targets: list[Target] = []
    for raw in paths:
        path = Path(raw)
        files = sorted(path.glob("*.json")) if path.is_dir() else [path]
        for file in files:
            if workflow_id is None and every_workflow and file.exists():
                document, _, problems = read_document(file)
                ids = workflow_ids(document)
                if not problems and document_shape(document) == "manifest" and ids:
                    targets.extend(Target(file, wid) for wid in ids)
                    continue
            targets.append(Target(file, workflow_id))
    return targets


def _compile(target: Target, report: Report) -> Compiled | None:
    checked, diagnostics = check_file(target.path, target.workflow_id)
    report.add(target, diagnostics)
    if checked is None or any(d.is_error for d in diagnostics):
        return None
    return compile_checked(checked)


# -- catalyst nodes ---------------------------------------------------------------


def cmd_nodes(args: argparse.Namespace) -> int:
    catalog = node_types()
    if args.type is not None and args.type not in catalog:
        error(f"unknown node type {args.type!r}; known: {', '.join(catalog)}")
        return EXIT_INVALID
    chosen = [catalog[args.type]] if args.type else list(catalog.values())
    if args.format == "json":
        entries = [node_type.catalog_entry() for node_type in chosen]
        print(json.dumps(entries[0] if args.type else entries, indent=2, ensure_ascii=False))
        return EXIT_OK
    for node_type in chosen:
        entry = node_type.catalog_entry()
        ports_in = ", ".join(f"{p['id']}:{p['type']}" for p in entry["inputs"]) or "-"
        ports_out = ", ".join(f"{p['id']}:{p['type']}" for p in entry["outputs"]) or "-"
        streaming = "  streams" if node_type.supports_streaming else ""
        print(f"{node_type.type:<20} {node_type.category:<10} in [{ports_in}]  "
              f"out [{ports_out}]{streaming}")
        if args.type:
            print(f"\n{node_type.description}\n\nconfig:")
            schema = entry["configSchema"]
            required = set(schema.get("required", []))
            for name, prop in schema.get("properties", {}).items():
                default = f" = {json.dumps(prop['default'])}" if "default" in prop else ""
                flag = " (required)" if name in required else ""
                print(f"  {name}{default}{flag}: {prop.get('description', '')}")
                spellings = [*prop.get("x-aliases", []), *(
                    f"{old!r} for {new!r}" for old, new in prop.get("x-value-aliases", {}).items()
                )]
                if prop.get("x-json-text"):
                    spellings.append("JSON text")
                if spellings:
                    print(f"      also accepted: {', '.join(spellings)}")
            print(f"\noutput: {node_type.output_description}")
            print(f"example config: {json.dumps(node_type.example, ensure_ascii=False)}")
    return EXIT_OK


# -- catalyst validate ------------------------------------------------------------


def cmd_validate(args: argparse.Namespace) -> int:
    report = Report(args.format, [])
    targets = _targets(args.paths, args.workflow, every_workflow=True)
    if not targets:
        # Nothing to check is not "all valid": a CI job pointed at the wrong folder.
        error(f"no workflow files (*.json) in {', '.join(args.paths)}")
        return EXIT_INVALID
    for target in targets:
        _, diagnostics = check_file(target.path, target.workflow_id)
        report.add(target, diagnostics)
    report.emit()
    warnings = any(not d.is_error for _, d in report.diagnostics)
    failed = report.has_errors or (args.strict and warnings)
    if args.format == "text" and not report.diagnostics:
        print(f"ok: {len(targets)} workflow(s) valid", file=sys.stderr)
    return EXIT_INVALID if failed else EXIT_OK


# -- catalyst generate --------------------------------------------------------------


def cmd_generate(args: argparse.Namespace) -> int:
    if args.app:
        return _generate_app(args)
    report = Report(args.format, [])
    source = Path(args.path)
    many = source.is_dir()
    targets = _targets([args.path], args.workflow, every_workflow=many)
    # -o names a folder when generating a folder, when it is one, or ends in "/".
    into_folder = args.output is not None and (
        many or Path(args.output).is_dir() or args.output.endswith(("/", os.sep))
    )
    if many and not args.output:
        error("generating a folder needs -o FOLDER")
        return EXIT_INVALID
    if not targets:
        error(f"no workflow files (*.json) in {source}")
        return EXIT_INVALID
    compiled = [(target, _compile(target, report)) for target in targets]
    if report.has_errors:
        report.emit()
        return EXIT_INVALID  # nothing written: all or nothing
    outputs: dict[Path, str] = {}
    owners: dict[Path, str] = {}
    requirements: set[str] = set()
    for target, result in compiled:
        assert result is not None
        requirements.update(result.plan.dependencies)
        if args.output:
            out = Path(args.output)
            path = out / target.script_name() if into_folder else out
            if path in owners:
                error(f"{owners[path]} and {target.name} would both be written to {path}")
                return EXIT_INVALID
            owners[path] = target.name
            outputs[path] = result.source
    if args.requirements:
        outputs[Path(args.requirements)] = "".join(f"{r}\n" for r in sorted(requirements))
    try:
        for path, text in outputs.items():
            write_atomically(path, text)
    except OSError as exc:
        error(f"cannot write {exc.filename or args.output}: {exc.strerror}")
        return EXIT_INVALID
    scripts = [result.source for _target, result in compiled if result is not None]
    if args.output:
        report.emit({"written": [str(p) for p in outputs]}, quiet_if_clean=True)
    elif args.format == "json":
        report.emit({"written": [str(p) for p in outputs], "script": scripts[0]})
    else:
        report.emit(quiet_if_clean=True)
        sys.stdout.write(scripts[0])
    return EXIT_OK


def _generate_app(args: argparse.Namespace) -> int:
    """`--app`: one HTTP app for a manifest's workflows that start from an
    httpEndpoint, APP.py plus each workflow's script beside it (APP.<id>.py)."""
    source = Path(args.path)
    if source.is_dir() or args.workflow or not (args.output or "").endswith(".py"):
        error("--app serves every workflow of one manifest: catalyst generate MANIFEST "
              "--app -o APP.py (no --workflow)")
        return EXIT_INVALID
    report = Report(args.format, [])
    targets = _targets([args.path], None, every_workflow=True)
    compiled = [(target, _compile(target, report)) for target in targets]
    if report.has_errors:
        report.emit()
        return EXIT_INVALID
    app_path = Path(args.output)
    scripts: list[tuple[Plan, str]] = []
    outputs: dict[Path, str] = {}
    owners: dict[tuple[str, str], str] = {}
    for target, result in compiled:
        assert result is not None
        if "service" not in result.plan.runtime_part_names:
            continue
        for route in served_routes(result.plan):
            if route in owners:
                error(f"{owners[route]} and {target.name} both serve {' '.join(route)}")
                return EXIT_INVALID
            owners[route] = target.name
        name = Target(app_path, target.workflow_id).script_name()
        scripts.append((result.plan, name))
        outputs[app_path.with_name(name)] = result.source
    if not scripts:
        error(f"no workflow in {source} starts from an httpEndpoint: nothing to serve")
        return EXIT_INVALID
    document, _, _ = read_document(source)
    metadata = document.get("metadata") if isinstance(document, dict) else None
    metadata = metadata if isinstance(metadata, dict) else {}
    outputs[app_path] = format_source(render_app(
        scripts, source.name, str(metadata.get("projectName") or source.stem),
        str(metadata.get("description") or ""),
    ))
    try:
        for path, text in outputs.items():
            write_atomically(path, text)
    except OSError as exc:
        error(f"cannot write {exc.filename or args.output}: {exc.strerror}")
        return EXIT_INVALID
    report.emit({"written": [str(p) for p in outputs]}, quiet_if_clean=True)
    return EXIT_OK


# -- catalyst check -------------------------------------------------------------------


def cmd_check(args: argparse.Namespace) -> int:
    """CI: is every committed generated script what the workflow compiles to now?"""
    report = Report(args.format, [])
    against = Path(args.against)
    stale: list[str] = []
    targets = _targets(args.paths, None, every_workflow=True)
    owners: dict[str, str] = {}
    for target in targets:
        name = target.script_name()
        if name in owners:
            error(f"{owners[name]} and {target.name} both generate {name}; rename one")
            return EXIT_INVALID
        owners[name] = target.name
    for target in targets:
        result = _compile(target, report)
        if result is None:
            continue
        committed = against / target.script_name()
        current = committed.read_text(encoding="utf-8") if committed.exists() else None
        if current != result.source:
            reason = "missing" if current is None else "stale"
            stale.append(f"{committed} is {reason} (from {target.name})")
    for orphan in _orphans(against, set(owners)):
        stale.append(f"{orphan} has no workflow any more (delete it)")
    if report.has_errors:
        report.emit()
        return EXIT_INVALID
    report.emit({"stale": stale}, quiet_if_clean=True)
    if args.format == "text":
        for line in stale:
            print(f"stale: {line}", file=sys.stderr)
        if stale:
            print(f"regenerate with: catalyst generate {' '.join(args.paths)} -o {against}",
                  file=sys.stderr)
        else:
            print(f"ok: {len(targets)} generated script(s) up to date", file=sys.stderr)
    return EXIT_FAILED if stale else EXIT_OK


def _orphans(folder: Path, expected: set[str]) -> list[Path]:
    """Scripts Catalyst generated into `folder` whose workflow is gone."""
    found = []
    for script in sorted(folder.glob("*.py")) if folder.is_dir() else []:
        if script.name in expected:
            continue
        with script.open("rb") as file:
            head = file.read(2048)
        if b"compiled by Catalyst" in head:
            found.append(script)
    return found


# -- catalyst run -------------------------------------------------------------------------


def cmd_run(args: argparse.Namespace, script_args: list[str]) -> int:
    report = Report("text", [])
    target = Target(Path(args.path), args.workflow)
    result = _compile(target, report)
    report.emit(quiet_if_clean=True)
    if result is None:
        return EXIT_INVALID
    missing = _missing_requirements(result.plan.dependencies)
    if missing:
        error(f"the script needs {', '.join(missing)}; install with: pip install "
              + " ".join(f"'{requirement}'" for requirement in missing))
        return EXIT_INVALID
    with tempfile.TemporaryDirectory(prefix="catalyst-run-") as folder:
        # A hyphenated name is never importable, so it shadows no module.
        script = Path(folder) / ("run-" + target.script_name())
        script.write_text(result.source, encoding="utf-8")
        command = [sys.executable, str(script), *script_args]
        keyless = [provider for provider in PROVIDERS
                   if provider.key_env in result.plan.env_vars
                   and not os.environ.get(provider.key_env)]
        if not keyless:
            return subprocess.call(command)
        return _run_against_local_server(command, keyless)


def _missing_requirements(requirements: Sequence[str]) -> list[str]:
    """Requirements whose distribution is not installed for this interpreter."""
    missing = []
    for requirement in requirements:
        name = re.split(r"[<>=!~ \[;]", requirement, maxsplit=1)[0]
        try:
            importlib.metadata.distribution(name)
        except importlib.metadata.PackageNotFoundError:
            missing.append(requirement)
    return missing


def _run_against_local_server(command: list[str], keyless: Sequence[Provider]) -> int:
    """Run with every provider whose key is missing aimed at the local server,
    through each SDK's own base-URL variable; the others call the real API."""
    from catalyst.mock_groq import MockGroqServer, MockSettings

    with MockGroqServer(MockSettings(tokens_per_second=400)) as server:
        env = dict(os.environ)
        for provider in keyless:
            print(f"note: {provider.key_env} is not set, so {provider.label} calls go to "
                  f"Catalyst's local server at {server.base_url_for(provider.name)} "
                  "(canned replies, no real model)", file=sys.stderr)
            env[provider.key_env] = "local-mock"
            env[provider.base_url_env] = server.base_url_for(provider.name)
        return subprocess.call(command, env=env)


# -- catalyst graph -------------------------------------------------------------------


def cmd_graph(args: argparse.Namespace) -> int:
    """Draw the workflow (Mermaid or DOT) so a pull request shows the pipeline."""
    report = Report("text", [])
    target = Target(Path(args.path), args.workflow)
    checked, diagnostics = check_file(target.path, target.workflow_id)
    report.add(target, diagnostics)
    report.emit(quiet_if_clean=True)  # warnings too, as validate prints them
    if checked is None or report.has_errors:
        return EXIT_INVALID
    text = render_graph(checked, args.format)
    if args.output:
        write_atomically(Path(args.output), text)
    else:
        # UTF-8 and LF whatever the locale: the same workflow gives the same bytes.
        sys.stdout.flush()
        sys.stdout.buffer.write(text.encode("utf-8"))
        sys.stdout.buffer.flush()
    return EXIT_OK


# -- catalyst upgrade -----------------------------------------------------------------


def cmd_upgrade(args: argparse.Namespace) -> int:
    """Rewrite workflow files to canonical spellings and current models, showing the diff."""
    report = Report(args.format, [])
    changed: list[str] = []
    rewrites: dict[Path, str] = {}
    for raw in args.paths:
        path = Path(raw)
        for file in sorted(path.glob("*.json")) if path.is_dir() else [path]:
            target = Target(file, None)
            document, data, problems = read_document(file)
            try:
                text = data.decode("utf-8")
            except UnicodeDecodeError:
                text = ""  # read_document has reported it
            if problems:
                report.add(target, problems)
                continue
            result = upgrade_text(text, document, file.name)
            report.add(target, result.diagnostics)
            if result.ok and result.text != text:
                changed.append(str(file))
                rewrites[file] = result.text
                if args.format == "text":
                    sys.stdout.writelines(difflib.unified_diff(
                        text.splitlines(keepends=True), result.text.splitlines(keepends=True),
                        fromfile=str(file), tofile=str(file),
                    ))
    if report.has_errors:
        report.emit()
        return EXIT_INVALID  # nothing rewritten: all or nothing
    if not args.check:
        for file, text in rewrites.items():
            write_atomically(file, text)
    report.emit({"changed": changed, "written": not args.check}, quiet_if_clean=True)
    if args.format == "text":
        verb = "would change" if args.check else "upgraded"
        print(f"{verb} {len(changed)} file(s)" if changed else "ok: nothing to upgrade",
              file=sys.stderr)
    return EXIT_FAILED if args.check and changed else EXIT_OK


# -- catalyst models ------------------------------------------------------------------


def cmd_models(args: argparse.Namespace) -> int:
    """The model table; with --live, merged with what each provider lists now."""
    names = [found.name for found in PROVIDERS]
    if args.provider is not None and args.provider not in names:
        error(f"unknown provider {args.provider!r}; providers: {', '.join(names)}")
        return EXIT_INVALID
    report = model_listing.models_report(args.provider, args.live)
    if args.json:
        payload: dict[str, object] = {"models": report.rows}
        if args.live:
            payload["live"] = report.live
        print(json_text(payload))
    else:
        print(printable(model_listing.format_table(report.rows, args.live)))
        for listing in report.live:
            line = f"{listing['provider']}: {listing['message']}"
            if listing["status"] == "listed":
                line += (f"; {len(listing['unknown_to_catalyst'])} unknown to Catalyst's "
                         f"table, {len(listing['not_listed'])} table model(s) not listed")
            print(printable(line), file=sys.stderr)
    return EXIT_FAILED if report.failed else EXIT_OK


# -- catalyst usage -------------------------------------------------------------------


def cmd_usage(args: argparse.Namespace) -> int:
    """Totals of a usage log by model, node and day; malformed lines counted, not fatal."""
    try:
        report = usage_report.summarize(args.path).to_dict()
    except OSError as exc:
        error(f"cannot read {args.path}: {exc.strerror or exc}")
        return EXIT_INVALID
    note = usage_report.malformed_note(report)
    if args.json:
        print(json_text(report))
    else:
        print(printable(usage_report.format_summary(report)))
    if note:
        print(printable(f"warning: {note}"), file=sys.stderr)
    return EXIT_OK


# -- catalyst mock-groq ---------------------------------------------------------------


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="catalyst",
        description="Compile visual AI workflows into standalone, runnable Python.",
    )
    parser.add_argument("--version", action="version", version=f"catalyst {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def output_format(command: argparse.ArgumentParser) -> None:
        command.add_argument("--format", choices=("text", "json"), default="text",
                             help="report format (json for the editor and CI)")

    nodes = commands.add_parser("nodes", help="list node types, their ports and config schema")
    nodes.add_argument("type", nargs="?", help="show one node type in full")
    output_format(nodes)

    validate = commands.add_parser("validate", help="check workflows; every problem at once")
    validate.add_argument("paths", nargs="+", metavar="PATH", help="workflow files or folders")
    validate.add_argument("--workflow", help="workflow id inside a project manifest")
    validate.add_argument("--strict", action="store_true", help="fail on warnings too")
    output_format(validate)

    generate = commands.add_parser("generate", help="write the standalone Python script")
    generate.add_argument("path", metavar="PATH", help="workflow file, or a folder of them")
    generate.add_argument("-o", "--output", help="output file (folder for a folder); "
                          "default stdout")
    generate.add_argument("--workflow", help="workflow id inside a project manifest")
    generate.add_argument("--requirements", metavar="FILE", help="also write pip requirements")
    generate.add_argument("--app", action="store_true", help="a manifest's workflows that "
                          "start from an httpEndpoint as one HTTP app: -o APP.py, each "
                          "workflow's script beside it")
    output_format(generate)

    check = commands.add_parser("check", help="CI: fail when committed generated code is stale")
    check.add_argument("paths", nargs="+", metavar="PATH", help="workflow files or folders")
    check.add_argument("--against", required=True, metavar="DIR",
                       help="folder holding the committed generated scripts")
    output_format(check)

    run = commands.add_parser(
        "run", help="generate and run; uses a local Groq-protocol server without GROQ_API_KEY",
        description="Generate the script and run it. Other arguments (--input NAME=VALUE, "
        "--inputs-json, --stream, --json) go to the script.",
    )
    run.add_argument("path", metavar="PATH", help="workflow file")
    run.add_argument("--workflow", help="workflow id inside a project manifest")

    graph = commands.add_parser("graph", help="draw the workflow as a Mermaid flowchart "
                                "(--format dot for Graphviz)")
    graph.add_argument("path", metavar="PATH", help="workflow file")
    graph.add_argument("--workflow", help="workflow id inside a project manifest")
    graph.add_argument("--format", choices=GRAPH_FORMATS, default="mermaid",
                       help="mermaid (GitHub renders it in markdown) or dot (Graphviz)")
    graph.add_argument("-o", "--output", help="output file; default stdout")

    upgrade = commands.add_parser(
        "upgrade", help="rewrite workflows to canonical spellings and current models",
        description="Rewrite workflow files in place to Catalyst's canonical spellings "
        "(maxTokens -> max_completion_tokens, warn -> warning, JSON text -> JSON, …) and "
        "current models, printing a diff. Everything else in the file stays byte for byte.",
    )
    upgrade.add_argument("paths", nargs="+", metavar="PATH", help="workflow files or folders")
    upgrade.add_argument("--check", action="store_true",
                         help="change nothing; exit 1 when something would change (CI)")
    output_format(upgrade)

    models = commands.add_parser(
        "models", help="the model table: ids, limits, prices, rate budgets, retirements "
        "(--live: what each provider's API lists now)",
    )
    model_listing.add_arguments(models)

    usage = commands.add_parser(
        "usage", help="totals of a script's --usage-log by model, node and day",
    )
    usage_report.add_arguments(usage)

    serve = commands.add_parser(
        "serve", help="the editor's HTTP backend (FastAPI)",
        description="Serve the compiler to the visual editor: nodes, models, validate, "
        "generate, upgrade, graph, and preview runs streamed as server-sent events, with "
        "their history. OpenAPI at /openapi.json, interactive docs at /docs.",
    )
    serve_cli.add_arguments(serve)

    local = commands.add_parser("local-server", help="serve Groq's, OpenAI's and Anthropic's "
                                "APIs locally for tests and demos")
    mock_cli.add_arguments(local)
    mock = commands.add_parser("mock-groq", help="the same as local-server (older name)")
    mock_cli.add_arguments(mock)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args, extra = parser.parse_known_args(argv)
    if extra and args.command != "run":
        parser.error(f"unrecognized arguments: {' '.join(extra)}")
    try:
        if args.command == "nodes":
            return cmd_nodes(args)
        if args.command == "validate":
            return cmd_validate(args)
        if args.command == "generate":
            return cmd_generate(args)
        if args.command == "check":
            return cmd_check(args)
        if args.command == "run":
            return cmd_run(args, extra)
        if args.command == "upgrade":
            return cmd_upgrade(args)
        if args.command == "graph":
            return cmd_graph(args)
        if args.command == "models":
            return cmd_models(args)
        if args.command == "usage":
            return cmd_usage(args)
        if args.command == "serve":
            return serve_cli.run(args)
        return mock_cli.run(args)
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        # The reader went away (`| head`): stop quietly, and let the interpreter's
        # final flush write to nowhere instead of complaining.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return EXIT_OK
    except Exception as exc:  # a bug in Catalyst, not in the user's input
        if os.environ.get("CATALYST_DEBUG"):
            raise
        error(f"internal error in catalyst ({type(exc).__name__}: {exc}); please report it "
              "(CATALYST_DEBUG=1 shows the traceback)")
        return EXIT_INTERNAL


if __name__ == "__main__":
    sys.exit(main())
