# spindle — top-level entry points. See README.md.
#   make         build everything into build/ (the CLI is build/spindle, the
#                C library build/libspindle.so, the Python package build/python)
#   make deps    install missing Debian packages (apt-get, sudo when not root)
#   make demo    deps + build, then train the demo model on an emulated SpiNN-5
#   make test    deps + build, then the whole suite, plain and under ASan+UBSan
#                (tests labelled slow run with `cd build && ctest -L slow`)
#   make bench   deps + build, then the benchmarks (JSON into build/bench/)
#   make soak    deps + build, then the zero-drop seed matrix (build/bench/soak.json)
#   make fuzz    deps + the libFuzzer harnesses (clang, build/fuzz), each run to
#                FUZZ_RUNS executions or FUZZ_TIME seconds (build/fuzz/<target>.json)
#   make arm     every kernel for the ARM968E-S (build/arm/<kernel>_<numeric>.elf),
#                sizes in build/arm/sizes.json; fails over 32 KB ITCM or on soft
#                float in a fixed-point kernel (docs/calibration.md)
#   make bench-calibrate  deps + build + arm, then every kernel's hot callbacks
#                under qemu-arm against what the emulator charges them
#                (build/bench/calibrate.json; fails outside 0.8-1.25)

BUILD      ?= build
SAN_BUILD  ?= $(BUILD)/sanitize
FUZZ_BUILD ?= $(BUILD)/fuzz
FUZZ_RUNS  ?= 1000000
FUZZ_TIME  ?= 1800
JOBS       ?= $(shell nproc 2>/dev/null || echo 2)
CMAKE_GEN  := -DCMAKE_BUILD_TYPE=RelWithDebInfo

DEB_PACKAGES := cmake make gcc pkg-config libcmocka-dev libhdf5-dev libcjson-dev \
                zlib1g-dev libzip-dev dataset-fashion-mnist python3 python3-pytest \
                python3-numpy python3-h5py python3-onnx python3-dev python3-matplotlib python3-pip clang \
                protobuf-c-compiler libprotobuf-c-dev python3-torchvision \
                gcc-arm-none-eabi libnewlib-arm-none-eabi qemu-user
BENCH_PACKAGES := python3-torch

SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

.PHONY: all build deps bench-deps bench-recovery demo test test-plain test-sanitize test-fuzz fuzz fuzz-build \
        bench soak arm bench-calibrate clean

all: build

build:
	@cmake -S . -B $(BUILD) $(CMAKE_GEN) >/dev/null
	@cmake --build $(BUILD) -j $(JOBS)

deps:
	@./scripts/install-deps $(DEB_PACKAGES)

bench-deps:
	@./scripts/install-deps $(DEB_PACKAGES) $(BENCH_PACKAGES)

demo: deps build
	./scripts/demo $(BUILD)/spindle

test: deps build test-plain test-sanitize test-fuzz

test-plain: build
	cd $(BUILD) && ctest --output-on-failure -j $(JOBS) -LE slow

test-sanitize:
	@cmake -S . -B $(SAN_BUILD) -DCMAKE_BUILD_TYPE=Debug -DSPINDLE_SANITIZE=ON >/dev/null
	@cmake --build $(SAN_BUILD) -j $(JOBS)
	cd $(SAN_BUILD) && ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 \
	  UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
	  ctest --output-on-failure -j $(JOBS) -LE slow

# The fuzz smoke run of make test: every harness from its seeds and
# regressions (not the corpus make fuzz grew) for 10,000 executions, at
# most 20 s each; summaries in build/fuzz/smoke/. A target named in
# FUZZ_SMOKE_REPLAY_ONLY only replays them (none: no finding is open,
# tests/fuzz/pending/README.md).
FUZZ_SMOKE_REPLAY_ONLY ?=
test-fuzz: fuzz-build
	@rm -rf $(FUZZ_BUILD)/smoke
	FUZZ_OUT=$(FUZZ_BUILD)/smoke FUZZ_REPLAY_ONLY="$(FUZZ_SMOKE_REPLAY_ONLY)" \
	  ./scripts/fuzz $(FUZZ_BUILD) 10000 20 $(JOBS)

fuzz-build:
	@cmake -S . -B $(FUZZ_BUILD) -DCMAKE_C_COMPILER=clang -DCMAKE_BUILD_TYPE=RelWithDebInfo \
	  -DSPINDLE_FUZZ=ON >/dev/null
	@cmake --build $(FUZZ_BUILD) -j $(JOBS)

fuzz: deps fuzz-build
	FUZZ_KEEP_GOING=1 ./scripts/fuzz $(FUZZ_BUILD) $(FUZZ_RUNS) $(FUZZ_TIME) $(JOBS)

bench: bench-deps build
	./scripts/bench $(BUILD)

# The reliability matrix of issue 10: 20 seeds x {MLP, LeNet-5} x {float,
# fixed} trained on the emulated SpiNN-5; fails when any run drops a packet.
soak: deps build
	/usr/bin/python3 bench/soak.py --spindle $(BUILD)/spindle --out $(BUILD)/bench/soak.json -j $(JOBS)

# Issue 10: what the recovery machinery costs a clean run, against spindle
# built without it in $(BUILD)/norec (bench/recovery_overhead.py).
bench-recovery: deps build
	@cmake -S . -B $(BUILD)/norec -DSPINDLE_BENCH_NO_RECOVERY=ON >/dev/null
	@cmake --build $(BUILD)/norec -j $(JOBS) --target spindle
	/usr/bin/python3 bench/recovery_overhead.py --spindle $(BUILD)/spindle \
	  --spindle-off $(BUILD)/norec/spindle --out $(BUILD)/bench/recovery_overhead.json

# Issue 11: the kernels built freestanding for the ARM968E-S against the spin1
# shim (src/arm/), checked for size and soft float (scripts/arm_build.py).
arm: deps
	/usr/bin/python3 scripts/arm_build.py --out $(BUILD)/arm --jobs $(JOBS)

# Issue 11: the emulator's cycle charges against the kernels' ARM968E-S
# instruction traces under qemu-arm (scripts/calibrate.py, docs/calibration.md).
bench-calibrate: build arm
	/usr/bin/python3 scripts/calibrate.py --build $(BUILD) --out $(BUILD)/bench/calibrate.json

clean:
	rm -rf $(BUILD)
