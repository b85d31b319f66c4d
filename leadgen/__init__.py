"""leadgen: a self-hosted B2B lead-generation pipeline (domain library; never imports prefect)."""

__version__ = "0.1.0"

__all__ = ["__version__"]
