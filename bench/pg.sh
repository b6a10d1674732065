#!/usr/bin/env bash
# PostgreSQL benchmarks, three parts (see bench/README.md, "PostgreSQL"):
#   pgbench  the ceiling: pgbench running a durable single-row upsert of a random id;
#   single   one process on PostgreSQL: Plinth against the hand-written reference (group commit
#            and per-write commit), write and read, alternating (bench/run.sh --pg);
#   scale    1, 2, 3 ... Plinth processes on one database serving one load spread round-robin
#            over them, with each process's commands and conflict retries from /_plinth/metrics;
#   wal      the WAL one write costs: Plinth and the group-commit reference each under one
#            write run, the WAL between its first and last byte by record type (pg_walinspect).
# Without --pg it starts its own PostgreSQL 15 with .ci/postgres.sh (own data dir and port) and
# stops it at the end. Results: <out>/pg-summary.md, with the raw files beside it.
set -euo pipefail

usage() {
    cat <<'EOF'
usage: bench/pg.sh [options]
  --parts "..."          parts to run (pgbench single scale wal)        [pgbench single scale]
  --runs N               repetitions of every run (medians are over them)             [3]
  --duration D           measured time per load run (plinth-load syntax)              [5s]
  --warmup D             warm-up per load run                                         [1s]
  --concurrency N        requests in flight (load generator) and pgbench clients      [64]
  --transports "..."     transports of the load runs                          [http1 grpc]
  --scenarios "..."      scenarios of the load runs                           [write read]
  --processes "..."      process counts of the scale part                          [1 2 3]
  --pgbench-time S       seconds per pgbench run                                      [10]
  --pg URL               use this PostgreSQL server (postgres://user:pass@host:port/db)
                         instead of starting one; its databases bench_* are recreated
  --pgdata DIR           data directory of the server started here   [/tmp/plinth-bench-pg]
  --pgport P             port of the server started here                           [55499]
  --port-base P          first loopback port of the servers under test             [21300]
  --out DIR              results directory             [bench/results/pg-<UTC timestamp>]
  --smoke                a few hundred requests per run, 1 run, pgbench 2 s (no figures)
  --no-build             use the release binaries already built
EOF
}

ROOT="$(cd "$(dirname "$0")/.." && pwd)"
ARGS="$*"
PARTS="pgbench single scale" RUNS=3 DURATION=5s WARMUP=1s CONCURRENCY=64
TRANSPORTS="http1 grpc" SCENARIOS="write read" PROCESSES="1 2 3" PGBENCH_TIME=10
PG_URL="" PGDATA_DIR=/tmp/plinth-bench-pg PGPORT=55499 PORT_BASE=21300 OUT="" SMOKE=0 BUILD=1

while [ $# -gt 0 ]; do
    case "$1" in
        --parts) PARTS="$2"; shift ;;
        --runs) RUNS="$2"; shift ;;
        --duration) DURATION="$2"; shift ;;
        --warmup) WARMUP="$2"; shift ;;
        --concurrency) CONCURRENCY="$2"; shift ;;
        --transports) TRANSPORTS="$2"; shift ;;
        --scenarios) SCENARIOS="$2"; shift ;;
        --processes) PROCESSES="$2"; shift ;;
        --pgbench-time) PGBENCH_TIME="$2"; shift ;;
        --pg) PG_URL="$2"; shift ;;
        --pgdata) PGDATA_DIR="$2"; shift ;;
        --pgport) PGPORT="$2"; shift ;;
        --port-base) PORT_BASE="$2"; shift ;;
        --out) OUT="$2"; shift ;;
        --smoke) SMOKE=1 ;;
        --no-build) BUILD=0 ;;
        -h|--help) usage; exit 0 ;;
        *) echo "pg.sh: unknown option $1" >&2; usage >&2; exit 2 ;;
    esac
    shift
done
[ "$SMOKE" = 1 ] && RUNS=1 PGBENCH_TIME=2

cd "$ROOT"
if [ "$BUILD" = 1 ]; then
    cargo build --release -p plinth-bench --bins -p plinth-bench-service
fi
TARGET_DIR="$(cargo metadata --format-version 1 --no-deps | jq -r .target_directory)"
BIN="$TARGET_DIR/release"
for b in plinth-load reference-server bench-tool plinth-bench-service; do
    [ -x "$BIN/$b" ] || { echo "pg.sh: $BIN/$b missing (build first)" >&2; exit 1; }
done
if command -v pg_config >/dev/null 2>&1 && [ -x "$(pg_config --bindir)/pgbench" ]; then
    PGBIN="$(pg_config --bindir)"
else
    PGBIN=/usr/lib/postgresql/15/bin
fi

OUT="${OUT:-$ROOT/bench/results/pg-$(date -u +%Y%m%dT%H%M%SZ)}"
mkdir -p "$OUT"
WORK="$(mktemp -d)"
STARTED_PG=0 PIDS=() SAMPLER=""

cleanup() {
    [ -n "$SAMPLER" ] && kill "$SAMPLER" 2>/dev/null || true
    stop_processes
    if [ "$STARTED_PG" = 1 ]; then
        PLINTH_TEST_PGDATA="$PGDATA_DIR" PLINTH_TEST_PGPORT="$PGPORT" bash "$ROOT/.ci/postgres.sh" stop || true
    fi
    rm -rf "$WORK"
}

stop_processes() {
    local pid
    for pid in "${PIDS[@]}"; do
        kill "$pid" 2>/dev/null || true
        wait "$pid" 2>/dev/null || true
    done
    PIDS=()
}
trap cleanup EXIT

if [ -z "$PG_URL" ]; then
    # A server already running on that data directory is used and left running.
    [ -f "$PGDATA_DIR/data/postmaster.pid" ] || STARTED_PG=1
    eval "$(PLINTH_TEST_PGDATA="$PGDATA_DIR" PLINTH_TEST_PGPORT="$PGPORT" bash "$ROOT/.ci/postgres.sh" start)"
    PG_URL="$PLINTH_TEST_POSTGRES_URL"
fi

pg_url_with_db() { # url db: the URL with its database name replaced
    local url="$1" db="$2" query="" rest
    [[ "$url" == *"?"* ]] && query="?${url#*\?}" && url="${url%%\?*}"
    rest="${url#*://}"
    echo "${url%%://*}://${rest%%/*}/$db$query"
}

fresh_db() { # name: drop and create the database, print its URL
    PGOPTIONS=--client-min-messages=warning psql "$PG_URL" -v ON_ERROR_STOP=1 -q -c "DROP DATABASE IF EXISTS $1" -c "CREATE DATABASE $1" >/dev/null
    pg_url_with_db "$PG_URL" "$1"
}

median() { # numbers on stdin
    sort -g | awk '{ v[NR] = $1 } END { if (NR == 0) print ""; else if (NR % 2) print v[(NR + 1) / 2]; else print (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}

( while sleep 10; do echo "$(date -u +%T) $(cut -d' ' -f1-3 /proc/loadavg)"; done ) >"$OUT/loadavg.txt" &
SAMPLER=$!

{
    echo "date: $(date -u +%FT%TZ)"
    echo "commit: $(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo unknown); work tree: $(git -C "$ROOT" status --porcelain 2>/dev/null | wc -l) paths changed since"
    echo "cpus: $(nproc); $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2-)"
    echo "kernel: $(uname -r)"
    echo "postgres: $(psql "$PG_URL" -Atc 'SELECT version()')"
    echo "postgres settings: $(psql "$PG_URL" -Atc "SELECT string_agg(name || '=' || setting, ' ') FROM pg_settings WHERE name IN ('synchronous_commit', 'fsync', 'wal_sync_method', 'shared_buffers', 'max_connections', 'commit_delay')")"
    echo "load: $(cut -d' ' -f1-3 /proc/loadavg) (1, 5, 15 min) at start"
    echo "parts: $PARTS; runs: $RUNS; duration: $DURATION; warmup: $WARMUP; concurrency: $CONCURRENCY; transports: $TRANSPORTS; scenarios: $SCENARIOS; processes: $PROCESSES; pgbench: ${PGBENCH_TIME}s; smoke: $SMOKE"
    echo "layout: unpinned; every server 2 tokio workers, the load generator 1 thread, PostgreSQL on the same 2 cores"
    echo "command: bench/pg.sh $ARGS"
} >"$OUT/env.txt"

SUMMARY="$OUT/pg-summary.md"
: >"$SUMMARY"

# --- pgbench: a durable single-row upsert of a random id, the shape of the benchmark's write ----
run_pgbench() {
    local url script n tps lat
    url="$(fresh_db bench_pgbench)"
    psql "$url" -v ON_ERROR_STOP=1 -q <<'SQL'
CREATE TABLE pgbench_customers (id TEXT PRIMARY KEY, name TEXT NOT NULL, email TEXT NOT NULL, payload TEXT NOT NULL);
INSERT INTO pgbench_customers
SELECT 'c' || lpad(n::text, 6, '0'), 'name', 'c@example.com', repeat('x', 550) FROM generate_series(0, 9999) AS n;
SQL
    script="$OUT/pgbench-upsert.sql"
    # A fresh 32-character stamp in every payload, as plinth-load does: every write changes its row.
    cat >"$script" <<'SQL'
\set n random(0, 9999)
INSERT INTO pgbench_customers (id, name, email, payload)
VALUES ('c' || lpad(:n::text, 6, '0'), 'name-' || :n, 'c' || :n || '@example.com', md5(random()::text) || repeat('x', 518))
ON CONFLICT (id) DO UPDATE SET name = EXCLUDED.name, email = EXCLUDED.email, payload = EXCLUDED.payload;
SQL
    for n in $(seq 1 "$RUNS"); do
        "$PGBIN/pgbench" -n -M prepared -c "$CONCURRENCY" -j 2 -T "$PGBENCH_TIME" -f "$script" "$url" \
            >"$OUT/pgbench.r$n.txt" 2>&1
        tps=$(awk '/^tps = / { print $3; exit }' "$OUT/pgbench.r$n.txt")
        lat=$(awk '/^latency average = / { print $4; exit }' "$OUT/pgbench.r$n.txt")
        echo "pgbench #$n: $tps tps, latency average $lat ms ($CONCURRENCY clients)"
        echo "$tps" >>"$WORK/pgbench.tps"
        echo "$lat" >>"$WORK/pgbench.lat"
    done
    {
        echo "## pgbench: durable single-row upsert of a random id (10,000 ids, 550-byte payload)"
        echo
        echo "| clients | runs | tps (median) | latency average ms (median) | runs' tps |"
        echo "|---|---|---|---|---|"
        printf '| %s | %s | %.0f | %.2f | %s |\n' "$CONCURRENCY" "$RUNS" "$(median <"$WORK/pgbench.tps")" \
            "$(median <"$WORK/pgbench.lat")" "$(xargs printf '%.0f ' <"$WORK/pgbench.tps")"
        echo
    } >>"$SUMMARY"
}

# --- single: Plinth against the hand-written reference, one process each ------------------------
run_single() {
    local extra=()
    [ "$SMOKE" = 1 ] && extra+=(--smoke)
    bench/run.sh --no-build --pg "$PG_URL" --systems "plinth-pg reference-pg-batching reference-pg" \
        --reference reference-pg-batching --ceiling none --scenarios "$SCENARIOS" \
        --transports "$TRANSPORTS" --runs "$RUNS" --duration "$DURATION" --warmup "$WARMUP" \
        --concurrency "$CONCURRENCY" --coldstarts 0 --recovery-entities 0 \
        --port-base "$PORT_BASE" --out "$OUT/single" "${extra[@]}"
    {
        echo "## One process on PostgreSQL (ratios against reference-pg-batching)"
        echo
        cat "$OUT/single/summary.md"
        echo
    } >>"$SUMMARY"
}

# --- scale: N Plinth processes on one database, one load spread over them ------------------------
scrape() { # addr metric: the metric summed over its label sets ("" when not exported)
    curl -fsS "http://$1/_plinth/metrics" 2>/dev/null |
        awk -v m="$2" '$1 == m || index($1, m "{") == 1 { s += $NF; found = 1 } END { if (found) printf "%.0f\n", s }'
}

med_of() { # jq-expression files...: the median of the expression over the files
    local expr="$1"; shift
    [ $# -gt 0 ] || { echo ""; return; }
    jq -r "$expr" "$@" | median
}

sum_metric() { # files...: the sum of their values
    [ $# -gt 0 ] || { echo 0; return; }
    jq -s 'map(.value) | add' "$@"
}

scale_table() { # dir measured: processes x transport table of throughput, p99 and retried share
    local dir="$1" measured="$2" n t w wp r rp wr rr
    echo "| processes | transport | write req/s | write p99 ms | read req/s | read p99 ms | writes retried | reads retried | forwarded |"
    echo "|---|---|---|---|---|---|---|---|---|"
    for n in $PROCESSES; do
        for t in $TRANSPORTS; do
            shopt -s nullglob
            local wf=("$dir"/plinth-pg-x"$n".write."$t".closed.r*.load.json)
            local rf=("$dir"/plinth-pg-x"$n".read."$t".closed.r*.load.json)
            w="$(med_of .throughput_rps "${wf[@]}")" wp="$(med_of .latency.p99_ms "${wf[@]}")"
            r="$(med_of .throughput_rps "${rf[@]}")" rp="$(med_of .latency.p99_ms "${rf[@]}")"
            if [ "$measured" = 1 ]; then
                local share='BEGIN { printf "%.2f%% (%d of %d)", c ? 100 * r / c : 0, r, c }'
                wr="$(awk -v r="$(sum_metric "$dir"/plinth-pg-x"$n".retries_write_"$t".*.metric.json)" \
                    -v c="$(sum_metric "$dir"/plinth-pg-x"$n".commands_write_"$t".*.metric.json)" "$share")"
                rr="$(awk -v r="$(sum_metric "$dir"/plinth-pg-x"$n".retries_read_"$t".*.metric.json)" \
                    -v c="$(sum_metric "$dir"/plinth-pg-x"$n".commands_read_"$t".*.metric.json)" "$share")"
            else
                wr="not measured" rr="not measured"
            fi
            shopt -u nullglob
            printf '| %s | %s | %.0f | %.2f | %.0f | %.2f | %s | %s | 0 |\n' "$n" "$t" "${w:-0}" "${wp:-0}" \
                "${r:-0}" "${rp:-0}" "$wr" "$rr"
        done
    done
}

run_scale() {
    local url r n i addr targets label json before_c before_r after_c after_r commands retries
    local scale="$OUT/scale" measured=1
    mkdir -p "$scale"
    url="$(fresh_db bench_plinth_scale)"
    local load_args=(--concurrency "$CONCURRENCY" --quiet)
    if [ "$SMOKE" = 1 ]; then
        load_args+=(--count 300 --ids 300)
    else
        load_args+=(--duration "$DURATION" --warmup "$WARMUP")
    fi
    # Alternate the process counts inside each repetition, as run.sh alternates systems.
    for r in $(seq 1 "$RUNS"); do
        for n in $PROCESSES; do
            label="plinth-pg-x$n"
            local addrs=()
            for i in $(seq 1 "$n"); do
                addr="127.0.0.1:$((PORT_BASE + 100 + i))"
                env PLINTH_ADDR="$addr" PLINTH_STORAGE="$url" PLINTH_LOG=warn TOKIO_WORKER_THREADS=2 \
                    "$BIN/plinth-bench-service" >>"$scale/$label.p$i.server.log" 2>&1 &
                PIDS+=($!)
                addrs+=("$addr")
            done
            for addr in "${addrs[@]}"; do
                "$BIN/bench-tool" ready --target "http://$addr" --timeout 60s >/dev/null
            done
            targets="$(printf 'http://%s,' "${addrs[@]}")"
            targets="${targets%,}"
            for scenario in $SCENARIOS; do
                for transport in $TRANSPORTS; do
                    declare -A BC=() BR=()
                    for addr in "${addrs[@]}"; do
                        BC[$addr]="$(scrape "$addr" plinth_entity_commands_total)"
                        BR[$addr]="$(scrape "$addr" plinth_entity_conflict_retries_total)"
                    done
                    json="$scale/$label.$scenario.$transport.closed.r$r.load.json"
                    echo "== run $r: $label ($n processes) $scenario $transport"
                    "$BIN/plinth-load" --target "$targets" --transport "$transport" --scenario "$scenario" \
                        --label "$label" --json "$json" "${load_args[@]}" | sed -n '2p'
                    commands=0 retries=0
                    for addr in "${addrs[@]}"; do
                        after_c="$(scrape "$addr" plinth_entity_commands_total)"
                        after_r="$(scrape "$addr" plinth_entity_conflict_retries_total)"
                        before_c="${BC[$addr]}" before_r="${BR[$addr]}"
                        if [ -z "$after_c" ] || [ -z "$after_r" ] || [ -z "$before_c" ] || [ -z "$before_r" ]; then
                            measured=0
                            continue
                        fi
                        commands=$((commands + after_c - before_c))
                        retries=$((retries + after_r - before_r))
                    done
                    if [ "$measured" = 1 ]; then
                        local pct
                        pct="$(awk -v r="$retries" -v c="$commands" 'BEGIN { printf "%.4f", c ? 100 * r / c : 0 }')"
                        for m in "commands:$commands" "retries:$retries" "retried_pct:$pct"; do
                            printf '{"label":"%s","metric":"%s_%s_%s","value":%s}\n' "$label" "${m%%:*}" \
                                "$scenario" "$transport" "${m#*:}" >"$scale/$label.${m%%:*}_${scenario}_$transport.$r.metric.json"
                        done
                        echo "   commands $commands, conflict retries $retries ($pct%)"
                    fi
                done
            done
            stop_processes
        done
    done
    "$BIN/bench-tool" summarize "$scale" --reference plinth-pg-x1 --ceiling none >/dev/null
    {
        echo "## 1..N Plinth processes on one database"
        echo
        echo "Requests are spread round-robin over the processes; a call is never forwarded (any"
        echo "process serves any call), so the forwarded share is 0 by construction. Medians of"
        echo "$RUNS runs; retried: conflict retries / commands over all runs and processes."
        echo
        scale_table "$scale" "$measured"
        echo
        echo "All medians (ratios against one process):"
        echo
        cat "$scale/summary.md"
        [ "$measured" = 1 ] || echo "
The retried share was not measured: a process did not export plinth_entity_commands_total and
plinth_entity_conflict_retries_total on /_plinth/metrics."
        echo
    } >>"$SUMMARY"
}

# --- wal: what one write costs in WAL, by record type -------------------------------------------
run_wal() {
    local system url addr target transport stats writes start end
    local wal="$OUT/wal"
    mkdir -p "$wal"
    transport="${TRANSPORTS##* }"
    for system in plinth-pg reference-pg-batching; do
        url="$(fresh_db bench_wal)"
        psql "$url" -q -c "CREATE EXTENSION IF NOT EXISTS pg_walinspect" >/dev/null
        addr="127.0.0.1:$((PORT_BASE + 200))"
        target="http://$addr"
        case "$system" in
            plinth-pg)
                env PLINTH_ADDR="$addr" PLINTH_STORAGE="$url" PLINTH_LOG=warn TOKIO_WORKER_THREADS=2 \
                    "$BIN/plinth-bench-service" >>"$wal/$system.server.log" 2>&1 & ;;
            reference-pg-batching)
                "$BIN/reference-server" --http "$addr" --grpc "127.0.0.1:$((PORT_BASE + 201))" --pg "$url" \
                    --workers 2 --batching >>"$wal/$system.server.log" 2>&1 &
                [ "$transport" = grpc ] && target="http://127.0.0.1:$((PORT_BASE + 201))" ;;
        esac
        PIDS+=($!)
        "$BIN/bench-tool" ready --target "http://$addr" --timeout 60s >/dev/null
        # Prefill and warm up (every id written once), then start the WAL afresh.
        "$BIN/plinth-load" --target "$target" --transport "$transport" --scenario write \
            --concurrency "$CONCURRENCY" --duration "$WARMUP" --warmup 0s --quiet >/dev/null
        psql "$url" -q -c CHECKPOINT
        start="$(psql "$url" -Atc 'SELECT pg_current_wal_lsn()')"
        "$BIN/plinth-load" --target "$target" --transport "$transport" --scenario write --no-prefill \
            --concurrency "$CONCURRENCY" --duration "$DURATION" --warmup 0s --quiet \
            --json "$wal/$system.load.json" | sed -n '2p'
        end="$(psql "$url" -Atc 'SELECT pg_current_wal_lsn()')"
        writes="$(jq -r '.ok' "$wal/$system.load.json")"
        psql "$url" -AtF '|' -v start="$start" -v end="$end" >"$wal/$system.stats" <<'SQL'
SELECT "resource_manager/record_type", count, combined_size, fpi_size
FROM pg_get_wal_stats(:'start', :'end', true) WHERE count > 0 ORDER BY combined_size DESC
SQL
        {
            echo "### $system: $writes writes ($transport, $CONCURRENCY in flight, $DURATION)"
            echo
            echo "| record type | records | bytes | of which full-page images | bytes per write |"
            echo "|---|---|---|---|---|"
            awk -F'|' -v w="$writes" '{ t += $3; printf "| %s | %d | %d | %d | %.0f |\n", $1, $2, $3, $4, $3 / w }
                END { printf "| **all** | | %d | | **%.0f** |\n", t, t / w }' "$wal/$system.stats"
            echo
        } >>"$wal/summary.md"
        stop_processes
    done
    {
        echo "## WAL per write, by record type (pg_walinspect)"
        echo
        cat "$wal/summary.md"
    } >>"$SUMMARY"
}

for part in $PARTS; do
    case "$part" in
        pgbench) run_pgbench ;;
        single) run_single ;;
        scale) run_scale ;;
        wal) run_wal ;;
        *) echo "pg.sh: unknown part $part (pgbench single scale wal)" >&2; exit 2 ;;
    esac
done

echo
cat "$SUMMARY"
echo "results: $OUT"
