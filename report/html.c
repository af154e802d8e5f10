/*
 * The HTML report: one self-contained page per run.
 *
 * The C side writes one JSON document inside <script
 * type="application/json">: the findings (run, stats, leaks, errors,
 * cycles) and the site tables (peak_sites, pinning, churn, unbalanced
 * refcount sites) from the report model, so suppressions, grouping, row
 * limits and locations are those of the other formats, and the time series,
 * allocation sites, pool map and GC counts straight from the replay
 * tables; the inline script
 * (report/html.js, compiled in) draws every plot and table from it with DOM
 * calls (textContent / setAttribute), so no string from the trace is ever
 * parsed as markup. Invariants:
 *   1. every string value is written by json_str(), which escapes '<', '>'
 *      and '&' as \u00XX: the JSON cannot end its <script> element early;
 *   2. a value declared numeric is written only if it parses as a number,
 *      null otherwise: the JSON is always well formed;
 *   3. a section whose table does not exist is written as null, a model
 *      section with no rows as [] (the script skips both), so the page works
 *      on traces of older or newer replays.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "heaptrail/report.h"
#include "html_assets.h"
#include "report_int.h"

static void json_str(FILE *out, const char *s)
{
    fputc('"', out);
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        unsigned c = *p;
        if (c == '"' || c == '\\')
            fprintf(out, "\\%c", c);
        else if (c < 0x20 || c == '<' || c == '>' || c == '&' || c == 0x7f)
            fprintf(out, "\\u%04x", c);
        else if (c == 0xe2 && p[1] == 0x80 && (p[2] == 0xa8 || p[2] == 0xa9)) {
            /* U+2028/2029: line terminators in older JS parsers */
            fprintf(out, "\\u202%c", p[2] == 0xa8 ? '8' : '9');
            p += 2;
        } else
            fputc((int)c, out);
    }
    fputc('"', out);
}

/* A JSON number: -?digits(.digits)?([eE][+-]?digits)? (SQLite may also
 * print "Inf", "NaN" or text stored in a numeric column: those are null). */
static int is_number(const char *s)
{
    size_t i = s[0] == '-', d = 0;
    while (s[i] >= '0' && s[i] <= '9')
        i++, d++;
    if (!d)
        return 0;
    if (s[i] == '.') {
        for (d = 0, i++; s[i] >= '0' && s[i] <= '9'; i++)
            d++;
        if (!d)
            return 0;
    }
    if (s[i] == 'e' || s[i] == 'E') {
        i += s[i + 1] == '+' || s[i + 1] == '-' ? 2 : 1;
        for (d = 0; s[i] >= '0' && s[i] <= '9'; i++)
            d++;
        if (!d)
            return 0;
    }
    return s[i] == 0;
}

struct jw {
    FILE *out;
    const char *types; /* one letter per column: n number, s string */
    int rows;
};

static int json_row(void *ctx, int ncol, const char *const *v,
                    const char *const *names)
{
    (void)names;
    struct jw *w = ctx;
    fputs(w->rows++ ? ",\n[" : "\n[", w->out);
    size_t nt = strlen(w->types);
    for (int i = 0; i < ncol; i++) {
        if (i)
            fputc(',', w->out);
        char t = (size_t)i < nt ? w->types[i] : 's';
        if (!v[i])
            fputs("null", w->out);
        else if (t == 'n')
            fputs(is_number(v[i]) ? v[i] : "null", w->out);
        else
            json_str(w->out, v[i]);
    }
    fputc(']', w->out);
    return 0;
}

/* Write  ,"key":[rows...]  (or null when table is absent). sql is a printf
 * format whose every %lld is the run id (up to 4 of them). */
static ht_err section(ht_store *st, FILE *out, const char *key,
                      const char *table, const char *types, int64_t run,
                      const char *fmt)
{
    fprintf(out, ",\n\"%s\":", key);
    if (!ht__rep_has_table(st, table)) {
        fputs("null", out);
        return HT_OK;
    }
    char sql[8192];
    long long r = (long long)run;
    snprintf(sql, sizeof sql, fmt, r, r, r, r);
    struct jw w = {out, types, 0};
    fputc('[', out);
    ht_err e = ht_store_query(st, sql, 1, json_row, &w);
    fputc(']', out);
    return e;
}

static const struct {
    const char *key, *table, *types, *sql;
} sections[] = {
    {"snaps", "frag_snapshots", "nsnnnnnnnn",
     "SELECT seq, kind, live_bytes, bytes_in_use, bytes_total, utilisation,"
     " arenas, pools_used, unused_pools, blocks_in_use FROM frag_snapshots"
     " WHERE run_id=%lld ORDER BY seq, kind='exit'"},
    {"sites", "site_stats", "ssnnnn",
     "SELECT COALESCE(p.file,'?'), COALESCE(p.func, printf('0x%%x', s.pc)),"
     " COALESCE(p.line,0), s.bytes_allocated, s.allocs, s.live_bytes"
     " FROM site_stats s LEFT JOIN pcs p ON p.run_id=s.run_id AND p.pc=s.pc"
     " WHERE s.run_id=%lld AND s.bytes_allocated>0"},
    {"pool_map", "pool_map", "snnnnn",
     "SELECT kind, arena, pool, size_class, used_blocks, total_blocks"
     " FROM pool_map WHERE run_id=%lld AND arena IN (SELECT DISTINCT arena"
     " FROM pool_map WHERE run_id=%lld ORDER BY arena LIMIT 256)"
     " ORDER BY kind, arena, pool"},
    {"gc", "gc_collections", "nnn",
     "SELECT generation, count(*), sum(collected) FROM gc_collections"
     " WHERE run_id=%lld GROUP BY generation ORDER BY generation"},
};

/* One JSON array row of the model: types are one letter per value,
 * i int64_t, n int64_t with negative as null, u uint64_t, x uint64_t as
 * "0x..", s string (NULL: null), b int as true/false. */
static void mrow(FILE *out, int *nrows, const char *types, ...)
{
    va_list ap;
    va_start(ap, types);
    fputs((*nrows)++ ? ",\n[" : "\n[", out);
    for (const char *t = types; *t; t++) {
        if (t != types)
            fputc(',', out);
        if (*t == 'i' || *t == 'n') {
            int64_t v = va_arg(ap, int64_t);
            if (*t == 'n' && v < 0)
                fputs("null", out);
            else
                fprintf(out, "%lld", (long long)v);
        } else if (*t == 'u') {
            fprintf(out, "%llu", (unsigned long long)va_arg(ap, uint64_t));
        } else if (*t == 'x') {
            fprintf(out, "\"0x%llx\"", (unsigned long long)va_arg(ap, uint64_t));
        } else if (*t == 'b') {
            fputs(va_arg(ap, int) ? "true" : "false", out);
        } else {
            const char *v = va_arg(ap, const char *);
            if (v)
                json_str(out, v);
            else
                fputs("null", out);
        }
    }
    fputc(']', out);
    va_end(ap);
}

/* A location as the text report writes it (ht__rep_loc_str), NULL when
 * there is none (key 0). */
static const char *loc(const struct ht_report_loc *l, char *buf, size_t n)
{
    return l->file || l->key ? ht__rep_loc_str(l, buf, n) : NULL;
}

/* Cycles drawn with their members and edges (the largest first). */
#define HTML_DRAWN_CYCLES 20

/* The site tables of the model, all its rows in its order (up to its row
 * limit, 50; the text report prints the first few): peak_sites, pinning,
 * churn and refcount_sites (the unbalanced ones). */
static void model_site_sections(const struct ht_report *r, FILE *out)
{
    char b[1024];
    int n = 0;
    fputs(",\n\"peak_sites\":[", out);
    for (size_t i = 0; i < r->npeak_sites; i++) {
        const struct ht_report_sitecount *x = &r->peak_sites[i];
        mrow(out, &n, "suu", loc(&x->at, b, sizeof b), x->blocks, x->bytes);
    }
    fputs("],\n\"pinning\":[", out);
    n = 0;
    for (size_t i = 0; i < r->npinning; i++) {
        const struct ht_report_sitecount *x = &r->pinning[i];
        mrow(out, &n, "suuu", loc(&x->at, b, sizeof b), x->blocks, x->pools,
             x->arenas);
    }
    fputs("],\n\"churn\":[", out);
    n = 0;
    for (size_t i = 0; i < r->nchurn; i++) {
        const struct ht_report_churn *x = &r->churn[i];
        mrow(out, &n, "suuuuu", loc(&x->at, b, sizeof b), x->size, x->allocs,
             x->frees, x->max_live, x->short_lived);
    }
    fputs("],\n\"refcount_sites\":[", out);
    n = 0;
    for (size_t i = 0; i < r->nrefsites; i++) {
        const struct ht_report_refsite *x = &r->refsites[i];
        mrow(out, &n, "suu", loc(&x->at, b, sizeof b), x->increfs,
             x->decrefs);
    }
    fputc(']', out);
}

/* The findings sections, from the report model (so suppressions and the
 * grouping are those of the text, JSON and SARIF reports): run, stats,
 * leak_summary, leaks, errors, cycles, cycle_members, cycle_edges. */
static void model_sections(const struct ht_report *r, FILE *out)
{
    char b1[1024], b2[1024];
    int n = 0;
    fputs("\"run\":[", out);
    mrow(out, &n, "issnsnnb", r->run_id, r->program, r->argv, r->pid,
         r->status, r->exit_status, r->signal, r->complete);
    fputs("],\n\"stats\":[", out);
    n = 0;
    if (r->has_stats)
        mrow(out, &n, "uuuuuuuuuuu", r->events, r->allocs, r->reallocs,
             r->frees, r->bytes_allocated, r->peak_bytes, r->peak_blocks,
             r->peak_seq, r->live_blocks, r->live_bytes, r->invalid_frees);
    fputs("],\n\"leak_summary\":[", out);
    n = 0;
    for (int k = 0; k < HT_LEAK_KINDS; k++)
        if (r->leak_blocks[k])
            mrow(out, &n, "suu", ht_report_kind_name((enum ht_report_leak_kind)k),
                 r->leak_blocks[k], r->leak_bytes[k]);
    if (r->suppressed_blocks)
        mrow(out, &n, "suu", "suppressed", r->suppressed_blocks,
             r->suppressed_bytes);
    fputs("],\n\"leaks\":[", out);
    n = 0;
    for (size_t i = 0; i < r->nleaks && i < 1000; i++) {
        const struct ht_report_leak *l = &r->leaks[i];
        mrow(out, &n, "suusssub", ht_report_kind_name(l->kind), l->blocks,
             l->bytes, loc(&l->alloc, b1, sizeof b1), l->lost_by,
             l->has_lost_at ? loc(&l->lost_at, b2, sizeof b2) : NULL,
             l->first_alloc_seq, l->suppressed);
    }
    fputs("],\n\"errors\":[", out);
    n = 0;
    for (size_t i = 0; i < r->nerrors && i < 1000; i++) {
        const struct ht_report_error *x = &r->errors[i];
        mrow(out, &n, "susuxb", x->kind, x->count, loc(&x->at, b1, sizeof b1),
             x->first_seq, x->first_addr, x->suppressed);
    }
    fputs("],\n\"cycles\":[", out);
    n = 0;
    for (size_t i = 0; i < r->ncycles && i < 500; i++)
        mrow(out, &n, "iuub", r->cycles[i].id, (uint64_t)r->cycles[i].nmembers,
             r->cycles[i].bytes, r->cycles[i].suppressed);
    fputs("],\n\"cycle_members\":[", out);
    n = 0;
    for (size_t i = 0; i < r->ncycles && i < HTML_DRAWN_CYCLES; i++)
        for (size_t k = 0; k < r->cycles[i].nmembers; k++) {
            const struct ht_report_member *m = &r->cycles[i].members[k];
            mrow(out, &n, "ixus", r->cycles[i].id, m->addr, m->size,
                 loc(&m->alloc, b1, sizeof b1));
        }
    fputs("],\n\"cycle_edges\":[", out);
    n = 0;
    for (size_t i = 0; i < r->ncycles && i < HTML_DRAWN_CYCLES; i++) {
        const struct ht_report_cycle *c = &r->cycles[i];
        for (size_t k = 0; k < c->nedges; k++) {
            const struct ht_report_edge *e = &c->edges[k];
            mrow(out, &n, "ixuxsu", c->id, e->from_addr, e->offset, e->to_addr,
                 loc(&e->store, b1, sizeof b1),
                 e->store_seq ? e->store_seq : e->inferred_seq);
        }
    }
    fputc(']', out);
}

ht_err ht_report_html(ht_store *st, const struct ht_report *rep, FILE *out)
{
    if (!st || !rep || !out)
        return HT_EINVAL;
    int64_t run_id = rep->run_id;
    fprintf(out, "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\n"
                 "<meta name=\"viewport\" content=\"width=device-width\">\n"
                 "<title>heaptrail report, run %lld</title>\n<style>\n%s</style>\n"
                 "</head>\n<body>\n<div id=\"app\"><noscript>This report draws its "
                 "plots with JavaScript.</noscript></div>\n<div id=\"tip\"></div>\n"
                 "<script type=\"application/json\" id=\"ht-data\">{",
            (long long)run_id, ht__html_css);
    model_sections(rep, out);
    model_site_sections(rep, out);
    ht_err e = HT_OK;
    for (size_t i = 0; !e && i < sizeof sections / sizeof sections[0]; i++)
        e = section(st, out, sections[i].key, sections[i].table,
                    sections[i].types, run_id, sections[i].sql);
    if (e != HT_OK)
        return e;
    fprintf(out, "}\n</script>\n<script>\n%s</script>\n</body></html>\n",
            ht__html_js);
    return fflush(out) == 0 && !ferror(out) ? HT_OK : HT_EIO;
}
