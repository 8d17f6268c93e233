"""The README opens with exactly two set-up commands, and CI runs the test one verbatim; the commands
and options the docs show exist; the shipped texts stay inside the repository.
"""

import functools
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def setup_commands() -> list[str]:
    text = (ROOT / "README.md").read_text()
    block = text.split("```bash", 1)[1].split("```", 1)[0]
    return [line for line in block.strip().splitlines() if line.strip()]


def test_two_setup_commands():
    cmds = setup_commands()
    assert len(cmds) == 2
    assert cmds[0].endswith("clincode demo")
    assert "pytest" in cmds[1]
    for cmd in cmds:
        assert "-c constraints.txt" in cmd  # never an unpinned torch


def test_ci_runs_readme_test_command():
    ci = (ROOT / ".ci" / "run").read_text()
    assert setup_commands()[1] in ci


def test_constraints_pin_cpu_torch():
    assert "torch==2.13.0" in (ROOT / "constraints.txt").read_text()


# ---------------------------------------------------------------- commands in the docs match the CLI
@functools.cache
def cli_commands() -> dict[str, str]:
    """Every leaf command ("train", "synth ehr", ...) -> its --help text."""
    import typer
    from typer.testing import CliRunner

    from clincode.cli import app

    runner = CliRunner()
    out: dict[str, str] = {}

    def walk(group, prefix: list[str]) -> None:
        for name, cmd in group.commands.items():
            words = [*prefix, name]
            if hasattr(cmd, "commands"):
                walk(cmd, words)
            else:
                res = runner.invoke(app, [*words, "--help"], env={"COLUMNS": "200"})
                assert res.exit_code == 0, res.output
                out[" ".join(words)] = res.output

    walk(typer.main.get_command(app), [])
    return out


def documented_invocations() -> list[str]:
    """`clincode ...` invocations of the README's command table and of the docs (lines and inline code)."""
    readme = (ROOT / "README.md").read_text()
    found = [line.split("`")[1] for line in readme.splitlines() if line.startswith("| `clincode ")]
    for name in ["usage.md", "results.md", "benchmarks.md", "methods.md"]:
        text = (ROOT / "docs" / name).read_text()
        found += [line.strip() for line in text.splitlines() if line.strip().startswith("clincode ")]
        found += re.findall(r"`(clincode [a-z][^`]*)`", text)
    return found


def resolve(invocation: str, commands: dict[str, str]) -> str | None:
    words = invocation.replace("\\|", "|").split()[1:]
    for n in (2, 1):
        if " ".join(words[:n]) in commands:
            return " ".join(words[:n])
    return None


def test_readme_table_lists_every_command():
    commands = cli_commands()
    rows = [line.split("`")[1] for line in (ROOT / "README.md").read_text().splitlines() if line.startswith("| `clincode ")]
    listed = {resolve(r, commands) for r in rows}
    listed |= {f"list {what}" for r in rows if r.startswith("clincode list ") for what in r.split()[2].split("\\|")}
    assert set(commands) <= listed, f"commands missing from the README table: {sorted(set(commands) - listed)}"


def test_documented_options_exist():
    commands = cli_commands()
    checked = 0
    for invocation in documented_invocations():
        name = resolve(invocation, commands)
        if name is None:
            continue
        for option in re.findall(r"(?<![\w-])(--[a-z][a-z0-9-]*)", invocation):
            assert re.search(rf"(?<![\w-]){option}(?![\w-])", commands[name]), f"{invocation!r}: {option} is not an option of {name}"
            checked += 1
    assert checked > 30


# ---------------------------------------------------------------- docs describe the product, inside the repo
PRODUCT_TEXTS = ["README.md", "docs/usage.md", "docs/results.md", "docs/benchmarks.md", "docs/methods.md", "docs/architecture.md"]


def product_files() -> list[Path]:
    files = [ROOT / f for f in PRODUCT_TEXTS]
    files += sorted((ROOT / "src" / "clincode" / "configs").glob("*.yaml"))
    files += sorted(p for p in (ROOT / "benchmarks").iterdir() if p.suffix in (".py", ".sh"))
    return files


@pytest.mark.parametrize(
    "pattern",
    [r"\.\./shared", r"\bMETHODS\.md", r"\bDESIGN\.md", r"/work/", r"/root/", r"/tmp/", r"(?i)\bsession\b", r"(?i)\bissue #?\d"],
)
def test_product_texts_stay_in_the_repo_and_in_the_present(pattern):
    """The shipped texts name no file outside the repository, no machine path, no work history."""
    hits = [
        f"{path.relative_to(ROOT)}:{i}: {line.strip()}"
        for path in product_files()
        for i, line in enumerate(path.read_text().splitlines(), 1)
        if re.search(pattern, line)
    ]
    assert not hits, "\n".join(hits)
