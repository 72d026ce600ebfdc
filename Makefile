# tracecol — two commands on a fresh Debian bookworm machine:
#   make run    install what is missing, build Release, start the daemon in the foreground
#   make test   install what is missing, build, run every test through ctest
# More: make test-asan (sanitizers), make fuzz (libFuzzer, FUZZ_SECONDS per target),
# make bench, make soak (long tests: ctest label soak + the 5-minute overload bench), make clean.

SHELL := /bin/bash
PACKAGES_FILE := deploy/debian-packages.txt
PACKAGES := $(shell grep -v '^\s*\#' $(PACKAGES_FILE) | grep -v '^\s*$$')
JOBS ?= $(shell nproc)
# Most tests wait (on a daemon, a timeout, a receiver outage) rather than compute: the
# suite ran in 166 s at -j 2 and 90 s at -j 4 on 2 cores, with the same results.
TEST_JOBS ?= $(shell echo $$(( $$(nproc) * 2 )))

SOCKET ?= /tmp/tracecol.sock
DATA_DIR ?= $(CURDIR)/var
HTTP_LISTEN ?= 127.0.0.1:4318
RUN_FLAGS ?= --socket $(SOCKET) --http-listen $(HTTP_LISTEN) --export-console --export-file $(DATA_DIR)/traces.ndjson

.PHONY: all deps node-deps build run test test-asan fuzz fuzz-ci bench soak clean

all: build

# Installs the packages of deploy/debian-packages.txt that dpkg does not report installed.
deps:
	@missing=""; for p in $(PACKAGES); do \
	  dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q "install ok installed" || missing="$$missing $$p"; \
	done; \
	if [ -n "$$missing" ]; then \
	  echo "tracecol: installing missing packages:$$missing"; \
	  if [ "$$(id -u)" = 0 ]; then SUDO=""; elif command -v sudo >/dev/null; then SUDO=sudo; \
	  else echo "tracecol: not root and no sudo; install these first:$$missing" >&2; exit 1; fi; \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq $$missing; \
	fi

# JS test suites (the OpenTelemetry JS SDK, the browser test) pin their npm packages in a
# committed package-lock.json; npm ci installs exactly those, once per lock change.
node-deps: deps
	@for lock in tests/integration/*/package-lock.json; do \
	  [ -e "$$lock" ] || continue; dir=$$(dirname $$lock); \
	  if [ ! -e $$dir/node_modules/.package-lock.json ] || [ $$lock -nt $$dir/node_modules/.package-lock.json ]; then \
	    echo "tracecol: npm ci in $$dir"; (cd $$dir && npm ci --no-audit --no-fund --loglevel=error) || exit 1; \
	  fi; \
	done

build: deps
	cmake --preset release >/dev/null
	cmake --build --preset release -j $(JOBS)

run: build
	@mkdir -p $(DATA_DIR)
	@echo "tracecol: socket $(SOCKET), HTTP $(HTTP_LISTEN), traces appended to $(DATA_DIR)/traces.ndjson"
	@echo "tracecol: send a first span from another shell:"
	@echo "  echo '{\"type\":\"span\",\"trace_id\":\"3a7f1c2b\",\"span_id\":\"1\",\"name\":\"agent.run\",\"kind\":\"AGENT\",\"started_at\":1732500000.0,\"ended_at\":1732500000.142}' | socat - UNIX-CONNECT:$(SOCKET)"
	@echo "  echo '{\"type\":\"trace_end\",\"trace_id\":\"3a7f1c2b\"}' | socat - UNIX-CONNECT:$(SOCKET)"
	@echo "  jq . $(DATA_DIR)/traces.ndjson"
	@echo "  curl -s $(HTTP_LISTEN)/api/traces | jq ."
	@echo "tracecol: web UI at http://$(HTTP_LISTEN)/ ; live: curl -sN $(HTTP_LISTEN)/api/stream"
	exec ./build/release/daemon/tracecol $(RUN_FLAGS)

# Tests labelled soak (minutes each) run only under make soak.
test: build node-deps
	ctest --preset release -j $(TEST_JOBS) -LE soak

# Sanitizer builds keep line tables only (-g1: all a stack trace needs). The asan preset
# compiles at -O0: half the build time of -O1 on the Beast files (65 s against 139 s for
# the HTTP server), and the suite runs fine slower. The fuzz preset stays at -O1, where
# the executions per second are.
test-asan: deps node-deps
	cmake --preset asan >/dev/null
	cmake --build --preset asan -j $(JOBS)
	ctest --preset asan -j $(TEST_JOBS) -LE soak

FUZZ_SECONDS ?= 300
fuzz: deps
	cmake --preset fuzz >/dev/null
	cmake --build --preset fuzz -j $(JOBS)
	./build/fuzz/tests/fuzz/run_fuzz.sh $(FUZZ_SECONDS)

# CI: each target for 60 s, as many at once as there are cores.
fuzz-ci:
	$(MAKE) fuzz FUZZ_SECONDS=60

bench: build
	./build/release/bench/run_benches.sh

# The long versions: every ctest labelled soak, then twice the measured capacity for
# OVERLOAD_SECONDS (300) with RSS, accounting and recovery checked (bench/overload).
soak: build node-deps
	ctest --preset release -L soak --output-on-failure
	./build/release/bench/overload/run_overload.sh

clean:
	rm -rf build
