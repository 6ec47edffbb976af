#!/usr/bin/env bash
# Side-by-side benchmark: the same ringcast-bench load against the limit-mode writer (the
# ceiling: uv_try_write of one buffer, no relay logic; limit-80ms writes every 80 ms like
# ringcast's default --max-write-delay), ringcast with --workers 1 and --workers 2, and
# Icecast 2.4 from Debian, all on loopback with the same burst, lag limit and source password.
# Writes raw JSON lines, per-cell medians, plots and the generated part of docs/benchmarks.md. Every process it starts is stopped by its pid.
#
# usage: bash scripts/bench-vs-icecast.sh [--quick] [--runs N] [--no-install] [--no-extras]
#   --quick      1 run per cell, 100 and 1,000 viewers, short extras; output to a temp dir
#                (not docs/) unless OUT is set
#   --runs N     runs per cell (default 3; the tables show medians)
#   --no-install do not apt-get install icecast2, gnuplot-nox, jq when they are missing
#   --no-extras  only the matrix (skip first-byte, stall, RSS and profile runs)
# env: BUILD=build  BENCH=$BUILD/tests/bench/ringcast-bench  RINGCAST=$BUILD/relay/ringcast
#      ICECAST=icecast2  OUT=docs/bench  DOC=docs/benchmarks.md
#      RELAYS="limit-80ms ringcast ringcast-w2 icecast"  (also: limit, limit-<N>ms,
#        ringcast-d<N> = one loop with --max-write-delay N)
#      CEIL=limit-80ms (the column the "× ceiling" ratio divides by)
#      VIEWERS="100 1000 5000 10000"  VIEWERS_1M=, VIEWERS_8M= (per rate; default VIEWERS, and
#      "100 1000 1500 5000" at 8M unless --quick)  RATES="1M 8M"  DURATION=5  WARMUP=2  RAMP=5000
#      EXTRA_SET="first_byte stall stall8 rss slow_ramp what_if profile"
#      EXTRA_RELAYS="ringcast ringcast-w2" (first_byte, slow_ramp)  STALL_RELAYS=ringcast
#      RSS_RELAYS=ringcast  STALL_FOR=36 STALL_DURATION=40 (1 Mbit/s stall run)  RSS_WARMUP=34
#      REUSE="icecast" (keep these relays' lines from the existing results.jsonl, marked
#      reused: true, and do not run them)  KEEP_RESULTS=1 (append to results.jsonl instead of
#      starting it anew)  SKIP_MATRIX=1 (only extras and summaries)
set -euo pipefail
cd "$(dirname "$0")/.."

QUICK=0 RUNS=3 INSTALL=1 EXTRAS=1
while (($#)); do
  case $1 in
    --quick) QUICK=1; RUNS=1 ;;
    --runs) RUNS=$2; shift ;;
    --no-install) INSTALL=0 ;;
    --no-extras) EXTRAS=0 ;;
    -h|--help) sed -n '2,26p' "$0" | cut -c3-; exit 0 ;;
    *) echo "unknown option: $1 (see --help)" >&2; exit 2 ;;
  esac
  shift
done

BUILD=${BUILD:-build}
BENCH=${BENCH:-$BUILD/tests/bench/ringcast-bench}
RINGCAST=${RINGCAST:-$BUILD/relay/ringcast}
if ((QUICK)); then
  OUT=${OUT:-$(mktemp -d /tmp/bench-vs-icecast.XXXXXX)}
  DOC=${DOC:-$OUT/benchmarks.md}
  VIEWERS=${VIEWERS:-100 1000}
  DURATION=${DURATION:-3}
else
  OUT=${OUT:-docs/bench}
  DOC=${DOC:-docs/benchmarks.md}
  VIEWERS=${VIEWERS:-100 1000 5000 10000}
  DURATION=${DURATION:-5}
fi
RATES=${RATES:-1M 8M}
WARMUP=${WARMUP:-2}
RAMP=${RAMP:-5000}
# Same settings on every relay: 64 KiB burst, 2 MiB lag limit (Icecast's queue-size; ringcast's
# --max-lag, which is also its default: half of the 4 MiB ring), 20,000+ clients.
BURST=65536
QUEUE=2097152
RING=4194304
PASSWORD=bench-$$-$RANDOM
WORK=$(mktemp -d /tmp/bench-vs-icecast-work.XXXXXX)
chmod 755 "$WORK"
mkdir -p "$OUT"
RESULTS=$OUT/results.jsonl

log() { echo "[$(date +%T)] $*" >&2; }
die() { echo "bench-vs-icecast: $*" >&2; exit 2; }

# ---- dependencies ------------------------------------------------------------------------
need=()
command -v jq >/dev/null || need+=(jq)
command -v gnuplot >/dev/null || need+=(gnuplot-nox)
command -v icecast2 >/dev/null || need+=(icecast2)
if ((${#need[@]})) && ((INSTALL)); then
  if [[ $(id -u) == 0 ]]; then
    log "installing ${need[*]} from the Debian archive"
    apt-get update -q >/dev/null
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q "${need[@]}" >/dev/null
  else
    log "not root: cannot install ${need[*]}; continuing without them"
  fi
fi
command -v jq >/dev/null || die "jq is required"
ICECAST=${ICECAST:-$(command -v icecast2 || true)}
[[ -x $BENCH ]] || die "no ringcast-bench at $BENCH (build first, or set BENCH=)"
[[ -x $RINGCAST ]] || die "no ringcast at $RINGCAST (build first, or set RINGCAST=)"

# Relays get the hard descriptor limit (20,000 here); the bench raises its own.
ulimit -n "$(ulimit -Hn)"

# ringcast with one loop (--workers 1), and a second column with two (--workers 2).
RINGCAST_ARGS=(--burst "$BURST" --max-lag "$QUEUE" --ring-size "$RING")
"$RINGCAST" --help 2>&1 | grep -q -- '--workers' || die "this ringcast has no --workers"
REUSE=${REUSE:-}
CEIL=${CEIL:-limit-80ms}
if [[ -z ${RELAYS:-} ]]; then
  RELAYS="limit-80ms ringcast ringcast-w2"
  [[ -n $ICECAST ]] && RELAYS+=" icecast"
fi
# Reused relays are not run: their lines are carried over from the previous results.jsonl.
for r in $REUSE; do RELAYS=$(echo " $RELAYS " | sed "s/ $r / /; s/^ *//; s/ *$//"); done
EXTRA_RELAYS=${EXTRA_RELAYS:-ringcast ringcast-w2}
STALL_RELAYS=${STALL_RELAYS:-ringcast}
RSS_RELAYS=${RSS_RELAYS:-ringcast}

# ---- relay lifecycle -----------------------------------------------------------------------
RELAY_PID="" RELAY_PORT=""
ALL_PIDS=()
cleanup() {
  local pid
  for pid in "${ALL_PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
  rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

# Waits (bounded, ~10 s) for a regex in a log; prints the first capture group.
wait_for_log() {
  local file=$1 regex=$2
  for _ in $(seq 200); do
    if [[ $(cat "$file" 2>/dev/null) =~ $regex ]]; then echo "${BASH_REMATCH[1]}"; return 0; fi
    sleep 0.05
  done
  return 1
}

start_ringcast() {  # workers (0: do not pass --workers), then more ringcast options
  local workers=$1 extra=()
  shift
  ((workers > 0)) && extra=(--workers "$workers")
  extra+=("$@")
  "$RINGCAST" --listen 127.0.0.1:0 --source-password "$PASSWORD" "${RINGCAST_ARGS[@]}" \
    "${extra[@]}" 2>"$WORK/ringcast.log" >/dev/null &
  RELAY_PID=$!
  ALL_PIDS+=("$RELAY_PID")
  RELAY_PORT=$(wait_for_log "$WORK/ringcast.log" 'listening on http://127\.0\.0\.1:([0-9]+)/') ||
    die "ringcast did not start; log: $(tail -3 "$WORK/ringcast.log")"
}

write_icecast_config() {  # port
  local dir=$WORK/icecast security="<chroot>0</chroot>"
  mkdir -p "$dir/log"
  rm -f "$dir/log/"*.log  # one run's log each
  # Icecast refuses to run as root unless it changes owner after binding: use the Debian
  # package's user. The pid stays the same, so --relay-pid still samples it.
  if [[ $(id -u) == 0 ]] && id icecast2 >/dev/null 2>&1; then
    chown icecast2 "$dir/log"
    security+="<changeowner><user>icecast2</user><group>$(id -gn icecast2)</group></changeowner>"
  fi
  cat >"$dir/icecast.xml" <<XML
<icecast>
  <location>loopback</location><admin>bench@localhost</admin>
  <limits>
    <clients>25000</clients><sources>2</sources>
    <queue-size>$QUEUE</queue-size><burst-size>$BURST</burst-size>
    <client-timeout>30</client-timeout><header-timeout>15</header-timeout>
    <source-timeout>10</source-timeout>
  </limits>
  <authentication>
    <source-password>$PASSWORD</source-password>
    <admin-user>admin</admin-user><admin-password>$PASSWORD</admin-password>
  </authentication>
  <hostname>127.0.0.1</hostname>
  <listen-socket><port>$1</port><bind-address>127.0.0.1</bind-address></listen-socket>
  <fileserve>0</fileserve>
  <paths>
    <basedir>$dir</basedir><logdir>$dir/log</logdir>
    <webroot>/usr/share/icecast2/web</webroot><adminroot>/usr/share/icecast2/admin</adminroot>
  </paths>
  <logging><accesslog>access.log</accesslog><errorlog>error.log</errorlog><loglevel>2</loglevel></logging>
  <security>$security</security>
</icecast>
XML
}

start_icecast() {
  RELAY_PORT=$(free_port)
  write_icecast_config "$RELAY_PORT"
  "$ICECAST" -c "$WORK/icecast/icecast.xml" >"$WORK/icecast.log" 2>&1 &
  RELAY_PID=$!
  ALL_PIDS+=("$RELAY_PID")
  for _ in $(seq 200); do
    (exec 3<>"/dev/tcp/127.0.0.1/$RELAY_PORT") 2>/dev/null && return 0
    kill -0 "$RELAY_PID" 2>/dev/null || break
    sleep 0.05
  done
  die "icecast did not start; log: $(tail -3 "$WORK/icecast.log")"
}

stop_relay() {
  [[ -n $RELAY_PID ]] || return 0
  # A relay that died during the run is a zombie by now: report how it ended.
  RELAY_EXIT=""
  if [[ $(awk '{print $3}' "/proc/$RELAY_PID/stat" 2>/dev/null) == Z ]]; then
    local rc=0
    wait "$RELAY_PID" 2>/dev/null || rc=$?
    RELAY_EXIT=$rc
    log "  the relay (pid $RELAY_PID) had exited during the run: status $rc$( ((rc > 128)) && echo " (signal $((rc - 128)))")"
    RELAY_PID=""
    return 0
  fi
  kill "$RELAY_PID" 2>/dev/null || true
  for _ in $(seq 60); do kill -0 "$RELAY_PID" 2>/dev/null || break; sleep 0.05; done
  kill -9 "$RELAY_PID" 2>/dev/null || true
  wait "$RELAY_PID" 2>/dev/null || true
  RELAY_PID=""
}

# ---- what "keeps up" means ------------------------------------------------------------------
# A run keeps up when every healthy viewer connected, nothing was corrupt, the source kept its
# rate and every viewer got the full rate. Two corrections to the tool's own verdict:
# - its "99% less one write" allows one *source* write (1,316 B), but ringcast coalesces up to
#   --coalesce-bytes (16 KiB) per viewer write, so a 5 s window at 1 Mbit/s holds 38 or 39 of
#   them and an on-rate viewer can read 97.5%. We allow one 16 KiB write instead.
# A relay that exited during the run (relay_exit_status, e.g. 141 = SIGPIPE) did not keep up.
# - window_s is the viewer processes' window, which under load ends late (5.7 s for a 5 s
#   --duration), while source bytes and relay CPU are counted over the coordinator's exact
#   --duration. source_rate_bps and server_cpu_s_per_gb mix the two; we rescale both to
#   --duration (fields source_ratio_fixed and cpu_per_gb_fixed).
JQ_KEEPS_UP='
def keeps_up: if .error != null then . + {keeps_up: false} else
  (if .source_bytes_in_window then .source_bytes_in_window * 8 / .duration_s / .rate_bps
   else null end) as $src
  | (if .server_cpu_s then .server_cpu_s / (.delivered_bytes * .duration_s / .window_s / 1e9)
     else null end) as $cpu
  | . + {source_ratio_fixed: $src, cpu_per_gb_fixed: $cpu,
         rate_ok: (.healthy.fraction_at_99pct >= 0.99
                   or .healthy.rate_min_ratio >= 0.99 - 16384 * 8 / (.rate_bps * .window_s))}
  | .keeps_up = (.error == null and .healthy.connected == .healthy.viewers and .corrupt == 0
                 and .rate_ok and .source_error == "" and ($src == null or $src >= 0.99)
                 and .relay_exit_status == null) end;
'

# ---- one run -------------------------------------------------------------------------------
# run_one KIND RELAY RUN [ringcast-bench options...]: starts a fresh relay, runs the bench,
# stops the relay, appends the JSON summary (plus kind, relay, run, bench_busy, keeps_up) to
# $RESULTS and leaves it in $WORK/last.json.
run_one() {
  local kind=$1 relay=$2 run=$3; shift 3
  local target=()
  case $relay in
    limit) target=(limit) ;;
    limit-*ms) local ms=${relay#limit-}; target=(limit --limit-flush-ms "${ms%ms}") ;;
    ringcast) start_ringcast 1 ;;
    ringcast-w2) start_ringcast 2 ;;
    # One loop with another coalescing delay (the default is 80 ms at 800+ viewers per loop).
    ringcast-d*) start_ringcast 1 --max-write-delay "${relay#ringcast-d}" ;;
    icecast) start_icecast ;;
    *) die "unknown relay $relay" ;;
  esac
  if [[ $relay != limit* ]]; then
    target=(--port "$RELAY_PORT" --password "$PASSWORD" --relay-pid "$RELAY_PID")
  fi
  log "$kind $relay run $run: $*"
  local rc=0
  RELAY_EXIT=""
  timeout 300 "$BENCH" "${target[@]}" "$@" >"$WORK/bench.out" 2>"$WORK/bench.progress" || rc=$?
  stop_relay
  if ! grep -q '^JSON ' "$WORK/bench.out"; then
    log "  no result (exit $rc): $(tail -n 2 "$WORK/bench.out" "$WORK/bench.progress" | tr '\n' ' ')"
    jq -nc --arg kind "$kind" --arg relay "$relay" --argjson run "$run" --argjson rc "$rc" \
      --arg args "$*" --arg why "$(tail -1 "$WORK/bench.progress")" \
      '{kind: $kind, relay: $relay, run: $run, args: $args, error: $why, exit: $rc,
        keeps_up: false}' | tee -a "$RESULTS" >"$WORK/last.json"
    return 0
  fi
  grep '^JSON ' "$WORK/bench.out" | cut -c6- |
    jq -c --arg kind "$kind" --arg relay "$relay" --argjson run "$run" --arg args "$*" \
      --arg ringcast_version "$("$RINGCAST" --version 2>&1 | head -1)" --arg relay_exit "$RELAY_EXIT" '
      . as $r
      | (if $r.window_s > 0 then $r.bench_cpu_s / ($r.window_s * $r.processes) else 0 end) as $busy
      | ($r.healthy.records_corrupt + $r.stalled.records_corrupt) as $corrupt
      | {kind: $kind, relay: $relay, run: $run, args: $args, ringcast_version: $ringcast_version,
         time: (now | todate), bench_busy: $busy, bench_saturated: ($busy > 0.9),
         corrupt: $corrupt}
        + (if $relay_exit != "" then {relay_exit_status: ($relay_exit | tonumber)} else {} end)
        + $r
        + (if $r.window_s > 0 then {} else {error: "the viewer processes observed no window (window_s 0)"} end)' | tee -a "$RESULTS" | jq -c "$JQ_KEEPS_UP"' keeps_up' >"$WORK/last.json"
  # Keep the evidence of runs that did not keep up: the bench's output and the relay's log
  # (without the one line per joining viewer).
  if [[ $(jq -r '.keeps_up' "$WORK/last.json") != true ]]; then
    local name
    name=$OUT/logs/$kind-$relay-$(jq -r '"\(.viewers)x\(.rate_bps / 1e6)M"' "$WORK/last.json")-run$run
    mkdir -p "$OUT/logs"
    grep -v '^JSON ' "$WORK/bench.out" >"$name.bench.txt" || true
    tail -n 20 "$WORK/bench.progress" >>"$name.bench.txt" || true
    case $relay in
      ringcast*) grep -v ' joined /' "$WORK/ringcast.log" | tail -n 200 >"$name.relay.log" || true ;;
      icecast) tail -n 200 "$WORK/icecast/log/error.log" >"$name.relay.log" 2>/dev/null || true ;;
    esac
  fi
  jq -r '"  keeps_up=\(.keeps_up) at99=\(.healthy.fraction_at_99pct) cpu/GB=\(.server_cpu_s_per_gb)" +
         " p99=\(.healthy.latency_p99_us/1000|floor)ms bench=\(.bench_busy*100|floor)% corrupt=\(.corrupt)" +
         " failures=\(.failures|join("; "))"' "$WORK/last.json" >&2
}

# ---- the matrix ----------------------------------------------------------------------------
# Runs are interleaved (run 1 of every relay, then run 2, ...) so that load from other work on
# this shared machine hits every relay alike. A relay's row (rate) stops at the first viewer
# count where fewer than half its runs keep up; later cells are recorded as not run.
rate_bps() { numfmt --from=si "$1"; }

matrix() {
  local rate viewers run relay
  for rate in $RATES; do
    declare -A stopped=()
    local list_var=VIEWERS_$rate list
    list=${!list_var:-}
    [[ -z $list && $rate == 8M ]] && ! ((QUICK)) && list="100 1000 1500 5000"
    for viewers in ${list:-$VIEWERS}; do
      local warmup=$WARMUP
      ((viewers >= 10000)) && warmup=$((WARMUP + 1))
      for run in $(seq "$RUNS"); do
        for relay in $RELAYS; do
          [[ -n ${stopped[$relay]:-} ]] && continue
          run_one matrix "$relay" "$run" -n "$viewers" --rate "$rate" --ramp "$RAMP" \
            --warmup "$warmup" --duration "$DURATION"
        done
      done
      for relay in $RELAYS; do
        if [[ -n ${stopped[$relay]:-} ]]; then
          jq -nc --arg relay "$relay" --argjson rate "$(rate_bps "$rate")" --argjson n "$viewers" \
            --argjson at "${stopped[$relay]}" \
            '{kind: "not_run", relay: $relay, rate_bps: $rate, viewers: $n, stopped_at: $at}' \
            >>"$RESULTS"
          continue
        fi
        local held
        held=$(jq -s --arg relay "$relay" --argjson rate "$(rate_bps "$rate")" --argjson n "$viewers" \
          --arg stamp "$STAMP" "$JQ_KEEPS_UP"'
          [.[] | select(.kind == "matrix" and .relay == $relay and .rate_bps == $rate
                        and .viewers == $n and .time >= $stamp) | keeps_up]
          | (map(select(.keeps_up)) | length) * 2 > length' "$RESULTS")
        [[ $held == true ]] || { stopped[$relay]=$viewers; log "$relay stops at $viewers x $rate"; }
      done
    done
    unset stopped
  done
}

# ---- extras --------------------------------------------------------------------------------
extras() {
  local relay run short=$((QUICK ? 1 : 0))
  local only=" ${EXTRA_SET:-first_byte stall stall8 rss slow_ramp what_if profile} "
  # First byte while 1,000 viewers connect at once.
  [[ $only == *" first_byte "* ]] && for run in $(seq "$RUNS"); do
    for relay in $EXTRA_RELAYS; do
      run_one first_byte "$relay" "$run" -n 1000 --rate 1M --ramp 1000000 --warmup 2 --duration 3
    done
  done
  # 50 of 1,000 viewers stall longer than ringcast's ring holds at 1 Mbit/s (4 MiB = 33.6 s),
  # so they go past the lag limit and past the ring.
  local stall_for=${STALL_FOR:-36} duration=${STALL_DURATION:-40}
  ((short)) && stall_for=20 duration=22
  [[ $only == *" stall "* ]] && for relay in $STALL_RELAYS; do
    run_one stall "$relay" 1 -n 1000 --rate 1M --ramp "$RAMP" --warmup 2 --duration "$duration" \
      --stall-viewers 50 --stall-after 1 --stall-for "$stall_for"
  done
  # At 1 Mbit/s the kernel's socket buffers (tcp_rmem up to 32 MiB here) absorb a 36 s stall,
  # so ringcast never sees those viewers as slow. At 8 Mbit/s a 20 s stall is 20 MB: past the
  # 2 MiB lag limit, the 4 MiB ring and the socket buffers.
  [[ $only == *" stall8 "* ]] && for relay in $STALL_RELAYS; do
    run_one stall "$relay" 1 -n 250 --rate 8M --ramp "$RAMP" --warmup 2 --duration 25 \
      --stall-viewers 50 --stall-after 1 --stall-for 20
  done
  # RSS per viewer: two long runs (the ring is full after 34 s at 1 Mbit/s), 1,000 and 5,000
  # viewers; the slope between them leaves the ring's pages out.
  local warm=${RSS_WARMUP:-34}
  ((short)) && warm=5
  [[ $only == *" rss "* ]] && for relay in $RSS_RELAYS; do
    for n in 1000 5000; do
      run_one rss "$relay" 1 -n "$n" --rate 1M --ramp "$RAMP" --warmup "$warm" --duration 5
    done
  done
  # Icecast 2.4 listens with a backlog of 5 (ICECAST_LISTEN_QUEUE), so under the matrix's
  # fast ramp SYNs are dropped and retried seconds later. The same 1,000 viewers at 250/s:
  [[ $only == *" slow_ramp "* ]] && for run in $(seq "$RUNS"); do
    for relay in $EXTRA_RELAYS; do
      run_one slow_ramp "$relay" "$run" -n 1000 --rate 1M --ramp 250 --warmup 2 --duration "$DURATION"
    done
  done
  # The coalescing trade-off on one loop: --max-write-delay 60 and 120 against the default 80
  # (the matrix's ringcast column), 1,000 viewers of 1 Mbit/s.
  [[ $only == *" what_if "* ]] && for run in $(seq "$RUNS"); do
    for relay in ringcast-d60 ringcast-d120; do
      run_one what_if "$relay" "$run" -n 1000 --rate 1M --ramp "$RAMP" --warmup "$WARMUP" \
        --duration "$DURATION"
    done
  done
  # Where ringcast's time goes at 1,000 viewers of 1 Mbit/s.
  if [[ $only == *" profile "* ]] && command -v perf >/dev/null && ! ((short)); then profile; fi
}

profile() {
  start_ringcast 1
  log "perf profile of ringcast, 1000 x 1M"
  "$BENCH" --port "$RELAY_PORT" --password "$PASSWORD" --relay-pid "$RELAY_PID" -n 1000 \
    --rate 1M --ramp "$RAMP" --warmup 2 --duration 8 >"$WORK/profile.out" 2>/dev/null &
  local bench=$!
  ALL_PIDS+=("$bench")
  sleep 3.5
  perf record -q -g -F 999 -p "$RELAY_PID" -o "$WORK/perf.data" -- sleep 6 >/dev/null 2>&1 || true
  wait "$bench" || true
  stop_relay
  {
    echo "# perf record -g -F 999 -p <ringcast> for 6 s: 1,000 viewers of 1 Mbit/s, one loop"
    echo "# $(grep -o 'cpu [0-9.]* s = [0-9.]* cpu-s per delivered GB' "$WORK/profile.out")"
    echo "## self time"
    perf report -i "$WORK/perf.data" --stdio -g none --no-children --sort sym 2>/dev/null |
      grep -E '^ +[0-9]' | head -25 || true
    echo "## with children (call chains rolled up)"
    perf report -i "$WORK/perf.data" --stdio -g none --children --sort sym 2>/dev/null |
      grep -E '^ +[0-9]' | head -25 || true
  } >"$OUT/perf-ringcast-1000x1M.txt"
}

# ---- summaries -----------------------------------------------------------------------------
JQ_LIB="$JQ_KEEPS_UP"'
def median: map(select(. != null)) | sort
  | if length == 0 then null elif length % 2 == 1 then .[length / 2 | floor]
    else (.[length / 2 - 1] + .[length / 2]) / 2 end;
def cells($kind): map(select(.kind == $kind and .error == null) | keeps_up)
  | group_by([.relay, .rate_bps, .viewers, .stalled_viewers])
  | map({relay: .[0].relay, rate_bps: .[0].rate_bps, viewers: .[0].viewers,
         stalled_viewers: .[0].stalled_viewers, runs: length,
         runs_kept_up: (map(select(.keeps_up)) | length),
         held: ((map(select(.keeps_up)) | length) * 2 > length),
         at99: (map(.healthy.fraction_at_99pct) | median),
         rate_min_ratio: (map(.healthy.rate_min_ratio) | median),
         rate_median_ratio: (map(.healthy.rate_median_ratio) | median),
         source_ratio: (map(.source_ratio_fixed) | median),
         source_backlog: (map(.source_max_backlog_bytes) | max),
         cpu_per_gb: (map(.cpu_per_gb_fixed) | median),
         cpu_per_gb_tool: (map(.server_cpu_s_per_gb) | median),
         window_s: (map(.window_s) | median),
         server_cpu_pct: (map(100 * .server_cpu_s / .duration_s) | median),
         bench_cpu_pct: (map(100 * .bench_busy) | median),
         bench_saturated: ((map(select(.bench_saturated)) | length) * 2 > length),
         p50_ms: (map(.healthy.latency_p50_us / 1000) | median),
         p99_ms: (map(.healthy.latency_p99_us / 1000) | median),
         first_byte_p99_ms: (map(.healthy.first_byte_p99_ms) | median),
         rss_start_mb: (map(.server_rss_start_bytes / 1048576) | median),
         rss_end_mb: (map(.server_rss_end_bytes / 1048576) | median),
         corrupt: (map(.corrupt) | add), skipped: (map(.healthy.records_skipped) | add),
         gaps: (map(.healthy.gaps) | add),
         disconnects: (map(.healthy.server_disconnects) | add),
         stalled: (.[0].stalled),
         failures: (map(.failures[]) | unique)});
'

summarise() {
  local all=$WORK/all.json
  jq -s --arg ceil "$CEIL" "$JQ_LIB"'
    (cells("matrix")) as $m
    | def ratio($m; $name; $c):
        ($m | map(select(.relay == $name and .rate_bps == $c.rate_bps and .viewers == $c.viewers))
         | .[0]) as $l
        | if $l and $l.cpu_per_gb and $c.cpu_per_gb then $c.cpu_per_gb / $l.cpu_per_gb else null end;
    {ceil: $ceil, matrix: [$m[] | . + {x_limit: ratio($m; "limit"; .), x_ceil: ratio($m; $ceil; .)}],
       not_run: [.[] | select(.kind == "not_run")] | unique_by([.relay, .rate_bps, .viewers]),
       first_byte: cells("first_byte"), stall: cells("stall"), rss: cells("rss"),
       slow_ramp: cells("slow_ramp"), what_if: cells("what_if"),
       errors: [.[] | select(.error != null)],
       relay_exits: [.[] | select(.relay_exit_status != null)]}' "$RESULTS" >"$OUT/summary.json"
  jq -r '["relay","rate_mbps","viewers","runs","runs_kept_up","held","at99","rate_min_ratio",
          "source_ratio","cpu_s_per_gb","x_limit","server_cpu_pct","bench_cpu_pct",
          "x_ceil","bench_saturated","p50_ms","p99_ms","first_byte_p99_ms","rss_end_mb","corrupt",
          "records_skipped"],
         (.matrix[] | [.relay, .rate_bps / 1e6, .viewers, .runs, .runs_kept_up, .held, .at99,
          .rate_min_ratio, .source_ratio, .cpu_per_gb, .x_limit, .server_cpu_pct,
          .bench_cpu_pct, .x_ceil, .bench_saturated, .p50_ms, .p99_ms, .first_byte_p99_ms,
          .rss_end_mb, .corrupt, .skipped])
         | @csv' "$OUT/summary.json" >"$OUT/cells.csv"
}

plots() {
  command -v gnuplot >/dev/null || { log "no gnuplot: no plots"; return 0; }
  local series=() relay rate file
  for relay in $(jq -r '.matrix | map(.relay) | unique | sort_by(if . == "limit" then 0
      elif startswith("limit-") then 1 elif . == "ringcast" then 2 elif . == "ringcast-w2" then 3
      else 4 end)[]' "$OUT/summary.json"); do
    for rate in $(jq -r '.matrix | map(.rate_bps / 1e6 | tostring + "M") | unique[]' "$OUT/summary.json"); do
      file=$WORK/$relay-$rate.dat
      jq -r --arg relay "$relay" --argjson rate "$(rate_bps "$rate")" '
        .matrix[] | select(.relay == $relay and .rate_bps == $rate)
        | [.viewers, (.cpu_per_gb // "NaN"), (.p99_ms // "NaN"), (if .held then 1 else 0 end)]
        | @tsv' "$OUT/summary.json" | sort -n >"$file"
      [[ -s $file ]] && series+=("$file:$relay, $rate")
    done
  done
  ((${#series[@]})) || return 0
  local cpu_plot="" p99_plot="" spec i=0
  for spec in "${series[@]}"; do
    i=$((i + 1))
    local sep=$([[ -n $cpu_plot ]] && echo ", ")
    local dash=$([[ $spec == *", 8M" ]] && echo 2 || echo 1)
    cpu_plot+="$sep'${spec%%:*}' using 1:2 with linespoints dt $dash lw 2 title '${spec#*:}'"
    p99_plot+="$sep'${spec%%:*}' using 1:3 with linespoints dt $dash lw 2 title '${spec#*:}'"
  done
  gnuplot <<GP
set terminal pngcairo size 900,560 font "sans,10"
set logscale x
set logscale y
set grid
set key outside right
set xlabel "viewers"
set xrange [70:14000]
set xtics ("100" 100, "1k" 1000, "1.5k" 1500, "5k" 5000, "10k" 10000)
set output "$OUT/cpu-per-gb.png"
set title "relay CPU-seconds per delivered GB (lower is better; cells where the relay kept up and not)"
set ylabel "CPU-s / GB"
plot $cpu_plot
set output "$OUT/p99-latency.png"
set title "p99 send-to-receive latency of healthy viewers"
set ylabel "p99 latency (ms)"
plot $p99_plot
GP
}

fmt_table() {  # markdown for the generated part of the doc
  jq -r '
    def f($d): if . == null then "–" else (. * pow(10; $d) | round) / pow(10; $d) | tostring end;
    def pct: if . == null then "–" else (. * 1000 | floor) / 10 | tostring + "%" end;
    def mbps: . / 1e6 | tostring + " Mbit/s";
    def verdict: if .held then (if .bench_saturated then "held (bench ≥90% CPU)" else "held" end)
      else (if .bench_saturated then "**not held** (bench saturated: limit unclear)" else "**not held**" end) end;
    "| relay | stream | viewers | verdict (runs kept up) | viewers ≥99% | min rate | source rate | CPU-s/GB | × limit | × \(.ceil) | relay CPU | bench CPU | p50 ms | p99 ms | RSS MB | corrupt | skipped records |",
    "|---|---|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ((.matrix + (.not_run | map(. + {not_run: true})))
      | sort_by(.rate_bps, .viewers, (.relay | if . == "limit" then 0 elif startswith("limit-") then 1 elif . == "ringcast" then 2
          elif . == "ringcast-w2" then 3 else 4 end))[]
      | if .not_run then
          "| \(.relay) | \(.rate_bps | mbps) | \(.viewers) | not run: row stopped at \(.stopped_at) | | | | | | | | | | | | | |"
        else
          "| \(.relay) | \(.rate_bps | mbps) | \(.viewers) | \(verdict) (\(.runs_kept_up)/\(.runs)) | \(.at99 | pct) | \(.rate_min_ratio | pct) | \(.source_ratio | pct) | \(.cpu_per_gb | f(3)) | \(.x_limit | f(2)) | \(.x_ceil | f(2)) | \(.server_cpu_pct | f(0))% | \(.bench_cpu_pct | f(0))% | \(.p50_ms | f(1)) | \(.p99_ms | f(1)) | \(.rss_end_mb | f(1)) | \(.corrupt) | \(.skipped) |"
        end),
    "",
    (if (.first_byte | length) > 0 then
      "First byte while 1,000 viewers connect at once (1 Mbit/s, `--ramp 1000000`), medians:",
      "",
      "| relay | verdict (runs kept up) | first byte p99 ms | p99 latency ms | viewers ≥99% (tool) | min rate | corrupt |",
      "|---|---|---:|---:|---:|---:|---:|",
      (.first_byte[] | "| \(.relay) | \(verdict) (\(.runs_kept_up)/\(.runs)) | \(.first_byte_p99_ms | f(1)) | \(.p99_ms | f(1)) | \(.at99 | pct) | \(.rate_min_ratio | pct) | \(.corrupt) |"),
      "" else empty end),
    (if (.slow_ramp | length) > 0 then
      "The same 1,000 viewers of 1 Mbit/s with a slow ramp (250 connects/s), medians:",
      "",
      "| relay | verdict (runs kept up) | viewers ≥99% | CPU-s/GB | relay CPU | p99 ms | first byte p99 ms | corrupt |",
      "|---|---|---:|---:|---:|---:|---:|---:|",
      (.slow_ramp[] | "| \(.relay) | \(verdict) (\(.runs_kept_up)/\(.runs)) | \(.at99 | pct) | \(.cpu_per_gb | f(3)) | \(.server_cpu_pct | f(0))% | \(.p99_ms | f(1)) | \(.first_byte_p99_ms | f(1)) | \(.corrupt) |"),
      "" else empty end),
    (if (.what_if | length) > 0 then
      "One loop, 1,000 viewers of 1 Mbit/s, other `--max-write-delay` values (the default, 80, is the matrix'"'"'s `ringcast` row), medians:",
      "",
      "| relay | viewers | verdict (runs kept up) | CPU-s/GB | relay CPU | p50 ms | p99 ms | corrupt |",
      "|---|---:|---|---:|---:|---:|---:|---:|",
      (.what_if[] | "| \(.relay) | \(.viewers) | \(verdict) (\(.runs_kept_up)/\(.runs)) | \(.cpu_per_gb | f(3)) | \(.server_cpu_pct | f(0))% | \(.p50_ms | f(1)) | \(.p99_ms | f(1)) | \(.corrupt) |"),
      "" else empty end),
    (if (.stall | length) > 0 then
      "Stalled viewers: 50 viewers stop reading (1 Mbit/s: 1,000 viewers, 36 s stall; 8 Mbit/s: 250 viewers, 20 s stall):",
      "",
      "| relay | stream | viewers | healthy ≥99% | healthy p99 ms | corrupt (all) | stalled: connected / disconnected by server | stalled: gaps (records skipped) | stalled: rate median | source rate |",
      "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|",
      (.stall | sort_by(.rate_bps, .relay)[] | "| \(.relay) | \(.rate_bps | mbps) | \(.viewers) | \(.at99 | pct) | \(.p99_ms | f(1)) | \(.corrupt) | \(.stalled.connected) / \(.stalled.server_disconnects) | \(.stalled.gaps) (\(.stalled.records_skipped)) | \(.stalled.rate_median_ratio | pct) | \(.source_ratio | pct) |"),
      "" else empty end),
    (if (.rss | length) > 0 then
      "RSS after a long run (1 Mbit/s, the same warmup at both counts, so ring pages touched by then cancel in the slope):",
      "",
      "| relay | viewers | RSS before viewers MB | RSS at end MB |",
      "|---|---:|---:|---:|",
      (.rss[] | "| \(.relay) | \(.viewers) | \(.rss_start_mb | f(2)) | \(.rss_end_mb | f(2)) |"),
      "",
      (.rss | group_by(.relay)[] | select(length == 2) | sort_by(.viewers)
        | "\(.[0].relay): RSS growth per viewer, slope between \(.[0].viewers) and \(.[1].viewers) viewers: **\((.[1].rss_end_mb - .[0].rss_end_mb) * 1048576 / (.[1].viewers - .[0].viewers) | round) B**"),
      "" else empty end),
    (if (.errors | length) > 0 then
      "Runs without a result: " + (.errors | map("\(.relay) \(.args): \(.error)") | join("; ")), ""
      else empty end),
    (if (.relay_exits | length) > 0 then
      "Relay processes that exited during a run (counted as not kept up): " + (.relay_exits | map("\(.relay) \(.args) run \(.run): status \(.relay_exit_status)") | join("; ")), ""
      else empty end)
  ' "$OUT/summary.json"
}

write_doc() {
  local generated=$WORK/generated.md
  {
    echo "<!-- generated by scripts/bench-vs-icecast.sh on $(date -u +%F) — do not edit between these markers -->"
    echo
    echo "Machine: $(nproc) cores ($(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//')), $(uname -r)."
    echo "$("$RINGCAST" --version 2>&1 | head -1); $("$ICECAST" -v 2>&1 | head -1 || echo 'no Icecast')."
    echo "Runs per cell: $RUNS (medians shown). Measured window: ${DURATION} s after a ${WARMUP} s warmup"
    echo "(one more for 10,000 viewers), ramp $RAMP viewers/s, one viewer process, 1316-byte source writes."
    echo
    fmt_table
    echo "<!-- end generated -->"
  } >"$generated"
  if [[ -f $DOC ]] && grep -q '^<!-- generated by' "$DOC"; then
    awk -v gen="$generated" '
      /^<!-- generated by/ { while ((getline line < gen) > 0) print line; skip = 1; next }
      /^<!-- end generated -->/ { skip = 0; next }
      !skip' "$DOC" >"$WORK/doc.md" && cp "$WORK/doc.md" "$DOC"
  else
    { echo "# Benchmarks"; echo; cat "$generated"; } >"$DOC"
  fi
}

# ---- main ----------------------------------------------------------------------------------
STAMP=$(date -u +%FT%TZ)
if ! ((QUICK)) && [[ -z ${KEEP_RESULTS:-} ]]; then
  # Carry over the reused relays' lines (same relay binary, earlier run), then start anew.
  if [[ -n $REUSE && -s $RESULTS ]]; then
    jq -c --arg reuse "$REUSE" 'select(.relay as $r | $reuse | split(" ") | index($r))
      | . + {reused: true}' "$RESULTS" >"$WORK/reused.jsonl"
    cp "$WORK/reused.jsonl" "$RESULTS"
  else
    : >"$RESULTS"
  fi
fi
log "relays: $RELAYS (reused: ${REUSE:-none}); rates: $RATES; viewers: $VIEWERS; runs: $RUNS; output: $OUT"
[[ ${SKIP_MATRIX:-} ]] || matrix
((EXTRAS)) && extras
summarise
plots
write_doc
column -s, -t <"$OUT/cells.csv" >&2 || true
log "results: $RESULTS, $OUT/summary.json, $OUT/cells.csv, plots in $OUT, doc: $DOC"
