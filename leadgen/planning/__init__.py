"""Planning: read NICHES_INPUT (CSV or Google Sheet), resolve Yandex regions, generate and schedule queries."""

from leadgen.planning.csv_input import parse_csv, sniff_delimiter
from leadgen.planning.outcomes import PlannedQuery, PlanReport, RowOutcome
from leadgen.planning.plan import plan_batch
from leadgen.planning.queries import GeneratedQuery, QueryOptions, generate_queries, query_hash
from leadgen.planning.regions import Region, all_regions, lookup_region, normalise_place, region_by_id
from leadgen.planning.rows import STATUS_COLUMNS, NicheRow, RowError, validate_row
from leadgen.planning.run import run_planning
from leadgen.planning.schedule import effective_step, schedule_slots
from leadgen.planning.sheets import NicheSheet, open_client, sheet_key
from leadgen.planning.source import NicheCsv, NicheInput, open_niches, read_niches

__all__ = [
    "STATUS_COLUMNS",
    "GeneratedQuery",
    "NicheCsv",
    "NicheInput",
    "NicheRow",
    "NicheSheet",
    "PlanReport",
    "PlannedQuery",
    "QueryOptions",
    "Region",
    "RowError",
    "RowOutcome",
    "all_regions",
    "effective_step",
    "generate_queries",
    "lookup_region",
    "normalise_place",
    "open_client",
    "open_niches",
    "parse_csv",
    "plan_batch",
    "query_hash",
    "read_niches",
    "region_by_id",
    "run_planning",
    "schedule_slots",
    "sheet_key",
    "sniff_delimiter",
    "validate_row",
]
