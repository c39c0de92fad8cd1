GO       ?= go
BIN      ?= bin/pbenchd
VERSION  ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
REVISION ?= $(shell git rev-parse HEAD 2>/dev/null)
LDFLAGS  := -s -w -X github.com/pbenchd/pbenchd/internal/metrics.Version=$(VERSION) -X github.com/pbenchd/pbenchd/internal/metrics.revision=$(REVISION)
TESTFLAGS ?= -count=1 -timeout 40m

.PHONY: build run test test-race test-deps lint bench clean

build:
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags '$(LDFLAGS)' -o $(BIN) ./cmd/pbenchd

# The daemon on the built-in default config, against the local PostgreSQL.
# ARGS are pbenchd's: make run ARGS="--web.listen-address :9732 --duration 30s";
# CMD picks the command: make run CMD=once ARGS="--scenarios read".
CMD  ?= run
ARGS ?=
run: build
	scripts/deps.sh postgres
	$(BIN) $(CMD) $(ARGS)

# Installs and starts what the tests need, then runs every test.
test: test-deps
	$(GO) test $(TESTFLAGS) ./...

# The race detector over the packages of the hot path (the pacers, the
# loops, the recorder, the action runners). A new package on the hot path
# joins RACE_PKGS.
RACE_PKGS ?= ./internal/pace/... ./internal/engine/... ./internal/metrics/... ./internal/action/... ./internal/loadgen/...
test-race: test-deps
	$(GO) test -race $(TESTFLAGS) $(RACE_PKGS)

test-deps:
	scripts/deps.sh all

lint:
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...
	$(GO) mod tidy
	@if ! git diff --quiet -- go.mod go.sum; then echo "go mod tidy changed go.mod/go.sum:"; git diff -- go.mod go.sum; exit 1; fi

bench: build
	bench/pgbench_compare.sh

clean:
	rm -rf bin
