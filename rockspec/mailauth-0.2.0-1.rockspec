-- mailauth: iprev, SPF, DKIM, DMARC, ARC and Authentication-Results for Lua.
-- The version is MAUTH_VERSION of src/mailauth.h; this file's name and
-- version follow it (make check-sources fails when they differ).
rockspec_format = "3.0"
package = "mailauth"
version = "0.2.0-1"
source = {
  -- The tarball `make dist` writes (build/dist/), beside a copy of this
  -- file; `make rock` packs the two into mailauth-0.2.0-1.src.rock there,
  -- which `luarocks install` builds with no network.
  url = "file://mailauth-0.2.0.tar.gz",
  dir = "mailauth-0.2.0",
}
description = {
  summary = "Mail authentication (iprev, SPF, DKIM, DMARC, ARC) for Lua, in C",
  detailed = [[
    Answers, for one incoming message, who really sent it and whether to
    trust it.  Each check is a DNS-free job; resolvers are the ldns driver,
    offline zone files, or any (yielding) Lua function.
  ]],
  license = "MIT",
}
-- lua-cjson: the command line's --json (the library itself needs none).
dependencies = { "lua >= 5.1", "lua-cjson" }
external_dependencies = {
  LDNS = { header = "ldns/ldns.h", library = "ldns" },
  OPENSSL = { header = "openssl/evp.h", library = "crypto" },
  PSL = { header = "libpsl.h", library = "psl" },
  IDN2 = { header = "idn2.h", library = "idn2" },
}
build = {
  -- The Makefile's luarocks-build and luarocks-install targets: one list of sources
  -- (SRCS) and Lua modules (lua/mailauth/*.lua), and objects built in a
  -- folder that luarocks-install removes, so nothing is left in the tree.
  type = "make",
  build_target = "luarocks-build",
  build_variables = {
    CC = "$(CC)",
    CFLAGS = "$(CFLAGS)",
    LIBFLAG = "$(LIBFLAG)",
    LUA_INCDIR = "$(LUA_INCDIR)",
    ROCK_INCDIRS = "$(LDNS_INCDIR) $(OPENSSL_INCDIR) $(PSL_INCDIR) $(IDN2_INCDIR)",
    ROCK_LIBDIRS = "$(LDNS_LIBDIR) $(OPENSSL_LIBDIR) $(PSL_LIBDIR) $(IDN2_LIBDIR)",
  },
  install_target = "luarocks-install",
  install_variables = {
    INST_LIBDIR = "$(LIBDIR)",
    INST_LUADIR = "$(LUADIR)",
  },
  install = {
    bin = { mailauth = "bin/mailauth" },
  },
}
