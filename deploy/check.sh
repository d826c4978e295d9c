#!/usr/bin/env bash
# Offline checks of the deployment files (`make check-deploy`): no container engine, no
# network. What each step proves, and what none of them can, is in docs/operations.md,
# "What was validated offline".
set -euo pipefail
cd "$(dirname "$0")/.."
BIN="${BIN:-.venv/bin}"
# The oldest Kubernetes minor the manifests promise (native sidecars aside, nothing newer is
# used) and the newest one kubernetes-validate bundles.
K8S_VERSIONS="${K8S_VERSIONS:-1.30.0 1.37.0}"

step() { printf '== %s\n' "$*"; }

step "hadolint $("$BIN/hadolint" --version | awk '{print $NF}'): Dockerfile"
"$BIN/hadolint" --failure-threshold warning Dockerfile

step "yamllint: deploy/"
"$BIN/yamllint" --strict -c deploy/yamllint.yaml deploy

step "compose-spec schema (bundled with check-jsonschema): deploy/compose.yaml"
"$BIN/check-jsonschema" --builtin-schema vendor.compose-spec deploy/compose.yaml

for version in $K8S_VERSIONS; do
  step "kubernetes-validate --strict, Kubernetes $version: deploy/k8s/"
  "$BIN/kubernetes-validate" --strict --quiet -k "$version" deploy/k8s/*.yaml deploy/k8s/examples/*.yaml
done

# nginx -t resolves every upstream host name: the compose service name `calendo` only exists
# on the compose network, so the copy under test points the upstream at loopback. Debian puts
# nginx in /usr/sbin, which is not on every user's PATH. Without nginx the step is skipped,
# except where CALENDO_TEST_REQUIRE_DEPLOY_TOOLS=1 (CI): there a missing nginx fails.
nginx="$(PATH="$PATH:/usr/sbin:/sbin" command -v nginx || true)"
if [ -n "$nginx" ]; then
  step "nginx -t ($("$nginx" -v 2>&1 | sed 's/.*nginx\///')): deploy/nginx.conf"
  scratch="$(mktemp -d)"
  trap 'rm -rf "$scratch"' EXIT
  sed 's/server calendo:8000/server 127.0.0.1:8000/' deploy/nginx.conf >"$scratch/nginx.conf"
  "$nginx" -t -q -p "$scratch" -c "$scratch/nginx.conf" -e "$scratch/error.log" -g "pid $scratch/nginx.pid;"
elif [ "${CALENDO_TEST_REQUIRE_DEPLOY_TOOLS:-}" = 1 ]; then
  step "nginx -t: FAILED, no nginx on PATH or in /usr/sbin (apt-get install nginx)"
  exit 1
else
  step "nginx -t: SKIPPED, no nginx on this machine (apt-get install nginx)"
fi

step "pytest: the files agree with each other and with the app"
"$BIN/pytest" -q -p no:randomly tests/deploy/test_manifests.py
