#!/usr/bin/env bash
# Side by side in one bench session: controller throughput (2000 pods) and
# restart recovery (10k IPs, 100 subnets) of kvnet-controller built from
# BASE (a commit) and from the work tree, alternating run by run on one
# sandbox (number KVNET_SANDBOX_ID, default 9), so both share the
# machine's noise. Only the controller differs between the two.
#   BASE=<commit> ROUNDS=3 hack/bench-compare.sh
# Raw records: docs/bench-raw/compare/{base,head}/; a summary is printed.
set -euo pipefail
cd "$(dirname "$0")/.."
BASE=${BASE:?BASE=<commit> to compare against}
ROUNDS=${ROUNDS:-3}
# ONLY=restart runs restart recovery alone: each run then starts on a
# machine that is not still digesting the previous throughput run's 2000
# deletions (which the two controllers drain at very different speeds).
ONLY=${ONLY:-throughput restart}
ID=${KVNET_SANDBOX_ID:-9}
export KVNET_SANDBOX_ID=$ID KVNET_SANDBOX_DIR=/var/lib/kvnet-sandbox-$ID
OUT=${BENCH_RAW:-docs/bench-raw}/compare
KVNET=bin/kvnet

make build
work=$(mktemp -d)
trap 'git worktree remove --force "$work/base" 2>/dev/null || true; rm -rf "$work"' EXIT
git worktree add -q --detach "$work/base" "$BASE"
(cd "$work/base" && go build -o "$work/bin-base/" ./cmd/kvnet-controller)
cp bin/kvnet-controller "$work/kvnet-controller-head"
use() { install -m 0755 "$1" bin/kvnet-controller; $KVNET sandbox restart-controller --id "$ID"; }

rm -rf "$OUT"; mkdir -p "$OUT/base" "$OUT/head"
$KVNET sandbox up --id "$ID"
trap '$KVNET sandbox down --id "$ID" || true; install -m 0755 "$work/kvnet-controller-head" bin/kvnet-controller; git worktree remove --force "$work/base" 2>/dev/null || true; rm -rf "$work"' EXIT
# The restart population (10k pods) first, so every throughput run below
# meets the same NB and caches; this warm-up run is not recorded.
$KVNET bench restart --pods 10000 --subnets 100 --runs 1 --keep --out-dir "$work/warmup"
for round in $(seq "$ROUNDS"); do
	# Alternate which goes first, so a drift of the machine over the
	# session does not favour one side.
	order="base head"
	((round % 2 == 0)) && order="head base"
	for which in $order; do
		bin="$work/bin-base/kvnet-controller"; [[ $which == head ]] && bin="$work/kvnet-controller-head"
		echo "=== round $round: $which ($(date +%T))"
		use "$bin"
		if [[ " $ONLY " == *" throughput "* ]]; then
			$KVNET bench throughput --pods 2000 --runs 1 --out-dir "$OUT/$which"
		fi
		if [[ " $ONLY " == *" restart "* ]]; then
			$KVNET bench restart --pods 10000 --subnets 100 --runs 1 --keep --out-dir "$OUT/$which"
		fi
	done
done
install -m 0755 "$work/kvnet-controller-head" bin/kvnet-controller
for which in base head; do
	echo "== $which"
	for f in "$OUT/$which"/*.json; do
		echo "$(basename "$f"): $(head -c 600 "$f")"
	done
done
