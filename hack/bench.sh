#!/usr/bin/env bash
# make bench: runs every benchmark and writes docs/benchmarks.md with its
# plots (docs/img/). Raw results are JSON records in $BENCH_RAW; the page can
# be rendered again from them without running anything:
#   bin/kvnet bench report --in docs/bench-raw --out docs/benchmarks.md
#
# The benchmarks run on a sandbox of their own, number KVNET_SANDBOX_ID
# (default 9: ports +900, namespaces kvs9-*, state /var/lib/kvnet-sandbox-9),
# which this script brings up fresh and takes down at the end. It never
# touches a sandbox of another number.
#
# Sizes default to the issues'; lower them for a quick look:
#   BENCH_RUNS=3                         repeated runs of podready, throughput and restart
#   BENCH_IPAM_COUNT=3                   -count of the IPAM Go benchmarks
#   BENCH_PODREADY_PODS=300              pods created at once (and plugged by hand: the floor)
#   BENCH_THROUGHPUT_PODS=500,1000,2000  pod counts of the throughput benchmark
#   BENCH_SCALE_STEPS=1000,5000,10000    cumulative pod counts of the scale benchmark
#   BENCH_SUBNETS=100                    subnets of the scale and restart population
#   BENCH_RESTART_PODS=10000             IP objects in place for restart recovery
#   BENCH_MIGRATIONS=20                  migrations per mode of the migration benchmark
#   BENCH_VPCS=100                       VPCs (10 subnets each) of the VPC benchmark
#   BENCH_ONLY="ipam podready throughput scale restart migration"   run only these
#   BENCH_RAW=docs/bench-raw             raw results (gitignored)
#   BENCH_PAGE=docs/benchmarks.md        the page (plots go to img/ beside it)
#   BENCH_KEEP_SANDBOX=1                 leave the sandbox up at the end
set -euo pipefail
cd "$(dirname "$0")/.."

ID=${KVNET_SANDBOX_ID:-9}
export KVNET_SANDBOX_ID=$ID
# Derived from the number, never inherited: the Makefile exports sandbox 0's
# directory, and using it here would take sandbox 0 down.
if [[ $ID == 0 ]]; then
	export KVNET_SANDBOX_DIR=/var/lib/kvnet-sandbox
else
	export KVNET_SANDBOX_DIR=/var/lib/kvnet-sandbox-$ID
fi
RUNS=${BENCH_RUNS:-3}
IPAM_COUNT=${BENCH_IPAM_COUNT:-3}
PODREADY_PODS=${BENCH_PODREADY_PODS:-300}
THROUGHPUT_PODS=${BENCH_THROUGHPUT_PODS:-500,1000,2000}
SCALE_STEPS=${BENCH_SCALE_STEPS:-1000,5000,10000}
SUBNETS=${BENCH_SUBNETS:-100}
RESTART_PODS=${BENCH_RESTART_PODS:-10000}
MIGRATIONS=${BENCH_MIGRATIONS:-20}
VPCS=${BENCH_VPCS:-100}
ONLY=${BENCH_ONLY:-ipam podready throughput scale restart migration vpcs}
RAW=${BENCH_RAW:-docs/bench-raw}
PAGE=${BENCH_PAGE:-docs/benchmarks.md}
KVNET=bin/kvnet
START=$SECONDS

log() { printf '\n=== %s  [%s, %ds so far]\n' "$*" "$(date +%H:%M:%S)" $((SECONDS - START)); }
want() { [[ " $ONLY " == *" $1 "* ]]; }
# fresh KIND: drop the records of KIND left by an earlier run.
fresh() { rm -f "$RAW/$1"-*.json; }

mkdir -p "$RAW"
log "machine (sandbox $ID, state $KVNET_SANDBOX_DIR, raw results in $RAW)"
$KVNET bench machine --out-dir "$RAW"

if want ipam; then
	log "IPAM Go benchmarks (-count $IPAM_COUNT)"
	fresh ipam
	cmd="go test -run '^\$' -bench . -benchmem -count $IPAM_COUNT ./internal/ipam/"
	# benchfmt reads "key: value" lines as configuration: the command travels with the output.
	{ echo "command: $cmd"; eval "$cmd"; } | tee "$RAW/ipam.txt"
	$KVNET bench ipam --in "$RAW/ipam.txt" --out-dir "$RAW"
fi

if want podready || want throughput || want scale || want restart || want migration || want vpcs; then
	log "sandbox $ID up"
	if [[ -z ${BENCH_KEEP_SANDBOX:-} ]]; then
		trap 'log "sandbox $ID down"; $KVNET sandbox down --id "$ID" || true' EXIT
	fi
	$KVNET sandbox up --id "$ID"
fi

if want podready; then
	log "pod network-ready latency and its floor: $PODREADY_PODS pods at once, $RUNS runs"
	fresh podready
	$KVNET bench podready --pods "$PODREADY_PODS" --runs "$RUNS" --out-dir "$RAW"
fi

if want throughput; then
	log "controller throughput without the data plane: $THROUGHPUT_PODS pods, $RUNS runs each"
	fresh throughput
	$KVNET bench throughput --pods "$THROUGHPUT_PODS" --runs "$RUNS" --out-dir "$RAW"
fi

# Migration and VPCs run before the scale population (10,000 pods left in
# place for restart) exists: with it, NB and SB are ten times larger and
# every chassis is slower, which is not what those figures are about.
if want migration; then
	# Every mode in the same invocation, one after the other, so they share
	# the machine's noise.
	fresh migration
	for run in "kvnet 10ms" "kvnet 1ms" "slow-controller 10ms" "naive 10ms"; do
		set -- $run
		log "live migration: $MIGRATIONS migrations, mode $1, probes every $2"
		$KVNET bench migration --mode "$1" --interval "$2" --count "$MIGRATIONS" --out-dir "$RAW"
	done
fi

if want vpcs; then
	log "$VPCS VPCs with 10 subnets each"
	fresh vpcs
	$KVNET bench vpcs --vpcs "$VPCS" --subnets 10 --out-dir "$RAW"
fi

if want scale; then
	log "scale: $SCALE_STEPS pods over $SUBNETS subnets (left in place for restart)"
	fresh scale
	$KVNET bench scale --steps "$SCALE_STEPS" --subnets "$SUBNETS" --keep --out-dir "$RAW"
fi

if want restart; then
	log "restart recovery: $RESTART_PODS IP objects across $SUBNETS subnets, $RUNS runs"
	fresh restart
	$KVNET bench restart --pods "$RESTART_PODS" --subnets "$SUBNETS" --runs "$RUNS" --keep --out-dir "$RAW"
fi

log "report"
$KVNET bench report --in "$RAW" --out "$PAGE"
echo "$PAGE written ($((SECONDS - START))s)"
