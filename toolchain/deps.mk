# One recipe for every target: compiles the Debian sources fetched by
# fetch.sh into static libraries and headers under $(SYSROOT).
#
# Called by the top Makefile after fetch.sh:
#   make -f toolchain/deps.mk SRC=build/src OBJ=build/<t>/deps SYSROOT=build/<t>/sysroot CC=… AR=…
#
# No upstream build system is run: every library is a handful of C files,
# and compiling them directly with the same compiler and flags is what keeps
# the laptop build and the box build identical.

SRC     ?= build/src
OBJ     ?= build/host/deps
SYSROOT ?= build/host/sysroot
CC      ?= cc
AR      ?= ar
# one section per function and object, so a static link (--gc-sections in
# the top Makefile) keeps only what acctd or the agent reaches
DEPS_CFLAGS ?= -O2 -g -fPIC -fstack-protector-strong -D_FORTIFY_SOURCE=2 \
	-ffunction-sections -fdata-sections
# sanitizer flags for the libraries that take them (make SANITIZE=thread):
# all but LMDB, whose reader table is shared memory that readers and the
# writer touch without locks by design (see the Makefile)
SAN_CFLAGS ?=
SAN_SKIP := lmdb
# and mbedTLS's pure arithmetic: big-number and field routines, hashes,
# block ciphers and AEADs compute on the buffers and contexts their caller
# passes and keep no state of their own; their callers stay instrumented:
# ssl_*, ctr_drbg, pk, psa_*, and ecp.c / ecdsa.c / ecdh.c, which hold what
# threads share (the server's key, a group's comb table) and would be
# where a write to it happens. Instrumented, this arithmetic made every
# handshake and KDF ~10 times slower and the ThreadSanitizer stage of
# make test CPU-bound
SAN_SKIP_FILES := $(addprefix $(SRC)/mbedtls/library/,aes.c aesce.c aesni.c \
	bignum.c bignum_core.c bignum_mod.c bignum_mod_raw.c ecp_curves.c ecp_curves_new.c \
	chacha20.c poly1305.c gcm.c sha1.c sha256.c sha512.c sha3.c)
TOOLCHAIN := $(dir $(lastword $(MAKEFILE_LIST)))

ifeq ($(V),1)
Q :=
else
Q := @
endif

LIB := $(SYSROOT)/lib
INC := $(SYSROOT)/include

all: $(LIB)/liblmdb.a $(LIB)/libmbedtls.a $(LIB)/libconfig.a \
     $(LIB)/libcjson.a $(LIB)/libcivetweb.a $(LIB)/libcmocka.a headers

# --- sources and per-library flags ---------------------------------------
lmdb_SRCS := $(addprefix $(SRC)/lmdb/libraries/liblmdb/,mdb.c midl.c)
lmdb_CFLAGS := -I$(SRC)/lmdb/libraries/liblmdb -pthread

# by absolute path: a quoted "mbedtls_config.h" would find mbedTLS 3's own
# default config next to build_info.h first
MBEDTLS_CONF := -DMBEDTLS_CONFIG_FILE='"$(abspath $(TOOLCHAIN)mbedtls_config.h)"'
mbedtls_SRCS := $(wildcard $(SRC)/mbedtls/library/*.c)
# MBEDTLS_THREADING_PTHREAD (mbedtls_config.h): pthread mutexes
mbedtls_CFLAGS := -I$(SRC)/mbedtls/include $(MBEDTLS_CONF) -pthread

libconfig_SRCS := $(addprefix $(SRC)/libconfig/lib/,libconfig.c grammar.c scanctx.c scanner.c strbuf.c strvec.c util.c)
libconfig_CFLAGS := -I$(SRC)/libconfig/lib -D_GNU_SOURCE \
	-DHAVE_NEWLOCALE -DHAVE_USELOCALE -DHAVE_FREELOCALE

cjson_SRCS := $(SRC)/cjson/cJSON.c
# a request body may nest at most this deep (cJSON's default is 1000)
cjson_CFLAGS := -DCJSON_NESTING_LIMIT=32

# NO_FILES: acctd serves only its own handlers and embedded assets.
# STOP_FLAG_NEEDS_LOCK: mg_stop() writes the stop flag every thread polls;
# without it that is a plain int, a data race (ThreadSanitizer reports it).
civetweb_SRCS := $(SRC)/civetweb/src/civetweb.c
civetweb_CFLAGS := -std=gnu99 -I$(SRC)/civetweb/include -I$(SRC)/mbedtls/include \
	$(MBEDTLS_CONF) -DUSE_MBEDTLS -DUSE_IPV6 -DNO_CGI -DNO_FILES -DNO_CACHING \
	-DNO_SSL_DL -DSTOP_FLAG_NEEDS_LOCK -pthread

cmocka_SRCS := $(SRC)/cmocka/src/cmocka.c
cmocka_CFLAGS := -I$(SRC)/cmocka/include -D_GNU_SOURCE -DHAVE_SIGNAL_H \
	-DHAVE_STRINGS_H -DHAVE_INTTYPES_H -DHAVE_MALLOC_H -DHAVE_SETJMP_H \
	-DHAVE_STDARG_H -DHAVE_STDDEF_H -DHAVE_STDINT_H -DHAVE_STRUCT_TIMESPEC \
	-DHAVE_CLOCK_REALTIME -DHAVE_STRSIGNAL -DHAVE_SIGLONGJMP

# --- rules ------------------------------------------------------------------
define lib_rules
$(1)_OBJS := $$(patsubst $(SRC)/%.c,$(OBJ)/%.o,$$($(1)_SRCS))
$(OBJ)/$(1)/%.o: $(SRC)/$(1)/%.c
	@mkdir -p $$(@D)
	@$(if $(Q),echo "  CC      $$(@F) [$(1)]")
	$(Q)$(CC) $(DEPS_CFLAGS) $$(if $$(filter $(1) $$<,$(SAN_SKIP) $(SAN_SKIP_FILES)),,$(SAN_CFLAGS)) $$($(1)_CFLAGS) -c $$< -o $$@
endef
$(foreach l,lmdb mbedtls libconfig cjson civetweb cmocka,$(eval $(call lib_rules,$(l))))

define archive
	@mkdir -p $(@D)
	@$(if $(Q),echo "  AR      $(@F)")
	$(Q)rm -f $@ && $(AR) rcs $@ $^
endef

$(LIB)/liblmdb.a: $(lmdb_OBJS) ; $(archive)
$(LIB)/libmbedtls.a: $(mbedtls_OBJS) ; $(archive)
$(LIB)/libconfig.a: $(libconfig_OBJS) ; $(archive)
$(LIB)/libcjson.a: $(cjson_OBJS) ; $(archive)
$(LIB)/libcivetweb.a: $(civetweb_OBJS) ; $(archive)
$(LIB)/libcmocka.a: $(cmocka_OBJS) ; $(archive)

# $(OBJ) objects depend on the config; a changed config rebuilds mbedTLS+civetweb
$(mbedtls_OBJS) $(civetweb_OBJS): $(TOOLCHAIN)mbedtls_config.h
# and on the flags written here
$(lmdb_OBJS) $(mbedtls_OBJS) $(libconfig_OBJS) $(cjson_OBJS) $(civetweb_OBJS) \
$(cmocka_OBJS): $(TOOLCHAIN)deps.mk

headers: $(INC)/.stamp
$(INC)/.stamp: $(TOOLCHAIN)mbedtls_config.h $(SRC)/mbedtls/.ok $(SRC)/civetweb/.ok
	@mkdir -p $(INC)/mbedtls $(INC)/psa $(INC)/cjson
	cp $(SRC)/lmdb/libraries/liblmdb/lmdb.h $(INC)/
	cp $(SRC)/mbedtls/include/mbedtls/*.h $(INC)/mbedtls/
	cp $(SRC)/mbedtls/include/psa/*.h $(INC)/psa/
	cp $(TOOLCHAIN)mbedtls_config.h $(INC)/mbedtls/acctd_config.h
	cp $(SRC)/libconfig/lib/libconfig.h $(INC)/
	cp $(SRC)/cjson/cJSON.h $(INC)/cjson/
	cp $(SRC)/civetweb/include/civetweb.h $(INC)/
	cp $(SRC)/cmocka/include/cmocka.h $(INC)/
	touch $@

.PHONY: all headers
