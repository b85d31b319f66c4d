"""The search queue's two stages in one import: `submit_due_queries` (submit.py), `collect_operations` (collect.py)."""

from leadgen.yandex.collect import CollectReport, OnDone, collect_operations
from leadgen.yandex.submit import SubmitReport, submit_due_queries

__all__ = ["CollectReport", "OnDone", "SubmitReport", "collect_operations", "submit_due_queries"]
