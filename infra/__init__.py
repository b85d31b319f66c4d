"""Idempotent bootstrap of the Prefect side: work pool, global concurrency limits, variables."""
