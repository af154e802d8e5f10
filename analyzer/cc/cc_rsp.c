/*
 * heaptrail-cc response files: `@file` arguments expanded as gcc does
 * (libiberty's expandargv/buildargv, whose rules are reimplemented here:
 * Debian ships no libiberty library for programs to link).
 *
 *   - an argument `@path` whose file can be read is replaced by the
 *     arguments the file holds; one that cannot (missing, a directory) stays
 *     as it is, for the compiler to complain about;
 *   - the file's text is split at white space; single and double quotes
 *     group (the quote characters are dropped, `""` is an empty argument); a
 *     backslash takes the next character literally, inside quotes too;
 *   - arguments coming from a file are expanded again (nested files), up to
 *     HT_CC_RSP_MAX_FILES expansions per command (a file naming itself).
 *
 * Invariants: 1. every string of out->v is either one of the caller's
 * argv strings or owned by out (freed by ht__cc_args_free); 2. out->v is
 * NULL-terminated.
 */
#define _GNU_SOURCE
#include <stdlib.h>
#include <string.h>

#include "heaptrail/slurp.h"
#include "cc_rsp.h"

#define HT_CC_RSP_MAX_FILES 2000

/* Take ownership of s[0..k) (the arguments of one file), growing owned
 * geometrically: a response file of a million arguments must not cost a
 * realloc each. On -1 (out of memory) the k strings are freed. */
static int keep_all(struct ht_cc_args *a, char **s, int k)
{
    size_t need = a->nowned + (size_t)k;
    if (need > a->cowned) {
        size_t cap = a->cowned ? a->cowned * 2 : 16;
        if (cap < need)
            cap = need;
        char **o = realloc(a->owned, cap * sizeof *o);
        if (!o) {
            for (int j = 0; j < k; j++)
                free(s[j]);
            return -1;
        }
        a->owned = o;
        a->cowned = cap;
    }
    memcpy(a->owned + a->nowned, s, (size_t)k * sizeof *s);
    a->nowned = need;
    return 0;
}

int ht__cc_split_rsp(const char *text, char ***out, int *n)
{
    *out = NULL;
    *n = 0;
    size_t len = strlen(text);
    char **v = calloc(len / 2 + 2, sizeof *v); /* at most len/2+1 args */
    char *buf = malloc(len + 1);
    if (!v || !buf) {
        free(v);
        free(buf);
        return -1;
    }
    const char *p = text;
    int k = 0;
    for (;;) {
        while (*p && strchr(" \t\n\r\f\v", *p))
            p++;
        if (!*p)
            break;
        size_t m = 0;
        int sq = 0, dq = 0;
        for (; *p; p++) {
            if (*p == '\\' && p[1]) {
                buf[m++] = *++p;
            } else if (sq) {
                if (*p == '\'')
                    sq = 0;
                else
                    buf[m++] = *p;
            } else if (dq) {
                if (*p == '"')
                    dq = 0;
                else
                    buf[m++] = *p;
            } else if (strchr(" \t\n\r\f\v", *p)) {
                break;
            } else if (*p == '\'') {
                sq = 1;
            } else if (*p == '"') {
                dq = 1;
            } else {
                buf[m++] = *p;
            }
        }
        v[k] = strndup(buf, m);
        if (!v[k]) {
            for (int i = 0; i < k; i++)
                free(v[i]);
            free(v);
            free(buf);
            return -1;
        }
        k++;
    }
    free(buf);
    *out = v;
    *n = k;
    return 0;
}

int ht__cc_expand_args(int argc, char **argv, struct ht_cc_args *a)
{
    memset(a, 0, sizeof *a);
    int cap = argc + 1, n = argc;
    char **v = malloc((size_t)cap * sizeof *v);
    if (!v)
        return -1;
    memcpy(v, argv, (size_t)argc * sizeof *v);
    v[n] = NULL;
    a->v = v;
    int files = 0;
    for (int i = 0; i < n;) {
        const char *arg = v[i];
        if (arg[0] != '@' || files >= HT_CC_RSP_MAX_FILES) {
            i++;
            continue;
        }
        /* a missing file or a directory (fread fails) is an ordinary
         * argument, as gcc treats it */
        size_t len;
        char *text = ht__slurp(arg + 1, &len);
        if (!text) {
            i++;
            continue;
        }
        files++;
        char **nv;
        int k;
        int bad = ht__cc_split_rsp(text, &nv, &k);
        free(text);
        if (bad)
            goto oom;
        if (keep_all(a, nv, k)) {
            free(nv);
            goto oom;
        }
        if (n - 1 + k + 1 > cap) {
            /* geometric too: a command of many small files */
            cap = n + k + 1 > 2 * cap ? n + k + 1 : 2 * cap;
            char **g = realloc(v, (size_t)cap * sizeof *v);
            if (!g) {
                free(nv);
                goto oom;
            }
            a->v = v = g;
        }
        /* replace v[i] by nv[0..k); v[i] is examined again (nested) */
        memmove(v + i + k, v + i + 1, (size_t)(n - i) * sizeof *v);
        memcpy(v + i, nv, (size_t)k * sizeof *v);
        n += k - 1;
        free(nv);
    }
    a->n = n;
    return 0;
oom:
    ht__cc_args_free(a);
    return -1;
}

void ht__cc_args_free(struct ht_cc_args *a)
{
    if (!a)
        return;
    for (size_t i = 0; i < a->nowned; i++)
        free(a->owned[i]);
    free(a->owned);
    free(a->v);
    memset(a, 0, sizeof *a);
}
