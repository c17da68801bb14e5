# The two commands that matter: `make book` (the main job) and `make test`.
# Each creates its environment first when it is missing, so either works alone on a fresh
# machine: `make book` a light .venv-book (the `book` extra only: no torch, no library),
# everything else .venv (the library with every extra).

PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV ?= .venv
PY := $(VENV)/bin/python
BOOK_VENV ?= .venv-book
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
	$(PY) -m pip install --quiet -e '.[book,chapters,test]'
	$(PY) -m ipykernel install --sys-prefix --name python3 > /dev/null
	touch $@

setup: $(VENV)/.installed

# The book renders committed outputs and executes nothing: only the `book` extra, read from
# pyproject.toml, so the library's requirements (torch and its CUDA wheels) stay out.
# --no-compile: a build imports a fraction of what is installed; Python compiles that on use.
$(BOOK_VENV)/.installed: pyproject.toml
	test -x $(BOOK_VENV)/bin/python || $(PYTHON) -m venv $(BOOK_VENV)
	$(BOOK_VENV)/bin/python -c 'import tomllib; print(*tomllib.load(open("pyproject.toml", "rb"))["project"]["optional-dependencies"]["book"], sep="\n")' > $(BOOK_VENV)/requirements.txt
	$(BOOK_VENV)/bin/python -m pip install --quiet --disable-pip-version-check --no-compile \
	  -r $(BOOK_VENV)/requirements.txt
	touch $@

lint: setup
	$(VENV)/bin/ruff check pepita_lib tests bench _ext
	$(VENV)/bin/ruff format --check pepita_lib tests bench _ext

format: setup
	$(VENV)/bin/ruff format pepita_lib tests bench _ext
	$(VENV)/bin/ruff check --fix pepita_lib tests bench _ext

unit: setup
	$(PY) -m pytest tests

nbval: setup
	cd chapters && ../$(PY) -m pytest --nbval --nbval-current-env --nbval-sanitize-with nbval_sanitize.cfg -p no:cacheprovider --rootdir=. -o addopts="" .

test: lint unit nbval

book: $(BOOK_VENV)/.installed
	$(BOOK_VENV)/bin/jupyter-book build --all -W --keep-going -n .

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
