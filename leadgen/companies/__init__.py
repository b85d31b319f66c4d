"""Companies: one record per company; dedupe by canonical domain, website and normalised name."""

from leadgen.companies.dedupe import DedupeReport, dedupe_companies
from leadgen.companies.names import name_similarity, normalise_name

__all__ = ["DedupeReport", "dedupe_companies", "name_similarity", "normalise_name"]
