#!/usr/bin/env bash
# Local demo: Temporal dev server (with Web UI), the Graph simulator, a worker,
# then one onboarding of examples/tenant.yaml. Services keep running so you can
# look around in the Web UI; `make demo-stop` stops them.
#
# Each service is started, then waited for (its port, graphsim's "ready", the
# worker's /readyz) while its process is watched: one that exits is reported
# with the end of its log, never waited for forever. The onboarding starts
# only once the worker is ready.
#
# Ports (environment): DEMO_TEMPORAL_PORT (7233), DEMO_UI_PORT (8233),
# DEMO_GRAPHSIM_PORT (8443), DEMO_METRICS_PORT (the worker's /metrics and
# /readyz: 9090, or the next free port up to 9109 when 9090 is taken; when set
# explicitly, a taken port is an error). DEMO_STATE (.demo) holds logs and pids,
# DEMO_BIN (bin) the binaries.
set -euo pipefail
cd "$(dirname "$0")/.."
state=${DEMO_STATE:-.demo}
bin=${DEMO_BIN:-bin}
temporal=${TEMPORAL_CLI:-$(go env GOPATH)/bin/temporal}
tport=${DEMO_TEMPORAL_PORT:-7233}
uiport=${DEMO_UI_PORT:-8233}
gport=${DEMO_GRAPHSIM_PORT:-8443}
mkdir -p "$state"

stop() {
  for p in worker graphsim temporal; do
    if [ -f "$state/$p.pid" ]; then
      pid=$(cat "$state/$p.pid")
      kill "$pid" 2>/dev/null || true
      # Wait (up to 10 s) until it has exited: its ports and files are free
      # when stop returns, so a demo can start again at once.
      for _ in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
      rm -f "$state/$p.pid"
    fi
  done
}
if [ "${1:-}" = stop ]; then stop; echo "demo stopped"; exit 0; fi
stop

in_use() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# fail what: says why the demo stops, with the end of the service's log.
fail() {
  echo "demo: $1 did not start${2:+: $2}" >&2
  if [ -f "$state/$1.log" ]; then
    echo "--- last lines of $state/$1.log:" >&2
    tail -n 15 "$state/$1.log" >&2
  fi
  stop
  exit 1
}

# alive what: the service's process still runs.
alive() { kill -0 "$(cat "$state/$1.pid")" 2>/dev/null; }

for p in "$tport:Temporal (DEMO_TEMPORAL_PORT)" "$uiport:the Web UI (DEMO_UI_PORT)" "$gport:graphsim (DEMO_GRAPHSIM_PORT)"; do
  if in_use "${p%%:*}"; then
    echo "demo: port ${p%%:*} for ${p#*:} is taken (is a demo or a dev server running? make demo-stop)" >&2
    exit 1
  fi
done

if [ -n "${DEMO_METRICS_PORT:-}" ]; then
  mport=$DEMO_METRICS_PORT
  if in_use "$mport"; then
    echo "demo: port $mport for the worker's metrics (DEMO_METRICS_PORT) is taken" >&2
    exit 1
  fi
else
  mport=
  for p in $(seq 9090 9109); do
    if ! in_use "$p"; then mport=$p; break; fi
  done
  [ -n "$mport" ] || { echo "demo: ports 9090-9109 are all taken: set DEMO_METRICS_PORT" >&2; exit 1; }
  [ "$mport" = 9090 ] || echo "port 9090 is taken: the worker's metrics go to 127.0.0.1:$mport"
fi

attrs=()
for a in CloudSyncTenant=Keyword CloudSyncDomain=Keyword CloudSyncStep=Keyword CloudSyncOutcome=Keyword CloudSyncJobState=Keyword \
  CloudSyncPhase=Keyword CloudSyncAwaitingApproval=Bool CloudSyncAwaitingSince=Datetime; do
  attrs+=(--search-attribute "$a")
done
# A fresh database each demo: search attributes are registered at creation.
rm -f "$state/temporal.db"
nohup "$temporal" server start-dev --ip 127.0.0.1 --port "$tport" --ui-port "$uiport" \
  --db-filename "$state/temporal.db" "${attrs[@]}" --log-level warn >"$state/temporal.log" 2>&1 &
echo $! >"$state/temporal.pid"
for _ in $(seq 1 150); do
  alive temporal || fail temporal "it exited"
  in_use "$tport" && break
  sleep 0.2
done
in_use "$tport" || fail temporal "port $tport not open after 30 s"

nohup "$bin/graphsim" -addr "127.0.0.1:$gport" -dir "$state/graphsim" >"$state/graphsim.log" 2>&1 &
echo $! >"$state/graphsim.pid"
for _ in $(seq 1 150); do
  alive graphsim || fail graphsim "it exited"
  grep -q '^ready' "$state/graphsim.log" 2>/dev/null && break
  sleep 0.2
done
grep -q '^ready' "$state/graphsim.log" || fail graphsim "not ready after 30 s"

# The simulator's endpoints, CA and demo credentials (a demo secret, not a real one).
set -a; . "$state/graphsim/env"; set +a
export CLOUDSYNC_GRAPH_BASE_URL=$GRAPH_BASE_URL CLOUDSYNC_CA_FILE=$SSL_CERT_FILE TEMPORAL_ADDRESS=127.0.0.1:$tport
export CLOUDSYNC_METRICS_ADDR=127.0.0.1:$mport
# Watchers hear from the poller within one interval: 10 s here so the demo's
# watchers show their jobs at once (production: 2 min).
export CLOUDSYNC_WATCH_INTERVAL=${DEMO_WATCH_INTERVAL:-10s}
nohup "$bin/worker" --log-format console >"$state/worker.log" 2>&1 &
echo $! >"$state/worker.pid"
ready=
for _ in $(seq 1 150); do
  alive worker || fail worker "it exited"
  if curl -fsS --max-time 2 "http://127.0.0.1:$mport/readyz" >/dev/null 2>&1; then ready=1; break; fi
  sleep 0.2
done
[ -n "$ready" ] || fail worker "/readyz on 127.0.0.1:$mport did not answer ready within 30 s"
echo "worker ready (metrics: http://127.0.0.1:$mport/metrics)"

ui=http://localhost:$uiport
echo "Temporal Web UI: $ui  (filter: CloudSyncTenant=\"11111111-2222-3333-4444-555555555555\")"
"$bin/starter" onboard --file examples/tenant.yaml --wait --ui-url "$ui"
echo
echo "Services keep running (logs in $state/). Web UI: $ui — stop with: make demo-stop"
