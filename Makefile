# incidenthub: `make run` runs the hub on the embedded SQLite store with the
# example configuration; `make test` runs every test with the race detector.

GO         ?= go
CONFIG     ?= config/incidenthub.example.yaml
VERSION    ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
COMMIT     ?= $(shell git rev-parse --short=12 HEAD 2>/dev/null)
BUILD_DATE ?= $(shell date -u +%Y-%m-%dT%H:%M:%SZ)
LDFLAGS    := -s -w -X main.version=$(VERSION) -X main.commit=$(COMMIT) -X main.buildDate=$(BUILD_DATE)
# staticcheck runs through `go run`, so that a fresh machine needs only the
# module proxy. v0.8.2 (2026.2.2) is the newest release and builds with go1.26.
STATICCHECK_VERSION ?= v0.8.2
STATICCHECK         := $(GO) run honnef.co/go/tools/cmd/staticcheck@$(STATICCHECK_VERSION)

# Development values so that the example works on a fresh machine without
# any vendor account. Set real ones in the environment to override.
export PAGERDUTY_WEBHOOK_SECRET ?= dev-pagerduty-secret
export GITHUB_WEBHOOK_SECRET    ?= dev-github-secret
export JIRA_WEBHOOK_SECRET      ?= dev-jira-secret
export INCIDENTHUB_API_TOKEN    ?= dev-api-token

.PHONY: run demo test test-postgres bench bench-postgres bench-scale bench-triage bench-e2e fuzz build lint sample clean

run: build
	./bin/incidenthub serve --config $(CONFIG)

# The whole loop in under a minute, offline: the hub and local vendor
# doubles in one process, nothing left behind.
demo: build
	./bin/incidenthub demo

# With INCIDENTHUB_TEST_POSTGRES_DSN set (.ci/postgres starts a throwaway
# server and prints one), the store, queue and pipeline suites also run on
# PostgreSQL, and the end-to-end tests run the hub a second time on it.
test:
	$(GO) test -race -count=1 ./...
	@if [ -n "$$INCIDENTHUB_TEST_POSTGRES_DSN" ]; then \
		echo "end-to-end tests again, the hub on PostgreSQL"; \
		INCIDENTHUB_TEST_E2E_STORE=postgres $(GO) test -race -count=1 ./cmd/...; \
	fi

# The whole suite on both stores, PostgreSQL from Debian's packages.
test-postgres:
	INCIDENTHUB_TEST_POSTGRES_DSN="$$(.ci/postgres)" $(MAKE) test

bench:
	$(GO) test -run='^$$' -bench=. -benchmem ./...

# Correlation cost as the store grows, 10k to 1M stored incidents and
# changes (docs/performance.md). Not part of make test.
bench-scale:
	$(GO) test -run='^$$' -bench=BenchmarkCorrelationAtScale -benchtime=400x -benchmem -timeout 30m ./internal/pipeline

# Page to triage note through the real binary, p50/p99 over 100 pages, next
# to the time to 202 from the same run (docs/decisions.md §15).
bench-triage:
	$(GO) test -run='^$$' -bench=BenchmarkTriageNoteLatency -benchtime=100x ./cmd/incidenthub

# The real binary under load, next to a no-op receiver from the same run:
# intake, a 20,000-delivery burst, page to first outbound call; on
# PostgreSQL too when INCIDENTHUB_TEST_POSTGRES_DSN is set
# (docs/performance.md). BENCH_PHASES picks phases (closed,open,burst,note).
# Not part of make test.
BENCH_PHASES ?= all
bench-e2e:
	INCIDENTHUB_BENCH_E2E=$(BENCH_PHASES) $(GO) test -run '^TestBenchE2E$$' -count=1 -v -timeout 30m ./cmd/incidenthub | grep -v '^=== RUN\|^--- \|^PASS\|^ok'

# The benchmarks on both stores, PostgreSQL with fsync on as in production.
bench-postgres:
	INCIDENTHUB_TEST_POSTGRES_DSN="$$(PGPORT_FOR_TESTS=55436 PGDATA_FOR_TESTS=/tmp/incidenthub-postgres-bench \
		PGFSYNC_FOR_TESTS=on .ci/postgres)" $(MAKE) bench

# Every fuzz target for FUZZTIME each, one after another (go test fuzzes
# one target at a time). `make test` runs their seed corpora.
FUZZTIME ?= 30s
fuzz:
	@for pkg in $$($(GO) list ./...); do \
		for target in $$($(GO) test -list '^Fuzz' $$pkg | grep '^Fuzz'); do \
			echo "== $$pkg $$target"; \
			$(GO) test -run '^$$' -fuzz "^$$target$$" -fuzztime $(FUZZTIME) $$pkg || exit 1; \
		done; \
	done

build:
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags '$(LDFLAGS)' -o bin/incidenthub ./cmd/incidenthub

lint:
	$(GO) vet ./...
	@test -z "$$(gofmt -l .)" || { echo "gofmt needed:"; gofmt -l .; exit 1; }
	$(STATICCHECK) ./...
	# The deployment files (deploy/, Dockerfile) against the binary and
	# the configuration: no Docker or Kubernetes needed.
	$(GO) test -count=1 -run '^TestDeploy' ./cmd/incidenthub

# Send PagerDuty's sample page to a hub started with `make run`.
# One story (testdata/sample/README.md): a deploy, then a page that is
# acknowledged and resolves. An end-to-end test runs these lines.
sample: build
	./bin/incidenthub webhook send --config $(CONFIG) --source github --event deployment_status --file testdata/sample/1-deployment_status.json
	./bin/incidenthub webhook send --config $(CONFIG) --source pagerduty --file testdata/sample/2-incident.triggered.json
	./bin/incidenthub webhook send --config $(CONFIG) --source pagerduty --file testdata/sample/3-incident.acknowledged.json
	./bin/incidenthub webhook send --config $(CONFIG) --source pagerduty --file testdata/sample/4-incident.resolved.json

clean:
	rm -rf bin data
