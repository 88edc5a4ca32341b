"""A real (non-editable) install: what users get from `pip install`, used from elsewhere.

The repository keeps `nodes/` and `templates/` at the top level; packaging must
put them inside `catalyst/` and never claim top-level `nodes` / `templates`.

The build runs on a copy of the repository: setuptools builds in the source
tree, and a stale `build/lib` in the shared work tree could both leak deleted
files into the wheel and race with other builds.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import sysconfig
import tomllib
import zipfile
from pathlib import Path

import pytest

from catalyst.compiler import compile_file

ROOT = Path(__file__).resolve().parent.parent
SUMMARIZE = ROOT / "examples" / "workflows" / "summarize.json"

pytestmark = [pytest.mark.slow, pytest.mark.timeout(240)]


def run(command: list[str | Path], cwd: Path, timeout: float = 120) -> str:
    result = subprocess.run(
        [str(part) for part in command],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    assert result.returncode == 0, (
        f"{' '.join(map(str, command))} failed ({result.returncode}):\n"
        f"{result.stdout}\n{result.stderr}"
    )
    return result.stdout


def copy_of_repository(target: Path) -> Path:
    ignore = shutil.ignore_patterns(
        ".git",
        "build",
        "dist",
        "*.egg-info",
        "__pycache__",
        "*.pyc",
        ".*_cache",
        ".hypothesis",
        ".benchmarks",
        ".venv",
        "__snapshots__",
    )
    shutil.copytree(ROOT, target, ignore=ignore)
    return target


def build_requirements() -> list[str]:
    """`[build-system].requires` from pyproject.toml: what --no-build-isolation relies on."""
    with (ROOT / "pyproject.toml").open("rb") as file:
        requires: list[str] = tomllib.load(file)["build-system"]["requires"]
    return requires


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    base = tmp_path_factory.mktemp("install")
    source = copy_of_repository(base / "src")
    venv = base / "venv"
    # Not --system-site-packages: from inside a virtualenv that points at the
    # base interpreter, which lacks what the tests' environment installed. The
    # new venv sees exactly this interpreter's packages instead, after its own.
    run([sys.executable, "-m", "venv", venv], cwd=base)
    python, pip = venv / "bin" / "python", venv / "bin" / "pip"
    inner_site = Path(run([python, "-c", "import sysconfig; print(sysconfig.get_paths()"
                                          "['purelib'])"], cwd=base).strip())
    outer = {sysconfig.get_paths()[key] for key in ("purelib", "platlib")}
    (inner_site / "_outer_environment.pth").write_text(
        "".join(f"{path}\n" for path in sorted(outer)), encoding="utf-8"
    )
    # The build backend the project declares (setuptools, wheel) in the venv, so
    # the build does not depend on what the outer interpreter happens to have.
    run([pip, "install", "-q", *build_requirements()], cwd=base, timeout=180)
    run([pip, "install", "--no-deps", "--no-build-isolation", "-q", source], cwd=base)
    site_packages = Path(
        run(
            [python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"], cwd=base
        ).strip()
    )
    return {"base": base, "source": source, "venv": venv, "site": site_packages}


def test_installed_package_keeps_nodes_and_templates_inside_catalyst(
    installed: dict[str, Path],
) -> None:
    site = installed["site"]
    assert (site / "catalyst" / "nodes" / "groq_completion.jinja").is_file()
    assert (site / "catalyst" / "nodes" / "groq_completion.py").is_file()
    assert (site / "catalyst" / "templates" / "script.jinja").is_file()
    assert (site / "catalyst" / "py.typed").is_file()
    assert not (site / "nodes").exists()
    assert not (site / "templates").exists()


def test_installed_cli_generates_from_another_directory(
    installed: dict[str, Path], tmp_path: Path
) -> None:
    venv = installed["venv"]
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    # The venv's own copy is imported, not the editable checkout.
    where = run(
        [venv / "bin" / "python", "-c", "import catalyst.templates as t; print(t.__file__)"],
        cwd=elsewhere,
    )
    assert Path(where.strip()).is_relative_to(installed["site"])

    run([venv / "bin" / "catalyst", "generate", SUMMARIZE, "-o", "out.py"], cwd=elsewhere)
    generated = (elsewhere / "out.py").read_text(encoding="utf-8")
    assert generated == compile_file(SUMMARIZE).source

    catalog = run([venv / "bin" / "catalyst", "nodes"], cwd=elsewhere)
    listed = {line.split()[0] for line in catalog.splitlines() if line.strip()}
    assert {"groqCompletion", "promptTemplate", "condition", "editFields", "log"} <= listed


def test_wheel_has_only_catalyst_and_its_metadata(
    installed: dict[str, Path], tmp_path: Path
) -> None:
    pip = installed["venv"] / "bin" / "pip"
    run(
        [
            pip,
            "wheel",
            "--no-deps",
            "--no-build-isolation",
            "-q",
            "-w",
            tmp_path,
            installed["source"],
        ],
        cwd=installed["base"],
    )
    (wheel,) = tmp_path.glob("catalyst_workflows-*.whl")
    with zipfile.ZipFile(wheel) as archive:
        names = archive.namelist()
    top_level = {name.split("/")[0] for name in names}
    (dist_info,) = [entry for entry in top_level if entry.endswith(".dist-info")]
    assert top_level == {"catalyst", dist_info}
    assert "catalyst/nodes/groq_completion.jinja" in names
    assert "catalyst/templates/script.jinja" in names
