#!/usr/bin/env bash
# Builds every Lambda in functions/ as a provided.al2023 bootstrap:
#   build/lambda/<name>/bootstrap
# Reproducible: CGO off, -trimpath, no build id, stripped; GOARCH defaults
# to arm64 (Graviton), override with GOARCH=amd64 for local measurements.
# The CDK app (infra/) calls this script during synth.
set -euo pipefail
cd "$(dirname "$0")/.."
out="${OUT:-build/lambda}"
arch="${GOARCH:-arm64}"
for dir in functions/*/; do
  name=$(basename "$dir")
  [ -f "$dir/main.go" ] || continue
  mkdir -p "$out/$name"
  CGO_ENABLED=0 GOOS=linux GOARCH="$arch" go build -tags lambda.norpc -trimpath \
    -ldflags "-s -w -buildid=" -o "$out/$name/bootstrap" "./$dir"
  printf '%-10s %s bytes\n' "$name" "$(stat -c %s "$out/$name/bootstrap")"
done
