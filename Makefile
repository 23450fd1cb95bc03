# Two entry points for a fresh machine (see README):
#   make demo   install, run DebiasFR (shipped tiny preset, trained here; blind and with the drawn attributes as input),
#               bicubic and bilinear on the embedded synthetic faces (64 faces at 32 px, x4: an 8-px LQ), print
#               PSNR, SSIM and the attribute error of the synthetic-face classifier trained here (attr_synthetic)
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

# the demo faces: synthetic defaults (seed 0, 64 faces) drawn at 32 px; neither model trained here saw them
DEMO := --dataset synthetic -D size=32 --degradation x4 --metrics psnr,ssim,attr_synthetic --no-progress

demo: install
	$(BIN)/bench run --method debiasfr $(DEMO)
	$(BIN)/bench run --method debiasfr -M attributes=labels $(DEMO)
	$(BIN)/bench run --method bicubic $(DEMO)
	$(BIN)/bench run --method bilinear $(DEMO)
	$(BIN)/bench leaderboard --dataset synthetic --protocol x4 --metric psnr --metric ssim --metric attr_synthetic

test: install
	$(BIN)/python -m pytest -q tests

clean:
	rm -rf frbench-results .pytest_cache
