#!/usr/bin/env bash
# Registers cloudsync's search attributes on a Temporal namespace, each with its
# type. Safe to re-run: attributes that already exist are left alone (an
# attribute's type cannot change on a namespace: CloudSyncAwaitingApproval,
# Keyword before, is Bool now; register on a fresh namespace).
#
# Self-hosted cluster or Temporal Cloud, with the Temporal CLI (operator API):
#   TEMPORAL_ADDRESS=temporal-frontend.temporal:7233 deploy/temporal/search-attributes.sh --namespace default
#   TEMPORAL_PROFILE=cloud-api-key TEMPORAL_CONFIG_FILE=temporal.toml deploy/temporal/search-attributes.sh
#   (the CLI reads TEMPORAL_ADDRESS, TEMPORAL_NAMESPACE, TEMPORAL_API_KEY, TEMPORAL_TLS_* and
#   TEMPORAL_PROFILE like the worker; on Cloud the key or certificate needs namespace admin)
#
# Temporal Cloud with tcld (after `tcld login`, or TEMPORAL_CLOUD_API_KEY set):
#   deploy/temporal/search-attributes.sh --tcld --namespace <namespace>.<account>
#
# Options: --namespace NS (default $TEMPORAL_NAMESPACE, else "default"), --tcld, --dry-run.
# TEMPORAL_CLI / TCLD override the commands' paths.
set -euo pipefail

# name=type; keep in step with workflows.SearchAttributes (checked by deploy/temporal_test.go).
ATTRIBUTES=(
  CloudSyncTenant=Keyword
  CloudSyncDomain=Keyword
  CloudSyncStep=Keyword
  CloudSyncOutcome=Keyword
  CloudSyncJobState=Keyword
  CloudSyncPhase=Keyword
  CloudSyncAwaitingApproval=Bool
  CloudSyncAwaitingSince=Datetime
  CloudSyncDrift=Keyword
)

namespace=${TEMPORAL_NAMESPACE:-default}
mode=temporal
dry_run=false
while [ $# -gt 0 ]; do
  case "$1" in
    --namespace|-n) namespace=${2:?--namespace needs a value}; shift 2 ;;
    --namespace=*) namespace=${1#*=}; shift ;;
    --tcld) mode=tcld; shift ;;
    --dry-run) dry_run=true; shift ;;
    -h|--help) sed -n '2,/^[^#]/{/^#/p}' "$0"; exit 0 ;;
    *) echo "unknown argument: $1 (see --help)" >&2; exit 2 ;;
  esac
done
temporal=${TEMPORAL_CLI:-temporal}
tcld=${TCLD:-tcld}

run() {
  if $dry_run; then echo "$*"; else "$@"; fi
}

existing() {
  $dry_run && return 0
  if [ "$mode" = tcld ]; then
    "$tcld" namespace get --namespace "$namespace"
  else
    "$temporal" operator search-attribute list --namespace "$namespace"
  fi
}

have=$(existing)
for attribute in "${ATTRIBUTES[@]}"; do
  name=${attribute%%=*} type=${attribute#*=}
  if ! $dry_run && grep -qw "$name" <<<"$have"; then
    echo "$name: already registered"
    continue
  fi
  if [ "$mode" = tcld ]; then
    run "$tcld" namespace search-attributes add --namespace "$namespace" --search-attribute "$name=$type"
  else
    # One --name per call: a failure names the attribute.
    run "$temporal" operator search-attribute create --namespace "$namespace" --name "$name" --type "$type"
  fi
done
$dry_run || echo "search attributes registered on $namespace"
