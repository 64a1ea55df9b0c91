#!/usr/bin/env bash
# The project's test command: README's quick start and .ci/run both run it.
# First the main module (the server and its tools), then the nested modules
# under deploy/ that keep their dependencies out of the server's build: the
# image builder (its test builds the image and runs it in a chroot when run
# as root) and the Helm chart tests (Helm SDK, k8s.io/api).
set -euo pipefail
cd "$(dirname "$0")"

go vet ./... && go test -race -timeout 20m ./...

for module in deploy/image deploy/helm/chart_test; do
  echo "== $module"
  (cd "$module" && go vet ./... && go test -timeout 10m ./...)
done
