# Set-up and everyday commands. Only python3 (with venv) is needed on the machine.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
RUN_STAMP := $(VENV)/.installed-run
STAMP := $(VENV)/.installed-test

BENCH_STAMP := $(VENV)/.installed-bench

.PHONY: test lint docs prometheus systemd browser irc-client chat bench bench-quick clean redis-server http-peers

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
test: $(STAMP) redis-server browser http-peers irc-client prometheus systemd lint docs
	$(BIN)/python -m pytest
	$(BIN)/python -m pytest --twisted-reactor lean-epoll --reactor-tests-only

## The cluster tests start their own redis-server (Debian's package of that name): as
## root it is installed when missing; otherwise make stops and says what to install.
redis-server:
	@command -v redis-server >/dev/null || { \
		if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
			apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
				-o DPkg::Lock::Timeout=600 redis-server >/dev/null; \
		else \
			echo "make test needs redis-server: install the package (apt-get install redis-server) and run make test again" >&2; \
			exit 1; \
		fi; }
	@command -v redis-server >/dev/null || { echo "installing redis-server failed" >&2; exit 1; }

## The metrics tests check what --metrics serves with promtool, from Debian's prometheus
## package: as root it is installed when missing; otherwise make says so and stops.
prometheus:
	@command -v promtool >/dev/null || { \
		if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
			apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
				-o DPkg::Lock::Timeout=600 prometheus >/dev/null; \
		else \
			echo "make test needs promtool: install the package (apt-get install prometheus) and run make test again" >&2; \
			exit 1; \
		fi; }
	@command -v promtool >/dev/null || { echo "installing prometheus failed" >&2; exit 1; }

## The systemd tests run systemd-socket-activate and systemd-analyze, from Debian's
## systemd package (nothing is started under the machine's own systemd): as root it
## is installed when missing; otherwise make says so and stops.
systemd:
	@command -v systemd-socket-activate >/dev/null && command -v systemd-analyze >/dev/null || { \
		if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
			apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
				-o DPkg::Lock::Timeout=600 systemd >/dev/null; \
		else \
			echo "make test needs systemd-socket-activate and systemd-analyze: install the package (apt-get install systemd) and run make test again" >&2; \
			exit 1; \
		fi; }
	@command -v systemd-socket-activate >/dev/null || { echo "installing systemd failed" >&2; exit 1; }

## make browser: Debian's chromium and its WebDriver, for the chat page's browser tests.
browser:
	@if ! command -v chromium >/dev/null || ! command -v chromedriver >/dev/null; then \
		if [ "$$(id -u)" = 0 ]; then \
			apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
				-o DPkg::Lock::Timeout=600 chromium chromium-driver >/dev/null; \
		else \
			echo "The browser tests need Debian's chromium and chromium-driver packages:" \
				"sudo apt-get install chromium chromium-driver" >&2; \
			exit 1; \
		fi; \
	fi

## make http-peers: Debian's nginx-light and tinyproxy, the real server and forward proxy
## the HTTP client's tests run against (ranges, validators, keep-alive; plain and CONNECT).
http-peers:
	@if ! { command -v nginx || test -x /usr/sbin/nginx; } >/dev/null \
			|| ! command -v tinyproxy >/dev/null; then \
		if [ "$$(id -u)" = 0 ]; then \
			apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
				-o DPkg::Lock::Timeout=600 nginx-light tinyproxy >/dev/null; \
		else \
			echo "The HTTP client's tests need Debian's nginx-light and tinyproxy packages:" \
				"sudo apt-get install nginx-light tinyproxy" >&2; \
			exit 1; \
		fi; \
	fi

## make irc-client: Debian's weechat-headless, the real IRC client the IRC tests drive.
irc-client:
	@if ! command -v weechat-headless >/dev/null; then \
		if [ "$$(id -u)" = 0 ]; then \
			apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
				-o DPkg::Lock::Timeout=600 weechat-headless >/dev/null; \
		else \
			echo "The IRC client tests need Debian's weechat-headless package:" \
				"sudo apt-get install weechat-headless" >&2; \
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
	command -v nginx >/dev/null || test -x /usr/sbin/nginx || \
		{ apt-get update -qq && apt-get install -y -qq nginx-light || apt-get install -y -qq nginx; } \
		|| echo "nginx not installed: the download bench falls back to twist web"
	command -v curl >/dev/null || apt-get install -y -qq curl || true
	touch $@

## make bench: every benchmark of bench/README.md, side by side, ratios printed (not part of make test).
bench: $(BENCH_STAMP) redis-server
	$(BIN)/python bench/run.py --markdown bench/latest.md

## make bench-quick: the same with short runs and small sizes, to check the harness.
bench-quick: $(BENCH_STAMP) redis-server
	$(BIN)/python bench/run.py --quick

clean:
	rm -rf $(VENV) build dist .pytest_cache .mypy_cache .ruff_cache .hypothesis
	find . -name dropin.cache -delete
