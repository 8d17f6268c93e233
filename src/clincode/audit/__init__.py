"""Dependency audit of trained runs: which code pairs a loss learned to couple."""
