"""The Prefect side: idempotent bootstrap (work pool, global concurrency limits, variables, alerts) and its commands.

Import the modules (`infra.plan`, `infra.bootstrap`, `infra.cli`): the package itself imports nothing, so
`leadgen infra --help` loads no settings and no Prefect.
"""
