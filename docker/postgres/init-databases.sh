#!/usr/bin/env bash
# Runs once, on the first start of an empty data volume (docker-entrypoint-initdb.d): creates the pipeline
# database `leadgen` and Prefect's database `prefect`, each owned by its own login role.
set -euo pipefail

: "${LEADGEN_DB_PASSWORD:?set LEADGEN_DB_PASSWORD in .env}"
: "${PREFECT_DB_PASSWORD:?set PREFECT_DB_PASSWORD in .env}"

psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname postgres \
    --set=leadgen_password="$LEADGEN_DB_PASSWORD" --set=prefect_password="$PREFECT_DB_PASSWORD" <<'SQL'
CREATE ROLE leadgen LOGIN PASSWORD :'leadgen_password';
CREATE ROLE prefect LOGIN PASSWORD :'prefect_password';
CREATE DATABASE leadgen OWNER leadgen;
CREATE DATABASE prefect OWNER prefect;
\connect prefect
-- Prefect's migrations create pg_trgm; only a superuser may, so do it here.
CREATE EXTENSION IF NOT EXISTS pg_trgm;
SQL
