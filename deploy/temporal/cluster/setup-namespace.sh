#!/bin/sh
# Once the server of postgresql.yaml answers: creates the namespace (a server
# on SQL has none; auto-setup used to make "default"), registers cloudsync's
# search attributes with ../search-attributes.sh (the list lives there), and
# waits until visibility accepts a query on each of them, so a worker started
# next can use them at once. Used by `make test-cluster` and by
# docker-compose.yml's "setup" service. Safe to re-run.
#
# Environment: TEMPORAL_ADDRESS (127.0.0.1:7233), TEMPORAL_NAMESPACE (default),
# TEMPORAL_CLI (temporal), NAMESPACE_RETENTION (72h), SETUP_TIMEOUT seconds (300).
set -eu

here=$(cd "$(dirname "$0")" && pwd)
cli=${TEMPORAL_CLI:-temporal}
ns=${TEMPORAL_NAMESPACE:-default}
export TEMPORAL_ADDRESS=${TEMPORAL_ADDRESS:-127.0.0.1:7233}
timeout=${SETUP_TIMEOUT:-300}
started=$(date +%s)

# wait WHAT CMD...: runs CMD until it succeeds, for at most SETUP_TIMEOUT seconds.
wait_for() {
  what=$1; shift
  until "$@" >/dev/null 2>&1; do
    if [ $(($(date +%s) - started)) -ge "$timeout" ]; then
      echo "setup-namespace: $what not ready after ${timeout}s at $TEMPORAL_ADDRESS:" >&2
      "$@" >&2 || true
      exit 1
    fi
    sleep 1
  done
}

wait_for "the Temporal frontend" "$cli" operator cluster health
if "$cli" operator namespace describe --namespace "$ns" >/dev/null 2>&1; then
  echo "setup-namespace: namespace $ns exists"
else
  "$cli" operator namespace create --namespace "$ns" --retention "${NAMESPACE_RETENTION:-72h}"
fi
# A new namespace reaches the frontend's namespace cache within ~10 s;
# search-attributes.sh lists the attributes first, which needs it there.
wait_for "namespace $ns" "$cli" operator search-attribute list --namespace "$ns"

command -v bash >/dev/null || { echo "setup-namespace: search-attributes.sh needs bash" >&2; exit 1; }
TEMPORAL_CLI=$cli bash "$here/../search-attributes.sh" --namespace "$ns"

# The names, from the script itself (its dry run prints one create per name).
names=$(TEMPORAL_CLI=$cli bash "$here/../search-attributes.sh" --namespace "$ns" --dry-run |
  sed -n 's/.*--name \([^ ]*\).*/\1/p; s/.*--search-attribute \([^= ]*\)=.*/\1/p')
[ -n "$names" ] || { echo "setup-namespace: no search attribute names from search-attributes.sh --dry-run" >&2; exit 1; }
for name in $names; do
  wait_for "search attribute $name" "$cli" workflow count --namespace "$ns" --query "$name IS NOT NULL"
done
echo "setup-namespace: $ns is ready with $(echo $names | wc -w) search attributes"
