"""The labelled SERP set (tests/fixtures/serp/labelled): precision and recall of the non-company filter on it."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from leadgen.serp import DomainFilter, parse_serp

LABELLED = Path(__file__).resolve().parent.parent / "fixtures" / "serp" / "labelled"


def labels() -> dict[str, tuple[str, str, str]]:
    """url → (label, category, split) from labels.tsv (templated pages) and labels_handwritten.tsv."""
    out = {}
    for path in sorted(LABELLED.glob("labels*.tsv")):
        for line in path.read_text(encoding="utf-8").splitlines():
            if line and not line.startswith("#"):
                url, label, category, split = line.split("\t")
                out[url] = (label, category, split)
    return out


@dataclass
class Scores:
    """Per split: company recall per (page, domain), directory leakage per result, repeated kept domains."""

    company_domains: int = 0
    company_kept: int = 0
    directories: int = 0
    leaked: int = 0
    kept_total: int = 0
    repeated_kept: int = 0
    missed: list[tuple[str, str | None]] = field(default_factory=list)
    leaks: list[tuple[str, str]] = field(default_factory=list)
    reasons: Counter[str] = field(default_factory=Counter)

    @property
    def recall(self) -> float:
        return self.company_kept / self.company_domains

    @property
    def leakage(self) -> float:
        return self.leaked / self.directories

    @property
    def precision(self) -> float:
        """Kept results that are companies."""
        return (self.kept_total - self.leaked) / self.kept_total


def score(split: str, domain_filter: DomainFilter | None = None) -> Scores:
    """Run the filter over every page of `split` (`tune`, `holdout`)."""
    filt = domain_filter or DomainFilter.from_settings(None)
    truth = labels()
    scores = Scores()
    for path in sorted((LABELLED / split).glob("*.xml")):
        page = parse_serp(path.read_bytes())
        reasons = filt.classify_page(page.documents)
        companies: dict[str, bool] = {}
        kept_domains: list[str] = []
        for doc, reason in zip(page.documents, reasons, strict=True):
            label, category, _ = truth[doc.url]
            scores.reasons[f"{label}:{reason}"] += 1
            if reason is None:
                scores.kept_total += 1
                kept_domains.append(doc.domain or "")
            if label == "company":
                companies[doc.domain or ""] = companies.get(doc.domain or "", False) or reason is None
                if reason not in (None, "repeat"):
                    scores.missed.append((doc.url, reason))
            else:
                scores.directories += 1
                if reason is None:
                    scores.leaked += 1
                    scores.leaks.append((doc.url, category))
        scores.company_domains += len(companies)
        scores.company_kept += sum(companies.values())
        scores.repeated_kept += len(kept_domains) - len(set(kept_domains))
    return scores
