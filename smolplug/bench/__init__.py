"""Side-by-side benchmarks (importable, so the CLI and benchmarks/ share them)."""
