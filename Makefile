# Everything runs inside .venv, made on first use. torch is pinned to the CPU build
# (a local wheel on these machines); an unpinned torch would pull a multi-GB CUDA build.
VENV ?= .venv
PY := $(VENV)/bin/python
BIN := $(VENV)/bin
# fixed: sample_data/train_demo.yaml names these paths
OUT := out/sample

.PHONY: setup browser run demo test lint bench clean

setup: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	python3 -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q torch==2.13.0
	$(PY) -m pip install -q -e '.[all,dev]'
	touch $@

# Debian's chromium for the real-browser tests (playwright cannot download browsers here).
browser:
	@command -v chromium >/dev/null 2>&1 || (apt-get update -qq && apt-get install -y -qq chromium >/dev/null)

# The main job on the sample data: curate every sample file into $(OUT), then build a
# tiny offline model and train it a few DPO steps on the curated English pairs (CPU).
run: setup
	$(BIN)/prefdata filter sample_data/pairs.jsonl --out $(OUT)/pairs
	$(BIN)/prefdata filter sample_data/hh_transcripts.jsonl --out $(OUT)/hh
	$(BIN)/prefdata filter sample_data/conversational.jsonl --out $(OUT)/conversational
	$(BIN)/prefdata filter sample_data/sharegpt_zh.json --config sample_data/filter_zh.yaml --out $(OUT)/sharegpt_zh
	$(BIN)/prefdata filter sample_data/pairs.csv --prompt-column question \
		--chosen-column good_answer --rejected-column bad_answer --out $(OUT)/csv
	$(BIN)/prefdata make-tiny-model --data $(OUT)/pairs --out $(OUT)/tiny-model
	$(BIN)/prefdata train --overwrite sample_data/train_demo.yaml
	$(BIN)/prefdata evaluate --model $(OUT)/dpo --data $(OUT)/pairs

# The main job, then the annotation app serving the curated English pairs (Ctrl-C stops it).
demo: run
	$(BIN)/prefdata app --open --data $(OUT)/pairs --db $(OUT)/labels.sqlite --overlap 2

lint: setup
	$(BIN)/ruff check prefdata app tests
	$(BIN)/ruff format --check prefdata app tests
	$(BIN)/mypy

test: setup browser lint
	HF_HUB_OFFLINE=1 $(BIN)/pytest -q -p no:cacheprovider

bench: setup
	$(PY) tests/benchmarks/bench_filter.py

clean:
	rm -rf $(VENV) out .pytest_cache .mypy_cache .ruff_cache
