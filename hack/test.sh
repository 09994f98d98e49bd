#!/usr/bin/env bash
# Runs kvnet's test tiers. "unit": pure tests plus the integration tests that
# need root (real OVSDB, OVS, network namespaces) and a real kube-apiserver
# (envtest with the sandbox's control-plane binaries). The root-only tests
# (*_privileged_test.go) carry no build tag: they always compile, and with
# KVNET_REQUIRE_ENVTEST set (here) or CI set they fail, not skip, when they
# cannot run (not root, OVS/OVN missing; see test/agenttest.Require). "e2e": the sandbox
# tests, which bring a sandbox up and take it down; "all": both.
set -euo pipefail
cd "$(dirname "$0")/.."
what=${1:-all}

export KVNET_REQUIRE_ENVTEST=1
if [ -x hack/envtest-assets.sh ]; then
	KUBEBUILDER_ASSETS=$(hack/envtest-assets.sh)
	export KUBEBUILDER_ASSETS
fi

if [ "$what" = unit ] || [ "$what" = all ]; then
	echo "== unit and integration tests"
	go test -count=1 -timeout 20m ./...
fi
if [ "$what" = e2e ] || [ "$what" = all ]; then
	echo "== end-to-end tests on the sandbox"
	# The e2e package brings the sandbox up itself (TestMain) and takes it
	# down at the end, checking that nothing is left behind.
	KVNET_E2E_MANAGE=1 go test -tags=e2e -count=1 -timeout 60m -v ./test/e2e/...
fi
