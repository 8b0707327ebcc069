# Hephaestus: libblobstore, the nginx registry module, and their tests.
#
#   make run     the registry on 127.0.0.1:$(PORT), data in $(DATA)
#   make test    unit tests (check) and integration tests (prove)
#
# Both install the Debian packages they need when they are missing.

PORT      ?= 5000
DATA      ?= $(CURDIR)/data
CONF      ?= conf/standalone.conf
BUILD     ?= $(CURDIR)/build
NGX_SRC   ?= /usr/share/nginx/src
NGINX     ?= /usr/sbin/nginx
SANITIZE  ?= 0
SAN_FLAGS  = -fsanitize=address,undefined

CC        ?= cc
CFLAGS    ?= -O2 -g
LIB_CFLAGS = $(CFLAGS) -std=c99 -D_GNU_SOURCE -Wall -Wextra -Werror \
             -fPIC -fvisibility=hidden -Ilibblobstore/include \
             -DOPENSSL_API_COMPAT=0x10100000L \
             $(shell pkg-config --cflags jansson 2>/dev/null)
LIB_LIBS   = -ljansson -lcrypto -pthread
ifeq ($(SANITIZE),1)
LIB_CFLAGS += -fsanitize=address,undefined -fno-omit-frame-pointer
SAN_LDFLAGS = -fsanitize=address,undefined
endif

LIB_SRCS  := $(wildcard libblobstore/src/*.c)
LIB_OBJS  := $(patsubst libblobstore/src/%.c,$(BUILD)/lib/%.o,$(LIB_SRCS))
LIB_HDRS  := $(wildcard libblobstore/include/*.h libblobstore/src/*.h)
CHECK_SRCS := $(wildcard libblobstore/tests/*.c)
MOD_SRCS  := $(wildcard ngx_registry_module/src/*.c ngx_registry_module/src/*.h) \
             ngx_registry_module/config
MODULE     = $(BUILD)/nginx/ngx_http_registry_module.so

# Debian packages each goal needs; installed when missing.
PKGS_BUILD = build-essential pkg-config libjansson-dev libssl-dev check \
             nginx nginx-dev libpcre3-dev zlib1g-dev libgd-dev libgeoip-dev \
             libxslt1-dev
PKGS_BENCH = $(PKGS_BUILD) perl curl wrk hey skopeo busybox-static \
             docker-registry openssl
PKGS_TEST  = $(PKGS_BUILD) perl curl skopeo umoci busybox-static \
             docker-registry docker.io chromium

.PHONY: all lib module check test prove run deps deps-test lint \
        check-load clean bench deps-bench

all: lib module

deps:
	@sh tools/ensure-packages $(PKGS_BUILD)

# node and npm come from Debian only where none is installed: a machine
# may have its own build of Node.js, which Debian's npm would conflict with.
deps-test:
	@sh tools/ensure-packages $(PKGS_TEST)
	@command -v npm >/dev/null || sh tools/ensure-packages nodejs npm

lib: $(BUILD)/libblobstore.a

$(BUILD)/lib/%.o: libblobstore/src/%.c $(LIB_HDRS)
	@mkdir -p $(dir $@)
	$(CC) $(LIB_CFLAGS) -c -o $@ $<

$(BUILD)/libblobstore.a: $(LIB_OBJS)
	rm -f $@
	ar rcs $@ $^

$(BUILD)/check_blobstore: $(CHECK_SRCS) $(BUILD)/libblobstore.a
	$(CC) $(LIB_CFLAGS) -Wno-error -o $@ $(CHECK_SRCS) \
	    $(BUILD)/libblobstore.a $(LIB_LIBS) $(SAN_LDFLAGS) \
	    $(shell pkg-config --libs check)

check: $(BUILD)/check_blobstore
	$(BUILD)/check_blobstore

module: $(MODULE)

# The module is configured against Debian's nginx sources (nginx-dev) with
# the flags Debian's own nginx was built with, so the .so loads into
# /usr/sbin/nginx.  The tree is copied: nothing is written under NGX_SRC.
$(BUILD)/nginx/Makefile: ngx_registry_module/config
	rm -rf $(BUILD)/nginx-src
	mkdir -p $(BUILD)/nginx
	cp -a $(NGX_SRC) $(BUILD)/nginx-src
	cd $(BUILD)/nginx-src && BLOBSTORE_LIB=$(BUILD)/libblobstore.a \
	    bash -c '. ./conf_flags && ./configure "$${NGX_CONF_FLAGS[@]}" \
	    --with-cc-opt="-g -O2 -fPIC -I$(CURDIR)/libblobstore/include \
	        $(if $(filter 1,$(SANITIZE)),$(SAN_FLAGS))" \
	    --with-ld-opt="-fPIC \
	        $(if $(filter 1,$(SANITIZE)),$(SAN_FLAGS))" \
	    --add-dynamic-module=$(CURDIR)/ngx_registry_module \
	    --builddir=$(BUILD)/nginx' > $(BUILD)/nginx-configure.log

$(MODULE): $(BUILD)/nginx/Makefile $(BUILD)/libblobstore.a $(MOD_SRCS)
	rm -f $@
	$(MAKE) -f $(BUILD)/nginx/Makefile -C $(BUILD)/nginx-src modules

check-load: $(MODULE)
	@printf 'load_module %s;\nevents {}\n' $(MODULE) \
	    > $(BUILD)/check-load.conf
	$(NGINX) -t -q -c $(BUILD)/check-load.conf -e stderr \
	    -g 'pid $(BUILD)/check-load.pid;'

# The browser test drives Debian's chromium with playwright-core, pinned
# in t/ui/package-lock.json.
t/ui/node_modules/.package-lock.json: t/ui/package-lock.json
	npm ci --prefix t/ui --no-audit --no-fund

prove: all t/ui/node_modules/.package-lock.json
	prove -r t/

test: deps-test
	$(MAKE) check
	$(MAKE) prove

deps-bench:
	@sh tools/ensure-packages $(PKGS_BENCH)

# Side by side with registry:2 and static nginx; prints a table and writes
# bench/out/results.md.  Never part of make test.
bench: deps-bench all
	perl bench/bench.pl

run: deps all
	@sh tools/run-registry $(MODULE) $(CONF) $(PORT) $(DATA) $(BUILD)/run-$(PORT)

lint:
	@sh tools/lint $(LIB_SRCS) $(wildcard libblobstore/include/*.h \
	    libblobstore/src/*.h ngx_registry_module/src/*.[ch])

clean:
	rm -rf $(BUILD)
