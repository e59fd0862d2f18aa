# mailauth - build, test and tooling.  The rockspec is what users install
# with; this Makefile is for people working on the tree.
#
#   make [LUA=lua5.4|lua5.3|luajit]   build build/$(LUA)/mailauth/core.so
#   make demo | demo-minimal          check the sample messages offline | on a bare Debian (root)
#   make install [PREFIX= DESTDIR=]   Lua module, libmailauth (.so, .a, .h, .pc), CLI, man page
#   make dist | rock                  build/dist/: the release tarball | and the .src.rock
#   make doc                          build/doc/: the reference manual (LDoc)
#   make deb                          build/deb/: lua-mailauth, mailauth, libmailauth0, libmailauth-dev
#   make test                         specs under all three Lua ABIs + Knot
#   make asan | lint | check-layering | fuzz | fuzz-long | soak | bench | rockspec-test | check-sources

LUA ?= lua5.4
LUAS := lua5.4 lua5.3 luajit
CC ?= gcc
BUILD := build/$(LUA)

# Sources of mailauth.core; the rockspec lists the same (make check-sources).
# The folders are the layers (make check-layering): core/ is shared by all
# protocols, dns/ is the only code doing I/O, one folder per protocol, and
# lua/ the binding.  kinds.c is the registry that names every protocol.
CORE_SRCS := src/core/arena.c src/core/util.c src/core/ip.c src/core/textbuf.c \
	src/core/check.c src/core/options.c src/core/idn.c src/core/psl.c src/core/message.c \
	src/core/author.c src/core/message_info.c src/core/tags.c src/core/canon.c \
	src/core/canon_stream.c src/core/canon_avx512.c src/core/crypto.c \
	src/kinds.c src/iprev.c \
	src/spf/spf_macro.c src/spf/spf_record.c src/spf/spf.c src/spf/spf_cache.c \
	src/dmarc/dmarc.c src/authres/authres.c src/authres/authres_format.c \
	src/dkim/dkim_verify.c src/dkim/dkim_key.c src/dkim/dkim_signer.c \
	src/dkim/dkim_sign.c src/dkim/dkim_evidence.c \
	src/arc/arc_verify.c src/arc/arc_seal.c
DRIVER_SRCS := src/dns/dnswire.c src/dns/zone.c src/dns/resolver.c
BINDING_SRCS := src/lua/lmailauth.c
SRCS := $(CORE_SRCS) $(DRIVER_SRCS) $(BINDING_SRCS)
HDRS := $(wildcard src/*.h src/*/*.h)

LUA_PC := $(LUA)

WERROR ?= -Werror
WARN := -Wall -Wextra $(WERROR) -Wshadow -Wmissing-prototypes -Wstrict-prototypes \
	-Wpointer-arith -Wformat=2 -Wno-format-nonliteral
OPT ?= -O2 -g
SAN ?=
CFLAGS_ALL := -std=c99 $(OPT) $(SAN) $(WARN) -fPIC -fvisibility=hidden \
	-D_POSIX_C_SOURCE=200809L -D_DEFAULT_SOURCE $(CPPFLAGS)
LUA_CFLAGS = $(shell pkg-config --cflags $(LUA_PC) 2>/dev/null)
# Never liblua: the host (lua, rspamd, haproxy) provides the VM symbols.
LIBS := -lldns -lcrypto -lpsl -lidn2

OBJS := $(patsubst src/%.c,$(BUILD)/obj/%.o,$(SRCS))
MODULE := $(BUILD)/mailauth/core.so
MODFLAG ?= -shared

.PHONY: all all-luas deps demo demo-minimal test unit asan valgrind lint fuzz fuzz-long bench clean \
	check-sources check-layering rockspec-test soak install print-srcs print-libs \
	lib dist rock luarocks-build luarocks-install doc install-lua install-lib install-cli deb

all: $(MODULE)

$(BUILD)/obj/%.o: src/%.c $(HDRS) | $(BUILD)/obj
	@mkdir -p $(@D)
	$(CC) $(CFLAGS_ALL) $(LUA_CFLAGS) -Isrc -c $< -o $@

$(MODULE): $(OBJS) | $(BUILD)/mailauth
	$(CC) $(MODFLAG) $(SAN) $(LDFLAGS) -o $@ $(OBJS) $(LIBS)

$(BUILD)/obj $(BUILD)/mailauth:
	mkdir -p $@

all-luas:
	@for l in $(LUAS); do $(MAKE) --no-print-directory LUA=$$l all || exit 1; done

# Installs what is missing (as root) or prints the apt-get line (otherwise).
deps:
	@sh spec/support/deps.sh

# Offline and light: the build dependencies and Lua 5.4 only (deps.sh
# demo), DNS answered from examples/zones.
demo:
	@sh spec/support/deps.sh demo
	@$(MAKE) --no-print-directory LUA=lua5.4 all
	@LUA_PATH='lua/?.lua;lua/?/init.lua;;' LUA_CPATH='build/lua5.4/?.so;;' \
		lua5.4 bin/mailauth demo examples

# make demo on a bare Debian (debootstrap --variant=minbase bookworm in
# build/demo-minimal, the committed tree copied in, deps.sh demo from the
# mirror, then make demo with no network); root.  About 10 minutes from
# nothing, so not part of .ci/run.
demo-minimal:
	@sh spec/support/deps.sh minimal
	@sh spec/support/demo-minimal.sh build/demo-minimal

# All specs under lua5.4, lua5.3 and luajit, with Knot on 127.0.0.1.
test: deps
	@$(MAKE) --no-print-directory all-luas
	@sh spec/support/run-specs.sh $(LUAS)

# Unit specs only (no DNS server), for quick iterations.
unit: all
	@busted --lua=$(LUA) \
		--cpath='build/$(LUA)/?.so' --exclude-tags=integration spec

asan: deps
	@$(MAKE) --no-print-directory BUILD=build/asan LUA=lua5.4 \
		SAN='-fsanitize=address,undefined -fno-omit-frame-pointer' OPT='-O1 -g' all
	@SPEC_CPATH='build/asan/?.so' SPEC_PRELOAD="$$($(CC) -print-file-name=libasan.so) $$($(CC) -print-file-name=libubsan.so)" \
		ASAN_OPTIONS=detect_leaks=0 UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
		sh spec/support/run-specs.sh lua5.4
	@LUA_PATH='lua/?.lua;lua/?/init.lua;;' LUA_CPATH='build/asan/?.so;;' \
		LD_PRELOAD="$$($(CC) -print-file-name=libasan.so) $$($(CC) -print-file-name=libubsan.so)" \
		ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
		lua5.4 spec/support/sanitizer-smoke.lua

valgrind: all
	@sh spec/support/deps.sh valgrind
	@SPEC_VALGRIND=1 sh spec/support/run-specs.sh lua5.4
	@LUA_PATH='lua/?.lua;lua/?/init.lua;;' LUA_CPATH='build/lua5.4/?.so;;' \
		valgrind -q --leak-check=full --error-exitcode=9 lua5.4 spec/support/sanitizer-smoke.lua

# cppcheck, then clang-tidy with the checks of .clang-tidy (warnings are
# errors).  --force: the Lua headers have more #if configurations than
# cppcheck's default 12, and checking them all takes half a second.
LINT_LUA_INC ?= /usr/include/lua5.4
lint: check-layering
	@sh spec/support/deps.sh lint
	cppcheck --quiet --error-exitcode=1 --enable=warning,performance,portability \
		--inline-suppr --suppress=missingIncludeSystem -Isrc $(CORE_SRCS) $(DRIVER_SRCS)
	cppcheck --quiet --force --error-exitcode=1 --enable=warning,performance,portability \
		--inline-suppr --suppress=missingIncludeSystem -Isrc -I$(LINT_LUA_INC) $(BINDING_SRCS)
	@mkdir -p build
	@echo "clang-tidy $(SRCS)"
	@clang-tidy --quiet $(SRCS) -- -std=c99 -Isrc -I$(LINT_LUA_INC) \
		-D_POSIX_C_SOURCE=200809L -D_DEFAULT_SOURCE > build/clang-tidy.log 2>&1; \
		rc=$$?; grep -v ' warnings generated\.$$' build/clang-tidy.log; exit $$rc

# Every fuzz/fuzz_<name>.c for FUZZ_SECONDS each (FUZZ_TARGETS: only those
# names); clang and its fuzzer runtime are installed as an optional group.
FUZZ_SECONDS ?= 300
FUZZ_TARGETS ?=
fuzz:
	@sh spec/support/deps.sh fuzz
	@sh fuzz/run.sh $(FUZZ_SECONDS) $(FUZZ_TARGETS)

# The long runs: every target (or FUZZ_TARGETS) for FUZZ_SECONDS each,
# 3600 unless given, with the corpora kept in build/fuzz-corpus/ so that
# runs build on each other; prints each target's executions, this run and
# summed over all runs so far (build/fuzz-corpus/<name>.execs).
fuzz-long:
	@sh spec/support/deps.sh fuzz
	@mkdir -p build/fuzz-corpus
	@FUZZ_CORPUS_ROOT=build/fuzz-corpus sh fuzz/run.sh \
		$(if $(filter command line environment,$(origin FUZZ_SECONDS)),$(FUZZ_SECONDS),3600) $(FUZZ_TARGETS)

# What the fuzz targets (and other out-of-module builds) link with.
print-srcs:
	@echo $(CORE_SRCS) $(DRIVER_SRCS)

print-libs:
	@echo $(LIBS)

bench: deps
	@$(MAKE) --no-print-directory LUA=lua5.4 all
	@sh bench/run.sh

# mailauth.check SOAK_N times (default 200000) under each Lua: RSS must stay
# flat once warm (spec/support/soak.lua).  Not part of make test.
SOAK_N ?= 200000
soak: deps
	@$(MAKE) --no-print-directory all-luas
	@for l in $(LUAS); do \
		LUA_PATH='lua/?.lua;lua/?/init.lua;;' LUA_CPATH="build/$$l/?.so;;" \
			$$l spec/support/soak.lua $(SOAK_N) || exit 1; \
	done

# The folders of src/ are the layers; this fails on an include or call
# that crosses them (spec/support/check-layering.sh says which rules).
check-layering:
	@sh spec/support/check-layering.sh src

# The rockspec's version and name against MAUTH_VERSION, and every C file
# under src/ against SRCS (or NOT_SRCS: headers-only builds and the like).
check-sources:
	@lua5.4 spec/support/check-sources.lua $(VERSION) $(ROCKSPEC) $(SRCS)

rockspec-test:
	@sh spec/support/rockspec-test.sh

# The reference manual of the Lua API, from doc/api/mailauth.luadoc with
# LDoc (Debian lua-ldoc; its own #! wants Lua 5.1 or 5.2, so it runs under
# lua5.4 here), with doc/codes.md as a topic: build/doc/index.html.
doc:
	@command -v ldoc >/dev/null || { echo "doc: needs ldoc (apt-get install lua-ldoc)"; exit 1; }
	cd doc && lua5.4 "$$(command -v ldoc)" -c config.ld .
	@echo "doc: build/doc/index.html"

# ---- releases: the version is MAUTH_VERSION of src/mailauth.h ----
VERSION := $(shell sed -n 's/^\#define MAUTH_VERSION "\([^"]*\)".*/\1/p' src/mailauth.h)
SOVERSION := 0
ROCKSPEC := rockspec/mailauth-$(VERSION)-1.rockspec
DISTDIR := build/dist
DISTNAME := mailauth-$(VERSION)

# The tracked files of the checkout (as they are in the work tree) under
# mailauth-VERSION/, owner and times fixed so the same tree gives the same
# bytes; the rockspec beside it, whose source.url names it.
dist:
	@test -n "$(VERSION)" || { echo "dist: no MAUTH_VERSION in src/mailauth.h"; exit 1; }
	@mkdir -p $(DISTDIR)
	git ls-files -z | tar --null -T - --transform 's,^,$(DISTNAME)/,S' --sort=name \
		--owner=0 --group=0 --numeric-owner --mtime=@$$(git log -1 --format=%ct) -cf - \
		| gzip -n > $(DISTDIR)/$(DISTNAME).tar.gz
	cp $(ROCKSPEC) $(DISTDIR)/
	@echo "dist: $(DISTDIR)/$(DISTNAME).tar.gz"

# luarocks pack fetches source.url from a folder of its own, where the
# rockspec's relative file:// URL names nothing: it packs a copy naming
# the tarball by its absolute path, then the rock gets the rockspec as
# released back (zip replaces the member of that name).
rock: dist
	@mkdir -p $(DISTDIR)/pack
	sed 's|file://$(DISTNAME).tar.gz|file://$(abspath $(DISTDIR))/$(DISTNAME).tar.gz|' \
		$(ROCKSPEC) > $(DISTDIR)/pack/$(notdir $(ROCKSPEC))
	cd $(DISTDIR) && luarocks pack pack/$(notdir $(ROCKSPEC)) >/dev/null
	cd $(DISTDIR) && zip -q $(DISTNAME)-1.src.rock $(notdir $(ROCKSPEC))
	rm -rf $(DISTDIR)/pack
	@echo "rock: $(DISTDIR)/$(DISTNAME)-1.src.rock"

# What the rockspec's build (type "make") runs: the module compiled with
# luarocks' compiler, flags and Lua headers in ROCK_BUILD, installed, and
# ROCK_BUILD removed, so that `luarocks make` leaves nothing in the tree.
# No -Werror there: a user's newer compiler may warn where ours does not.
ROCK_BUILD := build/luarocks
ROCK_INCDIRS ?=
ROCK_LIBDIRS ?=
luarocks-build:
	@$(MAKE) --no-print-directory BUILD=$(ROCK_BUILD) WERROR= OPT='$(CFLAGS)' \
		LUA_CFLAGS='-I$(LUA_INCDIR)' MODFLAG='$(LIBFLAG)' \
		CPPFLAGS='$(addprefix -I,$(ROCK_INCDIRS))' LDFLAGS='$(addprefix -L,$(ROCK_LIBDIRS))' \
		$(ROCK_BUILD)/mailauth/core.so

luarocks-install:
	install -d $(INST_LIBDIR)/mailauth $(INST_LUADIR)/mailauth $(INST_LUADIR)/mailauth/report
	install -m 0755 $(ROCK_BUILD)/mailauth/core.so $(INST_LIBDIR)/mailauth/core.so
	install -m 0644 lua/mailauth/*.lua $(INST_LUADIR)/mailauth/
	install -m 0644 lua/mailauth/report/*.lua $(INST_LUADIR)/mailauth/report/
	rm -rf $(ROCK_BUILD)
	-@rmdir build 2>/dev/null || true

# The Debian packages (debian/: dh-lua for lua-mailauth, the Makefile for
# libmailauth0, libmailauth-dev and mailauth), built from the release
# tarball in build/deb/, where the .deb files land.
deb: dist
	rm -rf build/deb && mkdir -p build/deb
	tar -xzf $(DISTDIR)/$(DISTNAME).tar.gz -C build/deb
	cd build/deb/$(DISTNAME) && dpkg-buildpackage -us -uc -b > ../build.log 2>&1 || \
		{ tail -40 ../build.log; exit 1; }
	@ls build/deb/*.deb

# ---- the C library, for C hosts (milters, policy daemons) ----
# libmailauth: the core and the drivers (no Lua), only the MAUTH_API
# symbols exported, soname libmailauth.so.$(SOVERSION); the .a holds the
# same objects.
LIB_OBJS := $(patsubst src/%.c,$(BUILD)/obj/%.o,$(CORE_SRCS) $(DRIVER_SRCS))
SHLIB := $(BUILD)/lib/libmailauth.so.$(VERSION)
STLIB := $(BUILD)/lib/libmailauth.a
lib: $(SHLIB) $(STLIB)

$(SHLIB): $(LIB_OBJS)
	@mkdir -p $(@D)
	$(CC) -shared $(SAN) $(LDFLAGS) -Wl,-soname,libmailauth.so.$(SOVERSION) -o $@ $(LIB_OBJS) $(LIBS)

$(STLIB): $(LIB_OBJS)
	@mkdir -p $(@D)
	rm -f $@
	$(AR) rcs $@ $(LIB_OBJS)

# ---- make install ----
# The Lua module for $(LUA), the CLI (its first line names that Lua), the
# man page, and libmailauth with its header and pkg-config file.  LIBDIR
# and LUA_LIBDIR/LUA_SHAREDIR may be moved (Debian: multiarch folders).
PREFIX ?= /usr/local
LIBDIR ?= $(PREFIX)/lib
INCLUDEDIR ?= $(PREFIX)/include
BINDIR ?= $(PREFIX)/bin
MANDIR ?= $(PREFIX)/share/man
LUA_ABI = $(if $(filter luajit,$(LUA)),5.1,$(patsubst lua%,%,$(LUA)))
LUA_LIBDIR ?= $(PREFIX)/lib/lua/$(LUA_ABI)
LUA_SHAREDIR ?= $(PREFIX)/share/lua/$(LUA_ABI)
install: install-lua install-lib install-cli

# The parts, for packagers (debian/rules installs each into its package).
install-lua: all
	install -d $(DESTDIR)$(LUA_LIBDIR)/mailauth $(DESTDIR)$(LUA_SHAREDIR)/mailauth/report
	install -m 0755 $(MODULE) $(DESTDIR)$(LUA_LIBDIR)/mailauth/core.so
	install -m 0644 lua/mailauth/*.lua $(DESTDIR)$(LUA_SHAREDIR)/mailauth/
	install -m 0644 lua/mailauth/report/*.lua $(DESTDIR)$(LUA_SHAREDIR)/mailauth/report/

install-lib: lib
	install -d $(DESTDIR)$(LIBDIR)/pkgconfig $(DESTDIR)$(INCLUDEDIR)
	install -m 0755 $(SHLIB) $(DESTDIR)$(LIBDIR)/
	ln -sf libmailauth.so.$(VERSION) $(DESTDIR)$(LIBDIR)/libmailauth.so.$(SOVERSION)
	ln -sf libmailauth.so.$(SOVERSION) $(DESTDIR)$(LIBDIR)/libmailauth.so
	install -m 0644 $(STLIB) $(DESTDIR)$(LIBDIR)/
	install -m 0644 src/mailauth.h $(DESTDIR)$(INCLUDEDIR)/mailauth.h
	sed -e 's|@PREFIX@|$(PREFIX)|' -e 's|@LIBDIR@|$(LIBDIR)|' -e 's|@INCLUDEDIR@|$(INCLUDEDIR)|' \
		-e 's|@VERSION@|$(VERSION)|' -e 's|@LIBS@|$(LIBS)|' mailauth.pc.in \
		> $(DESTDIR)$(LIBDIR)/pkgconfig/mailauth.pc

install-cli:
	install -d $(DESTDIR)$(BINDIR) $(DESTDIR)$(MANDIR)/man1
	sed '1s|.*|#!/usr/bin/env $(if $(filter luajit,$(LUA)),luajit,$(LUA))|' bin/mailauth \
		> $(DESTDIR)$(BINDIR)/mailauth
	chmod 0755 $(DESTDIR)$(BINDIR)/mailauth
	install -m 0644 man/mailauth.1 $(DESTDIR)$(MANDIR)/man1/mailauth.1

clean:
	rm -rf build
