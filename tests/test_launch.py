"""Multi-process launches: only the first process builds shared files; the others wait for them."""

from __future__ import annotations

import threading

import pytest
from rich.console import Console

from clincode.launch import RANK_VARIABLES, is_first_process, wait_for_dir


@pytest.mark.parametrize("name", RANK_VARIABLES)
def test_any_nonzero_rank_variable_marks_a_later_process(monkeypatch, name):
    for var in RANK_VARIABLES:
        monkeypatch.delenv(var, raising=False)
    assert is_first_process()
    monkeypatch.setenv(name, "0")
    assert is_first_process()
    monkeypatch.setenv(name, "3")
    assert not is_first_process()


def test_wait_for_dir_returns_once_it_appears_and_times_out_otherwise(tmp_path):
    target = tmp_path / "cache"
    timer = threading.Timer(0.3, target.mkdir)
    timer.start()
    wait_for_dir(target, Console(quiet=True), timeout_s=10, poll_s=0.05)
    assert target.is_dir()
    with pytest.raises(TimeoutError, match="did not appear"):
        wait_for_dir(tmp_path / "never", Console(quiet=True), timeout_s=0.2, poll_s=0.05)
