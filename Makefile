# trtforge: every target that needs the environment depends on it, so each works on a fresh clone.
PYTHON   ?= python3
VENV     ?= .venv
BIN      := $(VENV)/bin
STAMP    := $(VENV)/.trtforge-installed
# torch/torchvision versions known to install here; on a Jetson use NVIDIA's JetPack wheels and TORCH_SPEC=
TORCH_SPEC ?= torch==2.14.1 torchvision==0.29.1
# rtx: TensorRT-RTX (the NVIDIA ONNX parser and builder on machines without TensorRT). Drop it on a Jetson.
EXTRAS   ?= torch,rtx,dev
STUBS    ?= tensorrt-stubs==10.13.0.35.1
# on a Jetson: VENV_FLAGS=--system-site-packages sees JetPack's TensorRT (and NVIDIA's torch) from the system
VENV_FLAGS ?=

CONFIG   ?= resnet18_fp16_gpu_dla12
SCENARIO ?= int8_2gpu
DLA_CORE ?=
ARGS     ?=
RUN      := $(BIN)/trtforge
CFG      := --config $(CONFIG) $(if $(DLA_CORE),--dla-core $(DLA_CORE)) $(ARGS)

.PHONY: setup doctor export tag plan calib engine compare bench bench-concurrent report matrix test test-fast lint clean help score-placement

help:
	@echo "make setup                              virtual environment with everything (torch, TensorRT-RTX, dev tools)"
	@echo "make engine CONFIG=<name> [DLA_CORE=n]  export -> tag -> plan -> calibrate -> build into artifacts/<name>/"
	@echo "make compare MODEL=resnet18             accuracy of every resnet18 config against FP32 references"
	@echo "make bench CONFIG=<name>                torch FPS and engine FPS (ONNX Runtime on CPU where no engine runs)"
	@echo "make bench-concurrent SCENARIO=<name>   the scenario's processes at once; make report: the benchmark page"
	@echo "make score-placement                    the DLA rules scored against real TensorRT outcomes (case table)"
	@echo "make test | make lint                   the test suite | ruff + mypy"
	@echo "make doctor                             what this machine can build and run"
	@echo "make matrix [MODELS=a,b]                the model matrix (12 models x 3 configs): a model x stage table"

setup: $(STAMP)

$(STAMP): pyproject.toml Makefile
	$(PYTHON) -m venv $(VENV_FLAGS) $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(if $(TORCH_SPEC),$(BIN)/python -m pip install --quiet $(TORCH_SPEC))
	$(BIN)/python -m pip install --quiet -e '.[$(EXTRAS)]'
	@# tensorrt-stubs depends on tensorrt (not installable here): keep it out of the runtime environment,
	@# where it would make `import tensorrt` an empty namespace package; mypy reads it from .stubs.
	$(BIN)/python -m pip install --quiet --no-deps --upgrade --target .stubs $(STUBS)
	@# the generated stubs name parameters `in` (a syntax error): make them parseable for mypy
	$(BIN)/python -m trtforge.build.stubfix .stubs
	touch $@

doctor: $(STAMP)
	$(RUN) doctor

STAGES := export tag plan calib engine bench
# MODEL=resnet18: every named config of that model in one accuracy table
MODEL    ?=

compare: $(STAMP)
	$(RUN) compare $(if $(MODEL),--model $(MODEL),--config $(CONFIG)) $(ARGS)

$(STAGES): $(STAMP)
	$(RUN) $@ $(CFG)

bench-concurrent: $(STAMP)
	$(RUN) bench-concurrent --scenario $(SCENARIO) $(ARGS)

report: $(STAMP)
	$(RUN) report $(ARGS)

# the DLA capability model scored against real TensorRT outcomes (placement/score.py, README "Placement plan")
score-placement: $(STAMP)
	$(BIN)/python -m trtforge.placement.score $(ARGS)

# the model matrix (bench/matrix.py, README "Model matrix"): every model, or MODELS=mobilenet_v2,swin_t
MODELS   ?=
matrix: $(STAMP)
	$(BIN)/python -m trtforge.bench.matrix $(if $(MODELS),--models $(MODELS)) $(ARGS)

test: $(STAMP)
	$(BIN)/python -m pytest $(ARGS)

lint: $(STAMP)
	$(BIN)/ruff check .
	@# mypy sees the installed layout (trtforge.export is export/, ...) through a tree of symbolic links
	rm -rf .typecheck && mkdir -p .typecheck/trtforge
	for f in trtforge/*.py; do ln -s ../../$$f .typecheck/trtforge/; done
	for d in export placement calib build bench; do ln -s ../../$$d .typecheck/trtforge/$$d; done
	$(BIN)/mypy
	@# JetPack 6 ships Python 3.10, the declared minimum (requires-python): type-check and feature-check for it
	$(BIN)/mypy --python-version 3.10
	$(BIN)/vermin --target=3.10- --violations --no-tips --eval-annotations --quiet trtforge export placement calib build bench

clean:
	rm -rf artifacts .setuptools-build .typecheck .pytest_cache .mypy_cache .ruff_cache
