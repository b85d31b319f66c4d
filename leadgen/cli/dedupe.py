"""`leadgen dedupe`: recompute canonical domains and mark duplicate companies."""

from __future__ import annotations

import json

import typer

from leadgen.cli.context import get_engine, get_settings
from leadgen.stage_report import report_dict


def dedupe(ctx: typer.Context) -> None:
    """Recompute canonical domain and hash of every company; keep the earliest per domain/name, mark the rest."""
    from leadgen.companies import dedupe_companies
    from leadgen.db.engine import write_scope

    settings = get_settings(ctx)
    engine = get_engine(ctx)
    with write_scope(engine) as session:
        report = dedupe_companies(session, settings)
    typer.echo(json.dumps(report_dict(report), ensure_ascii=False))
