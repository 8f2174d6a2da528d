# Car-telemetry lakehouse: every developer task runs through this file.
# `make demo` and `make test` each set themselves up on a fresh clone.

SHELL        := /bin/bash
PYTHON       ?= python3
VENV         := .venv
PY           := $(VENV)/bin/python
TOOLS_VENV   := .venv-tools
IAM_EVAL     := tests/iam_eval
CHECKOV      := $(TOOLS_VENV)/bin/checkov
SHARED       ?= ../shared
LAKE         ?= lake
DEMO_LAKE    ?= demo-lake
IMPORT_DIRS  := ('glue_jobs', 'lambdas/ingestion', 'scripts/local', 'scripts/ops', 'bench')

.DEFAULT_GOAL := help
.PHONY: help setup lock test test-faults test-s3 test-drift-fuzz demo demo-s3 lint fmt bench bench-2m tf-validate clean

help: ## List every target with what it does
	@grep -hE '^[a-zA-Z0-9_-]+:.*## ' $(MAKEFILE_LIST) | \
	  awk 'BEGIN {FS = ":.*## "}; {printf "  \033[36m%-12s\033[0m %s\n", $$1, $$2}'

# Every version installed is in a lock under requirements/ (hashes included), made by uv from
# pyproject.toml and requirements/*.in (`make lock`). `uv pip sync` makes each venv exactly its
# lock; the one source distribution (pyspark) builds with the locked requirements/build.txt.
# The stamp files make `setup` idempotent: a venv is synced again only when its lock changes.
# Each venv gets its bytecode at install time (--compile-bytecode): Python still reads .pyc files
# where PYTHONDONTWRITEBYTECODE is set, as on CI machines, and would otherwise compile pyspark,
# botocore, moto and pandas from source in every process the tests start.
LOCK_DIR     := requirements
UV           := $(VENV)/bin/uv
UV_SYNC      := $(UV) pip sync --quiet --require-hashes --compile-bytecode --build-constraints $(LOCK_DIR)/build.txt
LOCK_ARGS    ?=
UV_COMPILE    = $(UV) pip compile --quiet --universal --python-version 3.11 --generate-hashes \
                --custom-compile-command 'make lock' $(LOCK_ARGS)

$(VENV)/.installed: $(LOCK_DIR)/dev.txt $(LOCK_DIR)/build.txt $(LOCK_DIR)/bootstrap.txt
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check --require-hashes --no-deps -r $(LOCK_DIR)/bootstrap.txt
	$(UV_SYNC) --python $(PY) $(LOCK_DIR)/dev.txt
	@touch $@

# One import path for everything run with .venv/bin/python: the deployables and the scripts are
# importable by module name (the folders pytest's `pythonpath` names too).
$(VENV)/.import-path: $(VENV)/.installed Makefile
	$(PY) -c "import pathlib, sysconfig; pathlib.Path(sysconfig.get_paths()['purelib'], 'car_telemetry.pth').write_text(''.join(str(pathlib.Path(d).resolve()) + chr(10) for d in $(IMPORT_DIRS)))"
	@touch $@

# The S3A connector's jars (requirements/jars.txt: Maven coordinates and sha256), outside git.
.cache/jars/.installed: $(LOCK_DIR)/jars.txt $(VENV)/.installed
	$(PY) scripts/local/fetch_jars.py
	@touch $@

# The IAM policy evaluator of tests/test_iam_behaviour.py: @cloud-copilot/iam-simulate, exactly
# as its package-lock.json pins it (npm ci replaces node_modules, so the stamp lives inside it).
$(IAM_EVAL)/node_modules/.installed: $(IAM_EVAL)/package.json $(IAM_EVAL)/package-lock.json
	npm ci --prefix $(IAM_EVAL) --no-audit --no-fund
	@touch $@

# checkov pins its own versions of boto3 and friends; it lives in a venv of its own so that
# the project's pins stay exactly those of the runtime.
$(TOOLS_VENV)/.installed: $(LOCK_DIR)/tools.txt $(VENV)/.installed
	@test -x $(TOOLS_VENV)/bin/python || $(PYTHON) -m venv $(TOOLS_VENV)
	$(UV_SYNC) --python $(TOOLS_VENV)/bin/python $(LOCK_DIR)/tools.txt
	@touch $@

lock: $(VENV)/.installed ## Re-resolve requirements/*.txt from pyproject.toml and requirements/*.in (LOCK_ARGS=--upgrade moves every unpinned transitive version too)
	$(UV_COMPILE) pyproject.toml --extra dev -o $(LOCK_DIR)/dev.txt
	$(UV_COMPILE) $(LOCK_DIR)/build.in -o $(LOCK_DIR)/build.txt
	$(UV_COMPILE) $(LOCK_DIR)/bootstrap.in -o $(LOCK_DIR)/bootstrap.txt
	$(UV_COMPILE) $(LOCK_DIR)/tools.in -o $(LOCK_DIR)/tools.txt

setup: $(VENV)/.installed $(VENV)/.import-path .cache/jars/.installed $(TOOLS_VENV)/.installed $(IAM_EVAL)/node_modules/.installed ## Create .venv (and .venv-tools for checkov), tests/iam_eval's node_modules, and install everything
	@$(PY) -c "import local_runtime; print('java:', local_runtime.java())"

# Two pytest workers (pytest-xdist), each test file on one of them with its module fixtures:
# a single process leaves the second core idle while the driver plans (314 s -> 177-276 s here).
test: setup ## Run the whole test suite (unit, Spark integration, Lambda, Terraform contract)
	$(PY) -m pytest -n 2 --dist loadfile --no-loadscope-reorder

test-faults: setup ## The full fault-injection matrix of the commit protocol, on local files and on the local S3 API (about 25-40 minutes)
	$(PY) -m pytest -m faults tests/test_silver_commit.py tests/test_s3_commit.py

test-s3: setup ## The S3 suite whole: the pipeline and every kill point against the local S3 API, both marker policies and modes (about 15-25 minutes)
	$(PY) -m pytest -m 'not fuzz' tests/test_s3_pipeline.py tests/test_s3_commit.py tests/test_demo_s3.py

test-drift-fuzz: setup ## 40 random schema-drift cases through the job, in one run, two runs and a run per file (15-20 minutes)
	$(PY) -m pytest -m fuzz tests/test_silver_drift_fuzz.py

# The demo needs the project venv only (no npm evaluator, no checkov) and writes only into its
# own folder, DEMO_LAKE (it refuses a non-empty folder it did not make).
demo: $(VENV)/.installed $(VENV)/.import-path ## Run the whole pipeline locally on generated data in demo-lake/ and print silver + the dedup check
	$(PY) scripts/local/run_demo.py --lake $(DEMO_LAKE)

demo-s3: $(VENV)/.installed $(VENV)/.import-path .cache/jars/.installed ## The demo against a local S3 API (moto's server, S3A, the Lambda's handler), printing its S3 requests per stage
	$(PY) scripts/local/run_demo_s3.py --work $(LAKE)/s3

lint: setup ## ruff, terraform fmt, the offline Terraform schema check and checkov
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .
	terraform fmt -check -recursive terraform
	@if [ -f $(SHARED)/tools/tf_check.py ]; then $(PY) $(SHARED)/tools/tf_check.py terraform; \
	  else echo "skip tf_check: $(SHARED)/tools/tf_check.py not found"; fi
	$(CHECKOV) --quiet --compact --skip-download -d terraform --framework terraform

fmt: setup ## Format Python (ruff) and Terraform in place
	$(PY) -m ruff format .
	$(PY) -m ruff check --fix .
	terraform fmt -recursive terraform

BENCH_RECORDS ?= 20000,400000

bench: setup ## Benchmarks: ingestion Lambda, consolidation job vs lean job (20k/400k), history, S3 requests per run; writes docs/benchmarks/
	$(PY) bench/bench_ingestion.py --out docs/benchmarks
	$(PY) bench/bench_consolidation.py --out docs/benchmarks --records $(BENCH_RECORDS)
	$(PY) bench/bench_s3_requests.py --out docs/benchmarks

bench-2m: ## The consolidation ratio table with 2,000,000 records too (about 6 min more than bench)
	$(MAKE) bench BENCH_RECORDS=20000,400000,2000000

tf-validate: ## terraform init -backend=false && validate (needs the provider registry)
	cd terraform && terraform init -backend=false -input=false && terraform validate

clean: ## Remove the local lake, the demo's, caches, both virtualenvs and the evaluator's node_modules
	rm -rf $(LAKE) $(DEMO_LAKE) .pytest_cache .ruff_cache $(VENV) $(TOOLS_VENV) $(IAM_EVAL)/node_modules
	find . -name __pycache__ -type d -prune -exec rm -rf {} +
