# The README's quick start: `make run` to talk to the bot locally, `make test` to run every test.
# Both build .venv/ (and node_modules/ where npm exists) on first use.
PYTHON ?= python3
VENV := .venv
STAMP := $(VENV)/.installed-stamp
NODE_STAMP := node_modules/.installed-stamp

.PHONY: run test test-lowest lint bench screenshots clean

$(STAMP): pyproject.toml
	test -x $(VENV)/bin/python || $(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --disable-pip-version-check -e '.[dev]'
	touch $(STAMP)

# Node is optional: without it the bot still runs (no emulator) and the manifest test says why it skipped.
$(NODE_STAMP): package.json package-lock.json
	@if command -v npm >/dev/null 2>&1; then \
		npm install --no-audit --no-fund --loglevel=error && touch $(NODE_STAMP); \
	else echo "npm not found: skipping the Teams emulator and manifest schema"; fi

run: $(STAMP) $(NODE_STAMP)
	./scripts/run-local

test: $(STAMP) $(NODE_STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/pytest

# The suite again on the lowest version of every dependency pyproject.toml allows (CI runs both).
LOWEST := .venv-lowest
$(LOWEST)/.installed-stamp: pyproject.toml constraints/lowest.txt
	test -x $(LOWEST)/bin/python || $(PYTHON) -m venv $(LOWEST)
	$(LOWEST)/bin/pip install --quiet --disable-pip-version-check -c constraints/lowest.txt -e '.[dev]'
	touch $@

test-lowest: $(LOWEST)/.installed-stamp $(NODE_STAMP)
	$(LOWEST)/bin/ruff check .
	$(LOWEST)/bin/pytest

lint: $(STAMP)
	$(VENV)/bin/ruff check .

bench: $(STAMP)
	$(VENV)/bin/python bench/sweep.py
	$(VENV)/bin/python bench/dialog.py
	$(VENV)/bin/python bench/outbox.py
	$(VENV)/bin/python bench/workspace.py
	$(VENV)/bin/python bench/load.py

# The README's pictures: the end-to-end journey in the Teams emulator, saved where the README points.
screenshots: $(STAMP) $(NODE_STAMP)
	E2E_SCREENSHOTS=docs/screenshots $(VENV)/bin/pytest tests/e2e -q

clean:
	rm -rf $(VENV) $(LOWEST) node_modules
