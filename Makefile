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

bench: $(STAMP)
	$(PY) bench/bench_readers.py
	$(PY) bench/bench_metrics.py
	$(PY) bench/bench_train.py

clean:
	rm -rf $(VENV) build *.egg-info
