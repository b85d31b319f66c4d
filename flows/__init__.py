"""Prefect flows, one module per stage plus pipeline.py; entrypoints of prefect.yaml."""
