# Set-up and everyday commands. Only python3 (with venv) is needed on the machine.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
RUN_STAMP := $(VENV)/.installed-run
STAMP := $(VENV)/.installed-test

BENCH_STAMP := $(VENV)/.installed-bench

.PHONY: test lint docs peers bench-peers chat bench bench-quick clean

# What running needs and nothing more: the project and its dependencies.
$(RUN_STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[redis]"
	touch $@

# Then the test and lint tools.
$(STAMP): $(RUN_STAMP)
	$(BIN)/python -m pip install --quiet -e ".[test]"
	touch $@

## make test: create .venv, install the project with its test extras, lint, run the suite
## on Twisted's epoll reactor, then the tests that run on a reactor again on the lean one.
test: $(STAMP) peers lint docs
	$(BIN)/python -m pytest
	$(BIN)/python -m pytest --twisted-reactor lean-epoll --reactor-tests-only

## The real programs the tests run as peers, each as COMMAND:DEBIAN-PACKAGE: Redis (the
## cluster), chromium and its WebDriver (the chat page), nginx and tinyproxy (the HTTP
## client's server and forward proxy), weechat-headless (a real IRC client), promtool
## (checks what --metrics serves), systemd-socket-activate and systemd-analyze (socket
## activation, the example units; nothing runs under the machine's own systemd). As
## root, make installs the packages of the missing ones; otherwise it stops and names them.
PEERS := redis-server:redis-server chromium:chromium chromedriver:chromium-driver \
	nginx:nginx-light tinyproxy:tinyproxy weechat-headless:weechat-headless \
	promtool:prometheus systemd-socket-activate:systemd systemd-analyze:systemd

## make peers: install (as root) or name the Debian packages of the missing peers.
peers:
	@missing=""; for peer in $(PEERS); do \
		command -v "$${peer%%:*}" >/dev/null || test -x "/usr/sbin/$${peer%%:*}" \
			|| missing="$$missing $${peer#*:}"; \
	done; \
	if [ -n "$$missing" ]; then \
		if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
			apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
				-o DPkg::Lock::Timeout=600 $$missing >/dev/null \
				|| { echo "installing$$missing failed" >&2; exit 1; }; \
		else \
			echo "make test needs Debian's$$missing: install them (sudo apt-get install$$missing) and run make test again" >&2; \
			exit 1; \
		fi; \
	fi

## make lint: ruff and mypy over the package, the plugin dropin and the tests.
lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

## make docs: the API reference, HTML in build/api/index.html, built by pydoctor from
## the docstrings (settings in pyproject.toml); any warning fails it.
docs: $(STAMP)
	rm -rf build/api
	$(BIN)/pydoctor

## make chat: .venv with what running needs (no test or lint tools; the cluster extra
## included, so CHAT_OPTIONS may hold --redis URL), then the chat server in the
## foreground with CHAT_OPTIONS, e.g. make chat CHAT_OPTIONS='--port 7000 --history 20'.
## Once the server listens, a line names the port to connect to; a server that fails
## to start prints no such line, and make fails. Ctrl-C stops the server; the shell's
## trap ends the recipe normally, so make does not report an interrupt.
CHAT_OPTIONS ?= --port 6666
chat: SHELL := /bin/bash
chat: .SHELLFLAGS := -o pipefail -c
chat: $(RUN_STAMP)
	@trap 'exit 0' INT; $(BIN)/twist --log-format=text tcp-chat $(CHAT_OPTIONS) | { \
		trap '' INT; hinted=; \
		while IFS= read -r line; do \
			printf '%s\n' "$$line"; \
			port=$${line##*ChatFactory starting on }; \
			if [ -z "$$hinted" ] && [ "$$port" != "$$line" ] && [[ "$$port" =~ ^[0-9]+$$ ]]; then \
				hinted=1; \
				echo "Connect with: $(BIN)/twisted-tcp chat 127.0.0.1 $$port (or source $(BIN)/activate first). Ctrl-C stops the server."; \
			fi; \
		done; }

$(BENCH_STAMP): $(STAMP)
	$(BIN)/python -m pip install --quiet -e ".[test,bench]"
	touch $@

## The download rows compare with curl and wget, from Debian's packages like the peers.
bench-peers:
	@$(MAKE) --no-print-directory peers PEERS="$(PEERS) curl:curl wget:wget"

## make bench: every benchmark of bench/README.md, side by side, ratios printed (not part of make test).
bench: $(BENCH_STAMP) bench-peers
	$(BIN)/python bench/run.py --markdown bench/latest.md

## make bench-quick: the same with short runs and small sizes, to check the harness.
bench-quick: $(BENCH_STAMP) bench-peers
	$(BIN)/python bench/run.py --quick

clean:
	rm -rf $(VENV) build dist .pytest_cache .mypy_cache .ruff_cache .hypothesis
	find . -name dropin.cache -delete
