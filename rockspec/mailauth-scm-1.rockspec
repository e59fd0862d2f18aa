-- mailauth: iprev, SPF, DKIM, DMARC, ARC and Authentication-Results for Lua.
rockspec_format = "3.0"
package = "mailauth"
version = "scm-1"
source = {
  url = "git+file:///dev/null", -- built from a checkout: luarocks make rockspec/mailauth-scm-1.rockspec
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
dependencies = { "lua >= 5.1" }
external_dependencies = {
  LDNS = { header = "ldns/ldns.h", library = "ldns" },
  OPENSSL = { header = "openssl/evp.h", library = "crypto" },
  PSL = { header = "libpsl.h", library = "psl" },
  IDN2 = { header = "idn2.h", library = "idn2" },
}
build = {
  type = "builtin",
  modules = {
    ["mailauth.core"] = {
      -- The same list as SRCS in the Makefile (make check-sources).
      sources = {
        "src/core/arena.c", "src/core/util.c", "src/core/ip.c", "src/core/textbuf.c",
        "src/core/check.c", "src/core/options.c", "src/core/idn.c", "src/core/psl.c", "src/core/message.c",
        "src/core/author.c", "src/core/message_info.c", "src/core/tags.c", "src/core/canon.c",
        "src/core/canon_stream.c", "src/core/canon_avx512.c", "src/core/crypto.c",
        "src/kinds.c", "src/iprev.c", "src/spf/spf_macro.c", "src/spf/spf_record.c",
        "src/spf/spf.c", "src/spf/spf_cache.c", "src/dmarc/dmarc.c", "src/authres/authres.c",
        "src/authres/authres_format.c",
        "src/dkim/dkim_verify.c", "src/dkim/dkim_key.c", "src/dkim/dkim_signer.c",
        "src/dkim/dkim_sign.c", "src/arc/arc_verify.c",
        "src/arc/arc_seal.c", "src/dns/dnswire.c", "src/dns/zone.c", "src/dns/resolver.c",
        "src/lua/lmailauth.c",
      },
      defines = { "_POSIX_C_SOURCE=200809L", "_DEFAULT_SOURCE" },
      libraries = { "ldns", "crypto", "psl", "idn2" },
      incdirs = { "src", "$(LDNS_INCDIR)", "$(OPENSSL_INCDIR)", "$(PSL_INCDIR)", "$(IDN2_INCDIR)" },
      libdirs = { "$(LDNS_LIBDIR)", "$(OPENSSL_LIBDIR)", "$(PSL_LIBDIR)", "$(IDN2_LIBDIR)" },
    },
    ["mailauth"] = "lua/mailauth/init.lua",
    ["mailauth.cli"] = "lua/mailauth/cli.lua",
    ["mailauth.rspamd"] = "lua/mailauth/rspamd.lua",
    ["mailauth.haproxy"] = "lua/mailauth/haproxy.lua",
    ["mailauth.exchange"] = "lua/mailauth/exchange.lua",
    ["mailauth.internal"] = "lua/mailauth/internal.lua",
    ["mailauth.check"] = "lua/mailauth/check.lua",
    ["mailauth.options"] = "lua/mailauth/options.lua",
    ["mailauth.authres"] = "lua/mailauth/authres.lua",
    ["mailauth.resolver"] = "lua/mailauth/resolver.lua",
    ["mailauth.message"] = "lua/mailauth/message.lua",
    ["mailauth.iprev"] = "lua/mailauth/iprev.lua",
    ["mailauth.spf"] = "lua/mailauth/spf.lua",
    ["mailauth.dkim"] = "lua/mailauth/dkim.lua",
    ["mailauth.arc"] = "lua/mailauth/arc.lua",
    ["mailauth.dmarc"] = "lua/mailauth/dmarc.lua",
  },
  install = {
    bin = { mailauth = "bin/mailauth" },
  },
}
