"""Test fixtures: a clean environment, and migrated databases on SQLite (always) and Postgres (when configured).

Set LEADGEN_TEST_DATABASE_URL (e.g. postgresql+psycopg://postgres@127.0.0.1:5432/test) to run every
database test on Postgres as well. Each test gets its own database: a copy of a migrated SQLite file, or a
Postgres database cloned from a migrated template.
"""

from __future__ import annotations

import itertools
import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck
from hypothesis import settings as hypothesis_settings
from sqlalchemy import Engine, create_engine, make_url, text
from sqlalchemy.orm import Session

from leadgen.db import make_engine, migrate
from leadgen.settings import Settings

# No per-example deadline (the machine is shared and slow examples are not bugs). Under CI (CI=true) examples are
# derandomized so a run is reproducible; locally they stay random and keep finding new inputs.
hypothesis_settings.register_profile("local", deadline=None, suppress_health_check=[HealthCheck.too_slow])
hypothesis_settings.register_profile(
    "ci", deadline=None, suppress_health_check=[HealthCheck.too_slow], derandomize=True, print_blob=True
)
hypothesis_settings.load_profile("ci" if os.environ.get("CI") else "local")

PG_URL = os.environ.get("LEADGEN_TEST_DATABASE_URL", "").strip()
BACKENDS = ["sqlite", "postgres"] if PG_URL else ["sqlite"]
_counter = itertools.count()
_PREFIX = f"lgt_{os.getpid()}"


@pytest.fixture(autouse=True)
def clean_environ(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No test depends on the host's environment or a stray .env: settings env vars are removed."""
    for name in list(os.environ):
        if name.lower() in Settings.model_fields or name.startswith(
            ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY")
        ):
            monkeypatch.delenv(name, raising=False)
    for name in ("http_proxy", "https_proxy", "all_proxy", "NO_PROXY", "no_proxy"):
        monkeypatch.delenv(name, raising=False)


def _admin_engine() -> Engine:
    url = make_url(PG_URL)
    return create_engine(url, isolation_level="AUTOCOMMIT")


def _pg_url(name: str) -> str:
    return make_url(PG_URL).set(database=name).render_as_string(hide_password=False)


def create_pg_database(name: str, template: str | None = None) -> str:
    """A fresh database `name` on the LEADGEN_TEST_DATABASE_URL server (dropped first if left over); its URL."""
    admin = _admin_engine()
    try:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            suffix = f' TEMPLATE "{template}"' if template else ""
            conn.execute(text(f'CREATE DATABASE "{name}"{suffix}'))
    finally:
        admin.dispose()
    return _pg_url(name)


def drop_pg_database(name: str) -> None:
    """Drop database `name` on the LEADGEN_TEST_DATABASE_URL server, closing its connections."""
    admin = _admin_engine()
    try:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    finally:
        admin.dispose()


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("template") / "template.db"
    engine = make_engine(f"sqlite:///{path}")
    migrate.upgrade(engine)
    engine.dispose()
    return path


@pytest.fixture(scope="session")
def pg_template() -> Iterator[str]:
    name = f"{_PREFIX}_template"
    url = create_pg_database(name)
    engine = make_engine(url)
    migrate.upgrade(engine)
    engine.dispose()
    yield name
    drop_pg_database(name)


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def db_url(backend: str, request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """URL of a freshly migrated database of its own."""
    if backend == "sqlite":
        path = tmp_path / "leadgen.db"
        shutil.copy(request.getfixturevalue("sqlite_template"), path)
        yield f"sqlite:///{path}"
        return
    template = request.getfixturevalue("pg_template")
    name = f"{_PREFIX}_{next(_counter)}"
    url = create_pg_database(name, template=template)
    yield url
    drop_pg_database(name)


@pytest.fixture
def empty_db_url(backend: str, tmp_path: Path) -> Iterator[str]:
    """URL of an empty, never migrated database of its own."""
    if backend == "sqlite":
        yield f"sqlite:///{tmp_path / 'empty.db'}"
        return
    name = f"{_PREFIX}_{next(_counter)}"
    url = create_pg_database(name)
    yield url
    drop_pg_database(name)


@pytest.fixture
def engine(db_url: str) -> Iterator[Engine]:
    eng = make_engine(db_url)
    yield eng
    eng.dispose()


@pytest.fixture
def session(engine: Engine) -> Iterator[Session]:
    with Session(engine, expire_on_commit=False) as s:
        yield s
        s.rollback()


@pytest.fixture
def settings(db_url: str, tmp_path: Path) -> Settings:
    """Settings for a test: its own database, data under tmp_path, no .env file."""
    return Settings(_env_file=None, database_url=db_url, data_dir=tmp_path / "data")  # type: ignore[call-arg]
