"""Benchmarks that run from an installed package: the month-volume run of the whole pipeline in the sandbox."""

from leadgen.bench.month import MonthConfig, MonthReport, run_month

__all__ = ["MonthConfig", "MonthReport", "run_month"]
