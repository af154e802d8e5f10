/*
 * The report model: one run's replay tables read into plain C structs.
 *
 * Design:
 *  - every query goes through ht_store_query (text values); this file never
 *    sees SQLite. Aggregation (per site, per kind) is done in SQL so memory
 *    grows with the number of sites, not of objects.
 *  - pcs and sites of the run are loaded once into arrays sorted by key and
 *    resolved by binary search. A key is looked up as a pc first, then as an
 *    analyzer site id (events with HT_EVF_SITE carry site ids in the pc
 *    column); STORE drops always carry site ids.
 *  - all strings live in one pool (r->pool) freed by ht_report_free.
 * Invariants:
 *  1. leak_blocks/bytes[k] + suppressed parts == the leak_summary view.
 *  2. leaks[] holds the lost kinds only (not 'reachable'), bytes descending.
 *  3. a cycle's edges index its members (0 <= from, to < nmembers).
 */
#include <stdlib.h>
#include <string.h>

#include "report_int.h"

/* ---- string pool ------------------------------------------------------ */

struct pool {
    char **v;
    size_t n, cap;
};

const char *ht__rep_strdup(struct ht_report *r, const char *s)
{
    if (!s)
        return NULL;
    struct pool *p = r->pool;
    if (p->n == p->cap) {
        size_t nc = p->cap ? 2 * p->cap : 64;
        char **nv = realloc(p->v, nc * sizeof *nv);
        if (!nv)
            return NULL;
        p->v = nv;
        p->cap = nc;
    }
    char *d = strdup(s);
    if (d)
        p->v[p->n++] = d;
    return d;
}

/* ---- queries ---------------------------------------------------------- */

struct qctx {
    struct ht_report *r;
    int (*row)(struct qctx *q, const char *const *v);
    void *arg;
    ht_err err;
};

static int q_cb(void *ctx, int ncol, const char *const *v,
                const char *const *names)
{
    (void)ncol;
    (void)names;
    struct qctx *q = ctx;
    if (q->row(q, v)) {
        q->err = HT_ENOMEM;
        return 1;
    }
    return 0;
}

static ht_err query(ht_store *st, const char *sql, struct qctx *q)
{
    ht_err e = ht_store_query(st, sql, 1, q_cb, q);
    return e != HT_OK ? e : q->err;
}

uint64_t ht__rep_u64(const char *s)
{
    return s ? strtoull(s, NULL, 10) : 0;
}

static int64_t i64_or(const char *s, int64_t dflt)
{
    return s ? strtoll(s, NULL, 10) : dflt;
}

/* Append one zeroed element to a growable array; NULL on ENOMEM. */
static void *grow(void **v, size_t *n, size_t *cap, size_t sz)
{
    if (*n == *cap) {
        size_t nc = *cap ? 2 * *cap : 16;
        void *nv = realloc(*v, nc * sz);
        if (!nv)
            return NULL;
        *v = nv;
        *cap = nc;
    }
    char *p = (char *)*v + (*n)++ * sz;
    memset(p, 0, sz);
    return p;
}

static int row_exists(struct qctx *q, const char *const *v)
{
    (void)v;
    *(int *)q->arg = 1;
    return 0;
}

int ht__rep_has_table(ht_store *st, const char *name)
{
    char sql[256];
    int found = 0;
    struct qctx q = {NULL, row_exists, &found, HT_OK};
    snprintf(sql, sizeof sql,
             "SELECT 1 FROM sqlite_master WHERE type IN ('table','view')"
             " AND name='%s'", name);
    return query(st, sql, &q) == HT_OK && found;
}

/* ---- locations ---------------------------------------------------------- */

struct locs {
    struct ht_report_loc *pcs, *sites;
    size_t npcs, nsites, cpcs, csites;
};

static int row_loc(struct qctx *q, const char *const *v)
{
    struct locs *L = q->arg;
    int is_site = v[0][0] == 's';
    struct ht_report_loc *l = is_site
        ? grow((void **)&L->sites, &L->nsites, &L->csites, sizeof *l)
        : grow((void **)&L->pcs, &L->npcs, &L->cpcs, sizeof *l);
    if (!l)
        return 1;
    l->key = ht__rep_u64(v[1]);
    l->file = ht__rep_strdup(q->r, v[2]);
    l->line = i64_or(v[3], 0);
    l->col = i64_or(v[4], 0);
    l->func = ht__rep_strdup(q->r, v[5] && *v[5] ? v[5] : NULL);
    l->type = ht__rep_strdup(q->r, v[6] && *v[6] ? v[6] : NULL);
    l->field = ht__rep_strdup(q->r, v[7] && *v[7] ? v[7] : NULL);
    return 0;
}

static int loc_cmp(const void *a, const void *b)
{
    uint64_t x = ((const struct ht_report_loc *)a)->key;
    uint64_t y = ((const struct ht_report_loc *)b)->key;
    return x < y ? -1 : x > y;
}

static ht_err load_locs(ht_store *st, struct ht_report *r, struct locs *L)
{
    char sql[512];
    struct qctx q = {r, row_loc, L, HT_OK};
    /* pcs hold unsigned addresses stored as signed int64 */
    snprintf(sql, sizeof sql,
             "SELECT 'p', printf('%%llu', pc), file, line, col, func, NULL,"
             " NULL FROM pcs WHERE run_id=%lld AND file IS NOT NULL",
             (long long)r->run_id);
    ht_err e = query(st, sql, &q);
    if (e == HT_OK && ht__rep_has_table(st, "sites"))
        e = query(st, "SELECT 's', printf('%llu', site_id), file, line, col,"
                      " func, type, field FROM sites", &q);
    if (e != HT_OK)
        return e;
    if (L->npcs) /* qsort(NULL, 0) is undefined */
        qsort(L->pcs, L->npcs, sizeof *L->pcs, loc_cmp);
    if (L->nsites)
        qsort(L->sites, L->nsites, sizeof *L->sites, loc_cmp);
    return HT_OK;
}

static const struct ht_report_loc *find(const struct ht_report_loc *v,
                                        size_t n, uint64_t key)
{
    struct ht_report_loc k = {.key = key};
    return n ? bsearch(&k, v, n, sizeof k, loc_cmp) : NULL;
}

/* Resolve key: as a pc then a site id (site_first: the other way). */
static struct ht_report_loc resolve(const struct locs *L, uint64_t key,
                                    int site_first)
{
    const struct ht_report_loc *a = site_first
        ? find(L->sites, L->nsites, key) : find(L->pcs, L->npcs, key);
    if (!a)
        a = site_first ? find(L->pcs, L->npcs, key)
                       : find(L->sites, L->nsites, key);
    if (a)
        return *a;
    return (struct ht_report_loc){.key = key};
}

/* ---- run and stats ------------------------------------------------------ */

static int row_run(struct qctx *q, const char *const *v)
{
    struct ht_report *r = q->r;
    r->program = ht__rep_strdup(r, v[0]);
    r->argv = ht__rep_strdup(r, v[1]);
    r->pid = i64_or(v[2], -1);
    r->status = ht__rep_strdup(r, v[3]);
    r->exit_status = i64_or(v[4], -1);
    r->signal = i64_or(v[5], -1);
    r->complete = (int)i64_or(v[6], 0);
    *(int *)q->arg = 1;
    return 0;
}

static int row_stats(struct qctx *q, const char *const *v)
{
    struct ht_report *r = q->r;
    uint64_t *f[] = {&r->events, &r->allocs, &r->reallocs, &r->frees,
                     &r->bytes_allocated, &r->peak_bytes, &r->peak_blocks,
                     &r->peak_seq, &r->live_blocks, &r->live_bytes,
                     &r->invalid_frees};
    for (size_t i = 0; i < sizeof f / sizeof f[0]; i++)
        *f[i] = ht__rep_u64(v[i]);
    r->has_stats = 1;
    return 0;
}

static ht_err load_run(ht_store *st, struct ht_report *r)
{
    char sql[512];
    int found = 0;
    struct qctx q = {r, row_run, &found, HT_OK};
    snprintf(sql, sizeof sql,
             "SELECT program, argv, pid, status, exit_status, signal, complete"
             " FROM runs WHERE run_id=%lld", (long long)r->run_id);
    ht_err e = query(st, sql, &q);
    if (e != HT_OK)
        return e;
    if (!found)
        return HT_ENOTFOUND;
    if (!ht__rep_has_table(st, "run_stats"))
        return HT_OK;
    q.row = row_stats;
    snprintf(sql, sizeof sql,
             "SELECT events, allocs, reallocs, frees, bytes_allocated,"
             " peak_live_bytes, peak_live_blocks, peak_seq, live_blocks,"
             " live_bytes, invalid_frees FROM run_stats WHERE run_id=%lld",
             (long long)r->run_id);
    return query(st, sql, &q);
}

/* ---- leaks -------------------------------------------------------------- */

static const char *const kind_names[] = {"definite", "indirect", "cycle",
                                         "reachable"};
static const char *const kind_words[] = {"definitely lost", "indirectly lost",
                                         "lost in cycles", "still reachable"};

const char *ht_report_kind_name(enum ht_report_leak_kind k)
{
    return (unsigned)k < HT_LEAK_KINDS ? kind_names[k] : "?";
}

const char *ht_report_kind_words(enum ht_report_leak_kind k)
{
    return (unsigned)k < HT_LEAK_KINDS ? kind_words[k] : "?";
}

static int kind_of(const char *s)
{
    for (int k = 0; k < HT_LEAK_KINDS; k++)
        if (s && !strcmp(s, kind_names[k]))
            return k;
    return -1;
}

struct leak_arg {
    const struct locs *L;
    const ht_report_supp *supp;
    size_t cap;
};

static int row_leak(struct qctx *q, const char *const *v)
{
    struct ht_report *r = q->r;
    struct leak_arg *a = q->arg;
    int k = kind_of(v[1]);
    if (k < 0)
        return 0;
    uint64_t blocks = ht__rep_u64(v[2]), bytes = ht__rep_u64(v[3]);
    struct ht_report_loc at = resolve(a->L, ht__rep_u64(v[0]), 0);
    int supp = ht__supp_match(a->supp, k == HT_LEAK_CYCLE ? "cycle" : "leak",
                              &at);
    if (supp && k != HT_LEAK_REACHABLE) {
        r->suppressed_blocks += blocks;
        r->suppressed_bytes += bytes;
    } else {
        r->leak_blocks[k] += blocks;
        r->leak_bytes[k] += bytes;
    }
    if (k == HT_LEAK_REACHABLE)
        return 0;
    struct ht_report_leak *l = grow((void **)&r->leaks, &r->nleaks, &a->cap,
                                    sizeof *l);
    if (!l)
        return 1;
    l->kind = (enum ht_report_leak_kind)k;
    l->alloc = at;
    l->blocks = blocks;
    l->bytes = bytes;
    l->first_alloc_seq = ht__rep_u64(v[4]);
    l->lost_seq = ht__rep_u64(v[5]);
    l->lost_by = ht__rep_strdup(r, v[6]);
    l->suppressed = supp;
    if (v[7] && v[6]) {
        l->lost_at = resolve(a->L, ht__rep_u64(v[7]), !strcmp(v[6], "store"));
        l->has_lost_at = 1;
    }
    return 0;
}

static ht_err load_leaks(ht_store *st, struct ht_report *r,
                         const struct locs *L, const ht_report_supp *supp)
{
    if (!ht__rep_has_table(st, "objects"))
        return HT_OK;
    char sql[1024];
    struct leak_arg a = {L, supp, 0};
    struct qctx q = {r, row_leak, &a, HT_OK};
    /* the bare columns lost_by, lost_by_site come from the row of the
     * latest drop (SQLite's min/max bare-column rule) */
    snprintf(sql, sizeof sql,
             "SELECT printf('%%llu', pc), leak_kind, count(*), sum(size),"
             " min(alloc_seq), max(lost_seq), lost_by,"
             " printf('%%llu', lost_by_site) FROM objects"
             " WHERE run_id=%lld AND leak_kind IS NOT NULL"
             " GROUP BY pc, leak_kind ORDER BY sum(size) DESC, count(*) DESC,"
             " min(alloc_seq)", (long long)r->run_id);
    return query(st, sql, &q);
}

/* ---- cycles ------------------------------------------------------------- */

struct cyc_arg {
    const struct locs *L;
    size_t cap, mcap, ecap;
};

static int row_cycle(struct qctx *q, const char *const *v)
{
    struct ht_report *r = q->r;
    struct cyc_arg *a = q->arg;
    struct ht_report_cycle *c = grow((void **)&r->cycles, &r->ncycles,
                                     &a->cap, sizeof *c);
    if (!c)
        return 1;
    c->id = i64_or(v[0], 0);
    c->bytes = ht__rep_u64(v[1]);
    return 0;
}

static struct ht_report_cycle *cycle_by_id(struct ht_report *r, int64_t id)
{
    for (size_t i = 0; i < r->ncycles; i++)
        if (r->cycles[i].id == id)
            return &r->cycles[i];
    return NULL;
}

static int row_member(struct qctx *q, const char *const *v)
{
    struct cyc_arg *a = q->arg;
    struct ht_report_cycle *c = cycle_by_id(q->r, i64_or(v[0], 0));
    if (!c)
        return 0;
    size_t cap = c->nmembers; /* members arrive grouped per cycle */
    struct ht_report_member *m = NULL;
    if ((cap & (cap - 1)) == 0 || cap < 16) {
        size_t nc = cap < 16 ? 16 : 2 * cap;
        void *nv = realloc(c->members, nc * sizeof *m);
        if (!nv)
            return 1;
        c->members = nv;
    }
    m = &c->members[c->nmembers];
    memset(m, 0, sizeof *m);
    m->label = (char)(c->nmembers < 26 ? 'A' + c->nmembers : '?');
    c->nmembers++;
    m->addr = ht__rep_u64(v[1]);
    m->size = ht__rep_u64(v[2]);
    m->alloc_seq = ht__rep_u64(v[3]);
    m->alloc = resolve(a->L, ht__rep_u64(v[4]), 0);
    return 0;
}

static int member_of(const struct ht_report_cycle *c, uint64_t addr)
{
    for (size_t i = 0; i < c->nmembers; i++)
        if (c->members[i].addr == addr)
            return (int)i;
    return -1;
}

static int row_edge(struct qctx *q, const char *const *v)
{
    struct cyc_arg *a = q->arg;
    struct ht_report_cycle *c = cycle_by_id(q->r, i64_or(v[0], 0));
    if (!c)
        return 0;
    struct ht_report_edge x = {0};
    x.from_addr = ht__rep_u64(v[1]);
    x.offset = ht__rep_u64(v[2]);
    x.to_addr = ht__rep_u64(v[3]);
    x.store_seq = ht__rep_u64(v[4]);
    uint64_t site = ht__rep_u64(v[5]);
    x.store = site ? resolve(a->L, site, 1) : (struct ht_report_loc){0};
    x.from = member_of(c, x.from_addr);
    x.to = member_of(c, x.to_addr);
    if (x.from < 0 || x.to < 0)
        return 0;
    size_t cap = c->nedges;
    if (cap < 16 || (cap & (cap - 1)) == 0) {
        size_t nc = cap < 16 ? 16 : 2 * cap;
        void *nv = realloc(c->edges, nc * sizeof x);
        if (!nv)
            return 1;
        c->edges = nv;
    }
    c->edges[c->nedges++] = x;
    return 0;
}

/* ---- edges seen only by the exit snapshot ------------------------------
 * An EDGE event has no site. The STORE that last wrote the same slot with a
 * value pointing into the same target is the edge's origin: one pass over
 * the run's stores into those slots finds it (bounded: at most MAX_INFER
 * slots, so the SQL stays small; beyond that edges keep "+offset"). */
#define MAX_INFER 256

struct infer_arg {
    struct ht_report *r;
    const struct locs *L;
};

static int row_store(struct qctx *q, const char *const *v)
{
    struct infer_arg *a = q->arg;
    uint64_t slot = ht__rep_u64(v[0]), val = ht__rep_u64(v[1]);
    uint64_t seq = ht__rep_u64(v[2]), site = ht__rep_u64(v[3]);
    for (size_t i = 0; i < a->r->ncycles; i++) {
        struct ht_report_cycle *c = &a->r->cycles[i];
        for (size_t k = 0; k < c->nedges; k++) {
            struct ht_report_edge *e = &c->edges[k];
            const struct ht_report_member *to = &c->members[e->to];
            if (e->store.key || e->from_addr + e->offset != slot ||
                val < to->addr || val - to->addr >= (to->size ? to->size : 1) ||
                seq < to->alloc_seq)
                continue;
            /* rows come in seq order: the latest matching store wins */
            e->store = resolve(a->L, site, 1);
            e->store.key = 0;    /* still "from the snapshot" for callers */
            e->inferred_seq = seq;
        }
    }
    return 0;
}

static ht_err infer_edge_sites(ht_store *st, struct ht_report *r,
                               const struct locs *L)
{
    size_t len = 0, n = 0, cap = 256 + MAX_INFER * 24;
    char *sql = malloc(cap);
    if (!sql)
        return HT_ENOMEM;
    len = (size_t)snprintf(sql, cap, "SELECT printf('%%llu', a),"
                           " printf('%%llu', b), seq, printf('%%llu', d) FROM"
                           " events WHERE run_id=%lld AND kind='store' AND a"
                           " IN (", (long long)r->run_id);
    for (size_t i = 0; i < r->ncycles && n < MAX_INFER; i++)
        for (size_t k = 0; k < r->cycles[i].nedges && n < MAX_INFER; k++) {
            const struct ht_report_edge *e = &r->cycles[i].edges[k];
            if (e->store.key)
                continue;
            len += (size_t)snprintf(sql + len, cap - len, "%s%lld",
                                    n++ ? "," : "",
                                    (long long)(e->from_addr + e->offset));
        }
    snprintf(sql + len, cap - len, ")");
    ht_err e = HT_OK;
    struct infer_arg a = {r, L};
    struct qctx q = {r, row_store, &a, HT_OK};
    if (n)
        e = query(st, sql, &q);
    free(sql);
    return e;
}

/* A suppressed cycle suppresses the cycle blocks of its members' sites
 * (invariant 1 holds: their counts move to the suppressed totals). */
static void suppress_cycle_site(struct ht_report *r, uint64_t key)
{
    for (size_t i = 0; i < r->nleaks; i++) {
        struct ht_report_leak *l = &r->leaks[i];
        if (l->kind != HT_LEAK_CYCLE || l->suppressed || l->alloc.key != key)
            continue;
        l->suppressed = 1;
        r->leak_blocks[HT_LEAK_CYCLE] -= l->blocks;
        r->leak_bytes[HT_LEAK_CYCLE] -= l->bytes;
        r->suppressed_blocks += l->blocks;
        r->suppressed_bytes += l->bytes;
    }
}

static ht_err load_cycles(ht_store *st, struct ht_report *r,
                          const struct locs *L, const ht_report_supp *supp)
{
    if (!ht__rep_has_table(st, "cycles") ||
        !ht__rep_has_table(st, "cycle_members") ||
        !ht__rep_has_table(st, "cycle_edges"))
        return HT_OK;
    char sql[512];
    long long run = (long long)r->run_id;
    struct cyc_arg a = {L, 0, 0, 0};
    struct qctx q = {r, row_cycle, &a, HT_OK};
    snprintf(sql, sizeof sql, "SELECT cycle_id, bytes FROM cycles WHERE"
             " run_id=%lld ORDER BY bytes DESC, cycle_id", run);
    ht_err e = query(st, sql, &q);
    q.row = row_member;
    snprintf(sql, sizeof sql, "SELECT cycle_id, printf('%%llu', addr), size,"
             " alloc_seq, printf('%%llu', pc) FROM cycle_members WHERE"
             " run_id=%lld ORDER BY cycle_id, alloc_seq", run);
    if (e == HT_OK)
        e = query(st, sql, &q);
    q.row = row_edge;
    snprintf(sql, sizeof sql, "SELECT cycle_id, printf('%%llu', from_addr),"
             " offset, printf('%%llu', to_addr), store_seq,"
             " printf('%%llu', store_site) FROM cycle_edges WHERE run_id=%lld"
             " ORDER BY cycle_id, store_seq", run);
    if (e == HT_OK)
        e = query(st, sql, &q);
    if (e == HT_OK)
        e = infer_edge_sites(st, r, L);
    for (size_t i = 0; e == HT_OK && i < r->ncycles; i++) {
        struct ht_report_cycle *c = &r->cycles[i];
        for (size_t m = 0; m < c->nmembers && !c->suppressed; m++)
            c->suppressed = ht__supp_match(supp, "cycle", &c->members[m].alloc);
        for (size_t m = 0; m < c->nmembers && c->suppressed; m++)
            suppress_cycle_site(r, c->members[m].alloc.key);
    }
    return e;
}

/* ---- errors, refcounts -------------------------------------------------- */

struct err_arg {
    const struct locs *L;
    const ht_report_supp *supp;
    size_t cap;
};

static int row_error(struct qctx *q, const char *const *v)
{
    struct ht_report *r = q->r;
    struct err_arg *a = q->arg;
    struct ht_report_error *x = grow((void **)&r->errors, &r->nerrors,
                                     &a->cap, sizeof *x);
    if (!x)
        return 1;
    x->kind = ht__rep_strdup(r, v[0]);
    x->at = resolve(a->L, ht__rep_u64(v[1]), 0);
    x->count = ht__rep_u64(v[2]);
    x->first_seq = ht__rep_u64(v[3]);
    x->first_addr = ht__rep_u64(v[4]);
    x->suppressed = ht__supp_match(a->supp,
        ht__rep_error_is_refcount(x->kind) ? "refcount" : "error", &x->at);
    return 0;
}

int ht__rep_error_is_refcount(const char *kind)
{
    return kind && (!strncmp(kind, "refcount", 8) ||
                    !strcmp(kind, "freed_with_refs"));
}

static int row_refsite(struct qctx *q, const char *const *v)
{
    struct ht_report *r = q->r;
    struct err_arg *a = q->arg;
    struct ht_report_refsite *x = grow((void **)&r->refsites, &r->nrefsites,
                                       &a->cap, sizeof *x);
    if (!x)
        return 1;
    uint64_t site = ht__rep_u64(v[1]);
    x->at = resolve(a->L, site ? site : ht__rep_u64(v[0]), site != 0);
    x->increfs = ht__rep_u64(v[2]);
    x->decrefs = ht__rep_u64(v[3]);
    return 0;
}

static ht_err load_errors(ht_store *st, struct ht_report *r,
                          const struct locs *L, const ht_report_supp *supp)
{
    char sql[512];
    ht_err e = HT_OK;
    struct err_arg a = {L, supp, 0};
    struct qctx q = {r, row_error, &a, HT_OK};
    if (ht__rep_has_table(st, "errors")) {
        snprintf(sql, sizeof sql,
                 "SELECT kind, printf('%%llu', pc), count(*), min(seq),"
                 " printf('%%llu', addr) FROM errors WHERE run_id=%lld"
                 " GROUP BY kind, pc ORDER BY kind, count(*) DESC, min(seq)",
                 (long long)r->run_id);
        e = query(st, sql, &q);
    }
    if (e == HT_OK && ht__rep_has_table(st, "refcount_sites")) {
        a.cap = 0;
        q.row = row_refsite;
        snprintf(sql, sizeof sql,
                 "SELECT printf('%%llu', pc), printf('%%llu', site_id),"
                 " increfs, decrefs FROM refcount_sites WHERE run_id=%lld"
                 " AND unbalanced > 0" /* its objects ended unbalanced */
                 " ORDER BY unbalanced DESC, increfs DESC",
                 (long long)r->run_id);
        e = query(st, sql, &q);
    }
    return e;
}

/* ---- fragmentation, GC, churn ------------------------------------------ */

static int row_frag(struct qctx *q, const char *const *v)
{
    struct ht_report_frag *f = q->arg;
    f->present = 1;
    f->kind = ht__rep_strdup(q->r, v[0]);
    f->seq = ht__rep_u64(v[1]);
    f->arenas = ht__rep_u64(v[2]);
    f->pools_used = ht__rep_u64(v[3]);
    f->unused_pools = ht__rep_u64(v[4]);
    f->blocks_in_use = ht__rep_u64(v[5]);
    f->bytes_in_use = ht__rep_u64(v[6]);
    f->live_bytes = ht__rep_u64(v[7]);
    f->utilisation = v[8] ? strtod(v[8], NULL) : 0;
    f->bytes_total = v[9] ? strtod(v[9], NULL) : 0;
    return 0;
}

static int row_gen(struct qctx *q, const char *const *v)
{
    struct ht_report *r = q->r;
    int g = (int)i64_or(v[0], -1);
    if (g < 0 || g > 2)
        return 0;
    r->has_gc = 1;
    r->gens[g].generation = g;
    r->gens[g].collections = ht__rep_u64(v[1]);
    r->gens[g].collected = ht__rep_u64(v[2]);
    r->gc_collections += r->gens[g].collections;
    r->gc_collected += r->gens[g].collected;
    return 0;
}

static int row_churn(struct qctx *q, const char *const *v)
{
    struct ht_report *r = q->r;
    struct err_arg *a = q->arg;
    struct ht_report_churn *c = grow((void **)&r->churn, &r->nchurn, &a->cap,
                                     sizeof *c);
    if (!c)
        return 1;
    c->at = resolve(a->L, ht__rep_u64(v[0]), 0);
    c->size = ht__rep_u64(v[1]);
    c->allocs = ht__rep_u64(v[2]);
    c->frees = ht__rep_u64(v[3]);
    c->max_live = ht__rep_u64(v[4]);
    c->short_lived = ht__rep_u64(v[5]);
    return 0;
}

static ht_err load_heap(ht_store *st, struct ht_report *r,
                        const struct locs *L)
{
    char sql[512];
    long long run = (long long)r->run_id;
    ht_err e = HT_OK;
    struct qctx q = {r, row_frag, &r->frag_exit, HT_OK};
    const char *cols = "kind, seq, arenas, pools_used, unused_pools,"
                       " blocks_in_use, bytes_in_use, live_bytes, utilisation,"
                       " bytes_total";
    if (ht__rep_has_table(st, "frag_snapshots")) {
        /* the exit snapshot, else the last one */
        snprintf(sql, sizeof sql, "SELECT %s FROM frag_snapshots WHERE"
                 " run_id=%lld ORDER BY kind='exit' DESC, seq DESC LIMIT 1",
                 cols, run);
        e = query(st, sql, &q);
        q.arg = &r->frag_peak;
        snprintf(sql, sizeof sql, "SELECT %s FROM frag_snapshots WHERE"
                 " run_id=%lld AND kind='peak' ORDER BY seq DESC LIMIT 1",
                 cols, run);
        if (e == HT_OK)
            e = query(st, sql, &q);
    }
    if (e == HT_OK && ht__rep_has_table(st, "gc_collections")) {
        q.row = row_gen;
        snprintf(sql, sizeof sql, "SELECT generation, count(*), sum(collected)"
                 " FROM gc_collections WHERE run_id=%lld GROUP BY generation",
                 run);
        e = query(st, sql, &q);
    }
    struct err_arg a = {L, NULL, 0};
    if (e == HT_OK && ht__rep_has_table(st, "churn")) {
        q.row = row_churn;
        q.arg = &a;
        snprintf(sql, sizeof sql, "SELECT printf('%%llu', pc), size, allocs,"
                 " frees, max_live, short_lived FROM churn WHERE run_id=%lld"
                 " ORDER BY allocs DESC, size LIMIT 50", run);
        e = query(st, sql, &q);
    }
    return e;
}

/* ---- peak attribution, pinning, gc_stats (planned tables) -------------- */

struct sc_arg {
    const struct locs *L;
    struct ht_report_sitecount **v;
    size_t *n, cap;
};

static int row_sitecount(struct qctx *q, const char *const *v)
{
    struct sc_arg *a = q->arg;
    struct ht_report_sitecount *x = grow((void **)a->v, a->n, &a->cap,
                                         sizeof *x);
    if (!x)
        return 1;
    x->at = resolve(a->L, ht__rep_u64(v[0]), 0);
    x->blocks = ht__rep_u64(v[1]);
    x->bytes = ht__rep_u64(v[2]);
    x->pools = ht__rep_u64(v[3]);
    x->arenas = ht__rep_u64(v[4]);
    return 0;
}

static int row_uncoll(struct qctx *q, const char *const *v)
{
    q->r->gc_uncollectable = ht__rep_u64(v[0]);
    return 0;
}

/* A table of a newer or older replay whose columns differ from these
 * queries is treated as absent (its part of the model stays empty, and so
 * the HTML page's): a report never fails on an optional table. */
static ht_err optional(ht_err e, size_t *n)
{
    if (e == HT_ESQL) {
        *n = 0;
        return HT_OK;
    }
    return e;
}

static ht_err load_sites_tables(ht_store *st, struct ht_report *r,
                                const struct locs *L)
{
    char sql[512];
    long long run = (long long)r->run_id;
    ht_err e = HT_OK;
    struct sc_arg a = {L, &r->peak_sites, &r->npeak_sites, 0};
    struct qctx q = {r, row_sitecount, &a, HT_OK};
    if (ht__rep_has_table(st, "peak_sites")) {
        snprintf(sql, sizeof sql, "SELECT printf('%%llu', pc), blocks, bytes,"
                 " 0, 0 FROM peak_sites WHERE run_id=%lld ORDER BY bytes DESC,"
                 " blocks DESC LIMIT 50", run);
        e = optional(query(st, sql, &q), &r->npeak_sites);
    }
    struct sc_arg b = {L, &r->pinning, &r->npinning, 0};
    q.arg = &b;
    if (e == HT_OK && ht__rep_has_table(st, "pinning")) {
        snprintf(sql, sizeof sql, "SELECT printf('%%llu', pc), blocks, 0,"
                 " pools, arenas FROM pinning WHERE run_id=%lld AND seq ="
                 " (SELECT max(seq) FROM pinning WHERE run_id=%lld)"
                 " ORDER BY pools DESC, arenas DESC, blocks DESC LIMIT 50",
                 run, run);
        e = optional(query(st, sql, &q), &r->npinning);
    }
    if (e == HT_OK && ht__rep_has_table(st, "gc_stats")) {
        q.row = row_uncoll;
        snprintf(sql, sizeof sql, "SELECT sum(uncollectable) FROM gc_stats"
                 " WHERE run_id=%lld", run);
        size_t none = 0;
        e = optional(query(st, sql, &q), &none);
    }
    return e;
}

/* ---- public --------------------------------------------------------------- */

ht_err ht_report_load(ht_store *st, int64_t run_id, const ht_report_supp *supp,
                      struct ht_report *out)
{
    memset(out, 0, sizeof *out);
    out->run_id = run_id;
    out->pid = out->exit_status = out->signal = -1;
    out->pool = calloc(1, sizeof(struct pool));
    if (!out->pool)
        return HT_ENOMEM;
    struct locs L = {0};
    ht_err e = load_run(st, out);
    if (e == HT_OK)
        e = load_locs(st, out, &L);
    if (e == HT_OK)
        e = load_leaks(st, out, &L, supp);
    if (e == HT_OK)
        e = load_cycles(st, out, &L, supp);
    if (e == HT_OK)
        e = load_errors(st, out, &L, supp);
    if (e == HT_OK)
        e = load_heap(st, out, &L);
    if (e == HT_OK)
        e = load_sites_tables(st, out, &L);
    free(L.pcs);
    free(L.sites);
    return e;
}

void ht_report_free(struct ht_report *r)
{
    if (!r)
        return;
    struct pool *p = r->pool;
    for (size_t i = 0; p && i < p->n; i++)
        free(p->v[i]);
    if (p)
        free(p->v);
    free(p);
    for (size_t i = 0; i < r->ncycles; i++) {
        free(r->cycles[i].members);
        free(r->cycles[i].edges);
    }
    free(r->cycles);
    free(r->leaks);
    free(r->errors);
    free(r->churn);
    free(r->refsites);
    free(r->peak_sites);
    free(r->pinning);
    memset(r, 0, sizeof *r);
}
