#!/usr/bin/env bash
# Regenerates the code kvnet commits: deepcopy functions and CRDs of api/v1,
# and the OVN NB/SB models. Run from anywhere; `make generate` / `make verify` call it.
set -euo pipefail
cd "$(dirname "$0")/.."

# API: deepcopy + CRDs (one YAML per kind in config/crd/).
go tool controller-gen object paths=./api/...
rm -f config/crd/kubeovn.io_*.yaml
go tool controller-gen crd:allowDangerousTypes=true paths=./api/... output:crd:artifacts:config=config/crd

# OVN models from the schemas vendored next to each package (OVN 23.03, the oldest kvnet supports).
go generate ./internal/ovn/nbdb/ ./internal/ovn/sbdb/ ./internal/ovn/vswitch/
