"""SQL of the reporting views, per dialect; created and dropped only by migrations."""

from __future__ import annotations

VIEW_NAMES = ("daily_summaries", "top_domains", "company_status_view")


def _day(column: str, dialect: str) -> str:
    return f"date({column})" if dialect == "sqlite" else f"CAST({column} AS DATE)"


def daily_summaries_sql(dialect: str) -> str:
    """One row per UTC day: queries planned, operations created, results, companies, contacts, sends."""

    def d(col: str) -> str:
        return _day(col, dialect)

    return f"""
CREATE VIEW daily_summaries AS
SELECT day,
       SUM(queries) AS queries,
       SUM(operations) AS operations,
       SUM(results) AS results,
       SUM(companies) AS companies,
       SUM(contacts) AS contacts,
       SUM(sent) AS sent,
       SUM(failed) AS failed,
       SUM(skipped) AS skipped
FROM (
    SELECT {d("created_at")} AS day, 1 AS queries, 0 AS operations, 0 AS results, 0 AS companies,
           0 AS contacts, 0 AS sent, 0 AS failed, 0 AS skipped FROM serp_queries
    UNION ALL
    SELECT {d("created_at")}, 0, 1, 0, 0, 0, 0, 0, 0 FROM serp_operations
    UNION ALL
    SELECT {d("created_at")}, 0, 0, 1, 0, 0, 0, 0, 0 FROM serp_results
    UNION ALL
    SELECT {d("created_at")}, 0, 0, 0, 1, 0, 0, 0, 0 FROM companies WHERE status <> 'duplicate'
    UNION ALL
    SELECT {d("created_at")}, 0, 0, 0, 0, 1, 0, 0, 0 FROM contacts
    UNION ALL
    SELECT {d("sent_at")}, 0, 0, 0, 0, 0, 1, 0, 0 FROM outreach_messages
    WHERE status IN ('sent', 'bounced', 'replied')
    UNION ALL
    SELECT {d("updated_at")}, 0, 0, 0, 0, 0, 0, 1, 0 FROM outreach_messages WHERE status = 'failed'
    UNION ALL
    SELECT {d("updated_at")}, 0, 0, 0, 0, 0, 0, 0, 1 FROM outreach_messages WHERE status = 'skipped'
) AS events
GROUP BY day
"""


TOP_DOMAINS_SQL = """
CREATE VIEW top_domains AS
SELECT domain,
       COUNT(*) AS results,
       COUNT(DISTINCT operation_id) AS operations,
       MIN(position) AS best_position,
       SUM(CASE WHEN skip_reason IS NULL THEN 1 ELSE 0 END) AS kept,
       MAX(skip_reason) AS skip_reason
FROM serp_results
WHERE domain IS NOT NULL
GROUP BY domain
"""

COMPANY_STATUS_VIEW_SQL = """
CREATE VIEW company_status_view AS
SELECT c.id AS company_id,
       c.canonical_domain,
       c.name,
       c.status,
       c.opt_out,
       c.batch_tag,
       (SELECT COUNT(*) FROM contacts k WHERE k.company_id = c.id AND k.kind = 'email') AS emails,
       (SELECT COUNT(*) FROM contacts k WHERE k.company_id = c.id AND k.kind = 'phone') AS phones,
       (SELECT k.value FROM contacts k WHERE k.company_id = c.id AND k.kind = 'email' AND k.is_primary
          ORDER BY k.id LIMIT 1) AS primary_email,
       (SELECT m.status FROM outreach_messages m WHERE m.company_id = c.id ORDER BY m.id DESC LIMIT 1)
          AS outreach_status,
       (SELECT MAX(m.sent_at) FROM outreach_messages m WHERE m.company_id = c.id) AS last_sent_at,
       c.created_at,
       c.updated_at
FROM companies c
"""


def _seconds(start: str, end: str, dialect: str) -> str:
    if dialect == "sqlite":
        return f"(julianday({end}) - julianday({start})) * 86400.0"
    return f"EXTRACT(EPOCH FROM ({end} - {start}))"


def daily_runs_sql(dialect: str) -> str:
    """One row per UTC day and stage of the run journal: runs, completed, failed, running, total seconds
    (of the finished runs). Created by migration 0605, so it is not among VIEW_NAMES (those of 0001)."""
    return f"""
CREATE VIEW daily_runs AS
SELECT {_day("started_at", dialect)} AS day,
       stage,
       COUNT(*) AS runs,
       SUM(CASE WHEN status = 'completed' THEN 1 ELSE 0 END) AS completed,
       SUM(CASE WHEN status = 'failed' THEN 1 ELSE 0 END) AS failed,
       SUM(CASE WHEN status = 'running' THEN 1 ELSE 0 END) AS running,
       COALESCE(SUM({_seconds("started_at", "finished_at", dialect)}), 0) AS total_seconds
FROM processing_jobs
GROUP BY {_day("started_at", dialect)}, stage
"""


def create_view_statements(dialect: str) -> list[str]:
    return [daily_summaries_sql(dialect), TOP_DOMAINS_SQL, COMPANY_STATUS_VIEW_SQL]


def drop_view_statements() -> list[str]:
    return [f"DROP VIEW IF EXISTS {name}" for name in reversed(VIEW_NAMES)]
