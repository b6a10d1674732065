#!/usr/bin/env bash
# Benchmark runner: builds the tools, starts the Plinth benchmark service, the reference service
# (per-write commit and group commit), the echo ceiling and optionally another target, measures
# cold start, recovery after SIGKILL and RSS, runs
# every scenario x transport several times alternating the systems, and summarizes medians and
# ratios into <out>/summary.md and <out>/summary.json. With --pg URL the same systems run on
# PostgreSQL (plinth-pg, reference-pg, reference-pg-batching). See bench/README.md.
set -euo pipefail

usage() {
    cat <<'EOF'
usage: bench/run.sh [options]
  --runs N               repetitions of every (scenario, transport, system) run   [3]
  --duration D           measured time per run (plinth-load syntax: 10s, 500ms)  [10s]
  --warmup D             warm-up per run, excluded from results                  [2s]
  --scenarios "..."      scenarios                          [write read hot mixed event]
  --transports "..."     transports (http1 h2c grpc)                             [http1 grpc]
  --concurrency N        requests in flight (closed loop)                        [64]
  --rate R               also run open loop at R req/s (latency from intended send time)
  --open-only            with --rate: only the open-loop runs
  --coldstarts N         cold-start samples per system                           [3]
  --recovery-entities N  entities written before the SIGKILL of the recovery test (0: skip) [100000]
  --pin                  server on CPU 0, load generator on CPU 1 (default: both unpinned)
  --systems "..."        built-in systems to run (plinth reference reference-batching echo;
                         with --pg also plinth-pg reference-pg reference-pg-batching)
                                                       [plinth reference reference-batching echo]
  --pg URL               PostgreSQL server for the *-pg systems (postgres://user:pass@host:port/db);
                         each such system gets its own database bench_<label>, recreated at start
  --reference LABEL      system the summary's ratios are relative to                [reference]
  --ceiling LABEL        system the summary treats as the RPC ceiling               [echo]
  --target-label NAME    label of one more system under test                     [target]
  --target-cmd "CMD"     command starting it; {http}, {grpc}, {db} are replaced by addresses
                         and a fresh database path (no {grpc}: one port serves both); {pg} by
                         the URL of a PostgreSQL database of its own (needs --pg)
  --target-load-args "." extra plinth-load flags for it (request templates, --proto ...)
  --out DIR              results directory                  [bench/results/<UTC timestamp>]
  --port-base P          first of the fixed loopback ports (below the ephemeral range) [21100]
  --smoke                300 requests per run, no warm-up, 1 run, 1 cold start (proves the pipeline)
  --debug                use debug builds (smoke only; never for figures)
  --no-build             use the binaries already built
EOF
}

ROOT="$(cd "$(dirname "$0")/.." && pwd)"

pg_url_with_db() { # url db: the URL with its database name replaced
    local url="$1" db="$2" query="" rest
    [[ "$url" == *"?"* ]] && query="?${url#*\?}" && url="${url%%\?*}"
    rest="${url#*://}"
    echo "${url%%://*}://${rest%%/*}/$db$query"
}
ARGS="$*"
RUNS=3 DURATION=10s WARMUP=2s SCENARIOS="write read hot mixed event" TRANSPORTS="http1 grpc"
CONCURRENCY=64 RATE="" COLDSTARTS=3 PIN=0 TARGET_LABEL=target TARGET_CMD="" TARGET_LOAD_ARGS=""
SYSTEMS="plinth reference reference-batching echo" RECOVERY=100000
OUT="" PORT_BASE=21100 SMOKE=0 PROFILE=release BUILD=1 OPEN_ONLY=0
PG_URL="" SUMMARY_REFERENCE=reference SUMMARY_CEILING=echo

while [ $# -gt 0 ]; do
    case "$1" in
        --runs) RUNS="$2"; shift ;;
        --duration) DURATION="$2"; shift ;;
        --warmup) WARMUP="$2"; shift ;;
        --scenarios) SCENARIOS="$2"; shift ;;
        --transports) TRANSPORTS="$2"; shift ;;
        --concurrency) CONCURRENCY="$2"; shift ;;
        --rate) RATE="$2"; shift ;;
        --open-only) OPEN_ONLY=1 ;;
        --coldstarts) COLDSTARTS="$2"; shift ;;
        --recovery-entities) RECOVERY="$2"; shift ;;
        --pin) PIN=1 ;;
        --systems) SYSTEMS="$2"; shift ;;
        --target-label) TARGET_LABEL="$2"; shift ;;
        --target-cmd) TARGET_CMD="$2"; shift ;;
        --target-load-args) TARGET_LOAD_ARGS="$2"; shift ;;
        --out) OUT="$2"; shift ;;
        --pg) PG_URL="$2"; shift ;;
        --reference) SUMMARY_REFERENCE="$2"; shift ;;
        --ceiling) SUMMARY_CEILING="$2"; shift ;;
        --port-base) PORT_BASE="$2"; shift ;;
        --smoke) SMOKE=1 ;;
        --debug) PROFILE=debug ;;
        --no-build) BUILD=0 ;;
        -h|--help) usage; exit 0 ;;
        *) echo "run.sh: unknown option $1" >&2; usage >&2; exit 2 ;;
    esac
    shift
done

if [ "$PROFILE" = debug ] && [ "$SMOKE" = 0 ]; then
    echo "run.sh: --debug is for --smoke only; figures come from release builds" >&2
    exit 2
fi
if [ "$SMOKE" = 1 ]; then
    RUNS=1 COLDSTARTS=1
    [ "$RECOVERY" -gt 0 ] && RECOVERY=300
fi

cd "$ROOT"
if [ "$BUILD" = 1 ]; then
    if [ "$PROFILE" = release ]; then
        cargo build --release -p plinth-bench --bins -p plinth-bench-service
    else
        cargo build -p plinth-bench --bins -p plinth-bench-service
    fi
fi
TARGET_DIR="$(cargo metadata --format-version 1 --no-deps | jq -r .target_directory)"
BIN="$TARGET_DIR/$PROFILE"
for b in plinth-load reference-server echo-server bench-tool plinth-bench-service; do
    [ -x "$BIN/$b" ] || { echo "run.sh: $BIN/$b missing (build first)" >&2; exit 1; }
done

OUT="${OUT:-$ROOT/bench/results/$(date -u +%Y%m%dT%H%M%SZ)}"
mkdir -p "$OUT"
WORK="$(mktemp -d)"

# CPU layout: pinned puts the server on core 0 (one tokio worker) and the generator on core 1.
if [ "$PIN" = 1 ]; then
    SERVER_PREFIX="taskset -c 0" LOAD_PREFIX="taskset -c 1" WORKERS=1
else
    SERVER_PREFIX="" LOAD_PREFIX="" WORKERS=2
fi

# The systems: label and start command (placeholders {http} {grpc} {db}; a command without
# {grpc} serves both protocols on the {http} port). Plinth takes its settings from PLINTH_*
# variables and its worker count from TOKIO_WORKER_THREADS, like any Plinth service.
LABELS=() CMDS=()
for system in $SYSTEMS; do
    case "$system" in
        plinth) CMDS+=("env PLINTH_ADDR={http} PLINTH_STORAGE={db} PLINTH_LOG=warn TOKIO_WORKER_THREADS=$WORKERS $BIN/plinth-bench-service") ;;
        reference) CMDS+=("$BIN/reference-server --http {http} --grpc {grpc} --db {db} --workers $WORKERS") ;;
        reference-batching) CMDS+=("$BIN/reference-server --http {http} --grpc {grpc} --db {db} --workers $WORKERS --batching") ;;
        plinth-pg) CMDS+=("env PLINTH_ADDR={http} PLINTH_STORAGE={pg} PLINTH_LOG=warn TOKIO_WORKER_THREADS=$WORKERS $BIN/plinth-bench-service") ;;
        reference-pg) CMDS+=("$BIN/reference-server --http {http} --grpc {grpc} --pg {pg} --workers $WORKERS") ;;
        reference-pg-batching) CMDS+=("$BIN/reference-server --http {http} --grpc {grpc} --pg {pg} --workers $WORKERS --batching") ;;
        echo) CMDS+=("$BIN/echo-server --http {http} --grpc {grpc} --workers $WORKERS") ;;
        *) echo "run.sh: unknown system $system (plinth reference reference-batching echo plinth-pg reference-pg reference-pg-batching)" >&2; exit 2 ;;
    esac
    LABELS+=("$system")
done
if [ -n "$TARGET_CMD" ]; then
    LABELS+=("$TARGET_LABEL")
    CMDS+=("$TARGET_CMD")
fi

# PostgreSQL systems: a database of their own per label, dropped and created afresh here.
declare -A PG_DB
for i in "${!LABELS[@]}"; do
    [[ "${CMDS[$i]}" == *"{pg}"* ]] || continue
    if [ -z "$PG_URL" ]; then
        echo "run.sh: ${LABELS[$i]} runs on PostgreSQL: give --pg URL" >&2; exit 2
    fi
    db="bench_${LABELS[$i]//[^a-zA-Z0-9]/_}"
    PGOPTIONS=--client-min-messages=warning psql "$PG_URL" -v ON_ERROR_STOP=1 -q -c "DROP DATABASE IF EXISTS $db" -c "CREATE DATABASE $db" >/dev/null
    PG_DB[${LABELS[$i]}]="$(pg_url_with_db "$PG_URL" "$db")"
done

declare -A PID HTTP GRPC
# Other work on the machine skews every figure: sample the load average while the run lasts.
( while sleep 10; do echo "$(date -u +%T) $(cut -d' ' -f1-3 /proc/loadavg)"; done ) >"$OUT/loadavg.txt" &
SAMPLER=$!
cleanup() {
    kill "$SAMPLER" 2>/dev/null || true
    for label in "${!PID[@]}"; do
        kill "${PID[$label]}" 2>/dev/null || true
        wait "${PID[$label]}" 2>/dev/null || true
    done
    rm -rf "$WORK"
}
trap cleanup EXIT

command_for() { # index http grpc db
    local c="${CMDS[$1]}"
    c="${c//\{http\}/$2}"; c="${c//\{grpc\}/$3}"; c="${c//\{db\}/$4}"
    c="${c//\{pg\}/${PG_DB[${LABELS[$1]}]:-}}"
    echo "$c"
}

grpc_for() { # index http grpc: the gRPC address (the HTTP one when the system has one port)
    if [[ "${CMDS[$1]}" == *"{grpc}"* ]]; then echo "$3"; else echo "$2"; fi
}

has_storage() { # index
    [[ "${CMDS[$1]}" == *"{db}"* ]]
}

load_extra_for() { # label: extra plinth-load flags of that system
    if [ "$1" = "$TARGET_LABEL" ] && [ -n "$TARGET_LOAD_ARGS" ]; then echo "$TARGET_LOAD_ARGS"; fi
}

metric() { # label name value file-suffix
    printf '{"label":"%s","metric":"%s","value":%s}\n' "$1" "$2" "$3" >"$OUT/$1.$2.$4.metric.json"
}

rss_kb() { # pid field
    awk -v f="$2:" '$1 == f { print $2 }' "/proc/$1/status"
}

{
    echo "date: $(date -u +%FT%TZ)"
    echo "commit: $(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo unknown)"
    echo "cpus: $(nproc); $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2-)"
    echo "kernel: $(uname -r)"
    echo "rustc: $(rustc --version)"
    echo "load: $(cut -d' ' -f1-3 /proc/loadavg) (1, 5, 15 min) at start"
    echo "systems: ${LABELS[*]}"
    echo "layout: $([ "$PIN" = 1 ] && echo "pinned: server CPU 0 (1 worker), load CPU 1" || echo "unpinned: server 2 workers, load 1 thread")"
    echo "profile: $PROFILE; runs: $RUNS; duration: $DURATION; warmup: $WARMUP; concurrency: $CONCURRENCY; rate: ${RATE:-none}; smoke: $SMOKE"
    echo "command: bench/run.sh $ARGS"
} >"$OUT/env.txt"

# Cold start: spawn to first answered request, on a fresh database each time.
for i in "${!LABELS[@]}"; do
    label="${LABELS[$i]}"
    http="127.0.0.1:$((PORT_BASE + 2 * i))" grpc="127.0.0.1:$((PORT_BASE + 2 * i + 1))"
    for n in $(seq 1 "$COLDSTARTS"); do
        db="$WORK/$label-cold-$n.db"
        # shellcheck disable=SC2046 # the command line is split into words on purpose
        ms=$("$BIN/bench-tool" coldstart --target "http://$http" --timeout 60s -- \
            $SERVER_PREFIX $(command_for "$i" "$http" "$grpc" "$db"))
        metric "$label" cold_start_ms "$ms" "$n"
        echo "cold start $label #$n: $ms ms"
    done
done

# Recovery after SIGKILL: write RECOVERY entities (the read scenario's prefill writes every id),
# kill -9 the server, then time spawn -> first answered request on the same database, and check
# that every written entity reads back.
if [ "$RECOVERY" -gt 0 ]; then
    verify=$((RECOVERY < 2000 ? RECOVERY : 2000))
    for i in "${!LABELS[@]}"; do
        has_storage "$i" || continue
        label="${LABELS[$i]}"
        http="127.0.0.1:$((PORT_BASE + 2 * i))" grpc="127.0.0.1:$((PORT_BASE + 2 * i + 1))"
        db="$WORK/$label-recovery.db"
        # shellcheck disable=SC2046
        $SERVER_PREFIX $(command_for "$i" "$http" "$grpc" "$db") >"$OUT/$label.recovery.log" 2>&1 &
        pid=$!
        "$BIN/bench-tool" ready --target "http://$http" --timeout 60s >/dev/null
        # shellcheck disable=SC2046
        $LOAD_PREFIX "$BIN/plinth-load" --target "http://$http" --scenario read --ids "$RECOVERY" \
            --count 1 --concurrency 64 --quiet $(load_extra_for "$label") >/dev/null
        kill -9 "$pid"; wait "$pid" 2>/dev/null || true
        # shellcheck disable=SC2046
        ms=$("$BIN/bench-tool" coldstart --target "http://$http" --timeout 120s -- \
            $SERVER_PREFIX $(command_for "$i" "$http" "$grpc" "$db"))
        metric "$label" recovery_ms "$ms" 1
        # shellcheck disable=SC2046
        $SERVER_PREFIX $(command_for "$i" "$http" "$grpc" "$db") >>"$OUT/$label.recovery.log" 2>&1 &
        pid=$!
        "$BIN/bench-tool" ready --target "http://$http" --timeout 60s >/dev/null
        # shellcheck disable=SC2046
        if ! $LOAD_PREFIX "$BIN/plinth-load" --target "http://$http" --scenario read --no-prefill \
            --ids "$RECOVERY" --count "$verify" --concurrency 16 --quiet $(load_extra_for "$label") >/dev/null; then
            echo "run.sh: $label lost entities across SIGKILL (reads failed after recovery)" >&2
            kill "$pid"; exit 1
        fi
        kill "$pid"; wait "$pid" 2>/dev/null || true
        echo "recovery $label after SIGKILL with $RECOVERY entities: $ms ms ($verify reads verified)"
    done
fi

# Start every system once for the load runs, and record idle RSS.
for i in "${!LABELS[@]}"; do
    label="${LABELS[$i]}"
    HTTP[$label]="127.0.0.1:$((PORT_BASE + 2 * i))"
    GRPC[$label]="$(grpc_for "$i" "${HTTP[$label]}" "127.0.0.1:$((PORT_BASE + 2 * i + 1))")"
    # shellcheck disable=SC2046
    $SERVER_PREFIX $(command_for "$i" "${HTTP[$label]}" "${GRPC[$label]}" "$WORK/$label.db") \
        >"$OUT/$label.server.log" 2>&1 &
    PID[$label]=$!
    "$BIN/bench-tool" ready --target "http://${HTTP[$label]}" --timeout 60s >/dev/null
    "$BIN/bench-tool" ready --target "http://${GRPC[$label]}" --transport grpc --timeout 60s >/dev/null
    sleep 0.5
    metric "$label" rss_idle_kb "$(rss_kb "${PID[$label]}" VmRSS)" 1
done

load_args=(--concurrency "$CONCURRENCY" --quiet)
if [ "$SMOKE" = 1 ]; then
    load_args+=(--count 300 --ids 300)
else
    load_args+=(--duration "$DURATION" --warmup "$WARMUP")
fi

run_one() { # label scenario transport mode run
    local label="$1" scenario="$2" transport="$3" mode="$4" run="$5" target extra=()
    target="http://${HTTP[$label]}"
    [ "$transport" = grpc ] && target="http://${GRPC[$label]}"
    [ "$mode" = open ] && extra+=(--rate "$RATE")
    # shellcheck disable=SC2207 # extra flags are split into words on purpose
    extra+=($(load_extra_for "$label"))
    local json="$OUT/$label.$scenario.$transport.$mode.r$run.load.json"
    echo "== run $run: $label $scenario $transport $mode"
    # shellcheck disable=SC2086
    $LOAD_PREFIX "$BIN/plinth-load" --target "$target" --transport "$transport" --scenario "$scenario" \
        --label "$label" --json "$json" "${load_args[@]}" "${extra[@]}" | sed -n '2p'
}

# Alternate the systems inside each repetition so that drift (thermal, neighbours) hits all alike.
modes=(closed)
[ -n "$RATE" ] && modes+=(open)
[ -n "$RATE" ] && [ "$OPEN_ONLY" = 1 ] && modes=(open)
for run in $(seq 1 "$RUNS"); do
    for scenario in $SCENARIOS; do
        for transport in $TRANSPORTS; do
            for mode in "${modes[@]}"; do
                for label in "${LABELS[@]}"; do
                    run_one "$label" "$scenario" "$transport" "$mode" "$run"
                done
            done
        done
    done
done

for label in "${LABELS[@]}"; do
    metric "$label" rss_loaded_kb "$(rss_kb "${PID[$label]}" VmRSS)" 1
    metric "$label" rss_peak_kb "$(rss_kb "${PID[$label]}" VmHWM)" 1
done

echo
"$BIN/bench-tool" summarize "$OUT" --reference "$SUMMARY_REFERENCE" --ceiling "$SUMMARY_CEILING"
echo
echo "results: $OUT"
