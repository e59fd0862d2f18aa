/*
 * lcompat.h - the two Lua 5.2 API calls the binding uses that LuaJIT's
 * 5.1 API lacks.  LuaJIT 2.1 already has the rest (luaL_setfuncs,
 * luaL_testudata, lua_tonumberx, ...), so a shim of our own is smaller
 * than depending on lua-compat-5.3 and looking for its header, which each
 * distribution (and the compat53 rock, which ships none) puts elsewhere.
 * Include after lua.h; a no-op from Lua 5.2 on.
 */
#if !defined(MAUTH_LCOMPAT_H)
#define MAUTH_LCOMPAT_H

#if LUA_VERSION_NUM < 502
/* A relative stack index made absolute; pseudo-indices stay as they are. */
static inline int mauth_lua_absindex(lua_State *L, int idx)
{
	return (idx > 0 || idx <= LUA_REGISTRYINDEX) ? idx : lua_gettop(L) + idx + 1;
}
#define lua_absindex(L, idx) mauth_lua_absindex((L), (idx))
/* 5.1 names the raw length lua_objlen. */
#define lua_rawlen(L, idx) lua_objlen((L), (idx))
#endif

#endif
