#!/bin/sh
# Creates (or upgrades) the Temporal server's PostgreSQL schemas with the
# server's own SQL tool and schema files: the persistence database and the SQL
# visibility database of postgresql.yaml. Used by `make test-cluster` (the tool
# and schema from the Go module go.temporal.io/server, same version as the
# server) and by docker-compose.yml's "temporal-schema" service
# (temporalio/admin-tools). Safe to re-run: an existing database is upgraded.
#
#   deploy/temporal/cluster/setup-schema.sh            # create or upgrade
#   deploy/temporal/cluster/setup-schema.sh --reset    # drop both databases first (tests)
#
# Environment: the same as postgresql.yaml's (POSTGRES_SEEDS, DB_PORT,
# POSTGRES_USER, POSTGRES_PWD, TEMPORAL_DB, TEMPORAL_VISIBILITY_DB), plus
#   TEMPORAL_SQL_TOOL (temporal-sql-tool)  the tool's path
#   SCHEMA_DIR (/etc/temporal/schema)      the server's schema/ directory
# The user needs CREATEDB to create the databases.
set -eu

reset=false
case "${1:-}" in
  --reset) reset=true ;;
  "") ;;
  *) echo "usage: $0 [--reset]" >&2; exit 2 ;;
esac

tool=${TEMPORAL_SQL_TOOL:-temporal-sql-tool}
schema=${SCHEMA_DIR:-/etc/temporal/schema}/postgresql/v12
db=${TEMPORAL_DB:-temporal}
visibility_db=${TEMPORAL_VISIBILITY_DB:-temporal_visibility}

sql() {
  name=$1; shift
  "$tool" --plugin postgres12 --ep "${POSTGRES_SEEDS:-127.0.0.1}" -p "${DB_PORT:-5432}" \
    -u "${POSTGRES_USER:-temporal}" --pw "${POSTGRES_PWD:-temporal}" --db "$name" "$@"
}

# setup NAME DIR: the database NAME with the schema in DIR (temporal or visibility).
setup() {
  name=$1 dir=$schema/$2
  if [ ! -d "$dir/versioned" ]; then
    echo "setup-schema: no schema at $dir (set SCHEMA_DIR)" >&2
    exit 1
  fi
  if $reset; then
    sql "$name" drop-database --force
  fi
  # create-database fails on an existing database, which is fine: setup-schema
  # then finds its version table and update-schema brings it up to date.
  sql "$name" create-database || echo "setup-schema: $name exists, upgrading"
  sql "$name" setup-schema -v 0.0
  sql "$name" update-schema -d "$dir/versioned"
}

setup "$db" temporal
setup "$visibility_db" visibility
echo "setup-schema: $db and $visibility_db are up to date"
