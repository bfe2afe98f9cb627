# Two commands do all set-up on a fresh machine: `make demo` and `make test`.
# CPU by default; `make install DEVICE=gpu` installs TensorFlow's CUDA wheels.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
DEVICE ?= cpu
EXTRAS := $(if $(filter gpu,$(DEVICE)),test$(comma)gpu,test)
comma := ,
STAMP := $(VENV)/.installed-$(DEVICE)
DEMO_DIR ?= /tmp/yt8m_demo
# Test processes (pytest-xdist): the suite is mostly single-threaded Python
# (graph tracing, subprocess start-up), so two workers use both CI cores.
TEST_WORKERS ?= 2

.PHONY: install test demo bench clean

$(STAMP): setup.py
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	@# An older setup.py installed tensorflow-cpu. Two TF distributions share
	@# one tensorflow/ package, so remove both and install `tensorflow` anew.
	if $(PY) -m pip show -q tensorflow-cpu >/dev/null 2>&1; then \
	  $(PY) -m pip uninstall --quiet -y tensorflow-cpu tensorflow; fi
	$(PY) -m pip install --quiet -e ".[$(EXTRAS)]"
	$(PY) -c "from yt8m.tf_install import check_single_tensorflow as c; print('TensorFlow:', c())"
	rm -f $(VENV)/.installed-*
	touch $(STAMP)

install: $(STAMP)

test: $(STAMP)
	$(PY) -m pytest -q -n $(TEST_WORKERS) --dist=worksteal tests

demo: $(STAMP)
	bash scripts/demo.sh $(PY) $(DEMO_DIR)

# `make bench` (CPU) or `make bench DEVICE=gpu`: every benchmark, one JSON
# each, printed and kept in $(BENCH_OUT). Hours on a 2-core CPU (every model
# at batch 128 x 300 frames); bench/gpu_check.sh is the 5-minute GPU subset.
BENCH_OUT ?= bench/results
RSS_MODELS ?= TransformerModel,BiGRUAttentionModel,BiLSTMAttentionModel
bench: $(STAMP)
	mkdir -p $(BENCH_OUT)
	$(PY) bench/bench_train.py --device=$(DEVICE) --output=$(BENCH_OUT)/train.json
	$(PY) bench/bench_train.py --device=$(DEVICE) --models=$(RSS_MODELS) \
	  --warmup=1 --steps=2 --rss_steps=200,1000 --output=$(BENCH_OUT)/train_rss.json
	$(PY) bench/bench_peer.py | tee $(BENCH_OUT)/peer.json
	$(PY) bench/bench_loop.py --device=$(DEVICE) | tee $(BENCH_OUT)/loop.json
	$(PY) bench/bench_pipeline.py --device=$(DEVICE) | tee $(BENCH_OUT)/pipeline.json
	$(PY) bench/bench_infer.py --device=$(DEVICE) | tee $(BENCH_OUT)/infer.json
	$(PY) bench/bench_readers.py | tee $(BENCH_OUT)/readers.json
	$(PY) bench/bench_metrics.py | tee $(BENCH_OUT)/metrics.json

clean:
	rm -rf $(VENV) build *.egg-info
