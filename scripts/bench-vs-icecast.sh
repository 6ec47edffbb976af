#!/usr/bin/env bash
# Side-by-side benchmark: the same ringcast-bench load against the limit-mode writer (the
# ceiling: uv_try_write of one buffer, no relay logic; limit-80ms writes every 80 ms like
# ringcast's default --max-write-delay), ringcast with --workers 1 and --workers 2, and
# Icecast 2.4 from Debian, all on loopback with the same burst, lag limit and source password.
# Writes raw JSON lines, per-cell medians, plots and the generated part of docs/benchmarks.md. Every process it starts is stopped by its pid.
#
# usage: bash scripts/bench-vs-icecast.sh [--quick] [--runs N] [--no-install] [--no-extras]
#   --quick      1 run per cell, small audiences (100 and 1,000 viewers in the matrix, a few
#                hundred in the other cells), short extras; output to a temp dir (not docs/)
#                unless OUT is set. One cell kind with --quick takes about a minute, e.g.
#                CELLS=radio RADIO_RATES=128k bash scripts/bench-vs-icecast.sh --quick
#   --runs N     runs per cell (default 3; the tables show medians)
#   --no-install do not apt-get install icecast2, gnuplot-nox, jq when they are missing
#   --no-extras  no extras (same as leaving "extras" out of CELLS)
# env: BUILD=build  BENCH=$BUILD/tests/bench/ringcast-bench  RINGCAST=$BUILD/relay/ringcast
#      ICECAST=icecast2  OUT=docs/bench  DOC=docs/benchmarks.md
#      CELLS="matrix extras radio ts-unaligned ts-frames ts-baseline mounts overload" (the cell
#        kinds to run, in this order; see "the other cells" below; radio-icy is not a default)
#      RELAYS="limit-80ms ringcast ringcast-w2 icecast"  (also: limit, limit-<N>ms,
#        ringcast-w<N> = --workers N, ringcast-d<N> = one loop with --latency-budget N)
#      WORKERS="1 2 4" (replaces the ringcast relays of RELAYS by one per --workers value:
#        ringcast for 1, ringcast-w<N> otherwise; the overload cell's list, default "1 2 4")
#      RINGCAST_ARGS="--flag value ..." (extra flags for every ringcast run, after the common
#        ones; ringcast refuses a flag given twice, so not --burst, --max-lag, --ring-size,
#        --workers)  BENCH_ARGS="--processes 2 ..." (extra flags for every ringcast-bench run)
#      CEIL=limit-80ms (the column the "× ceiling" ratio divides by)
#      VIEWERS="100 1000 5000 10000"  VIEWERS_1M=, VIEWERS_8M= (per rate; default VIEWERS, and
#      "100 1000 1500 5000" at 8M unless --quick)  RATES="1M 8M"  DURATION=5  WARMUP=2  RAMP=5000
#      EXTRA_SET="first_byte stall stall8 rss slow_ramp what_if profile"
#      EXTRA_RELAYS="ringcast ringcast-w2" (first_byte, slow_ramp)  STALL_RELAYS=ringcast
#      RSS_RELAYS=ringcast  STALL_FOR=36 STALL_DURATION=40 (1 Mbit/s stall run)  RSS_WARMUP=34
#      REUSE="icecast" (keep these relays' lines from the existing results.jsonl, marked
#      reused: true, and do not run them)  KEEP_RESULTS=1 (append to results.jsonl instead of
#      starting it anew)  SKIP_MATRIX=1 (same as leaving "matrix" out of CELLS)
#   the other cells (each against RELAYS; Icecast only where it can admit the audience):
#      radio        audio/mpeg (no packet framing: joins and skips anywhere), 1024-byte writes;
#                   RADIO_RATES="64k 128k"  RADIO_LISTENERS="1000 5000 15000" (quick: 200)
#      radio-icy    the radio load twice, side by side: plain, and with ICY metadata (every
#                   listener sends Icy-MetaData: 1 and the bench takes the blocks out before
#                   verifying; a new title every TITLE_EVERY=10 s through /admin/metadata
#                   updinfo with the source credentials). RADIO_ICY="128k:1000:1024
#                   128k:5000:1024" (rate:listeners:chunk; quick: 128k:200:1024),
#                   ICY_METAINT=16000 (ringcast's --icy-metaint, Icecast's mount
#                   <mp3-metadata-interval>; 16000 is both defaults). The limit writer sends no
#                   metadata: its row is the plain ceiling
#      ts-unaligned video/mp2t with writes that end inside a packet; TS_UNALIGNED="1M:1000:4096
#                   8M:1500:16384" (rate:viewers:chunk; quick: 100 viewers)
#      ts-frames    video/mp2t, one write per 40 ms frame; TS_FRAMES="1M:1000:5000"
#      ts-baseline  video/mp2t in 1316-byte writes (the matrix's shape), the reference for the
#                   two above in the same session; TS_BASELINE="1M:1000:1316"
#      mounts       M broadcasters of 128 kbit/s audio/mpeg in 1024-byte writes, one listener
#                   each (viewers = mounts); RSS per mount. MOUNTS_LIST="1000 5000" (quick:
#                   "50 200"), SOURCE_RAMP=2000 (broadcaster connects/s). The limit writer
#                   serves one stream: its row is the same viewer writes on one mount
#      overload     video/mp2t 8 Mbit/s x 2,000 viewers (OVERLOAD="8M:2000:1316"), ringcast
#                   at each --workers value of WORKERS (default "1 2 4"), and limit-80ms;
#                   OVERLOAD_RELAYS= replaces that list
#      RING=4194304: ringcast's --ring-size in every cell but mounts ("auto": none, so the
#        ring is sized by --ring-seconds); MOUNTS_RING=auto: the same for the mounts cell (RSS
#        per mount includes the ring pages written so far, up to the ring)
#      ICECAST_MAX_LISTENERS=2000: Icecast 2.4 listens with a backlog of 5 and is not run with
#        more listeners than this; a bigger audience runs Icecast at this many instead (the
#        line has icecast_capped_from). ICECAST_RAMP=250: its viewer and broadcaster connects
#        per second in these cells. ICECAST_MAX_MOUNTS=1000: the mounts cell's Icecast limit.
#        ICECAST_MAX_MBPS=2000: nor with more than this many Mbit/s in all (rate x viewers)
set -euo pipefail
cd "$(dirname "$0")/.."

QUICK=0 RUNS=3 INSTALL=1 EXTRAS=1
while (($#)); do
  case $1 in
    --quick) QUICK=1; RUNS=1 ;;
    --runs) RUNS=$2; shift ;;
    --no-install) INSTALL=0 ;;
    --no-extras) EXTRAS=0 ;;
    -h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d' | cut -c3-; exit 0 ;;
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
CELLS=${CELLS:-matrix extras radio ts-unaligned ts-frames ts-baseline mounts overload}
[[ -n ${SKIP_MATRIX:-} ]] && CELLS=$(echo " $CELLS " | sed 's/ matrix / /')
((EXTRAS)) || CELLS=$(echo " $CELLS " | sed 's/ extras / /')
for cell in $CELLS; do
  case $cell in
    matrix|extras|radio|radio-icy|ts-unaligned|ts-frames|ts-baseline|mounts|overload) ;;
    *) echo "unknown cell kind: $cell (see --help)" >&2; exit 2 ;;
  esac
done
if ((QUICK)); then
  RADIO_LISTENERS=${RADIO_LISTENERS:-200}
  RADIO_ICY=${RADIO_ICY:-128k:200:1024}
  TS_UNALIGNED=${TS_UNALIGNED:-1M:100:4096 8M:100:16384}
  TS_FRAMES=${TS_FRAMES:-1M:100:5000}
  TS_BASELINE=${TS_BASELINE:-1M:100:1316}
  MOUNTS_LIST=${MOUNTS_LIST:-50 200}
  OVERLOAD=${OVERLOAD:-8M:200:1316}
else
  RADIO_LISTENERS=${RADIO_LISTENERS:-1000 5000 15000}
  RADIO_ICY=${RADIO_ICY:-128k:1000:1024 128k:5000:1024}
  TS_UNALIGNED=${TS_UNALIGNED:-1M:1000:4096 8M:1500:16384}
  TS_FRAMES=${TS_FRAMES:-1M:1000:5000}
  TS_BASELINE=${TS_BASELINE:-1M:1000:1316}
  MOUNTS_LIST=${MOUNTS_LIST:-1000 5000}
  OVERLOAD=${OVERLOAD:-8M:2000:1316}
fi
RADIO_RATES=${RADIO_RATES:-64k 128k}
TITLE_EVERY=${TITLE_EVERY:-10}
ICY_METAINT=${ICY_METAINT:-16000}
SOURCE_RAMP=${SOURCE_RAMP:-2000}
ICECAST_MAX_LISTENERS=${ICECAST_MAX_LISTENERS:-2000}
ICECAST_MAX_MOUNTS=${ICECAST_MAX_MOUNTS:-1000}
ICECAST_RAMP=${ICECAST_RAMP:-250}
ICECAST_MAX_MBPS=${ICECAST_MAX_MBPS:-2000}
read -ra BENCH_EXTRA <<<"${BENCH_ARGS:-}"
read -ra RINGCAST_EXTRA <<<"${RINGCAST_ARGS:-}"
# Same settings on every relay: 64 KiB burst, 2 MiB lag limit (Icecast's queue-size; ringcast's
# --max-lag, which is also its default: half of the 4 MiB ring), 20,000+ clients.
BURST=65536
QUEUE=2097152
RING=${RING:-4194304}
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

# ringcast with one loop (--workers 1), and a second column with two (--workers 2). Every
# ringcast run gets these, then $RINGCAST_ARGS from the environment, then the cell's own.
# (ringcast refuses a flag given twice: RINGCAST_ARGS must not repeat these or --workers.)
RINGCAST_COMMON=(--burst "$BURST" --max-lag "$QUEUE")
CELL_RINGCAST=()
"$RINGCAST" --help 2>&1 | grep -q -- '--workers' || die "this ringcast has no --workers"
REUSE=${REUSE:-}
CEIL=${CEIL:-limit-80ms}
if [[ -z ${RELAYS:-} ]]; then
  RELAYS="limit-80ms ringcast ringcast-w2"
  [[ -n $ICECAST ]] && RELAYS+=" icecast"
fi
ringcast_for_workers() {  # the relay names of --workers N...: ringcast (1), ringcast-w<N>
  local n
  for n in "$@"; do if ((n == 1)); then echo ringcast; else echo "ringcast-w$n"; fi; done
}
if [[ -n ${WORKERS:-} ]]; then
  # The ringcast columns become one per --workers value, in the place of the first one.
  relays="" placed=0
  for r in $RELAYS; do
    if [[ $r == ringcast || $r == ringcast-w* ]]; then
      ((placed)) || relays+=" $(ringcast_for_workers $WORKERS | tr '\n' ' ')"
      placed=1
    else
      relays+=" $r"
    fi
  done
  RELAYS=$(echo $relays)
fi
OVERLOAD_RELAYS=${OVERLOAD_RELAYS:-limit-80ms $(ringcast_for_workers ${WORKERS:-1 2 4} | tr '\n' ' ')}
# Reused relays are not run: their lines are carried over from the previous results.jsonl.
for r in $REUSE; do RELAYS=$(echo " $RELAYS " | sed "s/ $r / /; s/^ *//; s/ *$//"); done
EXTRA_RELAYS=${EXTRA_RELAYS:-ringcast ringcast-w2}
STALL_RELAYS=${STALL_RELAYS:-ringcast}
RSS_RELAYS=${RSS_RELAYS:-ringcast}

# ---- relay lifecycle -----------------------------------------------------------------------
RELAY_PID="" RELAY_PORT="" RELAY_ARGS=""
ALL_PIDS=()
cleanup() {
  local pid
  for pid in "${ALL_PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
  rm -rf "$WORK"
}
# Once a child is reaped its pid may be reused: it leaves the list the cleanup signals.
forget_pid() {
  local pid kept=()
  for pid in "${ALL_PIDS[@]}"; do [[ $pid == "$1" ]] || kept+=("$pid"); done
  ALL_PIDS=("${kept[@]}")
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
  extra+=("${RINGCAST_EXTRA[@]}" "${CELL_RINGCAST[@]}" "$@")
  local ring=${CELL_RING:-$RING}
  [[ $ring == auto ]] || extra=(--ring-size "$ring" "${extra[@]}")
  RELAY_ARGS="${RINGCAST_COMMON[*]} ${extra[*]}"
  "$RINGCAST" --listen 127.0.0.1:0 --source-password "$PASSWORD" "${RINGCAST_COMMON[@]}" \
    "${extra[@]}" 2>"$WORK/ringcast.log" >/dev/null &
  RELAY_PID=$!
  ALL_PIDS+=("$RELAY_PID")
  RELAY_PORT=$(wait_for_log "$WORK/ringcast.log" 'listening on http://127\.0\.0\.1:([0-9]+)/') ||
    die "ringcast did not start; log: $(tail -3 "$WORK/ringcast.log")"
}

write_icecast_config() {  # port [sources]
  local dir=$WORK/icecast security="<chroot>0</chroot>" sources=${2:-2}
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
    <clients>25000</clients><sources>$sources</sources>
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
  ${CELL_ICECAST_XML:-}
  <paths>
    <basedir>$dir</basedir><logdir>$dir/log</logdir>
    <webroot>/usr/share/icecast2/web</webroot><adminroot>/usr/share/icecast2/admin</adminroot>
  </paths>
  <logging><accesslog>access.log</accesslog><errorlog>error.log</errorlog><loglevel>2</loglevel></logging>
  <security>$security</security>
</icecast>
XML
}

start_icecast() {  # [sources]
  RELAY_PORT=$(free_port)
  write_icecast_config "$RELAY_PORT" "${1:-2}"
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
    forget_pid "$RELAY_PID"
    RELAY_PID=""
    return 0
  fi
  kill "$RELAY_PID" 2>/dev/null || true
  for _ in $(seq 60); do kill -0 "$RELAY_PID" 2>/dev/null || break; sleep 0.05; done
  kill -9 "$RELAY_PID" 2>/dev/null || true
  wait "$RELAY_PID" 2>/dev/null || true
  forget_pid "$RELAY_PID"
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
# - the source ratio, like the tool's viewer rates, may be one write short: a window holds a
#   whole number of writes (at 64 kbit/s in 1024-byte writes, 23 in 3 s: 98.1%).
# With --mounts M, source_bytes_in_window holds all M broadcasters: the ratio is their mean.
# Records of another mount's stream and connections that never verified a record count as
# corrupt. With --icy: a malformed metadata block, a listener answered without icy-metaint, a
# title update not answered 200, or a healthy listener that had not seen the last title in
# time (the bench's icy_last_title_seen_ratio) is not keeping up either.
JQ_KEEPS_UP='
def keeps_up: if .error != null then . + {keeps_up: false} else
  (if .source_bytes_in_window then .source_bytes_in_window * 8 / .duration_s / .rate_bps
     / (.mounts // 1)
   else null end) as $src
  | (if .server_cpu_s then .server_cpu_s / (.delivered_bytes * .duration_s / .window_s / 1e9)
     else null end) as $cpu
  | . + {source_ratio_fixed: $src, cpu_per_gb_fixed: $cpu,
         rate_ok: (.healthy.fraction_at_99pct >= 0.99
                   or .healthy.rate_min_ratio >= 0.99 - 16384 * 8 / (.rate_bps * .window_s))}
  | .keeps_up = (.error == null and .healthy.connected == .healthy.viewers and .corrupt == 0
                 and (.healthy.records_foreign // 0) == 0
                 and (.healthy.sessions_unverified // 0) == 0
                 and .rate_ok and .source_error == ""
                 and (.icy_bad_blocks // 0) == 0 and (.icy_missing_metaint // 0) == 0
                 and (.title_update_failures // 0) == 0
                 and (.title_every_s == null or (.icy_last_title_seen_ratio // 0) >= 1)
                 and ($src == null or $src >= 0.99 - .chunk_bytes * 8 / (.rate_bps * .duration_s))
                 and .relay_exit_status == null) end;
'

# ---- one run -------------------------------------------------------------------------------
# run_one KIND RELAY RUN [ringcast-bench options...]: starts a fresh relay, runs the bench,
# stops the relay, appends the JSON summary (plus kind, relay, run, bench_busy, keeps_up, and
# the object RUN_EXTRA if set) to $RESULTS and leaves it in $WORK/last.json. A cell sets
# CELL_RINGCAST (ringcast flags) and CELL_ICECAST_SOURCES for its runs.
run_one() {
  local kind=$1 relay=$2 run=$3; shift 3
  local target=() run_extra=${RUN_EXTRA:-'{}'}
  RELAY_ARGS=""
  case $relay in
    limit) target=(limit) ;;
    limit-*ms) local ms=${relay#limit-}; target=(limit --limit-flush-ms "${ms%ms}") ;;
    ringcast) start_ringcast 1 ;;
    ringcast-w[0-9]*) start_ringcast "${relay#ringcast-w}" ;;
    # One loop with another coalescing delay (the default is 80 ms at 800+ viewers per loop).
    ringcast-d*) start_ringcast 1 --latency-budget "${relay#ringcast-d}" ;;
    icecast) start_icecast "${CELL_ICECAST_SOURCES:-2}" ;;
    *) die "unknown relay $relay" ;;
  esac
  if [[ $relay != limit* ]]; then
    target=(--port "$RELAY_PORT" --password "$PASSWORD" --relay-pid "$RELAY_PID")
  fi
  log "$kind $relay run $run: $*"
  local rc=0
  RELAY_EXIT=""
  timeout 300 "$BENCH" "${target[@]}" "$@" "${BENCH_EXTRA[@]}" >"$WORK/bench.out" \
    2>"$WORK/bench.progress" || rc=$?
  stop_relay
  if ! grep -q '^JSON ' "$WORK/bench.out"; then
    log "  no result (exit $rc): $(tail -n 2 "$WORK/bench.out" "$WORK/bench.progress" | tr '\n' ' ')"
    jq -nc --arg kind "$kind" --arg relay "$relay" --argjson run "$run" --argjson rc "$rc" \
      --arg args "$*" --arg why "$(tail -1 "$WORK/bench.progress")" \
      --argjson extra "$run_extra" \
      '{kind: $kind, relay: $relay, run: $run, args: $args, error: $why, exit: $rc,
        keeps_up: false} + $extra' | tee -a "$RESULTS" >"$WORK/last.json"
    return 0
  fi
  grep '^JSON ' "$WORK/bench.out" | cut -c6- |
    jq -c --arg kind "$kind" --arg relay "$relay" --argjson run "$run" --arg args "$*" \
      --arg ringcast_version "$("$RINGCAST" --version 2>&1 | head -1)" --arg relay_exit "$RELAY_EXIT" \
      --arg relay_args "$RELAY_ARGS" \
      --argjson extra "$run_extra" '
      . as $r
      | (if $r.window_s > 0 then $r.bench_cpu_s / ($r.window_s * $r.processes) else 0 end) as $busy
      | ($r.healthy.records_corrupt + $r.stalled.records_corrupt) as $corrupt
      | {kind: $kind, relay: $relay, run: $run, args: $args, ringcast_version: $ringcast_version,
         time: (now | todate), bench_busy: $busy, bench_saturated: ($busy > 0.9),
         corrupt: $corrupt}
        + (if $relay_exit != "" then {relay_exit_status: ($relay_exit | tonumber)} else {} end)
        + (if $relay_args != "" then {ringcast_args: $relay_args} else {} end)
        + $extra + $r
        + (if $r.window_s > 0 then {} else {error: "the viewer processes observed no window (window_s 0)"} end)' | tee -a "$RESULTS" | jq -c "$JQ_KEEPS_UP"' keeps_up' >"$WORK/last.json"
  # Keep the evidence of runs that did not keep up: the bench's output and the relay's log
  # (without the one line per joining viewer).
  if [[ $(jq -r '.keeps_up' "$WORK/last.json") != true ]]; then
    local name
    name=$OUT/logs/$kind-$relay-$(jq -r '"\(.viewers)x\(.rate_bps / 1e6)M" +
      (if .kind == "matrix" then "" else "-c\(.chunk_bytes)-m\(.mounts // 1)" end)
      + (if .icy then "-icy" else "" end)' "$WORK/last.json")-run$run
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
rate_bps() { numfmt --from=si "${1^^}"; }  # 64k, 1M, ...

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
  forget_pid "$bench"
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

# ---- the other cells ----------------------------------------------------------------------
# Not a matrix: every cell runs whatever the one before it did (no row stops), runs
# interleaved over the relays as in the matrix.

# Icecast 2.4 listens with a backlog of 5 (ICECAST_LISTEN_QUEUE): it connects its viewers and
# broadcasters at ICECAST_RAMP, and an audience over ICECAST_MAX_LISTENERS runs it at that many
# instead (icecast_capped_from in the line), once per rate and chunk.
declare -A ICECAST_DONE=()

# cell_run KIND RELAY RUN VIEWERS [ringcast-bench options...]
cell_run() {
  local kind=$1 relay=$2 run=$3 viewers=$4; shift 4
  local ramp=$RAMP warmup=$WARMUP
  RUN_EXTRA=""
  if [[ $relay == icecast ]]; then
    ramp=$ICECAST_RAMP
    if ((viewers > ICECAST_MAX_LISTENERS)); then
      RUN_EXTRA=$(jq -nc --argjson n "$viewers" '{icecast_capped_from: $n}')
      viewers=$ICECAST_MAX_LISTENERS
    fi
    local key="$kind $run $viewers $*"
    if [[ -n ${ICECAST_DONE[$key]:-} ]]; then RUN_EXTRA=""; return 0; fi
    ICECAST_DONE[$key]=1
    # Past about 1 Gbit/s in all Icecast falls behind (the matrix: 1,000 x 8 Mbit/s is not
    # held); it is not run far past that.
    local rate chunk
    rate=$(printf '%s\n' "$@" | grep -A1 -x -- --rate | tail -1)
    chunk=$(printf '%s\n' "$@" | grep -A1 -x -- --chunk | tail -1)
    if (($(rate_bps "$rate") * viewers > ICECAST_MAX_MBPS * 1000000)); then
      ((run == 1)) && jq -nc --arg kind "$kind" --argjson rate "$(rate_bps "$rate")" \
        --argjson n "$viewers" --argjson chunk "$chunk" --argjson cap "$ICECAST_MAX_MBPS" \
        '{kind: "not_run", cell: $kind, relay: "icecast", rate_bps: $rate, viewers: $n,
          chunk_bytes: $chunk, why: "over ICECAST_MAX_MBPS=\($cap) Mbit/s in all"}' >>"$RESULTS"
      RUN_EXTRA=""
      return 0
    fi
  fi
  ((viewers >= 10000)) && warmup=$((WARMUP + 1))
  run_one "$kind" "$relay" "$run" -n "$viewers" --ramp "$ramp" --warmup "$warmup" \
    --duration "$DURATION" "$@"
  RUN_EXTRA=""
}

# shape_cells KIND "RATE:VIEWERS:CHUNK ..." "RELAYS" [ringcast-bench options...]
shape_cells() {
  local kind=$1 shapes=$2 relays=$3 shape rate viewers chunk run relay
  shift 3
  for shape in $shapes; do
    IFS=: read -r rate viewers chunk <<<"$shape"
    [[ -n $chunk ]] || die "$kind: bad shape '$shape' (want RATE:VIEWERS:CHUNK)"
    for run in $(seq "$RUNS"); do
      for relay in $relays; do
        cell_run "$kind" "$relay" "$run" "$viewers" --rate "$rate" --chunk "$chunk" "$@"
      done
    done
  done
}

radio_cells() {
  local rate n shapes=""
  for rate in $RADIO_RATES; do
    for n in $RADIO_LISTENERS; do shapes+=" $rate:$n:1024"; done
  done
  shape_cells radio "$shapes" "$RELAYS" --content-type audio/mpeg --mount /radio.mp3
}

# The radio load without and with ICY metadata, interleaved per relay so that both see the same
# machine. ringcast gets --icy-metaint in both (a listener that does not ask gets no blocks),
# Icecast a <mount> with <mp3-metadata-interval> unless it is its default (16000). Title
# updates use the source credentials, which both relays accept for /admin/metadata.
radio_icy_cells() {
  local shape rate viewers chunk run relay
  local icy=(--icy --title-every "$TITLE_EVERY")
  CELL_RINGCAST=(--icy-metaint "$ICY_METAINT")
  if ((ICY_METAINT != 16000)); then
    CELL_ICECAST_XML="<mount><mount-name>/radio.mp3</mount-name><mp3-metadata-interval>$ICY_METAINT</mp3-metadata-interval></mount>"
  fi
  for shape in $RADIO_ICY; do
    IFS=: read -r rate viewers chunk <<<"$shape"
    [[ -n $chunk ]] || die "radio-icy: bad shape '$shape' (want RATE:LISTENERS:CHUNK)"
    local stream=(--rate "$rate" --chunk "$chunk" --content-type audio/mpeg --mount /radio.mp3)
    for run in $(seq "$RUNS"); do
      for relay in $RELAYS; do
        cell_run radio-icy "$relay" "$run" "$viewers" "${stream[@]}"
        [[ $relay == limit* ]] && continue  # the writer sends no ICY: its row is the ceiling
        cell_run radio-icy "$relay" "$run" "$viewers" "${stream[@]}" "${icy[@]}"
      done
    done
  done
  CELL_RINGCAST=() CELL_ICECAST_XML=""
}

# M broadcasters of 128 kbit/s, one listener each. ringcast gets --max-mounts M; Icecast
# <sources> M + 1 up to ICECAST_MAX_MOUNTS; the limit writer serves one stream, so its row is
# the same number of viewer writes of the same size on one mount.
mounts_cells() {
  local m run relay
  for m in $MOUNTS_LIST; do
    for run in $(seq "$RUNS"); do
      for relay in $RELAYS; do
        local stream=(--rate 128k --chunk 1024 --content-type audio/mpeg --mount /radio.mp3)
        case $relay in
          limit*)
            RUN_EXTRA=$(jq -nc --argjson m "$m" '{same_writes_as_mounts: $m}')
            run_one mounts "$relay" "$run" -n "$m" --ramp "$RAMP" --warmup "$WARMUP" \
              --duration "$DURATION" "${stream[@]}"
            RUN_EXTRA="" ;;
          icecast)
            if ((m > ICECAST_MAX_MOUNTS)); then
              ((run == 1)) && jq -nc --argjson m "$m" --argjson cap "$ICECAST_MAX_MOUNTS" \
                '{kind: "not_run", cell: "mounts", relay: "icecast", mounts: $m, viewers: $m,
                  why: "more mounts than ICECAST_MAX_MOUNTS=\($cap)"}' >>"$RESULTS"
              continue
            fi
            CELL_ICECAST_SOURCES=$((m + 1))
            run_one mounts icecast "$run" --mounts "$m" -n "$m" --ramp "$ICECAST_RAMP" \
              --source-ramp "$ICECAST_RAMP" --warmup "$WARMUP" --duration "$DURATION" \
              "${stream[@]}"
            CELL_ICECAST_SOURCES="" ;;
          *)
            CELL_RINGCAST=(--max-mounts "$m") CELL_RING=${MOUNTS_RING:-auto}
            run_one mounts "$relay" "$run" --mounts "$m" -n "$m" --ramp "$RAMP" \
              --source-ramp "$SOURCE_RAMP" --warmup "$WARMUP" --duration "$DURATION" \
              "${stream[@]}"
            CELL_RINGCAST=() CELL_RING="" ;;
        esac
      done
    done
  done
}

# ---- summaries -----------------------------------------------------------------------------
JQ_LIB="$JQ_KEEPS_UP"'
def median: map(select(. != null)) | sort
  | if length == 0 then null elif length % 2 == 1 then .[length / 2 | floor]
    else (.[length / 2 - 1] + .[length / 2]) / 2 end;
def cells($kind): map(select(.kind == $kind and .error == null) | keeps_up)
  | group_by([.relay, .rate_bps, .viewers, .stalled_viewers, .chunk_bytes, (.mounts // 1),
              (.content_type // "video/mp2t"), (.icy // false)])
  | map({relay: .[0].relay, rate_bps: .[0].rate_bps, viewers: .[0].viewers,
         stalled_viewers: .[0].stalled_viewers, chunk_bytes: .[0].chunk_bytes,
         mounts: (.[0].mounts // 1), content_type: (.[0].content_type // "video/mp2t"),
         icy: (.[0].icy // false), icy_metaint: .[0].icy_metaint,
         title_every_s: .[0].title_every_s,
         icy_blocks_per_listener: (map(if .icy then .healthy.icy_blocks / .healthy.viewers
                                       else null end) | median),
         icy_titles_per_listener: (map(if .icy then .healthy.icy_titles / .healthy.viewers
                                       else null end) | median),
         icy_title_seen: (map(.icy_last_title_seen_ratio) | median),
         icy_bad_blocks: (map(.icy_bad_blocks // 0) | add),
         icy_missing_metaint: (map(.icy_missing_metaint // 0) | add),
         title_update_failures: (map(.title_update_failures // 0) | add),
         icecast_capped_from: .[0].icecast_capped_from,
         same_writes_as_mounts: .[0].same_writes_as_mounts, runs: length,
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
         rss_per_mount_kib: (map(.server_rss_per_mount_kib) | median),
         rss_growth_per_mount_kib: (map(.server_rss_growth_per_mount_kib) | median),
         source_cpu_pct: (map(if .source_cpu_s then 100 * .source_cpu_s / .duration_s else null end)
                          | median),
         source_min_ratio: (map(if .source_rate_min_bps then .source_rate_min_bps / .rate_bps
                                else null end) | median),
         corrupt: (map(.corrupt) | add), skipped: (map(.healthy.records_skipped) | add),
         gaps_unaligned: (map(.healthy.gaps_unaligned // 0) | add),
         foreign: (map(.healthy.records_foreign // 0) | add),
         gaps: (map(.healthy.gaps) | add),
         disconnects: (map(.healthy.server_disconnects) | add),
         stalled: (.[0].stalled),
         failures: (map(.failures[]) | unique)});
'

summarise() {
  local all=$WORK/all.json
  jq -s --arg ceil "$CEIL" --argjson iramp "$ICECAST_RAMP" --argjson imax "$ICECAST_MAX_LISTENERS" \
    "$JQ_LIB"'
    (cells("matrix")) as $m
    | def ratio($m; $name; $c):
        ($m | map(select(.relay == $name and .rate_bps == $c.rate_bps and .viewers == $c.viewers))
         | .[0]) as $l
        | if $l and $l.cpu_per_gb and $c.cpu_per_gb then $c.cpu_per_gb / $l.cpu_per_gb else null end;
    # The other cells: the ceiling of the same stream shape (rate, viewers, chunk; the limit
    # writer has one mount), and for ts-unaligned and ts-frames the same relay'"'"'s ts-baseline.
    def same_shape($list; $name; $c):
        ($list | map(select(.relay == $name and .rate_bps == $c.rate_bps
                            and .viewers == $c.viewers and .chunk_bytes == $c.chunk_bytes))
         | .[0]);
      def per($l; $c): if $l and $l.cpu_per_gb and $c.cpu_per_gb then $c.cpu_per_gb / $l.cpu_per_gb
                       else null end;
      def baseline($b; $c):
        ($b | map(select(.relay == $c.relay and .rate_bps == $c.rate_bps and .viewers == $c.viewers))
         | .[0]) as $l | per($l; $c);
      # radio-icy: an ICY row over the same relay'"'"'s plain row of the same shape.
      def plain($list; $c):
        ($list | map(select(.relay == $c.relay and .rate_bps == $c.rate_bps
                            and .viewers == $c.viewers and .chunk_bytes == $c.chunk_bytes
                            and (.icy | not)))
         | .[0]) as $l | if $c.icy then per($l; $c) else null end;
    (cells("ts-baseline")) as $base
    | . as $all
    | (reduce ("radio", "radio-icy", "ts-unaligned", "ts-frames", "ts-baseline", "mounts",
               "overload") as $k
        ({}; . + {($k): [($all | cells($k)) as $c | $c[]
          | . + {x_ceil: per(same_shape($c; $ceil; .); .), x_baseline: baseline($base; .),
                 x_plain: plain($c; .)}]})) as $other
    | {ceil: $ceil, icecast_ramp: $iramp, icecast_max_listeners: $imax, matrix: [$m[] | . + {x_limit: ratio($m; "limit"; .), x_ceil: ratio($m; $ceil; .)}],
       not_run: [.[] | select(.kind == "not_run" and .cell == null)]
         | unique_by([.relay, .rate_bps, .viewers]),
       other: $other,
       other_not_run: [.[] | select(.kind == "not_run" and .cell != null)]
         | unique_by([.cell, .relay, .rate_bps, .viewers, .chunk_bytes, .mounts]),
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
  jq -r '["kind","relay","content_type","rate_mbps","chunk_bytes","mounts","viewers","runs",
          "runs_kept_up","held","at99","rate_min_ratio","source_ratio","cpu_s_per_gb","x_ceil",
          "x_baseline","server_cpu_pct","bench_cpu_pct","source_cpu_pct","p50_ms","p99_ms",
          "rss_end_mb","rss_per_mount_kib","rss_growth_per_mount_kib","corrupt",
          "records_skipped","icecast_capped_from","icy","x_plain","icy_title_seen",
          "icy_bad_blocks"],
         (.other | to_entries[] | .key as $k | .value[]
          | [$k, .relay, .content_type, .rate_bps / 1e6, .chunk_bytes, .mounts, .viewers, .runs,
             .runs_kept_up, .held, .at99, .rate_min_ratio, .source_ratio, .cpu_per_gb, .x_ceil,
             .x_baseline, .server_cpu_pct, .bench_cpu_pct, .source_cpu_pct, .p50_ms, .p99_ms,
             .rss_end_mb, .rss_per_mount_kib, .rss_growth_per_mount_kib, .corrupt, .skipped,
             .icecast_capped_from, .icy, .x_plain, .icy_title_seen, .icy_bad_blocks])
         | @csv' "$OUT/summary.json" >"$OUT/cells-other.csv"
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
    def relay_order: if . == "limit" then 0 elif startswith("limit-") then 1 elif . == "ringcast" then 2
      elif startswith("ringcast-w") then 3 + (.[10:] | tonumber? // 0) / 1000 else 4 end;
    def kib: if . == null then "–" else round | tostring end;
    def pc0: if . == null then "–" else f(0) + "%" end;
    def capped: if .icecast_capped_from then " (Icecast capped: \(.icecast_capped_from) asked)" else "" end;
    # One table for a kind of the other cells: the stream shape in the first columns.
    def shape_table($kind; $title):
      (.other[$kind] // []) as $rows
      | ([.other_not_run[] | select(.cell == $kind)]) as $skipped
      | if ($rows | length) == 0 then empty else
          $title, "",
          "| relay | stream | chunk B | viewers | verdict (runs kept up) | viewers ≥99% | min rate | source rate | CPU-s/GB | × \(.ceil) | × ts-baseline | relay CPU | bench CPU | p50 ms | p99 ms | RSS MB | corrupt | gaps (unaligned) |",
          "|---|---|---:|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
          ($rows | sort_by(.rate_bps, .chunk_bytes, .viewers, (.relay | relay_order))[]
            | "| \(.relay) | \(.content_type) \(.rate_bps | mbps) | \(.chunk_bytes) | \(.viewers)\(capped) | \(verdict) (\(.runs_kept_up)/\(.runs)) | \(.at99 | pct) | \(.rate_min_ratio | pct) | \(.source_ratio | pct) | \(.cpu_per_gb | f(3)) | \(.x_ceil | f(2)) | \(.x_baseline | f(2)) | \(.server_cpu_pct | f(0))% | \(.bench_cpu_pct | f(0))% | \(.p50_ms | f(1)) | \(.p99_ms | f(1)) | \(.rss_end_mb | f(1)) | \(.corrupt) | \(.gaps) (\(.gaps_unaligned)) |"),
          "",
          (if ($skipped | length) > 0 then
             "Not run: " + ($skipped | map("\(.relay) at \(.viewers) × \(.rate_bps | mbps) (\(.why))") | join("; ")), ""
           else empty end)
        end;
    .ceil as $ceil
    | (if (.matrix | length) > 0 then
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
    "" else empty end),
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
    shape_table("ts-baseline"; "MPEG-TS in 1316-byte writes (the matrix'"'"'s shape), the reference for the next two tables in the same session, medians:"),
    shape_table("ts-unaligned"; "MPEG-TS in writes that end inside a packet (by default 4096 B at 1 Mbit/s, 16384 B at 8 Mbit/s), medians:"),
    shape_table("ts-frames"; "MPEG-TS in one write per video frame (by default 5000 B at 1 Mbit/s: 40 ms), medians:"),
    shape_table("radio"; "Radio: audio/mpeg (no packets: joins and skips at any byte) in 1024-byte writes, medians. Icecast 2.4 connects at \(.icecast_ramp)/s and is capped at \(.icecast_max_listeners) listeners:"),
    (.other["radio-icy"] // [] | if length == 0 then empty else
      "Radio with and without ICY metadata: audio/mpeg in 1024-byte writes; the ICY rows have every listener ask for metadata (`Icy-MetaData: 1`, a block after every `icy-metaint` bytes, taken out by the bench before it verifies the stream) and a new title every \(map(.title_every_s // empty) | .[0] // "–") s (`--icy --title-every`), medians. × plain divides a relay'"'"'s CPU-s/GB with ICY by its own without; \"last title seen\" is the share of healthy listeners that had the last title set by the window'"'"'s end less two metadata intervals:",
      "",
      "| relay | stream | listeners | metadata | verdict (runs kept up) | viewers ≥99% | CPU-s/GB | × plain | × \($ceil) | relay CPU | bench CPU | p99 ms | RSS MB | metaint | blocks per listener | titles per listener | last title seen | malformed blocks | corrupt |",
      "|---|---|---:|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
      (sort_by(.rate_bps, .viewers, (.relay | relay_order), .icy)[]
        | "| \(.relay) | \(.content_type) \(.rate_bps | mbps) | \(.viewers)\(capped) | \(if .icy then "ICY" else "none" end) | \(verdict) (\(.runs_kept_up)/\(.runs)) | \(.at99 | pct) | \(.cpu_per_gb | f(3)) | \(.x_plain | f(2)) | \(.x_ceil | f(2)) | \(.server_cpu_pct | f(0))% | \(.bench_cpu_pct | f(0))% | \(.p99_ms | f(1)) | \(.rss_end_mb | f(1)) | \(.icy_metaint // "–") | \(.icy_blocks_per_listener | f(1)) | \(.icy_titles_per_listener | f(1)) | \(.icy_title_seen | pct) | \(if .icy then .icy_bad_blocks else "–" end) | \(.corrupt) |"),
      "" end),
    ([.other_not_run[] | select(.cell == "radio-icy")] | if length == 0 then empty else
      "Not run: " + (map("\(.relay) at \(.viewers) × \(.rate_bps | mbps) (\(.why))") | join("; ")), "" end),
    shape_table("overload"; "Overload: more MPEG-TS than one loop can serve (by default 8 Mbit/s to 2,000 viewers), ringcast at each `--workers` value (ringcast-w<N>; ringcast is 1), medians:"),
    (.other.mounts // [] | if length == 0 then empty else
      "Many mounts: M broadcasters of 128 kbit/s audio/mpeg (1024-byte writes, staggered over one 64 ms interval), one listener each, medians. RSS per mount is the relay'"'"'s RSS at the end of the window / M, and what it added to the idle relay / M. The limit writer serves one stream: its row is the same viewer writes (M viewers) on one mount:",
      "",
      "| relay | mounts | viewers | verdict (runs kept up) | viewers ≥99% | source rate (mean / slowest) | CPU-s/GB | × \($ceil) | relay CPU | bench CPU | broadcasters CPU | p99 ms | RSS MB | RSS per mount KiB | above idle per mount KiB | corrupt |",
      "|---|---:|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
      (sort_by(.viewers, (.relay | relay_order))[]
        | "| \(.relay) | \(if .same_writes_as_mounts then "1 (same writes)" else .mounts end) | \(.viewers) | \(verdict) (\(.runs_kept_up)/\(.runs)) | \(.at99 | pct) | \(.source_ratio | pct) / \(.source_min_ratio | pct) | \(.cpu_per_gb | f(3)) | \(.x_ceil | f(2)) | \(.server_cpu_pct | f(0))% | \(.bench_cpu_pct | f(0))% | \(.source_cpu_pct | pc0) | \(.p99_ms | f(1)) | \(.rss_end_mb | f(1)) | \(if .same_writes_as_mounts then "–" else (.rss_per_mount_kib | kib) end) | \(if .same_writes_as_mounts then "–" else (.rss_growth_per_mount_kib | kib) end) | \(.corrupt) |"),
      "" end),
    ([.other_not_run[] | select(.cell == "mounts")] | if length == 0 then empty else
      "Not run: " + (map("\(.relay) at \(.mounts) mounts (\(.why))") | join("; ")), "" end),
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
    echo "(one more for 10,000 viewers), ramp $RAMP viewers/s, one viewer process, 1316-byte source writes"
    echo "in the matrix and the extras (the other tables give their own write size and content type;"
    echo "there Icecast connects its viewers and broadcasters at $ICECAST_RAMP/s, and runs at most"
    echo "$ICECAST_MAX_LISTENERS listeners, $ICECAST_MAX_MOUNTS mounts and $ICECAST_MAX_MBPS Mbit/s in all)."
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
log "cells: $CELLS; relays: $RELAYS (reused: ${REUSE:-none}); rates: $RATES; viewers: $VIEWERS; runs: $RUNS; output: $OUT"
for cell in $CELLS; do
  case $cell in
    matrix) matrix ;;
    extras) extras ;;
    radio) radio_cells ;;
    radio-icy) radio_icy_cells ;;
    ts-unaligned) shape_cells ts-unaligned "$TS_UNALIGNED" "$RELAYS" ;;
    ts-frames) shape_cells ts-frames "$TS_FRAMES" "$RELAYS" ;;
    ts-baseline) shape_cells ts-baseline "$TS_BASELINE" "$RELAYS" ;;
    mounts) mounts_cells ;;
    overload) shape_cells overload "$OVERLOAD" "$OVERLOAD_RELAYS" ;;
  esac
done
summarise
plots
write_doc
column -s, -t <"$OUT/cells.csv" >&2 || true
log "results: $RESULTS, $OUT/summary.json, $OUT/cells.csv, plots in $OUT, doc: $DOC"
