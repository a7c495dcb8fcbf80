# Quickstart: `make demo` and `make test`. Each sets up whatever is missing first (Debian's Coq
# packages, a .venv with the project installed editable through constraints.txt), and is quick
# when everything is already there.

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
COQ_PACKAGES := coq libcoq-coquelicot libcoq-mathcomp-ssreflect libcoq-hammer
SUDO   := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
DEMO_OUT ?= runs/demo

.PHONY: demo test test-fast setup coq venv bench bench-train bench-search no-cuda clean help

help:
	@echo "make demo   - set up, trace a slice of Coq's stdlib into a dataset, fine-tune + export the tiny model, evaluate it (AND-OR) next to the automation baseline"
	@echo "make test   - set up, then run the whole test suite (slow end-to-end tests included)"
	@echo "make bench  - Coq session benchmarks (results go in bench/README.md by hand)"
	@echo "make bench-train - CPU training throughput, plain PyTorch loop vs Lightning (tiny, small; ~5 min)"
	@echo "make bench-search - search overhead outside model and Coq calls, batched vs unbatched inference (~5 min)"

setup: coq venv

coq:
	@missing=""; for p in $(COQ_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
	  echo "installing Debian packages:$$missing"; \
	  $(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get update -qq && \
	  $(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null; \
	fi

venv: $(STAMP)

$(STAMP): pyproject.toml constraints.txt
	@$(PYTHON) -c 'import sys; assert sys.version_info >= (3, 11), "Python >= 3.11 is required"'
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	DS_BUILD_OPS=0 $(BIN)/pip install -q -c constraints.txt -e '.[dev,model,train,dist]'
	@touch $(STAMP)

# CUDA builds of torch (nvidia-* wheels) must never land on a CPU machine.
no-cuda: venv
	@if $(BIN)/pip list 2>/dev/null | grep -qi '^nvidia-'; then \
	  echo "error: nvidia-* wheels are installed; every pip call must go through constraints.txt"; exit 1; fi

test: setup no-cuda
	$(BIN)/pytest -q -ra

test-fast: setup
	$(BIN)/pytest -q -ra -m "not slow"

# The main job, in order: trace a slice of Coq's standard library into state-tactic data, build the
# split (and decontaminated) dataset from it, fine-tune the tiny proof network on it for a few minutes
# (CPU) and export it as a Hugging Face model, then evaluate it with the AND-OR prover (its samples plus
# the default candidate tactics, which the network ranks) on a slice of the bundled valid suite next to
# the automation baseline (table, plot of proved vs budget, tree views).
# Rerunning resumes: traced files, training steps and finished theorems are skipped.
DEMO_SLICE ?= Arith Bool Lists
DEMO_TRAIN_STEPS ?= 200
DEMO_EVAL_LIMIT ?= 24
DEMO_EXPANSIONS ?= 16

demo: setup
	coqlib=$$(coqc -where); $(BIN)/proofzero trace $(foreach d,$(DEMO_SLICE),"$$coqlib/theories/$(d)") --out $(DEMO_OUT)/trace
	$(BIN)/proofzero dataset $(DEMO_OUT)/trace --out $(DEMO_OUT)/dataset --decontaminate benchmarks/minif2f-rocq-valid
	$(BIN)/proofzero train sft train/sft.yaml data.path=$(DEMO_OUT)/dataset data.scheme=random run_dir=$(DEMO_OUT)/sft \
	  max_steps=$(DEMO_TRAIN_STEPS) val_every_n_steps=100 checkpoint_every_n_steps=100 optim.warmup_steps=30
	$(BIN)/proofzero export $(DEMO_OUT)/sft $(DEMO_OUT)/model
	$(BIN)/proofzero eval --suite benchmarks/minif2f-rocq-valid --checkpoint $(DEMO_OUT)/model --out $(DEMO_OUT)/eval \
	  --prover eval/andor --prover eval/automation limit=$(DEMO_EVAL_LIMIT) \
	  andor.max_expansions=$(DEMO_EXPANSIONS) andor.k=8 policy.candidates=default trees=all max_trees=3

bench: setup
	$(BIN)/python bench/coq_session.py

bench-train: setup
	$(BIN)/python bench/train_throughput.py

bench-search: setup
	$(BIN)/python bench/search_overhead.py
	$(BIN)/python bench/search_batching.py

clean:
	rm -rf $(VENV) runs .pytest_cache
