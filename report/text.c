/*
 * The text report: a headline a terminal user reads in ten seconds (leak
 * summary in memcheck's words, the worst leak sites with the site that
 * dropped their last reference, cycles drawn as field paths, errors, heap
 * and GC headlines), then detail sections. Colour (ANSI) only when asked.
 */
#include <string.h>

#include "report_int.h"

struct tx {
    FILE *f;
    int color;
    size_t rows;
};

#define C_BOLD "\033[1m"
#define C_RED "\033[31m"
#define C_YEL "\033[33m"
#define C_DIM "\033[2m"
#define C_OFF "\033[0m"

static const char *c(const struct tx *t, const char *code)
{
    return t->color ? code : "";
}

/* n with thousands separators into buf. */
static const char *num(uint64_t n, char *buf)
{
    char tmp[32];
    int len = snprintf(tmp, sizeof tmp, "%llu", (unsigned long long)n);
    int j = 0;
    for (int i = 0; i < len; i++) {
        if (i && (len - i) % 3 == 0)
            buf[j++] = ',';
        buf[j++] = tmp[i];
    }
    buf[j] = 0;
    return buf;
}

static void heading(const struct tx *t, const char *title)
{
    fprintf(t->f, "\n%s%s%s\n", c(t, C_BOLD), title, c(t, C_OFF));
}

static const char *loc(const struct ht_report_loc *l, char *buf, size_t n)
{
    return ht__rep_loc_str(l, buf, n);
}

static void run_line(const struct tx *t, const struct ht_report *r)
{
    char a[32], b[32], d[32];
    fprintf(t->f, "%sheaptrail report: run %lld%s  %s", c(t, C_BOLD),
            (long long)r->run_id, c(t, C_OFF), r->argv ? r->argv : "?");
    if (r->status && r->exit_status >= 0)
        fprintf(t->f, "  (%s %lld", r->status, (long long)r->exit_status);
    else if (r->signal >= 0)
        fprintf(t->f, "  (killed by signal %lld", (long long)r->signal);
    else
        fprintf(t->f, "  (%s", r->status ? r->status : "?");
    fprintf(t->f, "%s)\n", r->complete ? "" : ", INCOMPLETE");
    if (!r->has_stats)
        return;
    fprintf(t->f, "  %s events: %s allocations (%s bytes), ",
            num(r->events, a), num(r->allocs, b), num(r->bytes_allocated, d));
    fprintf(t->f, "%s frees; ", num(r->frees, a));
    fprintf(t->f, "peak %s bytes in %s blocks at event %llu\n",
            num(r->peak_bytes, a), num(r->peak_blocks, b),
            (unsigned long long)r->peak_seq);
    fprintf(t->f, "  live at exit: %s bytes in %s blocks", num(r->live_bytes, a),
            num(r->live_blocks, b));
    if (r->invalid_frees)
        fprintf(t->f, "; %s invalid or double frees",
                num(r->invalid_frees, a));
    fputc('\n', t->f);
}

static void leak_summary(const struct tx *t, const struct ht_report *r)
{
    char a[32], b[32];
    heading(t, "LEAK SUMMARY");
    for (int k = 0; k < HT_LEAK_KINDS; k++) {
        int bad = k != HT_LEAK_REACHABLE && r->leak_blocks[k];
        fprintf(t->f, "  %s%16s: %s bytes in %s blocks", bad ? c(t, C_RED) : "",
                ht_report_kind_words((enum ht_report_leak_kind)k),
                num(r->leak_bytes[k], a), num(r->leak_blocks[k], b));
        if (k == HT_LEAK_CYCLE && r->ncycles)
            fprintf(t->f, " (%zu cycle%s)", r->ncycles,
                    r->ncycles == 1 ? "" : "s");
        fprintf(t->f, "%s\n", bad ? c(t, C_OFF) : "");
    }
    if (r->suppressed_blocks)
        fprintf(t->f, "  %16s: %s bytes in %s blocks\n", "suppressed",
                num(r->suppressed_bytes, a), num(r->suppressed_blocks, b));
}

static void lost_line(const struct tx *t, const struct ht_report_leak *l)
{
    char buf[1024];
    if (l->lost_by && !strcmp(l->lost_by, "never_stored"))
        fprintf(t->f, "      last reference: never held by a recorded pointer\n");
    else if (l->has_lost_at && !strcmp(l->lost_by, "free"))
        fprintf(t->f, "      last reference dropped: its holder freed at %s"
                " (event %llu)\n", loc(&l->lost_at, buf, sizeof buf),
                (unsigned long long)l->lost_seq);
    else if (l->has_lost_at)
        fprintf(t->f, "      last reference dropped at %s (event %llu)\n",
                loc(&l->lost_at, buf, sizeof buf),
                (unsigned long long)l->lost_seq);
}

static void leak_sites(const struct tx *t, const struct ht_report *r,
                       int detail)
{
    char a[32], b[32], buf[1024];
    size_t shown = 0, total = 0;
    for (size_t i = 0; i < r->nleaks; i++)
        total += !r->leaks[i].suppressed;
    if (!total)
        return;
    heading(t, detail ? "LEAK SITES (all)" : "TOP LEAK SITES");
    for (size_t i = 0; i < r->nleaks && (detail || shown < 5); i++) {
        const struct ht_report_leak *l = &r->leaks[i];
        if (l->suppressed || (!detail && l->kind != HT_LEAK_DEFINITE))
            continue;
        shown++;
        fprintf(t->f, "  %s bytes in %s blocks %s, allocated at %s\n",
                num(l->bytes, a), num(l->blocks, b),
                ht_report_kind_words(l->kind), loc(&l->alloc, buf, sizeof buf));
        lost_line(t, l);
        if (detail && shown >= t->rows)
            break;
    }
    if (detail && total > shown)
        fprintf(t->f, "  ... %zu more sites (--format json has them all)\n",
                total - shown);
}

/* Member label with its field: "A.next" or "A+8". */
static void edge_label(const struct ht_report_cycle *cy,
                       const struct ht_report_edge *e, char *buf, size_t n)
{
    char lab = cy->members[e->from].label;
    if (e->store.field)
        snprintf(buf, n, "%c.%s", lab, e->store.field);
    else
        snprintf(buf, n, "%c+%llu", lab, (unsigned long long)e->offset);
}

/* Draw the cycle as a walk from A along unused edges: A.next → B.prev → A. */
static void draw_cycle(const struct tx *t, const struct ht_report_cycle *cy)
{
    if (!cy->nedges || !cy->nmembers)
        return;
    char used[64] = {0}, lab[256];
    size_t ne = cy->nedges < sizeof used ? cy->nedges : sizeof used;
    int at = cy->edges[0].from;
    fprintf(t->f, "    ");
    for (size_t step = 0; step < ne; step++) {
        size_t k = ne;
        for (size_t i = 0; i < ne && k == ne; i++)
            if (!used[i] && cy->edges[i].from == at)
                k = i;
        if (k == ne)
            break;
        used[k] = 1;
        edge_label(cy, &cy->edges[k], lab, sizeof lab);
        fprintf(t->f, "%s → ", lab);
        at = cy->edges[k].to;
    }
    fprintf(t->f, "%c\n", cy->members[at].label);
    for (size_t i = 0; i < ne; i++) {
        if (used[i])
            continue;
        edge_label(cy, &cy->edges[i], lab, sizeof lab);
        fprintf(t->f, "    %s → %c\n", lab, cy->members[cy->edges[i].to].label);
    }
}

/* Whether one of the cycle's members was allocated at key. */
static int member_site(const struct ht_report_cycle *cy, uint64_t key)
{
    for (size_t m = 0; m < cy->nmembers; m++)
        if (cy->members[m].alloc.key == key)
            return 1;
    return 0;
}

static void cycles(const struct tx *t, const struct ht_report *r)
{
    char a[32], buf[1024];
    size_t shown = 0;
    for (size_t i = 0; i < r->ncycles; i++) {
        const struct ht_report_cycle *cy = &r->cycles[i];
        if (cy->suppressed)
            continue;
        if (!shown++)
            heading(t, "CYCLES");
        if (shown > t->rows)
            continue;
        fprintf(t->f, "  cycle %lld: %s bytes in %zu blocks\n",
                (long long)cy->id, num(cy->bytes, a), cy->nmembers);
        draw_cycle(t, cy);
        for (size_t m = 0; m < cy->nmembers && m < 26; m++) {
            const struct ht_report_member *mb = &cy->members[m];
            fprintf(t->f, "    %c = %llu bytes%s%s allocated at %s\n",
                    mb->label, (unsigned long long)mb->size,
                    mb->alloc.type ? " " : "",
                    mb->alloc.type ? mb->alloc.type : "",
                    loc(&mb->alloc, buf, sizeof buf));
        }
        for (size_t i = 0; i < r->nleaks; i++) {
            const struct ht_report_leak *l = &r->leaks[i];
            if (l->kind == HT_LEAK_CYCLE && l->has_lost_at &&
                member_site(cy, l->alloc.key))
                fprintf(t->f, "    last external reference dropped at %s"
                        " (event %llu)\n", loc(&l->lost_at, buf, sizeof buf),
                        (unsigned long long)l->lost_seq);
        }
        for (size_t k = 0; k < cy->nedges; k++) {
            const struct ht_report_edge *e = &cy->edges[k];
            if (!e->store.file)
                continue;
            edge_label(cy, e, a, sizeof a);
            fprintf(t->f, "    %s stored at %s (event %llu)\n", a,
                    loc(&e->store, buf, sizeof buf), (unsigned long long)
                    (e->inferred_seq ? e->inferred_seq : e->store_seq));
        }
    }
    if (shown > t->rows)
        fprintf(t->f, "  ... %zu more cycles\n", shown - t->rows);
}

static void errors(const struct tx *t, const struct ht_report *r, int refc)
{
    char buf[1024];
    size_t shown = 0;
    for (size_t i = 0; i < r->nerrors; i++) {
        const struct ht_report_error *x = &r->errors[i];
        if (x->suppressed || ht__rep_error_is_refcount(x->kind) != refc)
            continue;
        if (!shown++)
            heading(t, refc ? "REFCOUNT ERRORS" : "ERRORS");
        fprintf(t->f, "  %s%s%s x%llu at %s (first at event %llu)\n",
                c(t, C_RED), x->kind, c(t, C_OFF),
                (unsigned long long)x->count, loc(&x->at, buf, sizeof buf),
                (unsigned long long)x->first_seq);
    }
    if (!refc || !r->nrefsites)
        return;
    if (!shown)
        heading(t, "REFCOUNT ERRORS");
    fprintf(t->f, "  unbalanced incref/decref sites:\n");
    for (size_t i = 0; i < r->nrefsites && i < t->rows; i++)
        fprintf(t->f, "    +%llu -%llu at %s\n",
                (unsigned long long)r->refsites[i].increfs,
                (unsigned long long)r->refsites[i].decrefs,
                loc(&r->refsites[i].at, buf, sizeof buf));
}

static void heap(const struct tx *t, const struct ht_report *r)
{
    char a[32], b[32], buf[1024];
    const struct ht_report_frag *f = &r->frag_exit;
    if (!f->present && !r->has_gc && !r->nchurn && !r->npeak_sites &&
        !r->npinning)
        return;
    heading(t, "HEAP (pymalloc and GC models)");
    if (f->present)
        fprintf(t->f, "  fragmentation at %s: utilisation %.2f %% (%s of %s"
                " arena bytes in use), %llu arena%s, %llu pools used, %llu"
                " unused\n", f->kind ? f->kind : "?", 100.0 * f->utilisation,
                num(f->bytes_in_use, a), num((uint64_t)f->bytes_total, b),
                (unsigned long long)f->arenas, f->arenas == 1 ? "" : "s",
                (unsigned long long)f->pools_used,
                (unsigned long long)f->unused_pools);
    if (r->frag_peak.present)
        fprintf(t->f, "  at the peak (event %llu): utilisation %.2f %%, %llu"
                " arena%s\n", (unsigned long long)r->frag_peak.seq,
                100.0 * r->frag_peak.utilisation,
                (unsigned long long)r->frag_peak.arenas,
                r->frag_peak.arenas == 1 ? "" : "s");
    for (size_t i = 0; i < r->npeak_sites && i < 3; i++)
    {
        char nb[32];
        fprintf(t->f, "  %s %s bytes in %s blocks from %s\n",
                i ? "                 " : "live at the peak:",
                num(r->peak_sites[i].bytes, a),
                num(r->peak_sites[i].blocks, nb),
                loc(&r->peak_sites[i].at, buf, sizeof buf));
    }
    for (size_t i = 0; i < r->npinning && i < 3; i++)
        fprintf(t->f, "  pinned: %llu pool%s, %llu arena%s kept alive by %llu"
                " blocks from %s\n", (unsigned long long)r->pinning[i].pools,
                r->pinning[i].pools == 1 ? "" : "s",
                (unsigned long long)r->pinning[i].arenas,
                r->pinning[i].arenas == 1 ? "" : "s",
                (unsigned long long)r->pinning[i].blocks,
                loc(&r->pinning[i].at, buf, sizeof buf));
    if (r->has_gc)
        fprintf(t->f, "  GC simulation: %s collections (gen0 %llu, gen1 %llu,"
                " gen2 %llu), %s objects collected\n",
                num(r->gc_collections, a),
                (unsigned long long)r->gens[0].collections,
                (unsigned long long)r->gens[1].collections,
                (unsigned long long)r->gens[2].collections,
                num(r->gc_collected, b));
    for (size_t i = 0; i < r->nchurn && i < 3; i++) {
        const struct ht_report_churn *ch = &r->churn[i];
        fprintf(t->f, "  %schurn:%s %s allocations of %llu bytes at %s (at"
                " most %llu live): reuse one buffer\n", c(t, C_YEL),
                c(t, C_OFF), num(ch->allocs, a), (unsigned long long)ch->size,
                loc(&ch->at, buf, sizeof buf),
                (unsigned long long)ch->max_live);
    }
}

ht_err ht_report_text(const struct ht_report *r,
                      const struct ht_report_text_opts *o, FILE *out)
{
    struct tx t = {out, o && o->color, o && o->detail ? (size_t)o->detail : 10};
    run_line(&t, r);
    if (!r->has_stats) {
        fprintf(out, "  not replayed\n");
        return ferror(out) ? HT_EIO : HT_OK;
    }
    leak_summary(&t, r);
    leak_sites(&t, r, 0);
    cycles(&t, r);
    errors(&t, r, 1);
    errors(&t, r, 0);
    heap(&t, r);
    leak_sites(&t, r, 1);
    return ferror(out) ? HT_EIO : HT_OK;
}
