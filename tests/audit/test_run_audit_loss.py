"""`clincode audit` asks the run's loss for its dependency matrix through the HasDependencyMatrix Protocol."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
from rich.console import Console

from clincode.audit import run_audit
from clincode.losses import build_loss


def test_audit_refuses_a_loss_without_a_dependency_matrix(tmp_path, monkeypatch) -> None:
    artefact = SimpleNamespace(build_loss=lambda: build_loss("bce", 4))
    cfg = SimpleNamespace(loss=SimpleNamespace(name="bce"))
    monkeypatch.setattr(run_audit, "load_run", lambda run_dir: (artefact, cfg))
    monkeypatch.setattr(run_audit, "check_audit_options", lambda run_dir, **_: None)
    with pytest.raises(ValueError, match="learns no dependency matrix"):
        run_audit.audit_run(tmp_path, console=Console(quiet=True))
    assert not (tmp_path / "audit").exists()
