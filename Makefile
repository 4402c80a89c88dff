# The study's entry points. `make repro` and `make test` set up a fresh machine.
SHELL := /bin/bash
VENV ?= .venv
PYTHON ?= python3
BIN := $(abspath $(VENV))/bin
STAMP := $(VENV)/.installed-stamp
PROFILE ?= demo
# DVC stages call `python`: make it the project's environment.
export PATH := $(BIN):$(PATH)
export PYDEVD_DISABLE_FILE_VALIDATION := 1

.PHONY: help env data repro plots findings publish test test-fast test-unit test-notebooks book lab profile colab bench lint clean-smoke clean-cache \
	paper-check deps bundle read

help:
	@echo "make repro    set up, run the whole study (dvc repro, profile in params.yaml) and build the book"
	@echo "make test     set up, run the unit tests and every notebook (once) on the smoke profile"
	@echo "make test-fast  the unit tests without those marked slow: the inner loop, under 2 minutes"
	@echo "make test-unit  every unit test, slow ones too, without the notebooks and the book"
	@echo "make test-notebooks  every notebook once on the smoke profile; the book built and checked in Chromium"
	@echo "make book     build the HTML book from the executed notebooks (BUNDLE=file: from a results bundle)"
	@echo "make bundle   pack this run's executed notebooks, metrics and cards (build/dfd-results.tar.gz)"
	@echo "make read BUNDLE=file  a bundle's book with only the book's tools (.venv-book, 0.5 GB; no torch, no run)"
	@echo "make findings rewrite the README's findings table and figure from metrics/*.json"
	@echo "make publish  build the book and push it to origin's gh-pages branch (GitHub Pages)"
	@echo "make plots    learning curves with dvc plots show (offline HTML in dvc_plots/)"
	@echo "make lab      JupyterLab at the project (notebooks/ open; executed copies in artifacts/executed/)"
	@echo "make profile PROFILE=smoke|demo|paper   make that profile the active params.yaml"
	@echo "make colab    rewrite the notebooks' Colab badge and install cell from the repository URL"
	@echo "make bench    run the benchmarks under benchmarks/"
	@echo "make clean-cache  remove the caches a rerun rebuilds (split arrays, resumable training states)"
	@echo "make paper-check  every stage at the paper's shapes (1080x1920 DFDC clips, ResNet50, 224^2 3D) on the CPU"
	@echo "make deps     rewrite each dvc.yaml stage's code deps from the modules it imports"

$(STAMP): pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	@echo "Installing the pinned environment into $(VENV): about 6.7 GB (torch and its CUDA libraries), several minutes"
	$(BIN)/python -m pip install --progress-bar off -c constraints.txt -e ".[study,dev]" | grep --line-buffered -E '^(Collecting|Successfully)' \
		| cut -c1-100; test "$${PIPESTATUS[0]}" -eq 0
	$(BIN)/python -m dfd_utils.tooling.lab install
	@touch $(STAMP)

env: $(STAMP)

# data.dvc tracks data/, the hand-made inputs (a DFDC copy, downloads). Empty by default:
# cache that empty state so `dvc status` is clean on a fresh clone.
data:
	mkdir -p data
	@if [ -z "$$(ls -A data)" ]; then $(BIN)/dvc add -q data; fi

# Ends with make clean-cache (split arrays and resumable training states: rebuilt by a rerun that needs them), so
# the finished study and its DVC cache stay within 6 GB; KEEP_CACHE=1 keeps them. dvc repro copies a folder output into
# the cache; checkout --relink makes the workspace's files hard links to it (.dvc/config), one copy on disk.
repro: env data
	$(BIN)/dvc repro
	$(BIN)/dvc checkout --relink -q
	$(BIN)/python -m dfd_utils.chapters.findings
	$(MAKE) book
	$(if $(KEEP_CACHE),@echo "make repro: caches kept (KEEP_CACHE)",$(BIN)/python -m dfd_utils.tooling.clean)

# Every notebook runs once per session (tests/smoke_study.py: papermill on the smoke profile, as DVC runs
# them): tests/test_notebooks.py checks what they wrote, tests/test_book.py builds the book from them.
# Two workers (pytest-xdist): a test module stays on one worker, the notebooks' tests and the book's share one,
# the longest groups start first (tests/conftest.py). TEST_WORKERS=0 runs everything in this process.
TEST_WORKERS ?= 2
PARALLEL := $(if $(filter 0,$(TEST_WORKERS)),,-n $(TEST_WORKERS))

test: env
	$(BIN)/python -m pytest tests -q $(PARALLEL)

test-fast: env
	$(BIN)/python -m pytest tests -q -m "not slow" $(PARALLEL)

test-unit: env
	$(BIN)/python -m pytest tests -q --ignore=tests/test_book.py --ignore=tests/test_notebooks.py $(PARALLEL)

test-notebooks: env
	$(BIN)/python -m pytest tests/test_notebooks.py tests/test_book.py -q

# make book BUNDLE=dfd-results.tar.gz: the book of a results bundle (a release's), built in build/bundle, no run needed.
book: env
ifdef BUNDLE
	$(BIN)/python -m dfd_utils.tooling.bundle book $(BUNDLE)
else
	$(BIN)/python -m dfd_utils.tooling.book build
endif

# This run's executed notebooks, metrics and cards page in build/dfd-results.tar.gz (a few MB), for a release.
bundle: env
	$(BIN)/python -m dfd_utils.tooling.bundle make

# Read a results bundle's book without the study's 6.7 GB environment: .venv-book holds only the book's tools
# (0.5 GB: the package without torch, Jupyter Book, matplotlib), then build/bundle/book/_build/html/index.html.
BOOK_VENV := .venv-book
BOOK_TOOLS := "jupyter-book==1.0.4.post1" matplotlib numpy pandas PyYAML tqdm
read:
	@test -n "$(BUNDLE)" || { echo "make read BUNDLE=dfd-results.tar.gz (a release's bundle, or make bundle's)" >&2; exit 1; }
	test -x $(BOOK_VENV)/bin/python || $(PYTHON) -m venv $(BOOK_VENV)
	$(BOOK_VENV)/bin/python -m pip install --quiet --no-deps -e .
	$(BOOK_VENV)/bin/python -m pip install --quiet -c constraints.txt $(BOOK_TOOLS)
	$(BOOK_VENV)/bin/python -m dfd_utils.tooling.bundle book $(BUNDLE)

# The README's findings block and figure, rewritten from metrics/*.json (make repro does it after the study).
findings: env
	$(BIN)/python -m dfd_utils.chapters.findings

# Publish the book of the committed run to GitHub Pages (origin's gh-pages branch), so the site shows the
# results that metrics/ and the README hold; refused while the README's findings are stale.
publish: env
	$(BIN)/python -m dfd_utils.chapters.findings --check
	@git diff --quiet HEAD || { echo "make publish: commit first: the site shows a committed run" >&2; exit 1; }
	@$(BIN)/dvc status -q || { echo "make publish: dvc status is not clean: run make repro first" >&2; exit 1; }
	$(MAKE) book
	$(BIN)/ghp-import --no-jekyll --push --force --message "book of $$(git rev-parse --short HEAD)" book/_build/html

# Learning curves with DVC, offline: .dvc/config names .dvc/plots/offline.html, committed with vega
# inlined (from npm; rewrite it with python -m dfd_utils.tooling.vendor --refresh), so plain `dvc plots show` works too.
plots: env
	$(BIN)/dvc plots show

lab: env
	$(BIN)/python -m ipykernel install --sys-prefix --name python3 --display-name "Python 3 (dfd)" >/dev/null
	$(BIN)/jupyter lab --config=jupyter_lab_config.py --notebook-dir=. --ServerApp.default_url=/lab/tree/notebooks \
		--ServerApp.allow_root=True

# params.yaml = profiles/demo.yaml with profiles/$(PROFILE).yaml on top (checked, comments kept).
profile: env
	$(BIN)/python -m dfd_utils.profiles $(PROFILE)

# The repository URL lives in pyproject.toml ([project.urls]); a GitHub remote `origin` takes its place.
colab: env
	$(BIN)/python -m dfd_utils.tooling.colab

bench: env
	$(BIN)/python benchmarks/bench_frames.py
	$(BIN)/python benchmarks/bench_models.py
	$(BIN)/python benchmarks/bench_predict.py

# Every stage once at the paper's real shapes on the CPU, under a temporary folder: wall time and peak RSS
# per stage (dfd_utils/tooling/paper_check.py, profiles/paper_check.yaml). About 2-4 minutes on 2 cores.
paper-check: env
	$(BIN)/python -m dfd_utils.tooling.paper_check

# Each stage's dfd_utils deps = the modules its notebooks and the runner import (dfd_utils/tooling/stage_deps.py).
deps: env
	$(BIN)/python -m dfd_utils.tooling.stage_deps

lint: env
	$(BIN)/ruff check dfd_utils tests benchmarks notebooks book/_ext

clean-smoke:
	rm -rf build/smoke

# The caches a rerun rebuilds (split arrays, resumable training states): about 5.5 GB of the study's 12 GB.
clean-cache: env
	$(BIN)/python -m dfd_utils.tooling.clean
