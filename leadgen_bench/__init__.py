"""Benchmarks of the whole pipeline in the sandbox (the month-volume run); a dev tool the runtime image does not ship."""
