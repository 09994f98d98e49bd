#!/usr/bin/env bash
# Fails when go.mod/go.sum are not tidy, code is unformatted, go vet complains, or generated code
# (CRDs, deepcopy, OVSDB models) is not what the generators produce now.
set -euo pipefail
cd "$(dirname "$0")/.."
# go mod tidy -diff prints the diff and exits non-zero when a module is untidy.
for mod in . hack/k8s; do
	if ! (cd "$mod" && go mod tidy -diff); then echo "$mod/go.mod or go.sum not tidy: run 'go mod tidy' there and commit"; exit 1; fi
done
bad=$(gofmt -l $(git ls-files '*.go'))
if [ -n "$bad" ]; then echo "gofmt needed: $bad"; exit 1; fi
go vet ./...
go vet -tags=e2e ./test/e2e/...
hack/generate.sh
if ! git diff --exit-code --stat -- api config internal/ovn; then
	echo "generated code is stale: run 'make generate' and commit"; exit 1
fi
untracked=$(git ls-files --others --exclude-standard -- api config internal/ovn)
if [ -n "$untracked" ]; then echo "generated files not committed: $untracked"; exit 1; fi
echo "verify: ok"
