#!/usr/bin/env bash
# The whole test suite: formatting, vet, every Go test (unit, conformance,
# local mode in-process and through the real binary). Installs nothing by
# hand: Go modules come from go.mod; node (for the JSON.stringify
# equivalence test) is on the machine image.
set -euo pipefail
cd "$(dirname "$0")/.."

unformatted=$(find . -name '*.go' -not -path './node_modules/*' -not -path './cdk.out/*' -not -path './build/*' -print0 | xargs -0 gofmt -l)
if [ -n "$unformatted" ]; then
  echo "gofmt would change:" $unformatted >&2
  exit 1
fi
go vet ./...
go test -count=1 -timeout 12m "$@" ./...
