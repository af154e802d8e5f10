/*
 * The HTML report: one self-contained page per run.
 *
 * The C side only queries the replay tables and writes them as one JSON
 * document inside <script type="application/json">; the inline script
 * (report/html.js, compiled in) draws every plot and table from it with DOM
 * calls (textContent / setAttribute), so no string from the trace is ever
 * parsed as markup. Invariants:
 *   1. every string value is written by json_str(), which escapes '<', '>'
 *      and '&' as \u00XX: the JSON cannot end its <script> element early;
 *   2. a value declared numeric is written only if it parses as a number,
 *      null otherwise: the JSON is always well formed;
 *   3. a section whose table does not exist is written as null (the script
 *      skips it), so the page works on traces of older or newer replays.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "heaptrail/report.h"
#include "html_assets.h"

/* "file:line func" of a pc or site id held in column x of a row with
 * run_id column r (pcs first: site ids are small, pcs are addresses). */
#define LOC(r, x)                                                          \
    "CASE WHEN " x " IS NULL OR " x "=0 THEN NULL ELSE COALESCE("          \
    "(SELECT p.file||':'||p.line||' '||COALESCE(p.func,'?') FROM pcs p"    \
    " WHERE p.run_id=" r " AND p.pc=" x "),"                               \
    "(SELECT s.file||':'||s.line||' '||COALESCE(s.func,'?') FROM sites s"  \
    " WHERE s.site_id=" x "), printf('0x%%x', " x ")) END"

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

static int set_flag(void *ctx, int ncol, const char *const *v,
                    const char *const *names)
{
    (void)ncol; (void)v; (void)names;
    *(int *)ctx = 1;
    return 1;
}

static int has_table(ht_store *st, const char *name)
{
    char sql[256];
    int found = 0;
    snprintf(sql, sizeof sql,
             "SELECT 1 FROM sqlite_master WHERE name='%s'", name);
    return ht_store_query(st, sql, 1, set_flag, &found) == HT_OK && found;
}

/* Write  ,"key":[rows...]  (or null when table is absent). sql is a printf
 * format whose every %lld is the run id (up to 4 of them). An optional
 * section (a table of a newer replay whose columns may still change) is
 * rendered into memory first and becomes null if its query fails. */
static ht_err section(ht_store *st, FILE *out, const char *key,
                      const char *table, const char *types, int64_t run,
                      const char *fmt, int optional)
{
    fprintf(out, ",\n\"%s\":", key);
    if (table && !has_table(st, table)) {
        fputs("null", out);
        return HT_OK;
    }
    char sql[8192];
    long long r = (long long)run;
    snprintf(sql, sizeof sql, fmt, r, r, r, r);
    char *buf = NULL;
    size_t len = 0;
    FILE *mem = optional ? open_memstream(&buf, &len) : out;
    if (!mem)
        return HT_ENOMEM;
    struct jw w = {mem, types, 0};
    fputc('[', mem);
    ht_err e = ht_store_query(st, sql, 1, json_row, &w);
    fputc(']', mem);
    if (optional) {
        if (fclose(mem) != 0)
            e = HT_ENOMEM;
        if (e == HT_OK)
            fwrite(buf, 1, len, out);
        else
            fputs("null", out);
        free(buf);
        return e == HT_ENOMEM ? e : HT_OK;
    }
    return e;
}

static const struct {
    const char *key, *table, *types, *sql;
    int optional;
} sections[] = {
    {"stats", "run_stats", "nnnnnnnnnnn",
     "SELECT events, allocs, reallocs, frees, bytes_allocated,"
     " peak_live_bytes, peak_live_blocks, peak_seq, live_blocks, live_bytes,"
     " invalid_frees FROM run_stats WHERE run_id=%lld", 0},
    {"snaps", "frag_snapshots", "nsnnnnnnnn",
     "SELECT seq, kind, live_bytes, bytes_in_use, bytes_total, utilisation,"
     " arenas, pools_used, unused_pools, blocks_in_use FROM frag_snapshots"
     " WHERE run_id=%lld ORDER BY seq, kind='exit'", 0},
    {"leak_summary", "objects", "snn",
     "SELECT leak_kind, count(*), sum(size) FROM objects WHERE run_id=%lld"
     " AND leak_kind IS NOT NULL GROUP BY leak_kind", 0},
    {"leaks", "objects", "snnsssn",
     "SELECT o.leak_kind, count(*), sum(o.size), " LOC("o.run_id", "o.pc")
     ", o.lost_by, " LOC("o.run_id", "o.lost_by_site") ", min(o.alloc_seq)"
     " FROM objects o WHERE o.run_id=%lld AND o.leak_kind IS NOT NULL"
     " GROUP BY o.leak_kind, o.pc, o.lost_by, o.lost_by_site"
     " ORDER BY 3 DESC LIMIT 1000", 0},
    {"errors", "errors", "snsns",
     "SELECT e.kind, count(*), " LOC("e.run_id", "e.pc") ", min(e.seq),"
     " printf('0x%%x', min(e.addr)) FROM errors e WHERE e.run_id=%lld"
     " GROUP BY e.kind, e.pc ORDER BY 2 DESC LIMIT 1000", 0},
    {"cycles", "cycles", "nnn",
     "SELECT cycle_id, members, bytes FROM cycles WHERE run_id=%lld"
     " ORDER BY bytes DESC, cycle_id LIMIT 500", 0},
    {"cycle_members", "cycle_members", "nsns",
     "SELECT m.cycle_id, printf('0x%%x', m.addr), m.size, "
     LOC("m.run_id", "m.pc") " FROM cycle_members m WHERE m.run_id=%lld"
     " AND m.cycle_id IN (SELECT cycle_id FROM cycles WHERE run_id=%lld"
     " ORDER BY bytes DESC, cycle_id LIMIT 20) ORDER BY m.cycle_id,"
     " m.alloc_seq", 0},
    {"cycle_edges", "cycle_edges", "nsnssn",
     "SELECT e.cycle_id, printf('0x%%x', e.from_addr), e.offset,"
     " printf('0x%%x', e.to_addr), " LOC("e.run_id", "e.store_site")
     ", e.store_seq FROM cycle_edges e WHERE e.run_id=%lld AND e.cycle_id IN"
     " (SELECT cycle_id FROM cycles WHERE run_id=%lld ORDER BY bytes DESC,"
     " cycle_id LIMIT 20) ORDER BY e.cycle_id, e.store_seq LIMIT 20000", 0},
    {"sites", "site_stats", "ssnnnn",
     "SELECT COALESCE(p.file,'?'), COALESCE(p.func, printf('0x%%x', s.pc)),"
     " COALESCE(p.line,0), s.bytes_allocated, s.allocs, s.live_bytes"
     " FROM site_stats s LEFT JOIN pcs p ON p.run_id=s.run_id AND p.pc=s.pc"
     " WHERE s.run_id=%lld AND s.bytes_allocated>0", 0},
    {"pool_map", "pool_map", "snnnnn",
     "SELECT kind, arena, pool, size_class, used_blocks, total_blocks"
     " FROM pool_map WHERE run_id=%lld AND arena IN (SELECT DISTINCT arena"
     " FROM pool_map WHERE run_id=%lld ORDER BY arena LIMIT 256)"
     " ORDER BY kind, arena, pool", 0},
    {"gc", "gc_collections", "nnn",
     "SELECT generation, count(*), sum(collected) FROM gc_collections"
     " WHERE run_id=%lld GROUP BY generation ORDER BY generation", 0},
    /* tables of newer replays (docs/trace-format.md): shown when present */
    {"peak_sites", "peak_sites", "snn",
     "SELECT " LOC("t.run_id", "t.pc") ", t.blocks, t.bytes FROM peak_sites t"
     " WHERE t.run_id=%lld ORDER BY t.bytes DESC LIMIT 500", 1},
    {"pinning", "pinning", "snnn",
     "SELECT " LOC("t.run_id", "t.pc") ", t.blocks, t.pools, t.arenas"
     " FROM pinning t WHERE t.run_id=%lld ORDER BY t.arenas DESC, t.pools DESC"
     " LIMIT 500", 1},
    {"churn", "churn", "snnnnn",
     "SELECT " LOC("t.run_id", "t.pc") ", t.size, t.allocs, t.frees,"
     " t.max_live, t.short_lived FROM churn t WHERE t.run_id=%lld"
     " ORDER BY t.allocs DESC LIMIT 500", 1},
    {"refcount_sites", "refcount_sites", "snn",
     "SELECT COALESCE(" LOC("t.run_id", "t.pc") ", " LOC("t.run_id", "t.site_id")
     "), t.increfs, t.decrefs FROM refcount_sites t WHERE t.run_id=%lld"
     " ORDER BY t.increfs + t.decrefs DESC LIMIT 500", 1},
};

ht_err ht_report_html(ht_store *st, int64_t run_id, FILE *out)
{
    if (!st || !out)
        return HT_EINVAL;
    int found = 0;
    char sql[128];
    snprintf(sql, sizeof sql, "SELECT 1 FROM runs WHERE run_id=%lld",
             (long long)run_id);
    ht_err e = ht_store_query(st, sql, 1, set_flag, &found);
    if (e != HT_OK)
        return e;
    if (!found)
        return HT_ENOTFOUND;
    fprintf(out, "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\n"
                 "<meta name=\"viewport\" content=\"width=device-width\">\n"
                 "<title>heaptrail report, run %lld</title>\n<style>\n%s</style>\n"
                 "</head>\n<body>\n<div id=\"app\"><noscript>This report draws its "
                 "plots with JavaScript.</noscript></div>\n<div id=\"tip\"></div>\n"
                 "<script type=\"application/json\" id=\"ht-data\">{\"run\":",
            (long long)run_id, ht__html_css);
    struct jw w = {out, "nssnsnnn", 0};
    fputc('[', out);
    snprintf(sql, sizeof sql,
             "SELECT run_id, program, argv, pid, status, exit_status, signal,"
             " complete FROM runs WHERE run_id=%lld", (long long)run_id);
    e = ht_store_query(st, sql, 1, json_row, &w);
    fputc(']', out);
    for (size_t i = 0; !e && i < sizeof sections / sizeof sections[0]; i++)
        e = section(st, out, sections[i].key, sections[i].table,
                    sections[i].types, run_id, sections[i].sql,
                    sections[i].optional);
    if (e != HT_OK)
        return e;
    fprintf(out, "}\n</script>\n<script>\n%s</script>\n</body></html>\n",
            ht__html_js);
    return fflush(out) == 0 && !ferror(out) ? HT_OK : HT_EIO;
}
