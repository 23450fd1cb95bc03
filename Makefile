# Two entry points for a fresh machine (see README):
#   make demo   install, run DebiasFR (shipped tiny preset), bicubic and bilinear on the embedded synthetic dataset, print the leaderboard
#   make test   install with the test extras, run the test suite
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin

.PHONY: install demo test clean

$(BIN)/bench: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet -e ".[test]"
	touch $(BIN)/bench

install: $(BIN)/bench

demo: install
	$(BIN)/bench run --method debiasfr --dataset synthetic
	$(BIN)/bench run --method bicubic --dataset synthetic
	$(BIN)/bench run --method bilinear --dataset synthetic
	$(BIN)/bench leaderboard

test: install
	$(BIN)/python -m pytest -q tests

clean:
	rm -rf frbench-results .pytest_cache
