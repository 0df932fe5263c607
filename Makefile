# The two commands: `make run` brings the whole system up, `make test` runs the whole test suite.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
# Debian packages the tests drive for real: an OCI registry, the tool that pushes images to it, a browser.
TEST_DEBS := docker-registry skopeo chromium chromium-driver

.PHONY: run test reliability venv venv-dev system-deps bench lock clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

$(VENV)/.base-installed: requirements/base.txt | $(BIN)/python
	$(BIN)/pip install --quiet -r requirements/base.txt
	touch $@

$(VENV)/.dev-installed: requirements/dev.txt requirements/base.txt | $(BIN)/python
	$(BIN)/pip install --quiet -r requirements/dev.txt
	touch $(VENV)/.base-installed $@

venv: $(VENV)/.base-installed
venv-dev: $(VENV)/.dev-installed

system-deps:
	@missing=""; for p in $(TEST_DEBS); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
		echo "installing Debian packages:$$missing"; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $$missing >/dev/null; \
	fi

run: venv
	$(BIN)/python -m config.embedded

test: venv-dev system-deps
	$(BIN)/python -m pytest $(PYTEST_ARGS)

reliability: venv-dev system-deps
	RELIABILITY_FULL=1 $(BIN)/python -m pytest tests/reliability $(PYTEST_ARGS)

lock: | $(BIN)/python
	$(BIN)/pip install --quiet pip-tools
	cd requirements && ../$(BIN)/pip-compile -q --strip-extras --no-header --no-emit-index-url --no-emit-find-links base.in -o base.txt
	cd requirements && ../$(BIN)/pip-compile -q --strip-extras --no-header --no-emit-index-url --no-emit-find-links dev.in -o dev.txt

clean:
	rm -rf $(VENV) .pytest_cache .hypothesis
