# Latchkey — build, test and benchmark entry points.
#
#   make build   debug binaries (target/debug/latchkey)
#   make run     build and open the desktop console on the embedded default store
#                (override with RUN_ARGS="--db PATH --port N")
#   make serve   run the server; override the flags with ARGS="…"
#   make lint    rustfmt check + clippy with warnings denied
#   make test    lint, the UI checks (svelte-check, Vitest, shell security), the whole
#                workspace's tests under cargo-nextest with one throwaway PostgreSQL
#                cluster for the PostgreSQL tests (pg-cluster), then the desktop
#                end-to-end tests
#   make package  release packages: the server .deb (cargo-deb) and the desktop console
#                .deb (Tauri's bundler), and an attempt at the console's AppImage; prints
#                the path of every file it wrote (scripts/package.sh)
#   make package-test  debug packages from the test build's binaries, installed into a
#                throwaway root and run (scripts/package-test.sh); part of `make test`
#   make serve-cluster  a throwaway PostgreSQL and two nodes on loopback (Ctrl-C stops)
#   make bench   the CA-02 timing comparison of client authentication (an ignored test, as
#                timing is a measurement, never a test assertion), then
#                Latchkey vs node-oidc-provider under identical wrk load (bench/run.sh),
#                then the desktop console vs an empty Tauri window (bench/desktop.sh;
#                BENCH_DESKTOP=0 skips it, BENCH_DESKTOP_RUNS sets its cold-start runs)
#   make gen     rewrite the generated, committed files after changing the op table
#                (crates/latchkey-api-types/src/ops.rs) or the DTOs: ui/src/lib/api/*.gen.ts,
#                src-tauri/capabilities/main.json, ui/isolation/index.html's command list
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

.PHONY: setup build install serve serve-cluster lint test bench clean run ui ui-check desktop desktop-e2e gen package package-test

RUN_ARGS ?=

setup:
	@bash scripts/setup.sh

# The console UI. `npm ci` only when the lock file changed since the last install. The
# Tauri crate embeds ui/dist at compile time, so every cargo command that touches the
# workspace needs it built first.
ui/node_modules/.package-lock.json: ui/package-lock.json ui/package.json
	cd ui && npm ci --no-audit --no-fund

ui: setup ui/node_modules/.package-lock.json
	cd ui && npm run build

ui-check: ui
	cd ui && npm run check
	cd ui && npm test
	node ui/scripts/check-shell-security.mjs

build: setup ui
	$(CARGO) build --workspace --bins

# `latchkey` on the PATH (~/.cargo/bin), as the README's commands call it. Release
# build of the server and CLI only; the console is `make run` or a package.
install: setup
	$(CARGO) install --path crates/latchkey --locked

desktop: setup ui
	$(CARGO) build -p latchkey-desktop

run: desktop
	@if [ -z "$${DISPLAY:-}$${WAYLAND_DISPLAY:-}" ]; then \
	  echo "make run: no display (DISPLAY/WAYLAND_DISPLAY unset); on a headless machine try: xvfb-run make run" >&2; exit 1; fi
	$(CARGO_TARGET_DIR)/debug/latchkey-desktop $(RUN_ARGS)

# The remote half of the story runs against a real `latchkey serve`.
desktop-e2e: desktop
	$(CARGO) build -p latchkey --bin latchkey
	bash scripts/desktop-e2e.sh

serve: build
	$(CARGO) run -p latchkey -- serve $(ARGS)

lint: setup ui
	$(CARGO) fmt --all -- --check
	$(CARGO) clippy --workspace --all-targets -- -D warnings

# One build for everything `make test` runs: the test build also builds every binary
# (pg-cluster, latchkey, latchkey-desktop) with the same feature set. A separate
# `cargo build --bins` or `-p latchkey-desktop` resolves features without the
# dev-dependencies and compiles sqlx, rustls, reqwest and the rest a second and third time,
# which once filled a CI disk.
test: setup lint ui-check
	$(CARGO) nextest run --workspace --no-run
	$(PG_CLUSTER) -- $(CARGO) nextest run --workspace --no-fail-fast
	bash scripts/desktop-e2e.sh
	bash scripts/package-test.sh

# Release packages (builds both binaries in release first; the tools come from
# scripts/setup-package.sh). The files land in $(CARGO_TARGET_DIR)/packages/.
package: setup ui
	bash scripts/package.sh

# Packs the debug binaries the test build made (nothing is compiled): build them first,
# as `make test` does, with `cargo nextest run --workspace --no-run`.
package-test: setup ui
	$(CARGO) nextest run --workspace --no-run
	bash scripts/package-test.sh

serve-cluster: build
	$(PG_CLUSTER) -- bash scripts/serve-cluster.sh

# The desktop benchmark runs even when the server benchmark missed something; the
# target fails if either could not measure.
bench: setup ui
	@rc=0; \
	echo "bench: CA-02, client authentication time per class (unknown client, wrong secret, right prefix)"; \
	$(CARGO) nextest run -p latchkey-e2e --test catalogue_token --run-ignored only --no-capture \
	  ca_02_unknown_client_wrong_secret_and_right_prefix_take_comparable_time || rc=$$?; \
	$(CARGO) build --release -q -p latchkey-core --example sign_limit && taskset -c $${SERVER_CPU:-0} $(CARGO_TARGET_DIR)/release/examples/sign_limit || rc=$$?; \
	bash bench/run.sh || rc=$$?; \
	if [ "$${BENCH_DESKTOP:-1}" != 0 ]; then bash bench/desktop.sh $${BENCH_DESKTOP_RUNS:-5} || rc=$$?; fi; \
	exit $$rc

# The tests that fail on drift rewrite their file instead when LATCHKEY_UPDATE_GEN is set.
gen: setup ui
	LATCHKEY_UPDATE_GEN=1 $(CARGO) test -p latchkey-api-types --test typescript
	LATCHKEY_UPDATE_GEN=1 $(CARGO) test -p latchkey-desktop --test generated

clean:
	$(CARGO) clean
