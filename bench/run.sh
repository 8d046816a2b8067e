#!/usr/bin/env bash
# Side-by-side benchmark of ecrsync against crane, regctl, oras and skopeo, and
# against the raw registry ceiling. Called by `make bench`; writes bench/RESULTS.md.
#
# Environment:
#   BENCH_RUNS=N         runs per tool and workload (default 5; 2 with BENCH_QUICK=1)
#   BENCH_QUICK=1        small sizes, for a smoke test in a minute or two
#   BENCH_TOOLS="..."    subset of: ecrsync crane regctl oras skopeo ceiling-seq ceiling-par
#   BENCH_WORKLOADS="..." subset of: cold index warm burst burst-batch big
#   BENCH_OUT=FILE       where to write the report (default bench/RESULTS.md)
#   ECRSYNC=PATH         the binary to measure (default bin/ecrsync)
#
# Every registry listens on 127.0.0.1 only and is stopped on exit.
set -euo pipefail
cd "$(dirname "$0")"
BENCH=$PWD
ROOT=$(cd .. && pwd)

QUICK=${BENCH_QUICK:-0}
if [ "$QUICK" = 1 ]; then RUNS=${BENCH_RUNS:-2}; else RUNS=${BENCH_RUNS:-5}; fi
TOOLS=${BENCH_TOOLS:-"ecrsync crane regctl oras skopeo ceiling-seq ceiling-par"}
WORKLOADS=${BENCH_WORKLOADS:-"cold index warm burst burst-batch big"}
OUT=${BENCH_OUT:-$BENCH/RESULTS.md}
ECRSYNC=${ECRSYNC:-$ROOT/bin/ecrsync}
CEILING_JOBS=8 # the ceiling's parallel width: one stream per layer of the cold image

# Workload sizes: full, or small ones for a smoke test.
if [ "$QUICK" = 1 ]; then
  COLD_LAYERS=8 COLD_SIZE=4Mi
  IDX_SHARED_SIZE=2Mi IDX_SIZE=1Mi
  BURST_TAGS=20 BURST_BASE=256Ki BURST_SIZE=16Ki
  BIG_SIZE=64Mi
else
  COLD_LAYERS=8 COLD_SIZE=64Mi
  IDX_SHARED_SIZE=32Mi IDX_SIZE=16Mi
  BURST_TAGS=200 BURST_BASE=1Mi BURST_SIZE=16Ki
  BIG_SIZE=2Gi
fi

bash "$BENCH/setup.sh"
export PATH="$BENCH/.bin:$PATH"

have_ecrsync() { [ -x "$ECRSYNC" ] && "$ECRSYNC" copy --help >/dev/null 2>&1; }
if [[ " $TOOLS " == *" ecrsync "* ]] && ! have_ecrsync; then
  echo "run: $ECRSYNC copy is not available (run make build); measuring the peers only" >&2
  TOOLS=$(echo " $TOOLS " | sed 's/ ecrsync / /')
fi

WORK=$BENCH/.work
rm -rf "$WORK"
mkdir -p "$WORK/home" "$WORK/logs"
if [ -d /dev/shm ] && [ -w /dev/shm ]; then
  STORE=$(mktemp -d /dev/shm/ecrsync-bench.XXXXXX)
else
  STORE=$(mktemp -d "$WORK/store.XXXXXX")
fi
RESULTS=$WORK/results.tsv
META=$WORK/meta.tsv
: >"$RESULTS"
: >"$META"

# Tools read their config (regctl), credentials (crane, oras) and blob-info
# cache (skopeo, when not root) from HOME: give them an empty one of their own.
export HOME=$WORK/home
export XDG_DATA_HOME=$HOME/.local/share XDG_CONFIG_HOME=$HOME/.config
export OTEL_TRACES_EXPORTER=none OTEL_METRICS_EXPORTER=none OTEL_LOGS_EXPORTER=none

REG_PIDS=()
stop_registries() {
  local p
  for p in "${REG_PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
  for p in "${REG_PIDS[@]}"; do wait "$p" 2>/dev/null || true; done
  REG_PIDS=()
  rm -rf "${STORE:?}"/*
}
cleanup() {
  stop_registries
  rm -rf "$STORE"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# start_registries starts a fresh source and destination registry and sets SRC and DST.
start_registries() {
  local name port
  for name in src dst; do
    port=$(benchtool port)
    mkdir -p "$STORE/$name"
    cat >"$STORE/$name.yml" <<EOF
version: 0.1
log:
  level: error
  accesslog:
    disabled: true
storage:
  filesystem:
    rootdirectory: $STORE/$name
  delete:
    enabled: true
  maintenance:
    uploadpurging:
      enabled: false
http:
  addr: 127.0.0.1:$port
  secret: ecrsync-bench
EOF
    registry serve "$STORE/$name.yml" >>"$WORK/logs/registry-$name.log" 2>&1 &
    REG_PIDS+=($!)
    printf -v "${name^^}" '127.0.0.1:%s' "$port"
  done
  benchtool wait "$SRC" "$DST"
  regctl registry set --tls disabled "$SRC" >/dev/null
  regctl registry set --tls disabled "$DST" >/dev/null
}

meta() { printf '%s\t%s\n' "$1" "$2" >>"$META"; }

# copy_cmd TOOL SRC DST sets CMD to one copy of one reference with TOOL's defaults.
copy_cmd() {
  case $1 in
    ecrsync) CMD=("$ECRSYNC" copy "$2" "$3") ;;
    crane) CMD=(crane copy "$2" "$3") ;;
    regctl) CMD=(regctl image copy "$2" "$3") ;;
    oras) CMD=(oras cp --from-plain-http --to-plain-http "$2" "$3") ;;
    skopeo) CMD=(skopeo copy --src-tls-verify=false --dest-tls-verify=false
      --multi-arch all --preserve-digests "docker://$2" "docker://$3") ;;
    ceiling-seq) CMD=(benchtool ceiling -jobs 1 "$2" "$3") ;;
    ceiling-par) CMD=(benchtool ceiling -jobs "$CEILING_JOBS" "$2" "$3") ;;
    *) echo "unknown tool $1" >&2; return 2 ;;
  esac
}

# clear_caches removes skopeo's blob-info cache, which would otherwise
# remember blobs pushed by an earlier run and mount them instead of uploading.
clear_caches() {
  rm -f /var/lib/containers/cache/blob-info-cache-v1.boltdb 2>/dev/null || true
  rm -rf "$HOME/.local/share/containers/cache"
}

# measure WORKLOAD TOOL RUN VERIFY_ARGS [EXEC_FLAGS...] -- CMD...: run CMD under
# benchtool exec (wall time, peak RSS, client and registry CPU), verify the
# destination, and append one line to results.tsv.
measure() {
  local w=$1 tool=$2 run=$3 verify=$4
  shift 4
  local flags=()
  while [ "$1" != -- ]; do flags+=("$1"); shift; done
  shift
  local log="$WORK/logs/$w-$tool-$run.log" tf="$WORK/exec.out" status=ok
  clear_caches
  sync
  rm -f "$tf"
  benchtool exec -o "$tf" -log "$log" -pids "${REG_PIDS[*]}" "${flags[@]}" -- "$@" ||
    echo "0 0 0 0 99" >"$tf"
  local secs rss cpu srv rc
  read -r secs rss cpu srv rc <"$tf"
  if [ "$rc" != 0 ]; then
    status="exit-$rc"
  elif ! eval "benchtool verify $verify" >>"$log" 2>&1; then
    status=verify-failed
  fi
  printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$w" "$tool" "$run" "$secs" "$rss" "$cpu" "$srv" "$status" >>"$RESULTS"
  printf 'run: %-11s %-12s run %s: %8ss %4s MiB  cpu %6ss  registries %6ss  %s\n' \
    "$w" "$tool" "$run" "$secs" "$((rss / 1024))" "$cpu" "$srv" "$status" >&2
  if [ "$status" != ok ]; then tail -n 5 "$log" | sed 's/^/    /' >&2; fi
}

# rotated RUN: the tool list rotated by RUN, so no tool always goes first.
rotated() {
  local -a t=($TOOLS)
  local n=${#t[@]} i
  for ((i = 0; i < n; i++)); do echo "${t[$(((i + $1) % n))]}"; done
}

gen() { # gen WORKLOAD ARGS...: push the workload's source image; records its bytes.
  local w=$1 out
  shift
  out=$(benchtool gen -dst "$SRC" "$@")
  meta "bytes.$w" "${out#* }"
}

# single WORKLOAD SRCREF DSTREPO TAG [NEW]: every tool copies SRCREF, RUNS times,
# interleaved; to DSTREPO-TOOL-RUN:TAG (a new repository each time), or with
# NEW=0 to DSTREPO:TAG, which already holds the image.
single() {
  local w=$1 src=$2 dst=$3 tag=$4 new=${5:-1} r tool d
  for ((r = 1; r <= RUNS; r++)); do
    for tool in $(rotated "$r"); do
      if [ "$new" = 1 ]; then
        d="$dst-$tool-$r:$tag"
      else
        [[ $tool == ceiling-* ]] && continue # a raw copy has no notion of "already there"
        d="$dst:$tag"
      fi
      copy_cmd "$tool" "$src" "$d"
      measure "$w" "$tool" "$r" "$src $d" -- "${CMD[@]}"
    done
  done
}

workload_cold() {
  start_registries
  gen cold -kind image -repo cold -tag v1 -seed 1 -layers "$COLD_LAYERS" -size "$COLD_SIZE"
  single cold "$SRC/cold:v1" "$DST/cold" v1
  stop_registries
}

gen_index() {
  gen "$1" -kind index -repo app -tag v1 -seed 2 -platforms 4 -shared 2 -layers 3 \
    -shared-size "$IDX_SHARED_SIZE" -size "$IDX_SIZE"
}

workload_index() {
  start_registries
  gen_index index
  single index "$SRC/app:v1" "$DST/app" v1
  stop_registries
}

# warm: the index again, into a repository that already holds all of it.
workload_warm() {
  start_registries
  gen_index warm
  benchtool ceiling -jobs 4 "$SRC/app:v1" "$DST/app:v1" 2>/dev/null
  single warm "$SRC/app:v1" "$DST/app" v1 0
  stop_registries
}

workload_burst() {
  start_registries
  local tags="$WORK/burst-tags.txt"
  gen burst -kind burst -repo burst -seed 3 -count "$BURST_TAGS" \
    -shared-size "$BURST_BASE" -size "$BURST_SIZE" -tags-out "$tags"
  meta images.burst "$BURST_TAGS"
  local r tool d
  for ((r = 1; r <= RUNS; r++)); do
    for tool in $(rotated "$r"); do
      d="$DST/burst-$tool-$r"
      case $tool in
        ceiling-seq) measure burst "$tool" "$r" "-tags $tags $SRC/burst $d" -- \
          benchtool ceiling -jobs 1 -tags "$tags" "$SRC/burst" "$d" ;;
        ceiling-par) measure burst "$tool" "$r" "-tags $tags $SRC/burst $d" -- \
          benchtool ceiling -jobs "$CEILING_JOBS" -tags "$tags" "$SRC/burst" "$d" ;;
        *)
          copy_cmd "$tool" "$SRC/burst:{}" "$d:{}"
          measure burst "$tool" "$r" "-tags $tags $SRC/burst $d" -each "$tags" -- "${CMD[@]}"
          ;;
      esac
    done
  done
  stop_registries
}

# burst-batch: the same tags, each peer in the batch mode a user would pick
# for "copy every tag of this repository": crane copy --all-tags, regsync once
# (type repository), skopeo sync, ecrsync copy --all-tags (one process, default
# --parallel); oras has none at all and is left out.
workload_burst_batch() {
  start_registries
  local tags="$WORK/burst-tags.txt"
  gen burst-batch -kind burst -repo burst -seed 3 -count "$BURST_TAGS" \
    -shared-size "$BURST_BASE" -size "$BURST_SIZE" -tags-out "$tags"
  meta images.burst-batch "$BURST_TAGS"
  local r tool d v
  for ((r = 1; r <= RUNS; r++)); do
    for tool in $(rotated "$r"); do
      d="$DST/batch-$tool-$r"
      v="-tags $tags $SRC/burst $d"
      case $tool in
        ecrsync) measure burst-batch ecrsync "$r" "$v" -- "$ECRSYNC" copy --all-tags "$SRC/burst" "$d" ;;
        crane) measure burst-batch crane "$r" "$v" -- crane copy --all-tags "$SRC/burst" "$d" ;;
        regctl)
          cat >"$WORK/regsync.yml" <<EOF
version: 1
creds:
  - registry: $SRC
    tls: disabled
  - registry: $DST
    tls: disabled
sync:
  - source: $SRC/burst
    target: $d
    type: repository
EOF
          measure burst-batch regsync "$r" "$v" -- regsync once -c "$WORK/regsync.yml"
          ;;
        skopeo)
          measure burst-batch skopeo "$r" "-tags $tags $SRC/burst $d/burst" -- \
            skopeo sync --src docker --dest docker --src-tls-verify=false \
            --dest-tls-verify=false --all --preserve-digests "$SRC/burst" "$d"
          ;;
        ceiling-par) measure burst-batch ceiling-par "$r" "$v" -- \
          benchtool ceiling -jobs "$CEILING_JOBS" -tags "$tags" "$SRC/burst" "$d" ;;
        *) ;; # oras: no batch mode; ceiling-seq: see the burst
      esac
    done
  done
  stop_registries
}

workload_big() {
  start_registries
  gen big -kind image -repo big -tag v1 -seed 5 -layers 1 -size "$BIG_SIZE"
  single big "$SRC/big:v1" "$DST/big" v1
  stop_registries
}

# Machine and versions.
meta date "$(date -u '+%Y-%m-%d %H:%M UTC')"
meta nproc "$(nproc)"
meta cpu "$(awk -F': ' '/^model name/{print $2; exit}' /proc/cpuinfo)"
meta memory "$(awk '/^MemTotal/{printf "%.1f GiB", $2/1048576}' /proc/meminfo)"
meta kernel "$(uname -sr)"
meta storage "$([[ $STORE == /dev/shm/* ]] && echo tmpfs /dev/shm || echo disk)"
meta go "$(go version | awk '{print $3}')"
meta runs "$RUNS"
meta quick "$QUICK"
meta tools "$TOOLS"
modver() { go version -m "$1" 2>/dev/null | awk '$1=="mod"{print $3; exit}'; }
if have_ecrsync; then
  meta version.ecrsync "$("$ECRSYNC" version 2>/dev/null | head -n1 || true) (the binary's own version)"
fi
meta version.crane "$(modver "$BENCH/.bin/crane")"
meta version.regctl "$(modver "$BENCH/.bin/regctl")"
meta version.regsync "$(modver "$BENCH/.bin/regsync")"
meta version.oras "$(modver "$BENCH/.bin/oras")"
meta version.skopeo "$(skopeo --version | awk '{print $3}') (Debian $(dpkg-query -W -f '${Version}' skopeo 2>/dev/null || echo '?'))"
meta version.registry "distribution $(modver "$BENCH/.bin/registry")"
meta cmd.ecrsync 'ecrsync copy SRC DST'
meta cmd.crane 'crane copy SRC DST'
meta cmd.regctl 'regctl image copy SRC DST (regctl registry set --tls disabled HOST)'
meta cmd.oras 'oras cp --from-plain-http --to-plain-http SRC DST'
meta cmd.skopeo 'skopeo copy --src-tls-verify=false --dest-tls-verify=false --multi-arch all --preserve-digests docker://SRC docker://DST'
meta cmd.ceiling-seq 'benchtool ceiling -jobs 1: GET blob, POST + monolithic PUT, one at a time, then the manifests'
meta cmd.ceiling-par "benchtool ceiling -jobs $CEILING_JOBS: the same, $CEILING_JOBS blobs (and burst tags) at once"
meta desc.cold "$COLD_LAYERS random layers of $COLD_SIZE, one image, to a new repository each run"
meta desc.index "OCI index of 4 platforms x 5 layers: 2 shared ($IDX_SHARED_SIZE each), 3 per platform ($IDX_SIZE each); new repository each run"
meta desc.warm "the index copied again into a repository that already holds all of it"
meta desc.burst "$BURST_TAGS tags of small images (a shared $BURST_BASE base layer + one $BURST_SIZE layer each); one invocation per tag; new repository each run"
meta desc.burst-batch "the same $BURST_TAGS tags, each tool in its own batch mode, one process for the whole repository: ecrsync copy --all-tags (default --parallel 8), crane copy --all-tags, regsync once (type repository), skopeo sync --all; new repository each run"
meta cmd.batch '`ecrsync copy --all-tags SRC_REPO DST_REPO`, `crane copy --all-tags SRC_REPO DST_REPO`, `regsync once -c FILE`, `skopeo sync --src docker --dest docker --src-tls-verify=false --dest-tls-verify=false --all --preserve-digests SRC_REPO DST_NS`'
meta cmd.regsync 'regsync once -c FILE (sync type repository, tls disabled for both hosts)'
meta desc.big "one layer of $BIG_SIZE random data; new repository each run"

# The machine may be shared: record the load average (1, 5, 15 min) before and
# after each workload, so the report says how busy it was.
loadavg() { awk '{print $1, $2, $3}' /proc/loadavg; }
meta load.start "$(loadavg)"
for w in $WORKLOADS; do
  echo "run: workload $w ($RUNS runs; tools: $(echo $TOOLS)); load $(loadavg)" >&2
  meta "load.before.$w" "$(loadavg)"
  "workload_${w//-/_}"
  meta "load.after.$w" "$(loadavg)"
done
meta load.end "$(loadavg)"

benchtool report -results "$RESULTS" -meta "$META" -out "$OUT"
echo "run: wrote $OUT" >&2
