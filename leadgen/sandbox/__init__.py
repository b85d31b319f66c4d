"""Loopback stand-ins for external services, for the demo, tests and benchmarks."""

from leadgen.sandbox.site_farm import SiteFarm

__all__ = ["SiteFarm"]
