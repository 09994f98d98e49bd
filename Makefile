# kvnet's build, sandbox and tests. On a fresh Debian 12 machine (as root):
#   make sandbox   # build, then bring up the sandbox with kvnet running
#   make test      # unit, integration and end-to-end tests
SHELL := /bin/bash
GO    ?= go
BIN   := bin
CMDS  := $(notdir $(wildcard cmd/*))

.PHONY: all build sandbox sandbox-down deps test test-unit test-e2e verify generate fmt vet bench bench-migration chaos clean

all: build

build:
	$(GO) build -o $(BIN)/ $(addprefix ./cmd/,$(CMDS))

# The sandbox: a real control plane, OVN and N nodes with kvnet (NODES=3).
sandbox: build
	$(BIN)/kvnet sandbox up --nodes $(or $(NODES),3)

sandbox-down: build
	$(BIN)/kvnet sandbox down

# Debian packages and the control-plane build the tests need.
deps: build
	$(BIN)/kvnet sandbox deps

test: deps
	hack/test.sh all

test-unit:
	hack/test.sh unit

test-e2e: build
	hack/test.sh e2e

generate:
	hack/generate.sh

verify:
	hack/verify.sh

bench: build
	hack/bench.sh

# Live-migration loss only (issue 5): 20 migrations per mode.
bench-migration: build
	BENCH_ONLY=migration hack/bench.sh

# Churn pods and VMs in the running sandbox while killing kvnet's controller
# and agents, then check the invariants (KVNET_SANDBOX_ID, DURATION,
# KILL_EVERY, SEED). Exits non-zero on any violation.
chaos: build
	$(BIN)/kvnet chaos --id $(or $(KVNET_SANDBOX_ID),0) --duration $(or $(DURATION),10m) \
		--kill-every $(or $(KILL_EVERY),5s) $(if $(SEED),--seed $(SEED))

clean:
	rm -rf $(BIN)
