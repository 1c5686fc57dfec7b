# The two commands: `make demo` (the main job on an embedded AWS emulator) and `make test` (everything).
VENV ?= .venv
# Any Python >= 3.11 for the virtualenv, e.g. `make demo PYTHON=python3.12`.
PYTHON ?= python3
BIN := $(VENV)/bin
# Debian packages the tests run for real: promtool, prometheus, alertmanager, amtool.
DEBIAN_TOOLS := prometheus prometheus-alertmanager

.PHONY: demo test lint tools containers venv

venv: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11) and "docqet-monitor needs Python >= 3.11: make ... PYTHON=python3.11")'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test]'
	touch $@

tools:
	@# Debian names the Alertmanager binary prometheus-alertmanager
	@if ! command -v promtool >/dev/null || ! command -v amtool >/dev/null || \
		! { command -v alertmanager || command -v prometheus-alertmanager; } >/dev/null; then \
		echo "installing $(DEBIAN_TOOLS) from Debian"; \
		SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
		$$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq \
			--no-install-recommends $(DEBIAN_TOOLS) >/dev/null; \
	fi
	@# CI must run the image test (tests/test_image.py): podman and its base image
	@if [ "$$CI" = true ]; then $(MAKE) --no-print-directory containers; fi

# podman, its config and a debootstrap base image: builds and runs the image with no Docker daemon or registry
containers:
	tests/containers/setup-podman.sh

# `make demo ARGS=--stack` also installs what the stack runs (tools: Prometheus and Alertmanager)
demo: venv $(if $(findstring --stack,$(ARGS)),tools)
	$(BIN)/docqet-monitor demo $(ARGS)

lint: venv
	$(BIN)/ruff check .

test: venv tools lint
	$(BIN)/pytest $(ARGS)
