# The two commands of the quick start, and their parts. Every target sets up first
# (scripts/setup.sh is a no-op when the packages are present), so each works on a
# machine that has never seen the project.
BUILD ?= build
JOBS ?= 2
CTEST_TIMEOUT ?= 300

.PHONY: all setup configure build demo test bench install clean

all: build

setup:
	bash scripts/setup.sh

configure: setup
	cmake -S . -B $(BUILD) -G Ninja

build: configure
	cmake --build $(BUILD) -j$(JOBS)

# Lists the built-in plugins and runs the smallest flow there is.
demo: build
	bash scripts/demo.sh $(BUILD)

# Builds and runs every test (unit, end-to-end, install + out-of-tree plugin build).
test: build
	ctest --test-dir $(BUILD) --output-on-failure --timeout $(CTEST_TIMEOUT) -j$(JOBS)

# Runs the benchmarks; results are recorded in docs/performance.md.
bench: build
	$(BUILD)/bin/abi_overhead_bench
	$(BUILD)/bin/flow_bench
	$(BUILD)/bin/side_input_bench
	$(BUILD)/bin/reduce_bench
	$(BUILD)/bin/store_bench
	/usr/bin/python3 tests/bench/python_bench.py --sluice $(BUILD)/bin/sluice --python-dir $(BUILD)/python
	/usr/bin/python3 tests/bench/serving_bench.py --sluice $(BUILD)/bin/sluice --echo $(BUILD)/bin/http_echo_server --python-dir $(BUILD)/python

install: build
	cmake --install $(BUILD) $(if $(PREFIX),--prefix $(PREFIX))

clean:
	rm -rf $(BUILD)
