# acctd — build, test, run, bench, install, cross builds.
#
#   make                          host build (build/host/)
#   make TARGET=aarch64-linux-gnu static, stripped ARM64 binaries
#   make TARGET=arm-linux-gnueabihf static, stripped ARMv7 binaries
#   make test                     every test this host can run (see README)
#   make run                      start acctd on https://127.0.0.1:8443
#   make SANITIZE=1               ASan + UBSan build (build/host-asan/)
#   make SANITIZE=thread          ThreadSanitizer build (build/host-tsan/, its
#                                 own instrumented sysroot); `make
#                                 SANITIZE=thread all unit api` runs the suites
#   make deps-check               each library pin beside the newest Debian version
#   make install DESTDIR= PREFIX=  (SBINDIR LIBEXECDIR SYSCONFDIR MANDIR UNITDIR)
#   make deb TARGET=…             Debian packages in build/deb/ (docs/packaging.md)
#   make deb-test                 install the amd64 packages here, check, purge (root)
#   make docs-check               man pages, settings vs docs, scripts, units
#   make clean                    V=1 shows full command lines
#
# Missing Debian packages are installed by the targets that need them
# (toolchain/prereqs.sh), so a fresh Debian 12 machine needs only make.

TARGET   ?= host
DESTDIR  ?=
SANITIZE ?= 0
V        ?= 0

ifeq ($(TARGET),host)
CROSS_COMPILE ?=
STATIC   ?= 0
QEMU     :=
else ifeq ($(TARGET),aarch64-linux-gnu)
CROSS_COMPILE ?= aarch64-linux-gnu-
STATIC   ?= 1
QEMU     := qemu-aarch64 -L /usr/aarch64-linux-gnu
CROSS_PKG := crossbuild-essential-arm64
else ifeq ($(TARGET),arm-linux-gnueabihf)
CROSS_COMPILE ?= arm-linux-gnueabihf-
STATIC   ?= 1
QEMU     := qemu-arm -L /usr/arm-linux-gnueabihf
CROSS_PKG := crossbuild-essential-armhf
else
$(error TARGET must be host, aarch64-linux-gnu or arm-linux-gnueabihf)
endif

CC    := $(CROSS_COMPILE)gcc
AR    := $(CROSS_COMPILE)ar
STRIP := $(CROSS_COMPILE)strip

ifeq ($(V),1)
Q :=
else
Q := @
MAKEFLAGS += --no-print-directory
endif

BUILD   := build
SYSROOT := $(BUILD)/$(TARGET)/sysroot
DEPS_OBJ := $(BUILD)/$(TARGET)/deps
DEPS_SAN :=
ifeq ($(SANITIZE),1)
B := $(BUILD)/$(TARGET)-asan
SAN_FLAGS := -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined
STATIC := 0
else ifeq ($(SANITIZE),thread)
# ThreadSanitizer sees a race only where both accesses are instrumented, and
# the races of finding 6 are inside mbedTLS and civetweb: so this build has
# its own sysroot, with mbedTLS, civetweb, libconfig, cJSON and cmocka built
# with -fsanitize=thread. LMDB is left uninstrumented: its reader slots are
# written by readers and scanned by the writer without locks by design
# (documented in lmdb.h), which TSan would report; its mutexes are still
# seen (TSan intercepts pthread), so acctd's own use of it is checked.
# Nor is mbedTLS's pure arithmetic (bignum, field reductions, hashes,
# AES/GCM: the list and why in toolchain/deps.mk); its callers, ECP and
# ECDSA included, stay instrumented.
ifneq ($(TARGET),host)
$(error SANITIZE=thread is for the host build)
endif
B := $(BUILD)/$(TARGET)-tsan
SAN_FLAGS := -fsanitize=thread -fno-omit-frame-pointer
DEPS_SAN := -fsanitize=thread
SYSROOT := $(B)/sysroot
DEPS_OBJ := $(B)/deps
STATIC := 0
else
B := $(BUILD)/$(TARGET)
SAN_FLAGS :=
endif

WARN := -Wall -Wextra -Wshadow -Wstrict-prototypes -Wmissing-prototypes -Wformat=2 -Werror
HARDEN := -fstack-protector-strong -D_FORTIFY_SOURCE=2
ACCTD_CFLAGS := -std=c11 -D_GNU_SOURCE -O2 -g $(WARN) $(HARDEN) $(SAN_FLAGS) \
	-ffunction-sections -fdata-sections \
	-I$(SYSROOT)/include -Isrc/common \
	-DMBEDTLS_CONFIG_FILE='"mbedtls/acctd_config.h"' -MMD -MP
ifeq ($(STATIC),1)
# the ARM binaries: drop every function a program does not reach
LDSTATIC := -static -Wl,--gc-sections
endif
# user CFLAGS/LDFLAGS are appended, never replace ours
ALL_CFLAGS  = $(ACCTD_CFLAGS) $(CFLAGS)
ALL_LDFLAGS = $(SAN_FLAGS) $(LDSTATIC) $(LDFLAGS)

# --- sources ----------------------------------------------------------------
# Two programs with a visible border (docs/design.md "Layout"):
#   src/common/  both programs: log, mem, priv, crypto, json, secret, the
#                handle, the push message, cfg, addr, file, daemon, cred
#                (common.h; no LMDB, no civetweb)
#   src/acctd/   the gateway daemon (acctd.h): store, HTTPS, page, handlers
#   src/agent/   the node agent (agent.h): what ships to every node
#   src/cli/     acctd-cli (cli.h): a user's client of the API
# Each binary links its own object list; each unit test links only its side.
COMMON_OBJS := $(patsubst src/%.c,$(B)/obj/%.o,$(wildcard src/common/*.c))
ACCTD_OBJS  := $(patsubst src/%.c,$(B)/obj/%.o,$(filter-out src/acctd/main.c,$(wildcard src/acctd/*.c))) \
	$(B)/obj/gen/openapi.o $(B)/obj/gen/web.o
AGENT_OBJS  := $(patsubst src/%.c,$(B)/obj/%.o,$(filter-out src/agent/agent_main.c,$(wildcard src/agent/*.c)))
ACCTD_LIBS  := -L$(SYSROOT)/lib -lcivetweb -lmbedtls -llmdb -lconfig -lcjson -lpthread -ldl -lm
AGENT_LIBS  := -L$(SYSROOT)/lib -lmbedtls -lconfig -lcjson -lpthread -lm
CLI_OBJS    := $(patsubst src/%.c,$(B)/obj/%.o,$(wildcard src/cli/*.c))
UNIT_TESTS  := $(patsubst tests/unit/%.c,$(B)/tests/%,$(wildcard tests/unit/*/test_*.c))

all: $(B)/acctd $(B)/acctd-agent $(B)/acctd-cli

# --- prerequisites (Debian packages) ---------------------------------------
PKGS_BUILD := gcc make libc6-dev dpkg-dev patch ca-certificates
PKGS_TEST  := openssl python3 qemu-user curl dnsmasq-base bind9-dnsutils postgresql util-linux \
	sslscan valgrind rsyslog rsyslog-gnutls
prereqs-build:
	$(Q)toolchain/prereqs.sh $(PKGS_BUILD) $(CROSS_PKG)
prereqs-test: prereqs-build
	$(Q)toolchain/prereqs.sh $(PKGS_TEST)
.PHONY: prereqs-build prereqs-test

# --- third-party libraries from Debian source packages ----------------------
$(BUILD)/src/.fetched: toolchain/sources.lock toolchain/fetch.sh $(wildcard toolchain/patches/*/*.patch) | prereqs-build
	$(Q)toolchain/fetch.sh $(CURDIR)/$(BUILD)
	$(Q)touch $@

$(SYSROOT)/.stamp: $(BUILD)/src/.fetched toolchain/deps.mk toolchain/mbedtls_config.h
	$(Q)$(MAKE) -f toolchain/deps.mk SRC=$(BUILD)/src OBJ=$(DEPS_OBJ) \
		SYSROOT=$(SYSROOT) CC=$(CC) AR=$(AR) V=$(V) SAN_CFLAGS="$(DEPS_SAN)"
	$(Q)touch $@

deps: $(SYSROOT)/.stamp
# each pin of toolchain/sources.lock beside the newest version the
# configured Debian releases offer (docs/dependencies.md)
deps-check: prereqs-build
	$(Q)toolchain/fetch.sh $(CURDIR)/$(BUILD) --check
.PHONY: deps deps-check

# --- objects: each side sees common.h and its own header only ------------------
$(B)/obj/common/%.o: src/common/%.c $(SYSROOT)/.stamp
	@mkdir -p $(@D)
	@$(if $(Q),echo "  CC      $<")
	$(Q)$(CC) $(ALL_CFLAGS) -c $< -o $@
$(B)/obj/acctd/%.o: src/acctd/%.c $(SYSROOT)/.stamp
	@mkdir -p $(@D)
	@$(if $(Q),echo "  CC      $<")
	$(Q)$(CC) $(ALL_CFLAGS) -Isrc/acctd -c $< -o $@
$(B)/obj/agent/%.o: src/agent/%.c $(SYSROOT)/.stamp
	@mkdir -p $(@D)
	@$(if $(Q),echo "  CC      $<")
	$(Q)$(CC) $(ALL_CFLAGS) -Isrc/agent -c $< -o $@
$(B)/obj/cli/%.o: src/cli/%.c $(SYSROOT)/.stamp
	@mkdir -p $(@D)
	@$(if $(Q),echo "  CC      $<")
	$(Q)$(CC) $(ALL_CFLAGS) -Isrc/cli $(if $(LDSTATIC),-DCLI_NO_NSS) -c $< -o $@

# embedded assets: the OpenAPI document and the page (both served by acctd)
$(B)/gen/openapi.c: docs/openapi.json tools/embed.sh
	@mkdir -p $(@D)
	$(Q)tools/embed.sh openapi_json $< $@
$(B)/obj/gen/openapi.o: $(B)/gen/openapi.c
	@mkdir -p $(@D)
	$(Q)$(CC) $(filter-out -MMD -MP,$(ALL_CFLAGS)) -Wno-missing-variable-declarations -c $< -o $@

$(B)/gen/web.c: $(wildcard web/*) tools/embed-web.sh
	@mkdir -p $(@D)
	$(Q)tools/embed-web.sh web $@
$(B)/obj/gen/web.o: $(B)/gen/web.c src/acctd/acctd.h src/common/common.h
	@mkdir -p $(@D)
	$(Q)$(CC) $(filter-out -MMD -MP,$(ALL_CFLAGS)) -Isrc/acctd -c $< -o $@

$(B)/acctd: $(B)/obj/acctd/main.o $(ACCTD_OBJS) $(COMMON_OBJS)
	@$(if $(Q),echo "  LD      $@")
	$(Q)$(CC) $(ALL_LDFLAGS) -o $@ $^ $(ACCTD_LIBS)
ifeq ($(STATIC),1)
	$(Q)$(STRIP) $@
endif

# the node side of the push (docs/agent.md): no LMDB, no civetweb, no page
$(B)/acctd-agent: $(B)/obj/agent/agent_main.o $(AGENT_OBJS) $(COMMON_OBJS)
	@$(if $(Q),echo "  LD      $@")
	$(Q)$(CC) $(ALL_LDFLAGS) -o $@ $^ $(AGENT_LIBS)
ifeq ($(STATIC),1)
	$(Q)$(STRIP) $@
endif

# a user's client of the API (acctd-cli.1): common's objects and mbedTLS
$(B)/acctd-cli: $(CLI_OBJS) $(COMMON_OBJS)
	@$(if $(Q),echo "  LD      $@")
	$(Q)$(CC) $(ALL_LDFLAGS) -o $@ $^ $(AGENT_LIBS)
ifeq ($(STATIC),1)
	$(Q)$(STRIP) $@
endif

# --- unit tests (cmocka), tests/unit/{common,acctd,agent}/ ------------------------
$(B)/tests/common/%: tests/unit/common/%.c tests/unit/fixture.h $(COMMON_OBJS) $(SYSROOT)/.stamp
	@mkdir -p $(@D)
	@$(if $(Q),echo "  TEST    $@")
	$(Q)$(CC) $(ALL_CFLAGS) -Itests/unit $(ALL_LDFLAGS) -o $@ $< $(COMMON_OBJS) $(AGENT_LIBS) -lcmocka
$(B)/tests/acctd/%: tests/unit/acctd/%.c tests/unit/fixture.h tests/unit/acctd/fixture_acctd.h $(ACCTD_OBJS) $(COMMON_OBJS) $(SYSROOT)/.stamp
	@mkdir -p $(@D)
	@$(if $(Q),echo "  TEST    $@")
	$(Q)$(CC) $(ALL_CFLAGS) -Isrc/acctd -Itests/unit $(ALL_LDFLAGS) -o $@ $< $(ACCTD_OBJS) $(COMMON_OBJS) $(ACCTD_LIBS) -lcmocka
$(B)/tests/agent/%: tests/unit/agent/%.c tests/unit/fixture.h $(AGENT_OBJS) $(COMMON_OBJS) $(SYSROOT)/.stamp
	@mkdir -p $(@D)
	@$(if $(Q),echo "  TEST    $@")
	$(Q)$(CC) $(ALL_CFLAGS) -Isrc/agent -Itests/unit $(ALL_LDFLAGS) -o $@ $< $(AGENT_OBJS) $(COMMON_OBJS) $(AGENT_LIBS) -lcmocka

# test_85_export's helper: fills a stopped acctd's audit ring in seconds
$(B)/tests/audit-fill: tests/api/audit_fill.c $(ACCTD_OBJS) $(COMMON_OBJS) $(SYSROOT)/.stamp
	@mkdir -p $(@D)
	@$(if $(Q),echo "  LD      $@")
	$(Q)$(CC) $(ALL_CFLAGS) -Isrc/acctd $(ALL_LDFLAGS) -o $@ $< $(ACCTD_OBJS) $(COMMON_OBJS) $(ACCTD_LIBS)

unit: $(UNIT_TESTS)
	$(Q)tests/run-unit.sh "$(QEMU)" $(UNIT_TESTS)
.PHONY: unit

# --- the whole suite ------------------------------------------------------------
# On the host, one stage after another (tests/run-stages.sh prints each
# stage's wall time at the end): the host build, unit, API, fuzz smoke,
# browser, valgrind and short storm runs; both ARM targets (their unit tests
# under qemu-user); the ASan + UBSan build and suites; the ThreadSanitizer
# build and suites. Stages run in order, not side by side: the API suites
# hold timing-sensitive checks (lockouts, deadlines) that two cores shared
# with a compiler would make flaky. Inside a stage the API files run
# API_JOBS (4) at a time and unit binaries UNIT_JOBS (2) at a time: the API
# suite mostly waits, and each file or binary has its own dirs and ports.
ifeq ($(TARGET),host)
test: prereqs-test
	$(Q)$(MAKE) -j2 all
	$(Q)tests/run-stages.sh $(BUILD)/test-logs 'unit=$(MAKE) unit' 'api=$(MAKE) api' \
		'docs=$(MAKE) docs-check' 'deb=$(MAKE) deb-test' \
		'fuzz-smoke=$(MAKE) -j2 fuzz-build && $(MAKE) fuzz-smoke' $(if $(wildcard tests/e2e/package.json),'e2e=$(MAKE) e2e') \
		'valgrind=$(MAKE) valgrind' 'storm-short=$(MAKE) storm-short' \
		'aarch64=$(MAKE) -j2 TARGET=aarch64-linux-gnu all && $(MAKE) TARGET=aarch64-linux-gnu unit deb' \
		'armhf=$(MAKE) -j2 TARGET=arm-linux-gnueabihf all && $(MAKE) TARGET=arm-linux-gnueabihf unit deb' \
		'backup-cross=$(MAKE) backup-cross' \
		'asan=$(MAKE) -j2 SANITIZE=1 all && $(MAKE) SANITIZE=1 unit api' \
		'tsan=$(MAKE) -j2 SANITIZE=thread all && $(MAKE) SANITIZE=thread unit api'
	@echo "make test: all suites passed"
else
test: prereqs-test
	$(Q)$(MAKE) all unit
	$(Q)$(QEMU) $(B)/acctd -V
endif

# the unit tests under valgrind's memcheck (host build; leaks at exit fail)
valgrind: $(UNIT_TESTS) prereqs-test
	$(Q)tests/run-valgrind.sh $(UNIT_TESTS)
.PHONY: valgrind

# --- fault storms (README "Fault storms", tests/storm/) --------------------------
#   make storm [STORM_ROUNDS=50 STORM_CLIENTS=32 STORM_SECONDS=1.5 STORM_FLAP_SECONDS=180]
#   make storm-short   the same storms, small (make test)
STORM_ROUNDS       ?= 50
STORM_CLIENTS      ?= 32
STORM_SECONDS      ?= 1.5
STORM_FLAP_SECONDS ?= 180
storm: $(B)/acctd $(B)/acctd-agent prereqs-test
	$(Q)ACCTD_BIN=$(CURDIR)/$(B)/acctd python3 tests/storm/storm.py --rounds $(STORM_ROUNDS) \
		--clients $(STORM_CLIENTS) --seconds $(STORM_SECONDS) \
		--flap-seconds $(STORM_FLAP_SECONDS) --agent-kill
storm-short: $(B)/acctd $(B)/acctd-agent prereqs-test
	$(Q)ACCTD_BIN=$(CURDIR)/$(B)/acctd python3 tests/storm/storm.py --rounds 8 \
		--clients 32 --seconds 1 --flap-seconds 10 --full-seconds 2
.PHONY: storm storm-short

api: $(B)/acctd $(B)/tests/audit-fill
	$(Q)ACCTD_BIN=$(CURDIR)/$(B)/acctd python3 tests/api/run.py
.PHONY: test api

# a backup made on each target restores on the others (README "Backup and
# restore"): the host's acctd and both ARM builds under qemu-user
backup-cross: $(B)/acctd
	$(Q)$(MAKE) -j2 TARGET=aarch64-linux-gnu all && $(MAKE) -j2 TARGET=arm-linux-gnueabihf all
	$(Q)ACCTD_BIN=$(CURDIR)/$(B)/acctd ACCTD_CROSS="qemu-aarch64:/usr/aarch64-linux-gnu:$(CURDIR)/$(BUILD)/aarch64-linux-gnu/acctd qemu-arm:/usr/arm-linux-gnueabihf:$(CURDIR)/$(BUILD)/arm-linux-gnueabihf/acctd" \
		python3 tests/api/run.py 'cross_*.py'
.PHONY: backup-cross

# browser tests: Debian's Chromium driven by playwright-core (npm). Two
# files at a time where node's runner can (node >= 20.10; each file has its
# own daemon, port, browser and screenshot names): they mostly wait on
# the page
e2e: $(B)/acctd
	$(Q)toolchain/prereqs.sh chromium
	$(Q)command -v node >/dev/null && command -v npm >/dev/null || toolchain/prereqs.sh nodejs npm
	$(Q)cd tests/e2e && npm ci --no-audit --no-fund --loglevel=error
	$(Q)ACCTD_BIN=$(CURDIR)/$(B)/acctd node --test \
		$$(node --help | grep -q -- --test-concurrency && echo --test-concurrency=2) tests/e2e/
.PHONY: e2e

# --- fuzzing (README "Fuzzing", tests/fuzz/) ------------------------------------
# libFuzzer targets with ASan + UBSan, built by Debian's clang-14 in
# build/host-fuzz/: the sources of the side a target exercises (fuzz_agent_*:
# the agent's, the others acctd's; both with common), compiled again with
# clang and linked with the host sysroot that gcc built (same C ABI).
#   make fuzz [FUZZ_SECONDS=N]   every target N s (one line each; exit 1 on a crash)
#   make fuzz-smoke              the committed corpora + FUZZ_SMOKE_SECONDS each (make test)
FUZZ_SECONDS       ?= 30
FUZZ_SMOKE_SECONDS ?= 2
FUZZ_B    := $(BUILD)/host-fuzz
FUZZ_CC   := clang-14
PKGS_FUZZ := clang-14 libclang-rt-14-dev libfuzzer-14-dev openssl
FUZZ_SAN  := -fsanitize=address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer
FUZZ_CFLAGS = -std=c11 -D_GNU_SOURCE -O1 -g $(WARN) $(FUZZ_SAN) -fsanitize=fuzzer-no-link \
	-I$(BUILD)/host/sysroot/include -Isrc/common \
	-DMBEDTLS_CONFIG_FILE='"mbedtls/acctd_config.h"' -MMD -MP $(CFLAGS)
FUZZ_COMMON := $(patsubst $(B)/%,$(FUZZ_B)/%,$(COMMON_OBJS))
FUZZ_ACCTD  := $(patsubst $(B)/%,$(FUZZ_B)/%,$(ACCTD_OBJS))
FUZZ_AGENT  := $(patsubst $(B)/%,$(FUZZ_B)/%,$(AGENT_OBJS))
FUZZ_NAMES := $(patsubst tests/fuzz/%.c,%,$(wildcard tests/fuzz/fuzz_*.c))
FUZZ_BINS := $(addprefix $(FUZZ_B)/,$(FUZZ_NAMES))

ifeq ($(TARGET)$(SANITIZE),host0)
prereqs-fuzz: prereqs-build
	$(Q)toolchain/prereqs.sh $(PKGS_FUZZ)
.PHONY: prereqs-fuzz

$(FUZZ_B)/obj/common/%.o: src/common/%.c $(SYSROOT)/.stamp | prereqs-fuzz
	@mkdir -p $(@D)
	@$(if $(Q),echo "  FUZZCC  $<")
	$(Q)$(FUZZ_CC) $(FUZZ_CFLAGS) -c $< -o $@
$(FUZZ_B)/obj/acctd/%.o: src/acctd/%.c $(SYSROOT)/.stamp | prereqs-fuzz
	@mkdir -p $(@D)
	@$(if $(Q),echo "  FUZZCC  $<")
	$(Q)$(FUZZ_CC) $(FUZZ_CFLAGS) -Isrc/acctd -c $< -o $@
$(FUZZ_B)/obj/agent/%.o: src/agent/%.c $(SYSROOT)/.stamp | prereqs-fuzz
	@mkdir -p $(@D)
	@$(if $(Q),echo "  FUZZCC  $<")
	$(Q)$(FUZZ_CC) $(FUZZ_CFLAGS) -Isrc/agent -c $< -o $@
# the embedded assets, generated by the host build's rules above
$(FUZZ_B)/obj/gen/%.o: $(B)/gen/%.c src/acctd/acctd.h | prereqs-fuzz
	@mkdir -p $(@D)
	$(Q)$(FUZZ_CC) $(filter-out -MMD -MP,$(FUZZ_CFLAGS)) -Isrc/acctd -Wno-missing-variable-declarations -c $< -o $@
$(FUZZ_B)/fuzz_agent_%: tests/fuzz/fuzz_agent_%.c $(FUZZ_AGENT) $(FUZZ_COMMON) | prereqs-fuzz
	@$(if $(Q),echo "  FUZZLD  $@")
	$(Q)$(FUZZ_CC) $(FUZZ_CFLAGS) -Isrc/agent -fsanitize=fuzzer -o $@ $< $(FUZZ_AGENT) $(FUZZ_COMMON) \
		$(subst $(SYSROOT),$(BUILD)/host/sysroot,$(AGENT_LIBS))
$(FUZZ_B)/fuzz_%: tests/fuzz/fuzz_%.c $(FUZZ_ACCTD) $(FUZZ_COMMON) | prereqs-fuzz
	@$(if $(Q),echo "  FUZZLD  $@")
	$(Q)$(FUZZ_CC) $(FUZZ_CFLAGS) -Isrc/acctd -fsanitize=fuzzer -o $@ $< $(FUZZ_ACCTD) $(FUZZ_COMMON) \
		$(subst $(SYSROOT),$(BUILD)/host/sysroot,$(ACCTD_LIBS))
# fuzz_http's server certificate (self-signed, made once)
$(FUZZ_B)/tls.crt: tools/mkcert.sh | prereqs-fuzz
	@mkdir -p $(@D)
	$(Q)tools/mkcert.sh $(FUZZ_B)/tls "acctd fuzz"

# objects only pattern rules name are intermediate to make: keep them
.SECONDARY: $(FUZZ_COMMON) $(FUZZ_ACCTD) $(FUZZ_AGENT)
fuzz-build: $(FUZZ_BINS) $(FUZZ_B)/tls.crt
fuzz: fuzz-build
	$(Q)tests/fuzz/run.sh fuzz $(FUZZ_SECONDS) $(FUZZ_BINS)
fuzz-smoke: fuzz-build
	$(Q)tests/fuzz/run.sh smoke $(FUZZ_SMOKE_SECONDS) $(FUZZ_BINS)
else
fuzz fuzz-smoke fuzz-build:
	$(error make $@ is for the host build: no TARGET= or SANITIZE=)
endif
.PHONY: fuzz fuzz-smoke fuzz-build

-include $(wildcard $(FUZZ_B)/obj/*/*.d $(FUZZ_B)/*.d)

# --- make run --------------------------------------------------------------------
RUN := $(BUILD)/run
run: prereqs-test all
	$(Q)tools/devsetup.sh $(CURDIR)/$(RUN) $(CURDIR)/config/acctd.dev.conf
	$(Q)exec $(B)/acctd -c $(RUN)/acctd.dev.conf
.PHONY: run

# make bench (README "Performance"): the same-run baselines are built here
# from tests/bench/ against this target's sysroot: ping (a bare civetweb
# server on the same patched libraries), ecbench (the handshake's mbedTLS
# math) and lmdbloop (one fsync'd LMDB commit per put). nginx + OpenSSL is
# installed for the comparison only by this target. [BENCH_SECONDS=4
# BENCH_RUNS=3]
BENCH_BINS := $(B)/bench/ping $(B)/bench/ecbench $(B)/bench/lmdbloop $(B)/bench/pushbench
$(B)/bench/ping: tests/bench/ping.c $(SYSROOT)/.stamp
	@mkdir -p $(@D)
	@$(if $(Q),echo "  LD      $@")
	$(Q)$(CC) $(ALL_CFLAGS) $(ALL_LDFLAGS) -o $@ $< -L$(SYSROOT)/lib -lcivetweb -lmbedtls -lpthread -ldl -lm
$(B)/bench/ecbench: tests/bench/ecbench.c $(SYSROOT)/.stamp
	@mkdir -p $(@D)
	@$(if $(Q),echo "  LD      $@")
	$(Q)$(CC) $(ALL_CFLAGS) $(ALL_LDFLAGS) -o $@ $< -L$(SYSROOT)/lib -lmbedtls -lpthread
$(B)/bench/pushbench: tests/bench/pushbench.c $(SYSROOT)/.stamp
	@mkdir -p $(@D)
	@$(if $(Q),echo "  LD      $@")
	$(Q)$(CC) $(ALL_CFLAGS) $(ALL_LDFLAGS) -o $@ $< -L$(SYSROOT)/lib -lmbedtls -lpthread
$(B)/bench/lmdbloop: tests/bench/lmdbloop.c $(SYSROOT)/.stamp
	@mkdir -p $(@D)
	@$(if $(Q),echo "  LD      $@")
	$(Q)$(CC) $(ALL_CFLAGS) $(ALL_LDFLAGS) -o $@ $< -L$(SYSROOT)/lib -llmdb -lpthread
bench-build: $(BENCH_BINS)
bench: prereqs-test all bench-build
	$(Q)toolchain/prereqs.sh wrk nginx
	$(Q)ACCTD_BIN=$(CURDIR)/$(B)/acctd BENCH_BIN=$(CURDIR)/$(B)/bench \
		BENCH_OUT=$(CURDIR)/$(BUILD)/bench python3 tests/bench/bench.py
.PHONY: bench bench-build

# the SIEM forwarder's catch-up after a collector outage (60,000 records;
# SIEM_RECORDS=N, SIEM_TLS=1): README "Audit forwarding to a SIEM"
bench-siem: prereqs-test all
	$(Q)ACCTD_BIN=$(CURDIR)/$(B)/acctd python3 tests/bench/siem_catchup.py
.PHONY: bench-siem

# --- install (docs/packaging.md) ------------------------------------------------------
# Every install path comes from these variables: the units, init scripts and
# sample configs are rendered from platform/**/*.in and config/ into
# build/dist/ (platform/render.sh) with the same values, so `make install
# PREFIX=/usr` and the packages name the binaries where they are.
PREFIX      ?= /usr/local
SBINDIR     ?= $(PREFIX)/sbin
BINDIR      ?= $(PREFIX)/bin
LIBEXECDIR  ?= $(PREFIX)/libexec
SYSCONFDIR  ?= /etc
MANDIR      ?= $(PREFIX)/share/man
UNITDIR     ?= $(PREFIX)/lib/systemd/system
SYSUSERSDIR ?= $(PREFIX)/lib/sysusers.d
DIST := $(BUILD)/dist
MAN_ACCTD := docs/man/acctd.8 docs/man/acctd.conf.5
MAN_AGENT := docs/man/acctd-agent.8 docs/man/acctd-agent.conf.5

dist-render:
	$(Q)platform/render.sh $(DIST) $(SBINDIR) $(LIBEXECDIR) $(SYSCONFDIR)
.PHONY: dist-render

# a sample goes to CONF.sample always, and to CONF only when there is none:
# an installed, edited config is never overwritten
install-acctd: $(B)/acctd dist-render
	install -d $(DESTDIR)$(SBINDIR) $(DESTDIR)$(MANDIR)/man5 $(DESTDIR)$(MANDIR)/man8 \
		$(DESTDIR)$(SYSCONFDIR)/acctd $(DESTDIR)$(UNITDIR) $(DESTDIR)$(SYSUSERSDIR)
	install -m 0755 $(B)/acctd $(DESTDIR)$(SBINDIR)/acctd
	install -m 0644 docs/man/acctd.8 $(DESTDIR)$(MANDIR)/man8/acctd.8
	install -m 0644 docs/man/acctd.conf.5 $(DESTDIR)$(MANDIR)/man5/acctd.conf.5
	install -m 0644 $(DIST)/config/acctd.conf $(DESTDIR)$(SYSCONFDIR)/acctd/acctd.conf.sample
	[ -e $(DESTDIR)$(SYSCONFDIR)/acctd/acctd.conf ] || \
		install -m 0644 $(DIST)/config/acctd.conf $(DESTDIR)$(SYSCONFDIR)/acctd/acctd.conf
	install -m 0644 $(DIST)/systemd/acctd.service $(DESTDIR)$(UNITDIR)/acctd.service
	install -m 0644 platform/systemd/acctd.sysusers $(DESTDIR)$(SYSUSERSDIR)/acctd.conf
	$(if $(DESTDIR),,platform/adduser.sh /var/lib/acctd)
install-agent: $(B)/acctd-agent dist-render
	install -d $(DESTDIR)$(SBINDIR) $(DESTDIR)$(MANDIR)/man5 $(DESTDIR)$(MANDIR)/man8 \
		$(DESTDIR)$(SYSCONFDIR)/acctd $(DESTDIR)$(UNITDIR) $(DESTDIR)$(SYSUSERSDIR) \
		$(DESTDIR)$(LIBEXECDIR)/acctd
	install -m 0755 $(B)/acctd-agent $(DESTDIR)$(SBINDIR)/acctd-agent
	install -m 0755 platform/linux/apply-postgres $(DESTDIR)$(LIBEXECDIR)/acctd/apply-postgres
	install -m 0644 docs/man/acctd-agent.8 $(DESTDIR)$(MANDIR)/man8/acctd-agent.8
	install -m 0644 docs/man/acctd-agent.conf.5 $(DESTDIR)$(MANDIR)/man5/acctd-agent.conf.5
	install -m 0644 $(DIST)/config/acctd-agent.conf $(DESTDIR)$(SYSCONFDIR)/acctd/acctd-agent.conf.sample
	[ -e $(DESTDIR)$(SYSCONFDIR)/acctd/acctd-agent.conf ] || \
		install -m 0644 $(DIST)/config/acctd-agent.conf $(DESTDIR)$(SYSCONFDIR)/acctd/acctd-agent.conf
	install -m 0644 $(DIST)/systemd/acctd-agent.service $(DESTDIR)$(UNITDIR)/acctd-agent.service
	install -m 0644 platform/systemd/acctd.sysusers $(DESTDIR)$(SYSUSERSDIR)/acctd-agent.conf
	$(if $(DESTDIR),,platform/adduser.sh /var/lib/acctd-agent)
# a user's command (docs/man/acctd-cli.1): on their machine, or the appliance
install-cli: $(B)/acctd-cli
	install -d $(DESTDIR)$(BINDIR) $(DESTDIR)$(MANDIR)/man1
	install -m 0755 $(B)/acctd-cli $(DESTDIR)$(BINDIR)/acctd-cli
	install -m 0644 docs/man/acctd-cli.1 $(DESTDIR)$(MANDIR)/man1/acctd-cli.1
install: install-acctd install-agent install-cli
.PHONY: install install-acctd install-agent install-cli

# --- Debian packages (docs/packaging.md) -------------------------------------------------
#   make deb [TARGET=host|aarch64-linux-gnu|arm-linux-gnueabihf]
#        build/deb/acctd_VERSION_ARCH.deb, build/deb/acctd-agent_VERSION_ARCH.deb
#   make deb-test   build the amd64 packages, install, check, purge (root)
DEB_ARCH_host                := $(shell dpkg --print-architecture 2>/dev/null)
DEB_ARCH_aarch64-linux-gnu   := arm64
DEB_ARCH_arm-linux-gnueabihf := armhf
DEB_ARCH := $(DEB_ARCH_$(TARGET))
PKGS_DEB := dpkg-dev lintian mandoc shellcheck systemd
prereqs-deb: prereqs-build
	$(Q)toolchain/prereqs.sh $(PKGS_DEB)
.PHONY: prereqs-deb
ifeq ($(SANITIZE),0)
deb: $(B)/acctd $(B)/acctd-agent prereqs-deb
	$(Q)platform/deb/build.sh $(BUILD)/deb $(DEB_ARCH) $(TARGET) $(STATIC) "$(MAKE)"
deb-test: prereqs-deb
	$(Q)$(MAKE) -j2 deb TARGET=host
	$(Q)tests/pkg/test_deb.sh $(BUILD)/deb $(DEB_ARCH_host)
else
deb deb-test:
	$(error make $@ is not for a SANITIZE= build)
endif
.PHONY: deb deb-test

# --- manuals, init scripts, units (make test's docs stage) --------------------------------
# (the units are verified as rendered for this build's binaries: systemd-analyze
# verify wants ExecStart='s program to exist)
docs-check: prereqs-deb dist-render $(B)/acctd $(B)/acctd-agent
	$(Q)platform/render.sh $(DIST)/verify $(CURDIR)/$(B) $(LIBEXECDIR) $(SYSCONFDIR)
	$(Q)python3 tests/man/check.py $(DIST)
.PHONY: docs-check

clean:
	rm -rf $(BUILD)/host $(BUILD)/host-asan $(BUILD)/host-tsan $(BUILD)/host-fuzz $(BUILD)/aarch64-linux-gnu \
		$(BUILD)/arm-linux-gnueabihf $(BUILD)/run $(BUILD)/screenshots $(BUILD)/test-logs \
		$(BUILD)/deb $(BUILD)/dist
distclean:
	rm -rf $(BUILD)
.PHONY: all clean distclean

-include $(wildcard $(B)/obj/*/*.d $(B)/bench/*.d)
