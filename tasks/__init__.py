"""Prefect tasks: thin orchestration wrappers over leadgen, one module per stage."""
