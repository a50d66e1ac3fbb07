# Latchkey — build, test and benchmark entry points.
#
#   make build   debug binaries (target/debug/latchkey)
#   make serve   run the server; override the flags with ARGS="…"
#   make lint    rustfmt check + clippy with warnings denied
#   make test    lint, then the whole workspace's tests under cargo-nextest, with one
#                throwaway PostgreSQL cluster for the PostgreSQL tests (pg-cluster)
#   make serve-cluster  a throwaway PostgreSQL and two nodes on loopback (Ctrl-C stops)
#   make bench   Latchkey vs node-oidc-provider under identical wrk load (bench/run.sh)
#   make clean   cargo clean
#
# Every target first runs scripts/setup.sh, which installs whatever a fresh Debian 12
# machine is missing (and is a sub-second no-op otherwise), so `make test` works from a
# fresh clone with no manual steps.

SHELL := /bin/bash
.DEFAULT_GOAL := build

CARGO ?= cargo
# One target dir shared by every target and by bench/run.sh.
CARGO_TARGET_DIR ?= $(CURDIR)/target
export CARGO_TARGET_DIR

ARGS ?= --db ./latchkey.db --issuer http://127.0.0.1:8080 \
        --public-addr 127.0.0.1:8080 --admin-addr 127.0.0.1:8081

# Starts a throwaway PostgreSQL cluster, runs its arguments with DATABASE_URL set, stops it.
PG_CLUSTER = $(CARGO_TARGET_DIR)/debug/pg-cluster

.PHONY: setup build serve serve-cluster lint test bench clean

setup:
	@bash scripts/setup.sh

build: setup
	$(CARGO) build --workspace --bins

serve: build
	$(CARGO) run -p latchkey -- serve $(ARGS)

lint: setup
	$(CARGO) fmt --all -- --check
	$(CARGO) clippy --workspace --all-targets -- -D warnings

# pg-cluster is built with the workspace's binaries (`-p latchkey-e2e` alone would resolve
# other features and compile sqlx a second time).
test: setup lint
	$(CARGO) build --workspace --bins
	$(PG_CLUSTER) -- $(CARGO) nextest run --workspace --no-fail-fast

serve-cluster: build
	$(PG_CLUSTER) -- bash scripts/serve-cluster.sh

bench: setup
	bash bench/run.sh

clean:
	$(CARGO) clean
