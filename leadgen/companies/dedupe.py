"""Company dedupe: recompute canonical domains and hashes, keep the earliest company per key, mark the rest duplicate."""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from rapidfuzz import fuzz, process
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from leadgen.clock import Clock, utc_now
from leadgen.companies.names import normalise_name
from leadgen.db.models import Company, CompanyStatus
from leadgen.domains import canonical_domain, dedupe_hash
from leadgen.serp.crossquery import exclude_cross_query_domains
from leadgen.settings import Settings
from leadgen.stage_report import ItemError

CHUNK = 1000
FUZZY_CANDIDATES = 5
DIGITS_RE = re.compile(r"\d+")


@dataclass(frozen=True, slots=True)
class DedupeReport:
    """Outcome of one dedupe run; JSON-serialisable with `dataclasses.asdict`."""

    companies: int
    domains_changed: int
    groups_with_duplicates: int
    duplicates: int
    marked_duplicate: int
    restored: int
    name_matches: int
    without_key: int
    updated: int
    errors: tuple[ItemError, ...] = ()
    cross_query_domains: list[str] = field(default_factory=list)  # directories by behaviour across searches
    cross_query_excluded: int = 0  # their companies set to excluded (directory:cross-query) by this run


@dataclass(slots=True)
class _Row:
    id: int
    name: str | None
    canonical_domain: str | None
    dedupe_hash: str | None
    website_url: str | None
    status: CompanyStatus
    duplicate_of_id: int | None
    opt_out: bool
    status_reason: str | None


@dataclass(slots=True)
class _Target:
    canonical_domain: str | None
    dedupe_hash: str | None
    status: CompanyStatus
    duplicate_of_id: int | None
    opt_out: bool
    status_reason: str | None

    def differs(self, row: _Row) -> bool:
        return (
            self.canonical_domain != row.canonical_domain
            or self.dedupe_hash != row.dedupe_hash
            or self.status != row.status
            or self.duplicate_of_id != row.duplicate_of_id
            or self.opt_out != row.opt_out
            or self.status_reason != row.status_reason
        )


def _load(session: Session) -> list[_Row]:
    session.flush()  # what Session.execute's autoflush did; the rows are read through Core (no ORM row loading)
    stmt = select(
        Company.id,
        Company.name,
        Company.canonical_domain,
        Company.dedupe_hash,
        Company.website_url,
        Company.status,
        Company.duplicate_of_id,
        Company.opt_out,
        Company.status_reason,
    ).order_by(Company.created_at, Company.id)  # the order is all dedupe needs from created_at
    return [_Row(*row) for row in session.connection().execute(stmt)]


def _domain_key(row: _Row, remembered: str | None) -> str | None:
    """Domain priority: the canonical domain (stored, or remembered by a duplicate that released it), then the
    website URL."""
    return (
        canonical_domain(row.canonical_domain)
        or canonical_domain(remembered)
        or canonical_domain(row.website_url)
    )


def _as_primary(row: _Row, domain: str | None, restore_opt_out: dict[int, bool]) -> _Target:
    if row.status == CompanyStatus.DUPLICATE:
        return _Target(domain, dedupe_hash(domain) if domain else None, CompanyStatus.NEW, None,
                       restore_opt_out.get(row.id, False), None)  # fmt: skip
    return _Target(domain, dedupe_hash(domain) if domain else None, row.status, None, row.opt_out,
                   row.status_reason)  # fmt: skip


def _as_duplicate(primary_id: int, reason: str) -> _Target:
    return _Target(None, None, CompanyStatus.DUPLICATE, primary_id, True, reason)


def _chunks(items: Sequence[Any], size: int = CHUNK) -> Iterable[Sequence[Any]]:
    for i in range(0, len(items), size):
        yield items[i : i + size]


def _metas(session: Session, ids: Sequence[int]) -> dict[int, dict[str, Any]]:
    out: dict[int, dict[str, Any]] = {}
    for chunk in _chunks(list(ids)):
        for company_id, meta in session.execute(
            select(Company.id, Company.meta).where(Company.id.in_(chunk))
        ):
            out[company_id] = dict(meta or {})
    return out


class _NameIndex:
    """Normalised names of primaries, matched exactly first and then with rapidfuzz's ratio."""

    def __init__(self, threshold: int) -> None:
        self.threshold = threshold
        self.names: list[str] = []
        self.owners: list[int] = []
        self.exact: dict[str, int] = {}

    def add(self, name: str | None, company_id: int) -> None:
        if name and name not in self.exact:
            self.exact[name] = company_id
            self.names.append(name)
            self.owners.append(company_id)

    def match(self, name: str) -> int | None:
        if name in self.exact:
            return self.exact[name]
        if not self.names:
            return None
        digits = DIGITS_RE.findall(name)
        for _choice, _score, index in process.extract(
            name, self.names, scorer=fuzz.ratio, score_cutoff=self.threshold, limit=FUZZY_CANDIDATES
        ):
            # Numbers name branches and franchises ("Автосервис 24" is not "Автосервис 77"): they must agree.
            if DIGITS_RE.findall(self.names[index]) == digits:
                return self.owners[index]
        return None


@dataclass(slots=True)
class _Plan:
    """Where every company goes: its target, plus the counts the report carries."""

    targets: dict[int, _Target] = field(default_factory=dict)
    grouped: set[str] = field(default_factory=set)  # domain keys with more than one company
    name_matches: int = 0
    without_key: int = 0
    errors: list[ItemError] = field(default_factory=list)


def dedupe_companies(session: Session, settings: Settings, *, now: Clock = utc_now) -> DedupeReport:
    """Recompute canonical_domain/dedupe_hash of every company and resolve duplicates, inside the caller's transaction.

    Per domain key (canonical domain, else the website's domain) the earliest `created_at` (then lowest id) is the
    primary: it holds the domain and hash, and goes back to `new` if it was a duplicate (its opt_out as it was
    before). Every other company becomes `duplicate`: canonical_domain and dedupe_hash released (NULL),
    duplicate_of_id set to the primary, opt_out set. Companies without any domain are matched by normalised name
    (legal forms and quotes removed) against earlier primaries, exactly or with a rapidfuzz ratio of at least
    DEDUPE_NAME_THRESHOLD; a company with a domain is never made a duplicate of one without. Running it twice
    changes nothing the second time. Last, the cross-query pass (leadgen.serp.crossquery): companies of a domain
    kept in the results of many queries of different niches become `excluded` (`directory:cross-query`).
    """
    rows = _load(session)
    # a duplicate remembers (metadata.dedupe) the domain it gave up and its opt_out from before
    old_metas = _metas(session, [row.id for row in rows if row.status == CompanyStatus.DUPLICATE])
    keys = {
        row.id: _domain_key(row, old_metas.get(row.id, {}).get("dedupe", {}).get("canonical_domain"))
        for row in rows
    }
    restore_opt_out = {
        cid: bool(meta.get("dedupe", {}).get("opt_out_before", False)) for cid, meta in old_metas.items()
    }
    plan = _Plan()
    without_domain, domain_primaries = _place_by_domain(plan, rows, keys, restore_opt_out)
    _place_by_name(plan, without_domain, domain_primaries, restore_opt_out, settings.dedupe_name_threshold)

    by_id = {row.id: row for row in rows}
    targets = plan.targets
    changed, marked, restored = _changes(by_id, targets)
    moment = now()
    _apply(session, by_id, targets, changed, marked, restored, old_metas, keys, moment)
    cross = exclude_cross_query_domains(session, settings, now=moment)
    return DedupeReport(
        companies=len(rows),
        domains_changed=sum(
            1 for row in rows if row.canonical_domain is not None and keys[row.id] != row.canonical_domain
        ),
        groups_with_duplicates=len(plan.grouped),
        duplicates=sum(1 for t in targets.values() if t.status == CompanyStatus.DUPLICATE),
        marked_duplicate=len(marked),
        restored=len(restored),
        name_matches=plan.name_matches,
        without_key=plan.without_key,
        updated=len(changed),
        errors=tuple(plan.errors),
        cross_query_domains=[d.domain for d in cross.domains],
        cross_query_excluded=cross.companies_excluded,
    )


def _changes(by_id: dict[int, _Row], targets: dict[int, _Target]) -> tuple[list[int], list[int], list[int]]:
    """The companies whose row changes, those of them newly marked duplicate, and those restored from it."""
    changed = [cid for cid, target in targets.items() if target.differs(by_id[cid])]
    dup = CompanyStatus.DUPLICATE
    marked = [cid for cid in changed if targets[cid].status == dup and by_id[cid].status != dup]
    restored = [cid for cid in changed if by_id[cid].status == dup and targets[cid].status != dup]
    return changed, marked, restored


def _place_by_domain(
    plan: _Plan, rows: list[_Row], keys: dict[int, str | None], restore_opt_out: dict[int, bool]
) -> tuple[list[_Row], list[_Row]]:
    """The earliest company of each domain key is its primary, the others its duplicates; returns the companies
    without a domain key and the domain primaries (in order)."""
    primaries: dict[str, int] = {}
    without_domain: list[_Row] = []
    domain_primaries: list[_Row] = []
    for row in rows:
        key = keys[row.id]
        if key is None:
            without_domain.append(row)
            continue
        primary_id = primaries.get(key)
        if primary_id is None:
            primaries[key] = row.id
            plan.targets[row.id] = _as_primary(row, key, restore_opt_out)
            domain_primaries.append(row)
        else:
            plan.grouped.add(key)
            plan.targets[row.id] = _as_duplicate(
                primary_id, f"duplicate of company {primary_id} (domain {key})"
            )
    return without_domain, domain_primaries


def _place_by_name(
    plan: _Plan,
    without_domain: list[_Row],
    domain_primaries: list[_Row],
    restore_opt_out: dict[int, bool],
    threshold: int,
) -> None:
    """Companies without a domain: a duplicate of the earlier primary with the same (or a close) name, else a
    primary themselves; one with neither domain nor name stays as it is."""
    names = _NameIndex(threshold)
    if without_domain:  # names of domain primaries matter only when some company has no domain
        for row in domain_primaries:
            names.add(normalise_name(row.name), row.id)
    for row in without_domain:
        name = normalise_name(row.name)
        if name is None:
            plan.without_key += 1
            if row.status == CompanyStatus.DUPLICATE:
                plan.errors.append(
                    ItemError(
                        "company",
                        "duplicate without domain or name; left as it is",
                        id=row.id,
                        outcome="skipped",
                    )
                )
                plan.targets[row.id] = _Target(
                    None, None, row.status, row.duplicate_of_id, row.opt_out, row.status_reason
                )
            else:
                plan.targets[row.id] = _as_primary(row, None, restore_opt_out)
            continue
        primary_id = names.match(name)
        if primary_id is None or primary_id == row.id:
            plan.targets[row.id] = _as_primary(row, None, restore_opt_out)
            names.add(name, row.id)
        else:
            plan.name_matches += 1
            plan.targets[row.id] = _as_duplicate(
                primary_id, f"duplicate of company {primary_id} (name {name!r})"
            )


def _apply(
    session: Session,
    by_id: dict[int, _Row],
    targets: dict[int, _Target],
    changed: list[int],
    marked: list[int],
    restored: list[int],
    old_metas: dict[int, dict[str, Any]],
    keys: dict[int, str | None],
    moment: datetime,
) -> None:
    """Two passes keep the unique constraints satisfied: release every key that moves, then write the targets."""
    if not changed:
        return
    release = [
        {"id": cid, "canonical_domain": None, "dedupe_hash": None}
        for cid in changed
        if by_id[cid].canonical_domain is not None or by_id[cid].dedupe_hash is not None
    ]
    for chunk in _chunks(release):
        session.execute(update(Company), list(chunk))
    metas = _metas(session, marked)
    for cid in marked:
        row = by_id[cid]
        metas[cid]["dedupe"] = {
            "opt_out_before": row.opt_out,
            "status_before": str(row.status),
            "canonical_domain": keys.get(cid),
        }
    for cid in restored:
        meta = dict(old_metas.get(cid, {}))
        meta.pop("dedupe", None)
        metas[cid] = meta
    writes = []
    for cid in changed:
        target = targets[cid]
        values: dict[str, Any] = {
            "id": cid,
            "canonical_domain": target.canonical_domain,
            "dedupe_hash": target.dedupe_hash,
            "status": target.status,
            "duplicate_of_id": target.duplicate_of_id,
            "opt_out": target.opt_out,
            "status_reason": target.status_reason,
            "updated_at": moment,
        }
        if cid in metas:
            values["meta"] = metas[cid]
        writes.append(values)
    # Rows with and without `meta` need separate executemany batches (same keys per batch).
    for with_meta in (True, False):
        batch = [w for w in writes if ("meta" in w) is with_meta]
        for chunk in _chunks(batch):
            session.execute(update(Company), list(chunk))
