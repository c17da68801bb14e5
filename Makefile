# The two commands that matter: `make book` (the main job) and `make test`.
# Each creates .venv first when it is missing, so either works alone on a fresh machine.

PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV ?= .venv
PY := $(VENV)/bin/python
PROFILE ?= paper
RUN_MISSING ?= 0
# papermill injects a parameters cell only when something differs from the chapters' defaults
PM_PARAMS := $(if $(filter-out paper,$(PROFILE)),-p profile $(PROFILE)) \
             $(if $(filter 1 True true yes,$(RUN_MISSING)),-p run_missing True)
CHAPTERS := $(sort $(wildcard chapters/*.ipynb))

.PHONY: setup test lint format unit nbval book chapters bench clean

$(VENV)/.installed: pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --upgrade --quiet pip
	$(PY) -m pip install --quiet -e '.[book,test]'
	$(PY) -m ipykernel install --sys-prefix --name python3 > /dev/null
	touch $@

setup: $(VENV)/.installed

lint: setup
	$(VENV)/bin/ruff check pepita_lib tests bench
	$(VENV)/bin/ruff format --check pepita_lib tests bench

format: setup
	$(VENV)/bin/ruff format pepita_lib tests bench
	$(VENV)/bin/ruff check --fix pepita_lib tests bench

unit: setup
	$(PY) -m pytest tests

nbval: setup
	cd chapters && ../$(PY) -m pytest --nbval --nbval-current-env --nbval-sanitize-with nbval_sanitize.cfg -p no:cacheprovider --rootdir=. -o addopts="" .

test: lint unit nbval

book: setup
	$(VENV)/bin/jupyter-book build --all -W --keep-going -n .

# Execute every chapter in place with papermill (reads results/, trains only what is
# missing when RUN_MISSING=1).
chapters: setup
	cd chapters && for nb in $(notdir $(CHAPTERS)); do \
	  ../$(PY) -m papermill $$nb $$nb $(PM_PARAMS) -k python3 || exit 1; \
	done

bench: setup
	$(VENV)/bin/pepita bench --json

clean:
	rm -rf _build .pytest_cache
