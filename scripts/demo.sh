#!/usr/bin/env bash
# Local demo: Temporal dev server (with Web UI), the Graph simulator, a worker,
# then one onboarding of examples/tenant.yaml. Services keep running so you can
# look around in the Web UI; `make demo-stop` stops them.
set -euo pipefail
cd "$(dirname "$0")/.."
state=.demo
temporal=${TEMPORAL_CLI:-$(go env GOPATH)/bin/temporal}
mkdir -p "$state"

stop() {
  for p in worker graphsim temporal; do
    if [ -f "$state/$p.pid" ]; then
      kill "$(cat "$state/$p.pid")" 2>/dev/null || true
      rm -f "$state/$p.pid"
    fi
  done
}
if [ "${1:-}" = stop ]; then stop; echo "demo stopped"; exit 0; fi
stop

wait_port() { # host port what
  for _ in $(seq 1 100); do
    if (exec 3<>"/dev/tcp/$1/$2") 2>/dev/null; then return 0; fi
    sleep 0.2
  done
  echo "$3 did not start: see $state/$3.log" >&2; exit 1
}

attrs=()
for a in CloudSyncTenant CloudSyncDomain CloudSyncStep CloudSyncOutcome CloudSyncJobState CloudSyncAwaitingApproval; do
  attrs+=(--search-attribute "$a=Keyword")
done
# A fresh database each demo: search attributes are registered at creation.
rm -f "$state/temporal.db"
nohup "$temporal" server start-dev --ip 127.0.0.1 --port 7233 --ui-port 8233 \
  --db-filename "$state/temporal.db" "${attrs[@]}" --log-level warn >"$state/temporal.log" 2>&1 &
echo $! >"$state/temporal.pid"
wait_port 127.0.0.1 7233 temporal

nohup bin/graphsim -addr 127.0.0.1:8443 -dir "$state/graphsim" >"$state/graphsim.log" 2>&1 &
echo $! >"$state/graphsim.pid"
for _ in $(seq 1 100); do grep -q '^ready' "$state/graphsim.log" 2>/dev/null && break; sleep 0.1; done
grep -q '^ready' "$state/graphsim.log" || { echo "graphsim did not start: see $state/graphsim.log" >&2; exit 1; }

# The simulator's endpoints, CA and demo credentials (a demo secret, not a real one).
set -a; . "$state/graphsim/env"; set +a
export CLOUDSYNC_GRAPH_BASE_URL=$GRAPH_BASE_URL CLOUDSYNC_CA_FILE=$SSL_CERT_FILE TEMPORAL_ADDRESS=127.0.0.1:7233
nohup bin/worker --log-format console >"$state/worker.log" 2>&1 &
echo $! >"$state/worker.pid"

echo "Temporal Web UI: http://localhost:8233  (filter: CloudSyncTenant=\"11111111-2222-3333-4444-555555555555\")"
bin/starter onboard --file examples/tenant.yaml --wait --ui-url http://localhost:8233
echo
echo "Services keep running (logs in $state/). Web UI: http://localhost:8233 — stop with: make demo-stop"
