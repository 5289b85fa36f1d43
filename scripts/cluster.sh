#!/usr/bin/env bash
# A Temporal server on PostgreSQL for the tests (make test-cluster) and for
# trying cloudsync on the production path: the server's own SQL schema
# (deploy/temporal/cluster/setup-schema.sh), SQL visibility, the config file
# deploy/temporal/cluster/postgresql.yaml, the namespace and the search
# attributes (deploy/temporal/cluster/setup-namespace.sh, which runs
# deploy/temporal/search-attributes.sh). docker-compose.yml runs the same.
#
#   scripts/cluster.sh up     # fresh databases, server in the background (.cluster/)
#   scripts/cluster.sh down   # stop that server (the databases stay until the next up)
#   scripts/cluster.sh test   # up, the end-to-end tests against it, down
#
# Needs PostgreSQL on CLUSTER_PG_HOST:CLUSTER_PG_PORT (127.0.0.1:5432) with a
# role CLUSTER_PG_USER/CLUSTER_PG_PASSWORD (temporal/temporal) that may create
# databases, and the server and its SQL tool at TEMPORAL_SERVER_VERSION (the
# Makefile installs them: make cluster-tools). Every up drops and recreates the
# databases CLUSTER_DB and CLUSTER_DB_visibility (cloudsync_e2e): a test run
# never meets the pollers and watchers of the previous one.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
state=$root/.cluster
mkdir -p "$state"

: "${TEMPORAL_SERVER:?the temporal server binary (make cluster-tools)}"
: "${TEMPORAL_SQL_TOOL:?temporal-sql-tool (make cluster-tools)}"
: "${SCHEMA_DIR:?schema/ of the server module}"
export TEMPORAL_CLI=${TEMPORAL_CLI:-temporal}
export TEMPORAL_SQL_TOOL SCHEMA_DIR
port=${CLUSTER_PORT:-17233}
export TEMPORAL_FRONTEND_PORT=$port BIND_ON_IP=127.0.0.1 TEMPORAL_LOG_LEVEL=${CLUSTER_LOG_LEVEL:-warn}
export POSTGRES_SEEDS=${CLUSTER_PG_HOST:-127.0.0.1} DB_PORT=${CLUSTER_PG_PORT:-5432}
export POSTGRES_USER=${CLUSTER_PG_USER:-temporal} POSTGRES_PWD=${CLUSTER_PG_PASSWORD:-temporal}
export TEMPORAL_DB=${CLUSTER_DB:-cloudsync_e2e} TEMPORAL_VISIBILITY_DB=${CLUSTER_DB:-cloudsync_e2e}_visibility
export TEMPORAL_ADDRESS=127.0.0.1:$port TEMPORAL_NAMESPACE=default

# The tests: onboarding, re-run, approvals and deletes, watcher episodes, crashes.
default_tests="^(TestOnboard|TestSecondOnboardingWhileOneRunsIsRefused|TestRerun|TestDeletesAboveThresholdWaitForAHuman|TestApprovalForOneEpisodeNeverForcesTheNext|TestEarlyDecisionUnwatchAndCancel|TestRevokedConsentMakesWatchersUnreachable|TestCrashWorkerKilledRepeatedly|TestNonRetryableFailuresFailFastAndRerunCleanly|TestIdentityFleetRerunUnderAnotherNameRenames)"
tests=${CLUSTER_TESTS:-$default_tests}

listening() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

down() {
  if [ -f "$state/server.pid" ]; then
    pid=$(cat "$state/server.pid")
    if kill "$pid" 2>/dev/null; then
      for _ in $(seq 1 150); do kill -0 "$pid" 2>/dev/null || break; sleep 0.2; done
      kill -9 "$pid" 2>/dev/null || true
      echo "cluster: server $pid stopped"
    fi
    rm -f "$state/server.pid"
  fi
}

up() {
  down
  # The server embedded in the pinned CLI is the one we test on.
  if want=$(go version -m "$TEMPORAL_CLI" 2>/dev/null | awk '$2 == "go.temporal.io/server" {print $3}') && [ -n "$want" ]; then
    have=$(go version -m "$TEMPORAL_SERVER" | awk '$1 == "mod" && $2 == "go.temporal.io/server" {print $3}')
    if [ "$want" != "$have" ]; then
      echo "cluster: $TEMPORAL_CLI embeds server $want but $TEMPORAL_SERVER is $have: update TEMPORAL_SERVER_VERSION" >&2
      exit 1
    fi
  fi
  if listening "$port"; then
    echo "cluster: something already listens on 127.0.0.1:$port (CLUSTER_PORT)" >&2
    exit 1
  fi
  local t0=$SECONDS
  deploy/temporal/cluster/setup-schema.sh --reset >"$state/schema.log" 2>&1 ||
    { tail -n 20 "$state/schema.log" >&2; echo "cluster: schema setup failed (PostgreSQL up? role $POSTGRES_USER with CREATEDB?), see $state/schema.log" >&2; exit 1; }
  (cd deploy/temporal/cluster && exec "$TEMPORAL_SERVER" --config . --env postgresql start) >"$state/server.log" 2>&1 &
  echo $! >"$state/server.pid"
  if ! SETUP_TIMEOUT=120 deploy/temporal/cluster/setup-namespace.sh >"$state/setup.log" 2>&1; then
    tail -n 20 "$state/setup.log" "$state/server.log" >&2
    down
    exit 1
  fi
  echo "cluster: server on PostgreSQL at $TEMPORAL_ADDRESS (databases $TEMPORAL_DB, $TEMPORAL_VISIBILITY_DB; log $state/server.log), ready in $((SECONDS - t0)) s"
}

case "${1:-}" in
  up) up ;;
  down) down ;;
  test)
    trap down EXIT
    up
    t0=$SECONDS
    # The whole output goes to .cluster/test.log; shown: each test's result and its t.Log/t.Error lines.
    CLOUDSYNC_E2E_TEMPORAL_ADDRESS=$TEMPORAL_ADDRESS go test -vet=off -count=1 -timeout 20m -v ${CLUSTER_TEST_FLAGS:-} -run "$tests" ./e2e/ 2>&1 |
      tee "$state/test.log" | grep -E '^ *--- (PASS|FAIL|SKIP)|^(ok|FAIL|PASS)\b|^ +[a-z_]+_test\.go:[0-9]+:|^panic|^== |^[a-z][a-zA-Z -]+: +[0-9]'
    echo "cluster: end-to-end tests on the cluster passed in $((SECONDS - t0)) s"
    ;;
  *) echo "usage: $0 up|down|test" >&2; exit 2 ;;
esac
