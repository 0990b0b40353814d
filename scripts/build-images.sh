#!/usr/bin/env bash
# Builds (and with --push, pushes) the mesh's images: one per code location in workspace.yaml
# (mesh-<domain>, with --build-arg DOMAIN=<domain>) and mesh-platform (webserver and daemon).
#
#   scripts/build-images.sh [--push] [--registry 123456789012.dkr.ecr.eu-west-1.amazonaws.com] [--tag v1]
#                           [--docker-launcher]      # images for deploy/dagster.docker.yaml (compose)
#
# DRY_RUN=1 prints the commands instead of running them.
set -euo pipefail
cd "$(dirname "$0")/.."
push=0 registry="" tag="latest" args=()
while [ $# -gt 0 ]; do
  case "$1" in
    --push) push=1 ;;
    --registry) registry="$2/"; shift ;;
    --tag) tag="$2"; shift ;;
    --docker-launcher) args+=(--build-arg INSTANCE_CONFIG=deploy/dagster.docker.yaml
                             --build-arg EXTRA_PACKAGES=dagster-docker==0.29.27) ;;
    *) echo "unknown argument $1" >&2; exit 2 ;;
  esac
  shift
done
python=".venv/bin/python"; [ -x "$python" ] || python=python3
domains=$("$python" -c 'import yaml
for entry in yaml.safe_load(open("workspace.yaml"))["load_from"]:
    print(next(iter(entry.values()))["location_name"])')
run() { if [ "${DRY_RUN:-0}" = "1" ]; then echo "$*"; else "$@"; fi; }
images=()
for domain in $domains; do
  image="${registry}mesh-${domain//_/-}:${tag}"
  run docker build "${args[@]}" --build-arg "DOMAIN=${domain}" -t "$image" .
  images+=("$image")
done
image="${registry}mesh-platform:${tag}"
run docker build "${args[@]}" --target platform -t "$image" .
images+=("$image")
if [ "$push" = "1" ]; then
  for image in "${images[@]}"; do run docker push "$image"; done
fi
