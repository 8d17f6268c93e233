"""The README opens with exactly two set-up commands, and CI runs the test one verbatim."""

from pathlib import Path

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
