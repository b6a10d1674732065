#!/usr/bin/env bash
# Instruction profile of one scenario against a server under valgrind's callgrind (this machine's
# VM exposes no hardware counters to perf: `perf stat -e instructions` says "not supported").
# Callgrind counts instructions, not time: it shows where CPU goes per request, not fsync waits.
# Writes <out>/callgrind.out and <out>/top.txt (inclusive and self costs, per request).
set -euo pipefail

usage() {
    cat <<'EOF'
usage: bench/profile.sh [options]
  --system S        plinth | reference | reference-batching | echo               [plinth]
  --scenario S      plinth-load scenario                                         [write]
  --transport T     http1 | h2c | grpc                                           [grpc]
  --count N         measured requests (callgrind runs ~50x slower)              [4000]
  --concurrency N   requests in flight                                           [32]
  --ids N           distinct ids                                                 [10000]
  --port P          loopback port                                                [47900]
  --out DIR         results directory               [bench/results/profile-<system>-<scenario>-<transport>]
  --no-build        use the release binaries already built
EOF
}

ROOT="$(cd "$(dirname "$0")/.." && pwd)"
SYSTEM=plinth SCENARIO=write TRANSPORT=grpc COUNT=4000 CONCURRENCY=32 IDS=10000 PORT=47900 OUT=""
BUILD=1
while [ $# -gt 0 ]; do
    case "$1" in
        --system) SYSTEM="$2"; shift ;;
        --scenario) SCENARIO="$2"; shift ;;
        --transport) TRANSPORT="$2"; shift ;;
        --count) COUNT="$2"; shift ;;
        --concurrency) CONCURRENCY="$2"; shift ;;
        --ids) IDS="$2"; shift ;;
        --port) PORT="$2"; shift ;;
        --out) OUT="$2"; shift ;;
        --no-build) BUILD=0 ;;
        -h|--help) usage; exit 0 ;;
        *) echo "profile.sh: unknown option $1" >&2; usage >&2; exit 2 ;;
    esac
    shift
done
command -v valgrind >/dev/null || { echo "profile.sh: needs valgrind (apt-get install valgrind)" >&2; exit 1; }

cd "$ROOT"
[ "$BUILD" = 1 ] && cargo build --release -p plinth-bench --bins -p plinth-bench-service
BIN="$(cargo metadata --format-version 1 --no-deps | jq -r .target_directory)/release"
OUT="${OUT:-$ROOT/bench/results/profile-$SYSTEM-$SCENARIO-$TRANSPORT}"
mkdir -p "$OUT"
WORK="$(mktemp -d)"
ADDR="127.0.0.1:$PORT" GRPC_ADDR="127.0.0.1:$((PORT + 1))"

server_env=()
case "$SYSTEM" in
    plinth) server_env=(PLINTH_ADDR="$ADDR" PLINTH_STORAGE="$WORK/p.db" PLINTH_LOG=warn)
            server=("$BIN/plinth-bench-service")
            GRPC_ADDR="$ADDR" ;;
    reference) server=("$BIN/reference-server" --http "$ADDR" --grpc "$GRPC_ADDR" --db "$WORK/r.db") ;;
    reference-batching) server=("$BIN/reference-server" --http "$ADDR" --grpc "$GRPC_ADDR" --db "$WORK/r.db" --batching) ;;
    echo) server=("$BIN/echo-server" --http "$ADDR" --grpc "$GRPC_ADDR") ;;
    *) echo "profile.sh: unknown system $SYSTEM" >&2; exit 2 ;;
esac
target="http://$ADDR"
[ "$TRANSPORT" = grpc ] && target="http://$GRPC_ADDR"

# valgrind must start the server itself (it does not follow an exec), so settings go through env.
env "${server_env[@]}" valgrind --tool=callgrind --callgrind-out-file="$OUT/callgrind.out" "${server[@]}" \
    >"$OUT/server.log" 2>&1 &
PID=$!
trap 'kill "$PID" 2>/dev/null || true; rm -rf "$WORK"' EXIT
"$BIN/bench-tool" ready --target "http://$ADDR" --timeout 120s >/dev/null
# Prefill (for read and mixed) and a short unmeasured warm-up happen before the counters are
# zeroed, so the profile covers the measured requests only.
if [ "$SCENARIO" = read ] || [ "$SCENARIO" = mixed ]; then
    "$BIN/plinth-load" --target "$target" --transport "$TRANSPORT" --scenario "$SCENARIO" \
        --ids "$IDS" --count 1 --quiet >/dev/null
fi
"$BIN/plinth-load" --target "$target" --transport "$TRANSPORT" --scenario "$SCENARIO" \
    --ids "$IDS" --no-prefill --count 200 --concurrency "$CONCURRENCY" --quiet >/dev/null
callgrind_control --zero "$PID" >/dev/null
"$BIN/plinth-load" --target "$target" --transport "$TRANSPORT" --scenario "$SCENARIO" \
    --ids "$IDS" --no-prefill --count "$COUNT" --concurrency "$CONCURRENCY" --quiet \
    --json "$OUT/load.json" | sed -n '2p'
callgrind_control --dump=measured "$PID" >/dev/null
kill -TERM "$PID"; wait "$PID" 2>/dev/null || true
dump="$(ls -t "$OUT"/callgrind.out* | grep -v '\.out$' | head -1 || true)"
[ -n "$dump" ] || dump="$OUT/callgrind.out"
total=$(callgrind_annotate "$dump" 2>/dev/null | awk '/PROGRAM TOTALS/ { gsub(",", "", $1); print $1 }')
{
    echo "system=$SYSTEM scenario=$SCENARIO transport=$TRANSPORT count=$COUNT concurrency=$CONCURRENCY"
    echo "dump: $dump"
    echo "instructions: $total total, $((total / COUNT)) per request"
    echo
    echo "## inclusive (top 60)"
    callgrind_annotate --inclusive=yes "$dump" 2>/dev/null | sed -n '/file:function/,$p' | sed -n '2,61p' | cut -c1-220
    echo
    echo "## self (top 40)"
    callgrind_annotate "$dump" 2>/dev/null | sed -n '/file:function/,$p' | sed -n '2,41p' | cut -c1-220
} >"$OUT/top.txt"
sed -n '1,3p' "$OUT/top.txt"
echo "profile: $OUT/top.txt"
