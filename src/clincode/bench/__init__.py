"""Benchmarks of losses: grids of run configs, their runner and the summary tables."""
