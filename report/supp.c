/*
 * Suppressions and --fail-on gates.
 *
 * A suppression file has one rule per line: `KIND:GLOB` or
 * `KIND:FILE_GLOB:LINE` ('#' starts a comment, blank lines are skipped).
 * KIND is leak, cycle, error, refcount or '*'. `KIND:GLOB` matches a
 * finding whose allocation (or error) site's function, file path or file
 * basename matches GLOB (fnmatch); `KIND:FILE_GLOB:LINE` matches the file
 * (path or basename) and the line (LINE may be '*').
 */
#include <errno.h>
#include <fnmatch.h>
#include <stdlib.h>
#include <string.h>

#include "report_int.h"

struct rule {
    char *kind, *glob;
    long line;   /* -1: no line field; -2: '*' */
};

struct ht_report_supp {
    struct rule *v;
    size_t n;
};

void ht_report_supp_free(ht_report_supp *s)
{
    if (!s)
        return;
    for (size_t i = 0; i < s->n; i++) {
        free(s->v[i].kind);
        free(s->v[i].glob);
    }
    free(s->v);
    free(s);
}

static const char *trim(char *s)
{
    while (*s == ' ' || *s == '\t')
        s++;
    char *e = s + strlen(s);
    while (e > s && (e[-1] == ' ' || e[-1] == '\t' || e[-1] == '\n' ||
                     e[-1] == '\r'))
        *--e = 0;
    return s;
}

/* Parse one non-empty rule; 0 or -1 (malformed), -2 on ENOMEM. */
static int parse_rule(char *line, struct rule *r)
{
    static const char *const kinds[] = {"leak", "cycle", "error", "refcount",
                                        "*"};
    char *c1 = strchr(line, ':');
    if (!c1)
        return -1;
    *c1 = 0;
    int ok = 0;
    for (size_t i = 0; i < sizeof kinds / sizeof kinds[0]; i++)
        ok |= !strcmp(line, kinds[i]);
    char *glob = c1 + 1, *c2 = strrchr(glob, ':');
    r->line = -1;
    if (c2) {
        char *end;
        *c2 = 0;
        r->line = !strcmp(c2 + 1, "*") ? -2 : strtol(c2 + 1, &end, 10);
        if (r->line == -1 || (r->line != -2 && (*end || end == c2 + 1 ||
                                                r->line <= 0)))
            return -1;
    }
    if (!ok || !*glob)
        return -1;
    r->kind = strdup(line);
    r->glob = strdup(glob);
    return r->kind && r->glob ? 0 : -2;
}

ht_err ht_report_supp_load(const char *path, ht_report_supp **out,
                           int *bad_line)
{
    *out = NULL;
    *bad_line = 0;
    FILE *f = fopen(path, "r");
    if (!f)
        return errno == ENOENT ? HT_ENOENT : HT_EIO;
    ht_report_supp *s = calloc(1, sizeof *s);
    char buf[4096];
    size_t cap = 0;
    ht_err e = s ? HT_OK : HT_ENOMEM;
    for (int ln = 1; e == HT_OK && fgets(buf, sizeof buf, f); ln++) {
        char *h = strchr(buf, '#');
        if (h)
            *h = 0;
        char *t = (char *)trim(buf);
        if (!*t)
            continue;
        if (s->n == cap) {
            cap = cap ? 2 * cap : 16;
            struct rule *nv = realloc(s->v, cap * sizeof *nv);
            if (!nv) {
                e = HT_ENOMEM;
                break;
            }
            s->v = nv;
        }
        struct rule *r = &s->v[s->n];
        memset(r, 0, sizeof *r);
        int rc = parse_rule(t, r);
        if (rc == 0) {
            s->n++;
            continue;
        }
        free(r->kind);
        free(r->glob);
        e = rc == -2 ? HT_ENOMEM : HT_EPARSE;
        if (rc == -1)
            *bad_line = ln;
    }
    if (e == HT_OK && ferror(f))
        e = HT_EIO;
    fclose(f);
    if (e != HT_OK) {
        ht_report_supp_free(s);
        return e;
    }
    *out = s;
    return HT_OK;
}

static int match_file(const char *glob, const char *file)
{
    if (!file)
        return 0;
    const char *base = strrchr(file, '/');
    return !fnmatch(glob, file, 0) || (base && !fnmatch(glob, base + 1, 0));
}

int ht__supp_match(const ht_report_supp *s, const char *cat,
                   const struct ht_report_loc *loc)
{
    for (size_t i = 0; s && i < s->n; i++) {
        const struct rule *r = &s->v[i];
        if (strcmp(r->kind, "*") && strcmp(r->kind, cat))
            continue;
        if (r->line == -1) {
            if ((loc->func && !fnmatch(r->glob, loc->func, 0)) ||
                match_file(r->glob, loc->file))
                return 1;
        } else if (match_file(r->glob, loc->file) &&
                   (r->line == -2 || r->line == loc->line)) {
            return 1;
        }
    }
    return 0;
}

/* ---- --fail-on -------------------------------------------------------- */

ht_err ht_report_parse_fail_on(const char *list, unsigned *mask)
{
    static const struct {
        const char *name;
        unsigned bit;
    } words[] = {
        {"leaks", HT_REPORT_FAIL_LEAKS},
        {"cycles", HT_REPORT_FAIL_CYCLES},
        {"refcount", HT_REPORT_FAIL_REFCOUNT},
        {"invalid-free", HT_REPORT_FAIL_INVALID_FREE},
        {"all", HT_REPORT_FAIL_LEAKS | HT_REPORT_FAIL_CYCLES |
                    HT_REPORT_FAIL_REFCOUNT | HT_REPORT_FAIL_INVALID_FREE},
    };
    *mask = 0;
    const char *p = list;
    while (*p) {
        size_t len = strcspn(p, ",");
        unsigned bit = 0;
        for (size_t i = 0; i < sizeof words / sizeof words[0]; i++)
            if (strlen(words[i].name) == len && !strncmp(p, words[i].name, len))
                bit = words[i].bit;
        if (!bit) {
            *mask = 0;
            return HT_EINVAL;
        }
        *mask |= bit;
        p += len + (p[len] == ',');
    }
    return *mask ? HT_OK : HT_EINVAL;
}

int ht__rep_error_is_free(const char *kind)
{
    return kind && (!strcmp(kind, "invalid_free") ||
                    !strcmp(kind, "double_free") ||
                    !strcmp(kind, "realloc_freed"));
}

unsigned ht_report_failures(const struct ht_report *r, unsigned mask)
{
    unsigned hit = 0;
    if (r->leak_blocks[HT_LEAK_DEFINITE] + r->leak_blocks[HT_LEAK_INDIRECT])
        hit |= HT_REPORT_FAIL_LEAKS;
    if (r->leak_blocks[HT_LEAK_CYCLE])
        hit |= HT_REPORT_FAIL_CYCLES;
    for (size_t i = 0; i < r->nerrors; i++) {
        if (r->errors[i].suppressed)
            continue;
        if (ht__rep_error_is_refcount(r->errors[i].kind))
            hit |= HT_REPORT_FAIL_REFCOUNT;
        if (ht__rep_error_is_free(r->errors[i].kind))
            hit |= HT_REPORT_FAIL_INVALID_FREE;
    }
    return hit & mask;
}

const char *ht__rep_loc_str(const struct ht_report_loc *loc, char *buf,
                            size_t n)
{
    if (loc->file)
        snprintf(buf, n, "%s:%lld:%lld %s", loc->file, (long long)loc->line,
                 (long long)loc->col, loc->func ? loc->func : "?");
    else if (loc->key)
        snprintf(buf, n, "0x%llx (no debug info)",
                 (unsigned long long)loc->key);
    else
        snprintf(buf, n, "(unknown)");
    return buf;
}
