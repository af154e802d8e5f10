/*
 * heaptrail-cc options: see cc_opts.h for the syntax and where they come
 * from. Every accepted name is a C identifier, so a typo such as
 * `--alloc-fn=pool_alloc:size` fails here with the option named instead of
 * silently instrumenting nothing.
 */
#define _GNU_SOURCE
#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cc_opts.h"

static const char known[] =
    "known: --refcount-inc=A,B --refcount-dec=A,B --preset=cpython "
    "--preset=glib --alloc-fn=NAME:size=N --free-fn=NAME:ptr=N --no-stores";

static char *own(struct ht_cc_opts *o, const char *s, size_t n)
{
    char **nv = realloc(o->owned, (o->nowned + 1) * sizeof *nv);
    if (!nv)
        return NULL;
    o->owned = nv;
    char *c = strndup(s, n);
    if (c)
        o->owned[o->nowned++] = c;
    return c;
}

static int is_ident(const char *s, size_t n)
{
    if (n == 0 || isdigit((unsigned char)s[0]))
        return 0;
    for (size_t i = 0; i < n; i++)
        if (!isalnum((unsigned char)s[i]) && s[i] != '_')
            return 0;
    return 1;
}

/* Comma-separated identifiers into v. */
static int add_names(struct ht_cc_opts *o, const char **v, size_t *n,
                     const char *list, const char *opt, const char *origin,
                     char *err, size_t errsz)
{
    const char *p = list;
    for (;;) {
        size_t k = strcspn(p, ",");
        if (!is_ident(p, k)) {
            snprintf(err, errsz, "%s: %s: '%.*s' is not a C identifier",
                     origin, opt, (int)k, p);
            return -1;
        }
        if (*n >= HT_CC_MAX_NAMES) {
            snprintf(err, errsz, "%s: %s: more than %d names", origin, opt,
                     HT_CC_MAX_NAMES);
            return -1;
        }
        const char *c = own(o, p, k);
        if (!c) {
            snprintf(err, errsz, "out of memory");
            return -1;
        }
        v[(*n)++] = c;
        if (!p[k])
            return 0;
        p += k + 1;
    }
}

/* NAME:KEY=N (N a 1-based argument index) into f. */
static int parse_fn(struct ht_cc_opts *o, const char *v, const char *key,
                    struct ht_site_fn *f, const char *opt, const char *origin,
                    char *err, size_t errsz)
{
    const char *colon = strchr(v, ':');
    size_t kl = strlen(key);
    if (!colon || strncmp(colon + 1, key, kl) != 0 || colon[1 + kl] != '=') {
        snprintf(err, errsz, "%s: %s: '%s' is not NAME:%s=N", origin, opt, v,
                 key);
        return -1;
    }
    if (!is_ident(v, (size_t)(colon - v))) {
        snprintf(err, errsz, "%s: %s: '%.*s' is not a C identifier", origin,
                 opt, (int)(colon - v), v);
        return -1;
    }
    const char *num = colon + 2 + kl;
    char *end;
    errno = 0;
    long n = isdigit((unsigned char)*num) ? strtol(num, &end, 10) : -1;
    if (n < 1 || n > 127 || errno || *end) {
        snprintf(err, errsz,
                 "%s: %s: argument number '%s' is not in 1..127 (arguments "
                 "count from 1)", origin, opt, num);
        return -1;
    }
    f->name = own(o, v, (size_t)(colon - v));
    f->arg = (unsigned)n;
    if (!f->name) {
        snprintf(err, errsz, "out of memory");
        return -1;
    }
    return 0;
}

static int preset(struct ht_cc_opts *o, const char *v, const char *origin,
                  char *err, size_t errsz)
{
    const char *inc, *dec;
    if (strcmp(v, "cpython") == 0) {
        inc = "Py_INCREF,Py_XINCREF";
        dec = "Py_DECREF,Py_XDECREF";
    } else if (strcmp(v, "glib") == 0) {
        inc = "g_object_ref";
        dec = "g_object_unref";
    } else {
        snprintf(err, errsz, "%s: unknown preset '%s' (known: cpython, glib)",
                 origin, v);
        return -1;
    }
    return add_names(o, o->inc, &o->ni, inc, "--preset", origin, err, errsz) ||
                   add_names(o, o->dec, &o->nd, dec, "--preset", origin, err,
                             errsz)
               ? -1
               : 0;
}

/* One option t whose value (if it takes one) is val. */
static int apply(struct ht_cc_opts *o, const char *name, const char *val,
                 const char *origin, char *err, size_t errsz)
{
    if (strcmp(name, "--refcount-inc") == 0)
        return add_names(o, o->inc, &o->ni, val, name, origin, err, errsz);
    if (strcmp(name, "--refcount-dec") == 0)
        return add_names(o, o->dec, &o->nd, val, name, origin, err, errsz);
    if (strcmp(name, "--preset") == 0)
        return preset(o, val, origin, err, errsz);
    int is_alloc = strcmp(name, "--alloc-fn") == 0;
    size_t *n = is_alloc ? &o->na : &o->nf;
    if (*n >= HT_CC_MAX_NAMES) {
        snprintf(err, errsz, "%s: more than %d %s options", origin,
                 HT_CC_MAX_NAMES, name);
        return -1;
    }
    struct ht_site_fn *f = is_alloc ? &o->alloc[*n] : &o->free[*n];
    if (parse_fn(o, val, is_alloc ? "size" : "ptr", f, name, origin, err,
                 errsz))
        return -1;
    (*n)++;
    return 0;
}

static int takes_value(const char *name)
{
    static const char *const v[] = {"--refcount-inc", "--refcount-dec",
                                    "--preset", "--alloc-fn", "--free-fn"};
    for (size_t i = 0; i < sizeof v / sizeof v[0]; i++)
        if (strcmp(name, v[i]) == 0)
            return 1;
    return 0;
}

int ht_cc_opts_parse(struct ht_cc_opts *o, const char *s, const char *origin,
                     char *err, size_t errsz)
{
    if (!s)
        return 0;
    char *buf = strdup(s);
    if (!buf) {
        snprintf(err, errsz, "out of memory");
        return -1;
    }
    int rc = 0;
    char *save = NULL;
    for (char *t = strtok_r(buf, " \t\r\n", &save); t && !rc;
         t = strtok_r(NULL, " \t\r\n", &save)) {
        if (strcmp(t, "--no-stores") == 0) {
            o->no_stores = 1;
            continue;
        }
        char *eq = strchr(t, '=');
        if (eq)
            *eq = 0;
        if (!takes_value(t)) {
            if (eq)
                *eq = '=';
            snprintf(err, errsz, "%s: unknown option '%s' (%s)", origin, t,
                     known);
            rc = -1;
            break;
        }
        const char *val = eq ? eq + 1 : strtok_r(NULL, " \t\r\n", &save);
        if (!val || !*val) {
            snprintf(err, errsz, "%s: %s needs a value", origin, t);
            rc = -1;
            break;
        }
        rc = apply(o, t, val, origin, err, errsz);
    }
    free(buf);
    return rc;
}

int ht_cc_opts_parse_file(struct ht_cc_opts *o, const char *path, char *err,
                          size_t errsz)
{
    FILE *f = fopen(path, "r");
    if (!f) {
        snprintf(err, errsz, "%s: cannot read the config file: %s", path,
                 strerror(errno));
        return -1;
    }
    char *line = NULL;
    size_t cap = 0;
    unsigned ln = 0;
    int rc = 0;
    while (!rc && getline(&line, &cap, f) >= 0) {
        ln++;
        line[strcspn(line, "#")] = 0;
        char origin[PATH_MAX + 32];
        snprintf(origin, sizeof origin, "%s:%u", path, ln);
        rc = ht_cc_opts_parse(o, line, origin, err, errsz);
    }
    free(line);
    fclose(f);
    return rc;
}

/* The first .heaptrail-cc.conf in the cwd or a parent (owned), or NULL. */
static char *find_config(void)
{
    char *dir = getcwd(NULL, 0);
    while (dir) {
        char *p = NULL;
        if (asprintf(&p, "%s/.heaptrail-cc.conf",
                     strcmp(dir, "/") == 0 ? "" : dir) < 0)
            p = NULL;
        if (p && access(p, F_OK) == 0) {
            free(dir);
            return p;
        }
        free(p);
        char *slash = strrchr(dir, '/');
        if (!slash || (slash == dir && !dir[1])) {
            free(dir);
            return NULL;
        }
        slash[slash == dir] = 0;
    }
    return NULL;
}

int ht_cc_opts_load(struct ht_cc_opts *o, char *err, size_t errsz)
{
    memset(o, 0, sizeof *o);
    const char *env = getenv("HEAPTRAIL_CONFIG");
    o->config = env && *env ? strdup(env) : find_config();
    if (o->config && ht_cc_opts_parse_file(o, o->config, err, errsz))
        return -1;
    return ht_cc_opts_parse(o, getenv("HEAPTRAIL_OPTS"), "HEAPTRAIL_OPTS",
                            err, errsz);
}

struct ht_site_opts ht_cc_opts_site_opts(const struct ht_cc_opts *o)
{
    struct ht_site_opts so;
    memset(&so, 0, sizeof so);
    so.inc_names = o->inc;
    so.n_inc = o->ni;
    so.dec_names = o->dec;
    so.n_dec = o->nd;
    so.no_stores = o->no_stores;
    so.alloc_fns = o->alloc;
    so.n_alloc_fns = o->na;
    so.free_fns = o->free;
    so.n_free_fns = o->nf;
    return so;
}

/* FNV-1a over s and its terminating NUL (so "ab","c" and "a","bc" differ). */
static uint64_t fnv(uint64_t h, const char *s)
{
    do
        h = (h ^ (unsigned char)*s) * 0x100000001b3ULL;
    while (*s++);
    return h;
}

uint64_t ht_cc_opts_digest(const struct ht_cc_opts *o)
{
    char num[32];
    uint64_t h = 0xcbf29ce484222325ULL;
    h = fnv(h, "inc");
    for (size_t i = 0; i < o->ni; i++)
        h = fnv(h, o->inc[i]);
    h = fnv(h, "dec");
    for (size_t i = 0; i < o->nd; i++)
        h = fnv(h, o->dec[i]);
    h = fnv(h, "alloc");
    for (size_t i = 0; i < o->na; i++) {
        snprintf(num, sizeof num, "%u", o->alloc[i].arg);
        h = fnv(fnv(h, o->alloc[i].name), num);
    }
    h = fnv(h, "free");
    for (size_t i = 0; i < o->nf; i++) {
        snprintf(num, sizeof num, "%u", o->free[i].arg);
        h = fnv(fnv(h, o->free[i].name), num);
    }
    return fnv(h, o->no_stores ? "no-stores" : "stores");
}

void ht_cc_opts_free(struct ht_cc_opts *o)
{
    if (!o)
        return;
    for (size_t i = 0; i < o->nowned; i++)
        free(o->owned[i]);
    free(o->owned);
    free(o->config);
    memset(o, 0, sizeof *o);
}
