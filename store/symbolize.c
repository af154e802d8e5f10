/*
 * Symbolizer: recorded return addresses -> file:line:column + innermost
 * (possibly inlined) function, via elfutils libdwfl/libdw.
 *
 * Data structures:
 *   mods[]   one entry per distinct ELF path ever asked for: its Dwfl session
 *            (NULL when the file exists but has no usable ELF/DWARF).
 *   tab[]    open-addressing cache (module index, module-relative pc) -> result,
 *            misses cached too, so each (path, pc) is resolved once.
 *
 * Invariants:
 *  1. ntab * 2 <= tabcap, tabcap a power of two (probing always terminates).
 *  2. Every string handed out is owned by a cache entry and lives until
 *     ht__sym_free(); entries are never removed.
 *
 * Addresses: a module loaded with bias B maps file vaddr v to v + B, so the
 * recorded return address pc is the file address pc - B; the call instruction
 * itself ends at pc, so its line is looked up at pc - B - 1.
 */
#include "store/store_int.h"

#include <dwarf.h>
#include <elfutils/libdw.h>
#include <elfutils/libdwfl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

struct sym_mod {
    char *path;
    Dwfl *dwfl;        /* NULL: no usable ELF/DWARF */
    Dwfl_Module *mod;
};

struct sym_ent {
    uint32_t mod1;     /* module index + 1; 0 = empty slot */
    ht_err rc;         /* HT_OK or HT_ENOTFOUND */
    uint64_t rel;      /* module-relative return address */
    struct ht_symloc loc;
};

struct ht_symbolizer {
    struct sym_mod *mods;
    size_t nmods, capmods;
    struct sym_ent *tab;
    size_t ntab, tabcap;
};

static const Dwfl_Callbacks sym_callbacks = {
    .find_elf = dwfl_build_id_find_elf,
    .find_debuginfo = dwfl_standard_find_debuginfo,
    .section_address = dwfl_offline_section_address,
};

/*
 * Create an empty symbolizer in *out (owned by the caller, released with
 * ht__sym_free()). Errors: HT_EINVAL (out NULL), HT_ENOMEM (*out = NULL).
 */
ht_err ht__sym_new(ht_symbolizer **out)
{
    ht_symbolizer *s;
    if (!out)
        return HT_EINVAL;
    *out = NULL;
    s = calloc(1, sizeof(*s));
    if (!s)
        return HT_ENOMEM;
    s->tabcap = 64;
    s->tab = calloc(s->tabcap, sizeof(*s->tab));
    if (!s->tab) {
        free(s);
        return HT_ENOMEM;
    }
    *out = s;
    return HT_OK;
}

/* Release sym, its Dwfl sessions and every string it handed out. Accepts
 * NULL. */
void ht__sym_free(ht_symbolizer *sym)
{
    if (!sym)
        return;
    for (size_t i = 0; i < sym->nmods; i++) {
        free(sym->mods[i].path);
        if (sym->mods[i].dwfl)
            dwfl_end(sym->mods[i].dwfl);
    }
    for (size_t i = 0; i < sym->tabcap; i++) {
        free((char *)sym->tab[i].loc.file);
        free((char *)sym->tab[i].loc.func);
    }
    free(sym->mods);
    free(sym->tab);
    free(sym);
}

/* Open one module session (mod->dwfl stays NULL if the file is unusable). */
static void mod_open(struct sym_mod *m)
{
    Dwfl *dwfl = dwfl_begin(&sym_callbacks);
    if (!dwfl)
        return;
    dwfl_report_begin(dwfl);
    m->mod = dwfl_report_elf(dwfl, m->path, m->path, -1, 0, true);
    dwfl_report_end(dwfl, NULL, NULL);
    if (!m->mod) {
        dwfl_end(dwfl);
        return;
    }
    m->dwfl = dwfl;
}

/* Index of the module for path, opening it on first use; -1 on ENOMEM, -2 if
 * the file cannot be read. */
static long mod_find(ht_symbolizer *s, const char *path)
{
    for (size_t i = 0; i < s->nmods; i++)
        if (strcmp(s->mods[i].path, path) == 0)
            return (long)i;
    if (access(path, R_OK) != 0)
        return -2;
    if (s->nmods == s->capmods) {
        size_t cap = s->capmods ? 2 * s->capmods : 8;
        struct sym_mod *m = realloc(s->mods, cap * sizeof(*m));
        if (!m)
            return -1;
        s->mods = m;
        s->capmods = cap;
    }
    struct sym_mod *m = &s->mods[s->nmods];
    memset(m, 0, sizeof(*m));
    m->path = strdup(path);
    if (!m->path)
        return -1;
    mod_open(m);
    return (long)s->nmods++;
}

static size_t ent_hash(uint32_t mod1, uint64_t rel, size_t mask)
{
    return (size_t)(((rel ^ ((uint64_t)mod1 << 48)) * 0x9E3779B97F4A7C15ull) >>
                    32) & mask;
}

static struct sym_ent *tab_slot(struct sym_ent *tab, size_t cap, uint32_t mod1,
                                uint64_t rel)
{
    size_t i = ent_hash(mod1, rel, cap - 1);
    while (tab[i].mod1 && !(tab[i].mod1 == mod1 && tab[i].rel == rel))
        i = (i + 1) & (cap - 1);
    return &tab[i];
}

/* Double the cache table (invariant 1). 0 on ENOMEM. */
static int tab_grow(ht_symbolizer *s)
{
    size_t cap = s->tabcap * 2;
    struct sym_ent *t = calloc(cap, sizeof(*t));
    if (!t)
        return 0;
    for (size_t i = 0; i < s->tabcap; i++)
        if (s->tab[i].mod1)
            *tab_slot(t, cap, s->tab[i].mod1, s->tab[i].rel) = s->tab[i];
    free(s->tab);
    s->tab = t;
    s->tabcap = cap;
    return 1;
}

/* Name of a scope DIE, following DW_AT_abstract_origin/specification. */
static const char *scope_name(Dwarf_Die *die)
{
    Dwarf_Attribute attr;
    if (dwarf_attr_integrate(die, DW_AT_name, &attr))
        return dwarf_formstring(&attr);
    return NULL;
}

/* Innermost function (inlined or not) containing addr in the CU; NULL if
 * unknown. */
static const char *innermost_func(Dwarf_Die *cu, Dwarf_Addr addr)
{
    Dwarf_Die *scopes = NULL;
    const char *name = NULL;
    int n = dwarf_getscopes(cu, addr, &scopes);
    for (int i = 0; i < n; i++) {
        int tag = dwarf_tag(&scopes[i]);
        if (tag == DW_TAG_inlined_subroutine || tag == DW_TAG_subprogram) {
            name = scope_name(&scopes[i]);
            break;
        }
    }
    free(scopes);
    return name;
}

/* malloc'd absolute path of a line-table file name (joined with the CU's
 * comp_dir when relative); NULL on failure. */
static char *abs_file(Dwarf_Die *cu, const char *name)
{
    Dwarf_Attribute attr;
    const char *dir = NULL;
    char *r;
    size_t dl, nl;
    if (name[0] == '/')
        return strdup(name);
    if (dwarf_attr(cu, DW_AT_comp_dir, &attr))
        dir = dwarf_formstring(&attr);
    if (!dir)
        return strdup(name);
    dl = strlen(dir);
    nl = strlen(name);
    r = malloc(dl + nl + 2);
    if (!r)
        return NULL;
    memcpy(r, dir, dl);
    r[dl] = '/';
    memcpy(r + dl + 1, name, nl + 1);
    return r;
}

/* Resolve rel (return address, module-relative) in m into e. */
static ht_err resolve(struct sym_mod *m, uint64_t rel, struct sym_ent *e)
{
    Dwarf_Addr dwbias = 0;
    Dwarf_Die cu;
    Dwarf *dw;
    Dwarf_Line *line;
    const char *src, *func;
    int lineno = 0, col = 0;

    e->rc = HT_ENOTFOUND;
    if (!m->dwfl || rel == 0)
        return HT_OK;
    dw = dwfl_module_getdwarf(m->mod, &dwbias);
    if (!dw)
        return HT_OK;
    Dwarf_Addr addr = rel - 1 - dwbias;
    if (!dwarf_addrdie(dw, addr, &cu))
        return HT_OK;
    line = dwarf_getsrc_die(&cu, addr);
    if (!line || !(src = dwarf_linesrc(line, NULL, NULL)))
        return HT_OK;
    dwarf_lineno(line, &lineno);
    dwarf_linecol(line, &col);
    func = innermost_func(&cu, addr);
    e->loc.file = abs_file(&cu, src);
    e->loc.func = func ? strdup(func) : NULL;
    if (!e->loc.file || (func && !e->loc.func)) {
        free((char *)e->loc.file);
        free((char *)e->loc.func);
        e->loc.file = e->loc.func = NULL;
        return HT_ENOMEM;
    }
    e->loc.line = lineno;
    e->loc.col = col;
    e->rc = HT_OK;
    return HT_OK;
}

/*
 * Symbolise return address pc of the module at module_path loaded with bias
 * (see store_int.h). Strings in *out belong to sym. Errors: HT_EINVAL (NULL
 * argument), HT_ENOENT (file missing), HT_ENOTFOUND (no debug info or line
 * for pc), HT_ENOMEM; *out is zeroed on every error.
 */
ht_err ht__sym_lookup(ht_symbolizer *sym, const char *module_path,
                      uint64_t bias, uint64_t pc, struct ht_symloc *out)
{
    struct sym_ent *e;
    uint64_t rel = pc - bias;
    long mi;
    ht_err rc;

    if (out)
        memset(out, 0, sizeof(*out));
    if (!sym || !module_path || !out)
        return HT_EINVAL;
    mi = mod_find(sym, module_path);
    if (mi < 0)
        return mi == -2 ? HT_ENOENT : HT_ENOMEM;
    e = tab_slot(sym->tab, sym->tabcap, (uint32_t)mi + 1, rel);
    if (!e->mod1) {
        if ((sym->ntab + 1) * 2 > sym->tabcap) {
            if (!tab_grow(sym))
                return HT_ENOMEM;
            e = tab_slot(sym->tab, sym->tabcap, (uint32_t)mi + 1, rel);
        }
        rc = resolve(&sym->mods[mi], rel, e);
        if (rc != HT_OK)
            return rc;
        e->mod1 = (uint32_t)mi + 1;
        e->rel = rel;
        sym->ntab++;
    }
    if (e->rc != HT_OK)
        return e->rc;
    *out = e->loc;
    return HT_OK;
}
