#!/bin/sh
# Build leadgen:latest without a registry: a Debian bookworm base made by debootstrap, imported as
# local/python:3.11, then the project's Dockerfile on top (legacy builder: BuildKit's `# syntax=` line would
# pull a frontend image). Needs root, debootstrap, a running dockerd, Debian mirrors and PyPI.
#   sudo scripts/docker_e2e_image.sh [ROOTFS_DIR]
set -eu
ROOTFS=${1:-/tmp/leadgen-e2e-rootfs}
BASE=local/python:3.11
if ! docker image inspect "$BASE" >/dev/null 2>&1; then
    if [ ! -x "$ROOTFS/usr/bin/python3" ]; then
        debootstrap --variant=minbase --include=python3,python3-venv,python3-pip,ca-certificates \
            bookworm "$ROOTFS"
    fi
    rm -rf "$ROOTFS/etc/ssl/certs" && mkdir -p "$ROOTFS/etc/ssl/certs"
    cp -RL /etc/ssl/certs/. "$ROOTFS/etc/ssl/certs/"
    # The Dockerfile calls `python`; Debian ships `python3` only.
    ln -sf python3 "$ROOTFS/usr/bin/python"
    tar -C "$ROOTFS" -c . | docker import - "$BASE"
fi
cd "$(dirname "$0")/.."
DOCKER_BUILDKIT=0 docker build --network host --build-arg PYTHON_IMAGE="$BASE" -t leadgen:latest .
