/*
 * Call columns in the rewritten copy.
 *
 * The rewriter keeps line numbers but inserts text before a store's
 * right-hand side, so a call written after that point on the same line
 * (`n->name = strdup(buf);`) is compiled at a later column, and the DWARF
 * column of its return address is that later column. The store joins
 * return addresses to sites by (file, line, column), so each call site gets
 * ccol, its column in the compiled copy.
 *
 * How: the token at the site's column (the callee name, or the macro name
 * for a call expanded from a macro) is the k-th occurrence of that
 * identifier on the original line; inserted text only holds __ht_* and
 * ht_rt_* names, so it is also the k-th occurrence on the rewritten line.
 * If the lines do not line up the way this expects, ccol stays 0 (join on
 * the original column).
 */
#define _GNU_SOURCE
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "heaptrail/slurp.h"
#include "cc_colmap.h"

static int is_id(int c) { return isalnum(c) || c == '_'; }

/* Start of each line of text (1-based line i at v[i]); count in *n. */
static const char **line_index(const char *text, size_t *n)
{
    size_t cap = 1024, k = 1;
    const char **v = malloc(cap * sizeof *v);
    if (!v)
        return NULL;
    v[0] = NULL;
    v[k++] = text;
    for (const char *p = text; *p; p++) {
        if (*p != '\n')
            continue;
        if (k == cap) {
            const char **nv = realloc(v, 2 * cap * sizeof *v);
            if (!nv) {
                free(v);
                return NULL;
            }
            v = nv;
            cap *= 2;
        }
        v[k++] = p + 1;
    }
    *n = k - 1;
    return v;
}

/* Offset in line (end at '\n' or NUL) of the k-th bounded occurrence of
 * tok (length tl), or -1. */
static long nth_token(const char *line, const char *tok, size_t tl, int k)
{
    for (const char *p = line; *p && *p != '\n'; p++) {
        if (strncmp(p, tok, tl) != 0)
            continue;
        if ((p > line && is_id((unsigned char)p[-1]) && is_id((unsigned char)tok[0])) ||
            (is_id((unsigned char)p[tl]) && is_id((unsigned char)tok[tl - 1])))
            continue;
        if (k-- == 0)
            return p - line;
    }
    return -1;
}

/* ccol of one call site given its original and rewritten lines. */
static unsigned map_col(const char *orig, const char *rw, unsigned col)
{
    const char *t = orig;
    for (unsigned c = 1; c < col; c++, t++)
        if (!*t || *t == '\n')
            return 0;
    size_t tl = 0;
    while (is_id((unsigned char)t[tl]))
        tl++;
    if (tl == 0)
        tl = 1;
    int k = 0;
    for (long off; (off = nth_token(orig, t, tl, k)) >= 0 && orig + off < t;)
        k++;
    long r = nth_token(rw, t, tl, k);
    return r < 0 ? 0 : (unsigned)r + 1;
}

void ht__cc_map_cols(struct ht_site_list *l, const char *rewritten_path)
{
    size_t len;
    char *orig = ht__slurp(l->main_file, &len);
    char *rw = ht__slurp(rewritten_path, &len);
    size_t no = 0, nr = 0;
    const char **lo = orig ? line_index(orig, &no) : NULL;
    const char **lr = rw ? line_index(rw, &nr) : NULL;
    /* the copy is: prelude, `#line 1 "..."`, then the original lines */
    size_t skip = 0;
    for (size_t i = 1; lr && i <= nr; i++)
        if (strncmp(lr[i], "#line 1 \"", 9) == 0) {
            skip = i;
            break;
        }
    for (size_t i = 0; skip && lo && i < l->n; i++) {
        struct ht_site *s = &l->v[i];
        if (s->kind != HT_SITE_ALLOC && s->kind != HT_SITE_FREE &&
            s->kind != HT_SITE_ICALL)
            continue;
        if (s->line > no || s->line + skip > nr ||
            strcmp(s->file, l->main_file) != 0)
            continue;
        s->ccol = map_col(lo[s->line], lr[s->line + skip], s->col);
    }
    free(lo);
    free(lr);
    free(orig);
    free(rw);
}
