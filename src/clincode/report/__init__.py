"""Reports and figures of benchmarks."""
