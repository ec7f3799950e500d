# locus: a Nacos-compatible service registry on canonical/raft.
#
#   make            build build/locusd and build/locusctl
#   make run        install missing packages, build, start a standalone node
#   make cluster    start a 3-node cluster on 127.0.0.1 (make cluster-stop)
#   make test       install, build, run every test (check-layers, C tests,
#                   then test-compat and test-java)
#   make check-layers   includes that cross a layer the wrong way (test/layers)
#   make test-compat   the npm nacos-naming client against real locusd
#   make test-java     the Nacos Java client 2.4.3 against real locusd (when
#                      ../shared/nacos-java exists, or NACOS_JAVA=dir)
#   make asan       the same tests under AddressSanitizer + UBSan
#   make test-faults   the fault suite: kills, pauses, partitions, a full
#                   disk on a 3-node cluster in network namespaces (root)
#   make fuzz       libFuzzer builds of the test/fuzz drivers (needs clang)
#   make bench-failover / bench-puts / bench-push   benchmarks (see docs/benchmarks.md)
#   make bench-register / bench-query / bench-memory   one-node naming figures
#   make bench-grpc   the 2.x gRPC protocol's figures (bench/grpc.c)
#   make bench-distro the AP cluster's figures (bench/distro.c)
#   make bench-auth   what auth costs: instance/list and gRPC registrations,
#                     auth off vs on (bench/auth.sh)

BUILD ?= build
OPT ?= -O2
SAN ?=
V ?= 0

# Debian packages the build needs (libraries, code generator, test framework).
DEPS_BUILD := gcc make pkg-config libraft-dev libuv1-dev libprotobuf-c-dev \
	protobuf-c-compiler libprotobuf-dev libnghttp2-dev libsqlite3-dev libjansson-dev \
	libhttp-parser-dev uthash-dev libsodium-dev libxxhash-dev libcmocka-dev \
	zlib1g-dev sqlite3 libssl-dev libcrypt-dev
# Network namespaces and silent partitions (bench/netns.c): test-faults and
# the benchmarks that cut members apart; make test installs them too, so the
# partition tests run wherever root may make namespaces (they say SKIP and why
# where it may not).
DEPS_NETNS := iproute2 nftables
# Peers and load tools the benchmarks drive.
DEPS_BENCH := etcd-server etcd-client wrk hyperfine nghttp2-client $(DEPS_NETNS)

PKGS := raft libuv libprotobuf-c libnghttp2 sqlite3 jansson libsodium \
	libxxhash zlib libcrypto libxcrypt

# Recursive '=' so pkg-config only runs when something is compiled, after
# 'make deps' has had a chance to install it.
PKG_CFLAGS = $(shell pkg-config --cflags $(PKGS))
PKG_LIBS = $(shell pkg-config --libs $(PKGS))

WARN := -Wall -Wextra -Wshadow -Wstrict-prototypes -Wformat=2 -Werror
CFLAGS := -std=c11 -D_GNU_SOURCE $(WARN) $(OPT) -g $(SAN) -MMD -MP \
	-I. -I$(BUILD)/gen
LDFLAGS := $(SAN)
LDLIBS = $(PKG_LIBS) -lhttp_parser -lpthread -lm

ifeq ($(V),0)
Q := @
else
Q :=
endif

MODULES := common members raft statemachine snapshots naming distro auth rpc server
# Sources live in each module's folder and its subfolders (naming/core, ...).
PROTOS := $(shell find $(MODULES) -name '*.proto')
GEN_C := $(patsubst %.proto,$(BUILD)/gen/%.pb-c.c,$(PROTOS))
GEN_H := $(GEN_C:.c=.h)

# locusctl's own files are not part of the library locusd links.
LOCUSCTL_SRCS := server/locusctl.c server/locusctl_auth.c server/locusctl_users.c
MAINS := server/locusd.c $(LOCUSCTL_SRCS)
LIB_SRCS := $(filter-out $(MAINS),$(shell find $(MODULES) -name '*.c'))
LIB_OBJS := $(patsubst %.c,$(BUILD)/obj/%.o,$(LIB_SRCS)) \
	$(patsubst $(BUILD)/gen/%.c,$(BUILD)/obj/gen/%.o,$(GEN_C))
LIB := $(BUILD)/liblocus.a
# bench/ (benchmarks, and the real-process clusters tests start) is its own
# archive, linked into locusctl and the test binaries, never into locusd.
BENCH_OBJS := $(patsubst %.c,$(BUILD)/obj/%.o,$(shell find bench -name '*.c'))
BENCH_LIB := $(BUILD)/liblocus-bench.a

UNIT_TESTS := $(patsubst test/%.c,$(BUILD)/test/%,$(wildcard test/unit/test_*.c))
RAFT_TESTS := $(patsubst test/%.c,$(BUILD)/test/%,$(wildcard test/raft/test_*.c))
CLUSTER_TESTS := $(patsubst test/%.c,$(BUILD)/test/%,$(wildcard test/cluster/test_*.c))
TEST_SUPPORT := $(patsubst %.c,$(BUILD)/obj/%.o,$(wildcard test/support/*.c))
# Fuzz drivers replayed over their seed corpora (see "fuzzing" below).
FUZZ_NAMES := $(patsubst test/fuzz/fuzz_%.c,%,$(wildcard test/fuzz/fuzz_*.c))
FUZZ_REPLAYS := $(patsubst %,$(BUILD)/test/fuzz/fuzz_%,$(FUZZ_NAMES))
ALL_TESTS := $(UNIT_TESTS) $(RAFT_TESTS) $(FUZZ_REPLAYS) $(CLUSTER_TESTS)

.PHONY: all deps deps-bench deps-netns deps-node deps-java run cluster cluster-stop test test-unit \
	check-layers test-cluster test-faults test-compat test-compat-run test-java test-java-run asan ubsan \
	bench-failover bench-puts bench-push clean fuzz format bench-register bench-query \
	bench-memory bench-grpc bench-distro bench-auth

all: $(BUILD)/locusd $(BUILD)/locusctl

# Keep generated sources and objects between runs.
.SECONDARY:

# ---------------------------------------------------------------- packages

deps:
	@missing=""; for p in $(DEPS_BUILD); do \
		dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q 'ok installed' || missing="$$missing $$p"; \
	done; \
	if [ -n "$$missing" ]; then \
		echo "locus: installing missing Debian packages:$$missing"; \
		if [ "$$(id -u)" = 0 ]; then sudo=""; \
		elif command -v sudo >/dev/null; then sudo=sudo; \
		else echo "locus: need root or sudo to install:$$missing" >&2; exit 1; fi; \
		$$sudo apt-get update -qq && \
		DEBIAN_FRONTEND=noninteractive $$sudo apt-get install -y -qq --no-install-recommends $$missing \
		|| { echo "locus: apt-get could not install:$$missing (is this Debian 12 with network access?)" >&2; exit 1; }; \
	fi

# Node.js and npm for test/compat (any Node >= 18; Debian 12 has 18). Only
# installed when `node` or `npm` is missing, so a newer Node from elsewhere
# is kept.
deps-node:
	@if ! command -v node >/dev/null || ! command -v npm >/dev/null; then \
		$(MAKE) --no-print-directory deps DEPS_BUILD="nodejs npm"; \
	fi

# The JDK and the Debian jars the real Nacos Java client links against
# (test/compat-java), only when its directory exists; missing ones only.
deps-java:
	@if [ -d "$(NACOS_JAVA)" ]; then \
		$(MAKE) --no-print-directory deps DEPS_BUILD="$$(tr -s '\n' ' ' < $(NACOS_JAVA)/packages.txt)"; \
	else \
		echo "test-java: skipped: ../shared/nacos-java not found (looked in $(NACOS_JAVA); set NACOS_JAVA=dir)"; \
	fi

deps-bench: deps
	@$(MAKE) --no-print-directory deps DEPS_BUILD="$(DEPS_BENCH)"

deps-netns:
	@$(MAKE) --no-print-directory deps DEPS_BUILD="$(DEPS_NETNS)"

# ---------------------------------------------------------------- build

$(BUILD)/gen/%.pb-c.c $(BUILD)/gen/%.pb-c.h: %.proto
	@mkdir -p $(BUILD)/gen
	$(Q)protoc-c --c_out=$(BUILD)/gen $<

$(BUILD)/obj/gen/%.o: $(BUILD)/gen/%.c
	@mkdir -p $(dir $@)
	$(Q)$(CC) $(filter-out -Wshadow,$(CFLAGS)) $(PKG_CFLAGS) -c $< -o $@

$(BUILD)/obj/%.o: %.c | $(GEN_H)
	@mkdir -p $(dir $@)
	@[ "$(V)" != 0 ] || echo "  CC  $<"
	$(Q)$(CC) $(CFLAGS) $(PKG_CFLAGS) -c $< -o $@

$(LIB): $(LIB_OBJS)
	$(Q)rm -f $@ && ar rcs $@ $^

$(BENCH_LIB): $(BENCH_OBJS)
	$(Q)rm -f $@ && ar rcs $@ $^

$(BUILD)/locusd: $(BUILD)/obj/server/locusd.o $(LIB)
	@echo "  LD  $@"
	$(Q)$(CC) $(LDFLAGS) $^ $(LDLIBS) -o $@

$(BUILD)/locusctl: $(patsubst %.c,$(BUILD)/obj/%.o,$(LOCUSCTL_SRCS)) $(BENCH_LIB) $(LIB)
	@echo "  LD  $@"
	$(Q)$(CC) $(LDFLAGS) $^ $(LDLIBS) -o $@

$(BUILD)/test/%: $(BUILD)/obj/test/%.o $(TEST_SUPPORT) $(BENCH_LIB) $(LIB)
	@mkdir -p $(dir $@)
	$(Q)$(CC) $(LDFLAGS) $^ $(LDLIBS) -lcmocka -o $@

# The fault suite (test/faults, `make test-faults`) is a program, not a
# cmocka binary; its history checker has a unit test of its own.
FAULTS_OBJS := $(patsubst %.c,$(BUILD)/obj/%.o,$(wildcard test/faults/*.c))

$(BUILD)/test/unit/test_history: $(BUILD)/obj/test/faults/history.o

$(BUILD)/test/faults/faults: $(FAULTS_OBJS) $(BENCH_LIB) $(LIB)
	@mkdir -p $(dir $@)
	@echo "  LD  $@"
	$(Q)$(CC) $(LDFLAGS) $^ $(LDLIBS) -o $@

# ---------------------------------------------------------------- run

run: deps
	@$(MAKE) --no-print-directory all
	@mkdir -p data
	$(BUILD)/locusd --standalone --ip 127.0.0.1 --port 8848 --data-dir data

cluster: deps
	@$(MAKE) --no-print-directory all
	$(BUILD)/locusctl cluster start --dir data/cluster --nodes 3 --port 8848 --locusd $(BUILD)/locusd

cluster-stop:
	$(BUILD)/locusctl cluster stop --dir data/cluster

# ---------------------------------------------------------------- tests

# The layering of the includes (rules in test/layers/rules), after a
# self-test on a fixture with known violations. Fast, no build, no network.
check-layers:
	@test/layers/selftest.sh
	@test/layers/check_layers.sh

# Every test: check-layers, the C binaries through test/run, then
# test-compat and test-java (each run even when an earlier one failed; the
# exit status says whether anything failed).
test: deps deps-netns deps-node
	@rc=0; $(MAKE) --no-print-directory check-layers || rc=1; \
	$(MAKE) --no-print-directory all $(ALL_TESTS) || exit 1; \
	BUILD=$(BUILD) test/run $(ALL_TESTS) || rc=1; \
	$(MAKE) --no-print-directory test-compat-run || rc=1; \
	$(MAKE) --no-print-directory test-java-run || rc=1; exit $$rc

test-unit: deps
	@$(MAKE) --no-print-directory $(UNIT_TESTS) $(RAFT_TESTS) $(FUZZ_REPLAYS)
	@BUILD=$(BUILD) test/run $(UNIT_TESTS) $(RAFT_TESTS) $(FUZZ_REPLAYS)

test-cluster: deps
	@$(MAKE) --no-print-directory all $(CLUSTER_TESTS)
	@BUILD=$(BUILD) test/run $(CLUSTER_TESTS)

# The real npm nacos-naming client (version pinned in test/compat's
# package-lock.json) against real locusd processes: see test/compat.
test-compat: deps-node
	@$(MAKE) --no-print-directory all
	@$(MAKE) --no-print-directory test-compat-run

# npm ci when node_modules is missing or older than the lock file.
COMPAT_STAMP := test/compat/node_modules/.locus-installed

$(COMPAT_STAMP): test/compat/package.json test/compat/package-lock.json
	@echo "  NPM test/compat (npm ci)"
	$(Q)cd test/compat && npm ci --no-audit --no-fund --loglevel=error
	@touch $@

test-compat-run: $(COMPAT_STAMP)
	@echo "  compat: nacos-naming against $(BUILD)/locusd"
	@cd test/compat && LOCUSD=$(abspath $(BUILD)/locusd) node compat.test.js

# The real Nacos Java client 2.4.3 (gRPC) against a real locusd: see
# test/compat-java. Its directory holds the client jar, packages.txt (the
# JDK and Debian jars) and classpath.sh. Default: ../shared/nacos-java
# beside this checkout, else beside the main checkout when this is a git
# worktree; NACOS_JAVA=dir overrides. When it is missing, test-java says
# so and succeeds.
ifndef NACOS_JAVA
NACOS_JAVA := $(firstword $(wildcard $(abspath ../shared/nacos-java) \
	$(abspath $(shell git rev-parse --git-common-dir 2>/dev/null)/../../shared/nacos-java)) \
	$(abspath ../shared/nacos-java))
endif
JAVA_DIR := $(BUILD)/test/compat-java
JAVA_CLASS := $(JAVA_DIR)/classes/NacosCompat.class

test-java:
	@$(MAKE) --no-print-directory deps all
	@$(MAKE) --no-print-directory test-java-run

JAVA_SRCS := $(wildcard test/compat-java/*.java)

$(JAVA_CLASS): $(JAVA_SRCS) $(wildcard $(NACOS_JAVA)/*.jar)
	@echo "  JAVAC test/compat-java"
	@rm -rf $(JAVA_DIR)/classes && mkdir -p $(JAVA_DIR)/classes
	$(Q)cp=$$($(NACOS_JAVA)/classpath.sh) && \
		javac -Xlint:all,-path -Werror -cp "$$cp" -d $(JAVA_DIR)/classes $(JAVA_SRCS)

# The runner (a C driver on test/support/tcluster.h) starts locusd and the
# JVM; the JVMs' homes, logs and caches go to $(JAVA_DIR)/work.
test-java-run:
	@if [ ! -d "$(NACOS_JAVA)" ]; then \
		echo "test-java: skipped: ../shared/nacos-java not found (looked in $(NACOS_JAVA); set NACOS_JAVA=dir)"; \
		exit 0; \
	fi; \
	$(MAKE) --no-print-directory deps-java && \
	$(MAKE) --no-print-directory $(BUILD)/locusd $(JAVA_DIR)/runner $(JAVA_CLASS) && \
	echo "  java: Nacos Java client ($(NACOS_JAVA)) against $(BUILD)/locusd" && \
	rm -rf $(JAVA_DIR)/work && \
	cp=$$($(NACOS_JAVA)/classpath.sh) && \
	JAVA_CP="$(abspath $(JAVA_DIR)/classes):$$cp" JAVA_WORK=$(abspath $(JAVA_DIR)/work) \
	LOCUSD=$(abspath $(BUILD)/locusd) $(JAVA_DIR)/runner

asan:
	@$(MAKE) --no-print-directory test BUILD=build-asan OPT="-O1" \
		SAN="-fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined"

# The fault suite (test/faults, docs/reliability.md): three members in their
# own network namespaces, node 0 an ASan build, under concurrent clients and
# 100 random faults, then the history check. Not part of `make test`; needs
# root. Options through FAULTS_ARGS (e.g. FAULTS_ARGS="--faults 20").
test-faults: deps deps-netns
	@[ "$$(id -u)" = 0 ] || { echo "test-faults: cannot run: it needs root \
	(network namespaces, nftables rules, a tmpfs mount); run it as root" >&2; exit 1; }
	@$(MAKE) --no-print-directory $(BUILD)/locusd $(BUILD)/test/faults/faults
	@$(MAKE) --no-print-directory BUILD=build-asan OPT="-O1" \
		SAN="-fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined" \
		build-asan/locusd
	flock /tmp/locus-cluster.lock $(BUILD)/test/faults/faults --locusd $(BUILD)/locusd \
		--locusd-asan build-asan/locusd $(FAULTS_ARGS)

ubsan:
	@$(MAKE) --no-print-directory test BUILD=build-ubsan OPT="-O1" \
		SAN="-fsanitize=undefined -fno-sanitize-recover=undefined"

# ---------------------------------------------------------------- fuzzing

# Every driver test/fuzz/fuzz_<name>.c, with its seeds in
# test/fuzz/corpus/<name>/, is built twice, against the project's library
# (so a driver's dependencies come from the library, not from a list here):
#
# - by `make test` (and `make asan`, under the sanitizers) with the normal
#   compiler and test/fuzz/replay.c as its main, into $(BUILD)/test/fuzz/,
#   and run over its seeds: a crash or abort fails the run. No clang needed.
# - by `make fuzz` with clang and libFuzzer, the library built again with
#   clang's coverage and sanitizers under build-fuzz/, into
#   build-fuzz/fuzz_<name>. Run one with a scratch corpus first (new inputs
#   go there), the seeds second:
#     build-fuzz/fuzz_http_request /tmp/corpus test/fuzz/corpus/http_request \
#       -max_total_time=120
FUZZ_CC ?= clang
FUZZ_SAN := -fsanitize=fuzzer-no-link,address,undefined \
	-fno-sanitize-recover=undefined -fno-omit-frame-pointer

$(BUILD)/test/fuzz/fuzz_%: $(BUILD)/obj/test/fuzz/fuzz_%.o \
		$(BUILD)/obj/test/fuzz/replay.o $(LIB)
	@mkdir -p $(dir $@)
	$(Q)$(CC) $(LDFLAGS) $^ $(LDLIBS) -o $@

fuzz: deps
	@command -v $(FUZZ_CC) >/dev/null || { echo "locus: make fuzz needs \
	$(FUZZ_CC) with libFuzzer (apt-get install clang)" >&2; exit 1; }
	@$(MAKE) --no-print-directory BUILD=build-fuzz CC=$(FUZZ_CC) OPT=-O1 \
		SAN="$(FUZZ_SAN)" $(patsubst %,build-fuzz/fuzz_%,$(FUZZ_NAMES))

build-fuzz/fuzz_%: build-fuzz/obj/test/fuzz/fuzz_%.o build-fuzz/liblocus.a
	@echo "  LD  $@"
	$(Q)$(FUZZ_CC) $(LDFLAGS) -fsanitize=fuzzer $^ $(LDLIBS) -o $@

# ---------------------------------------------------------------- benchmarks

bench-failover: deps deps-netns
	@$(MAKE) --no-print-directory all
	$(BUILD)/locusctl bench failover --locusd $(BUILD)/locusd --dir data/bench-failover

bench-push: deps
	@$(MAKE) --no-print-directory all
	$(BUILD)/locusctl bench push --locusd $(BUILD)/locusd --dir data/bench-push

# Naming on one standalone node (docs/benchmarks.md): registrations/s
# (ephemeral, then persistent), instance/list queries/s, and RSS with
# 100,000 instances. Each starts its own locusd under data/bench-naming.
bench-register: deps
	@$(MAKE) --no-print-directory all
	$(BUILD)/locusctl bench register --ephemeral --locusd $(BUILD)/locusd --dir data/bench-naming
	$(BUILD)/locusctl bench register --persistent --locusd $(BUILD)/locusd --dir data/bench-naming

bench-query: deps
	@$(MAKE) --no-print-directory all
	$(BUILD)/locusctl bench query --locusd $(BUILD)/locusd --dir data/bench-naming

bench-memory: deps
	@$(MAKE) --no-print-directory all
	$(BUILD)/locusctl bench memory --locusd $(BUILD)/locusd --dir data/bench-naming

bench-puts: deps-bench
	@$(MAKE) --no-print-directory all
	BENCH_LOCUSD=$(BUILD)/locusd BENCH_LOCUSCTL=$(BUILD)/locusctl bench/puts_vs_etcd.sh
	BENCH_LOCUSD=$(BUILD)/locusd BENCH_LOCUSCTL=$(BUILD)/locusctl bench/grpc_puts_vs_etcd.sh

# The 2.x gRPC protocol: registrations/s, push latency with 1,000 and 10,000
# subscribed connections, RSS of 10,000 idle connections, a reconnect storm,
# persistent writes against etcd's gRPC Put (docs/benchmarks.md).
bench-grpc: deps-bench
	@$(MAKE) --no-print-directory all
	$(BUILD)/locusctl bench grpc register --locusd $(BUILD)/locusd
	$(BUILD)/locusctl bench grpc push --subscribers 1000 --locusd $(BUILD)/locusd
	$(BUILD)/locusctl bench grpc push --subscribers 10000 --locusd $(BUILD)/locusd
	$(BUILD)/locusctl bench grpc idle --conns 10000 --locusd $(BUILD)/locusd
	$(BUILD)/locusctl bench grpc storm --conns 10000 --locusd $(BUILD)/locusd
	bench/grpc_puts_vs_etcd.sh

# The AP cluster on its own 3 members: convergence under load, aggregate
# ephemeral registrations/s, restart to UP with 100,000 and 1,000,000
# instances held by the peers (docs/benchmarks.md).
bench-distro: deps
	@$(MAKE) --no-print-directory all
	$(BUILD)/locusctl bench distro --locusd $(BUILD)/locusd

clean:
	rm -rf build build-asan build-ubsan build-fuzz

format:
	clang-format -i $(shell find $(MODULES) bench test -name '*.[ch]' \
		-not -path '*/node_modules/*' -not -path 'test/layers/fixture/*')

-include $(shell find $(BUILD)/obj -name '*.d' 2>/dev/null)

# What auth costs: instance/list (wrk; a token, or username+password on each
# request as the npm client) and gRPC registrations (a token), auth off vs
# on, alternated on two standalone nodes (bench/auth.sh, docs/benchmarks.md).
bench-auth: deps-bench
	@$(MAKE) --no-print-directory all
	BENCH_LOCUSD=$(BUILD)/locusd BENCH_LOCUSCTL=$(BUILD)/locusctl bench/auth.sh
