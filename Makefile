# cloudsync — see README.md. Two commands on a fresh machine:
#   make demo   # dev server + Web UI, Graph simulator, worker; onboards a sample tenant
#   make test   # the whole test suite, end-to-end tests included

SHELL         := /bin/bash
GO            ?= go
GOBIN         := $(shell $(GO) env GOPATH)/bin
TEMPORAL_CLI_VERSION := v1.5.1
TEMPORAL      ?= $(GOBIN)/temporal
# staticcheck (make lint), in a directory of its version so a bump reinstalls it
STATICCHECK_VERSION := v0.8.2
STATICCHECK   := $(GOBIN)/staticcheck-$(STATICCHECK_VERSION)/staticcheck
BIN           := bin
# name=type, as workflows.SearchAttributes (checked by deploy/)
SEARCH_ATTRS  := CloudSyncTenant=Keyword CloudSyncDomain=Keyword CloudSyncStep=Keyword CloudSyncOutcome=Keyword CloudSyncJobState=Keyword CloudSyncPhase=Keyword CloudSyncAwaitingApproval=Bool CloudSyncAwaitingSince=Datetime CloudSyncDrift=Keyword
export TEMPORAL_CLI := $(TEMPORAL)
# The server the CLI embeds (go version -m $(TEMPORAL)), for make test-cluster.
TEMPORAL_SERVER_VERSION := v1.29.1
CLUSTER_BIN   := $(GOBIN)/temporal-server-$(TEMPORAL_SERVER_VERSION)
TEMPORAL_SERVER   := $(CLUSTER_BIN)/server
TEMPORAL_SQL_TOOL := $(CLUSTER_BIN)/sql
CLUSTER_PORT  ?= 17233
CLUSTER_ENV   = TEMPORAL_SERVER=$(TEMPORAL_SERVER) TEMPORAL_SQL_TOOL=$(TEMPORAL_SQL_TOOL) CLUSTER_PORT=$(CLUSTER_PORT) \
	SCHEMA_DIR=$$(cd / && $(GO) mod download -json go.temporal.io/server@$(TEMPORAL_SERVER_VERSION) | sed -n 's/^\t"Dir": "\(.*\)",$$/\1/p')/schema

.PHONY: all build tools test fuzz lint demo demo-stop dev-server graphsim clean record-histories \
	cluster-tools cluster-up cluster-down test-cluster

all: build

## tools: install the pinned Temporal CLI (dev server + Web UI) with go install
tools: $(TEMPORAL)
$(TEMPORAL):
	$(GO) install github.com/temporalio/cli/cmd/temporal@$(TEMPORAL_CLI_VERSION)

## build: worker, starter, graphsim and codec-server binaries in bin/
build:
	$(GO) build -o $(BIN)/worker ./worker
	$(GO) build -o $(BIN)/starter ./starter
	$(GO) build -o $(BIN)/graphsim ./graphsim/cmd/graphsim
	$(GO) build -o $(BIN)/codec-server ./codec/cmd/codec-server

## test: every test, end-to-end on the real dev server and graphsim
test: tools
	@unformatted=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	  if [ -n "$$unformatted" ]; then echo "gofmt needed: $$unformatted"; exit 1; fi
	$(GO) test -vet=off -count=1 -timeout 20m ./...

## test-cluster: the end-to-end tests (onboarding, re-run, approvals, episodes, crashes) on a
## Temporal server on PostgreSQL instead of the dev server: the server the pinned CLI embeds,
## built from source (cold: ~6 min on 2 cores), fresh databases from its own SQL tool and
## schema, deploy/temporal/cluster/postgresql.yaml, our search attributes (scripts/cluster.sh).
## Needs PostgreSQL with a role temporal/temporal (CREATEDB) on 127.0.0.1:5432 (see README).
test-cluster: tools cluster-tools
	$(CLUSTER_ENV) scripts/cluster.sh test

## cluster-up / cluster-down: that server in the background on 127.0.0.1:$(CLUSTER_PORT), for trying things
cluster-up: tools cluster-tools
	$(CLUSTER_ENV) scripts/cluster.sh up
cluster-down:
	$(CLUSTER_ENV) scripts/cluster.sh down

## cluster-tools: the Temporal server and temporal-sql-tool at the version the pinned CLI embeds
cluster-tools: $(TEMPORAL_SERVER) $(TEMPORAL_SQL_TOOL)
$(TEMPORAL_SERVER):
	GOBIN=$(CLUSTER_BIN) GOFLAGS=-buildvcs=false $(GO) install go.temporal.io/server/cmd/server@$(TEMPORAL_SERVER_VERSION)
$(TEMPORAL_SQL_TOOL):
	GOBIN=$(CLUSTER_BIN) GOFLAGS=-buildvcs=false $(GO) install go.temporal.io/server/cmd/tools/sql@$(TEMPORAL_SERVER_VERSION)

## fuzz: each fuzz target for a bounded time (FUZZTIME, default 20s); crashers land in
## the package's testdata/fuzz/<target>/ and become regression tests of go test
FUZZTIME ?= 20s
fuzz:
	$(GO) test -vet=off ./graph/ -run '^$$' -fuzz '^FuzzPatchCredentialData$$' -fuzztime $(FUZZTIME)
	$(GO) test -vet=off ./graph/ -run '^$$' -fuzz '^FuzzRemoveCredentialData$$' -fuzztime $(FUZZTIME)
	$(GO) test -vet=off ./starter/pkg/spec/ -run '^$$' -fuzz '^FuzzTenantSpec$$' -fuzztime $(FUZZTIME)

## record-histories: refresh the histories the replay test checks (after an intended workflow change)
record-histories: tools
	CLOUDSYNC_RECORD_HISTORIES=$(CURDIR)/workflows/testdata/histories $(GO) test -vet=off -count=1 \
	  -run 'TestOnboardFullThenRerunChangesNothing|TestDeletesAboveThresholdWaitForAHuman|TestApprovalForOneEpisodeNeverForcesTheNext|TestEarlyDecisionUnwatchAndCancel|TestOffboardWaitsForApprovalThenRemovesTheConfiguration|TestDriftReportedWithinOneCheckAndRepairedByOnboard' ./e2e/

## lint: go vet and staticcheck (staticcheck.conf) on our packages; the first run analyses
## every dependency (README "Build cost": minutes), later runs take seconds
lint: $(STATICCHECK)
	$(GO) vet ./...
	$(STATICCHECK) ./...
$(STATICCHECK):
	GOBIN=$(dir $(STATICCHECK)) $(GO) install honnef.co/go/tools/cmd/staticcheck@$(STATICCHECK_VERSION)

## demo: start everything locally and onboard examples/tenant.yaml
demo: tools build
	./scripts/demo.sh

## demo-stop: stop what demo started
demo-stop:
	./scripts/demo.sh stop

## dev-server: a foreground dev server with the Web UI and our search attributes
dev-server: tools
	$(TEMPORAL) server start-dev --ip 127.0.0.1 --ui-port 8233 $(foreach a,$(SEARCH_ATTRS),--search-attribute $(a))

## graphsim: the Graph simulator in the foreground
graphsim:
	$(GO) run ./graphsim/cmd/graphsim

clean:
	rm -rf $(BIN) .demo .graphsim .cluster

.PHONY: bench bench-quick bench-cluster

## bench: the benchmarks (about 75 minutes on 2 cores): writes BENCHMARKS.md and bench/results.json.
## With BENCH_FLAGS=-cluster (the default) also the throughput phases and their engine floors on the
## Temporal server on PostgreSQL (as for make test-cluster: PostgreSQL and its role, see README);
## BENCH_FLAGS= leaves the cluster out. One phase at a time: BENCH_FLAGS="-cluster -only cluster -merge".
BENCH_FLAGS ?= -cluster
bench: tools cluster-tools
	$(CLUSTER_ENV) $(GO) run ./bench $(BENCH_FLAGS)

## bench-quick: every phase at small sizes, for development and smoke (a few minutes; writes to /tmp)
bench-quick: tools cluster-tools
	$(CLUSTER_ENV) $(GO) run ./bench -quick $(BENCH_FLAGS) -md /tmp/cloudsync-BENCHMARKS.md -json /tmp/cloudsync-bench-results.json

## bench-cluster: the throughput phases (N = 1, 10, 100) on the dev server and on the Temporal server on
## PostgreSQL that make test-cluster runs, side by side (a few minutes; writes bench/cluster.md and .json)
BENCH_CLUSTER_N ?= 1,10,100
bench-cluster: tools cluster-tools
	$(CLUSTER_ENV) $(GO) run ./bench -only throughput,cluster -cluster -n $(BENCH_CLUSTER_N) -md bench/cluster.md -json bench/cluster.json
