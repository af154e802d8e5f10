/*
 * Allocation summary replay (include/heaptrail/replay.h).
 *
 * Data structures:
 *   live: open-addressing map address -> (size, site index), linear probing
 *         with backward-shift deletion (no tombstones), load <= 1/2.
 *   sites: map pc -> index into an array of per-site counters.
 * Invariants (checked by summary_is_valid in debug builds):
 *   R1. live.n == number of occupied slots; sum of sizes == live_bytes.
 *   R2. live_bytes <= peak_live_bytes.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "heaptrail/replay.h"

struct live_slot {
    uint64_t addr; /* 0 = empty */
    uint64_t size;
    uint32_t site;
};

struct live_map {
    struct live_slot *v;
    size_t cap, n; /* cap is a power of two */
};

struct site {
    uint64_t pc, allocs, bytes, frees, live_blocks, live_bytes;
};

struct site_map {
    uint32_t *idx; /* slot -> site index + 1, 0 = empty */
    size_t cap;
    struct site *v;
    size_t n, vcap;
};

static size_t hash64(uint64_t x, size_t cap)
{
    x ^= x >> 33;
    x *= 0xff51afd7ed558ccdull;
    x ^= x >> 33;
    return (size_t)x & (cap - 1);
}

static ht_err live_grow(struct live_map *m)
{
    size_t ncap = m->cap ? m->cap * 2 : 4096;
    struct live_slot *nv = calloc(ncap, sizeof *nv);
    if (!nv)
        return HT_ENOMEM;
    for (size_t i = 0; i < m->cap; i++) {
        if (!m->v[i].addr)
            continue;
        size_t j = hash64(m->v[i].addr, ncap);
        while (nv[j].addr)
            j = (j + 1) & (ncap - 1);
        nv[j] = m->v[i];
    }
    free(m->v);
    m->v = nv;
    m->cap = ncap;
    return HT_OK;
}

static struct live_slot *live_find(struct live_map *m, uint64_t addr)
{
    if (!m->cap)
        return NULL;
    for (size_t j = hash64(addr, m->cap);; j = (j + 1) & (m->cap - 1)) {
        if (m->v[j].addr == addr)
            return &m->v[j];
        if (!m->v[j].addr)
            return NULL;
    }
}

/* Insert or overwrite; returns the slot (NULL on ENOMEM). */
static struct live_slot *live_put(struct live_map *m, uint64_t addr)
{
    if ((m->n + 1) * 2 > m->cap && live_grow(m) != HT_OK)
        return NULL;
    size_t j = hash64(addr, m->cap);
    while (m->v[j].addr && m->v[j].addr != addr)
        j = (j + 1) & (m->cap - 1);
    if (!m->v[j].addr) {
        m->n++;
        m->v[j].addr = addr;
    }
    return &m->v[j];
}

static void live_del(struct live_map *m, struct live_slot *s)
{
    size_t i = (size_t)(s - m->v), mask = m->cap - 1;
    m->v[i].addr = 0;
    m->n--;
    for (size_t j = (i + 1) & mask; m->v[j].addr; j = (j + 1) & mask) {
        size_t h = hash64(m->v[j].addr, m->cap);
        /* move j back to i if its home is not in (i, j] cyclically */
        if (((j - h) & mask) >= ((j - i) & mask)) {
            m->v[i] = m->v[j];
            m->v[j].addr = 0;
            i = j;
        }
    }
}

static int64_t site_index(struct site_map *m, uint64_t pc)
{
    if ((m->n + 1) * 2 > m->cap) {
        size_t ncap = m->cap ? m->cap * 2 : 256;
        uint32_t *ni = calloc(ncap, sizeof *ni);
        if (!ni)
            return -1;
        for (size_t k = 0; k < m->n; k++) {
            size_t j = hash64(m->v[k].pc, ncap);
            while (ni[j])
                j = (j + 1) & (ncap - 1);
            ni[j] = (uint32_t)k + 1;
        }
        free(m->idx);
        m->idx = ni;
        m->cap = ncap;
    }
    size_t j = hash64(pc, m->cap);
    while (m->idx[j]) {
        if (m->v[m->idx[j] - 1].pc == pc)
            return m->idx[j] - 1;
        j = (j + 1) & (m->cap - 1);
    }
    if (m->n == m->vcap) {
        size_t nc = m->vcap ? m->vcap * 2 : 64;
        struct site *nv = realloc(m->v, nc * sizeof *nv);
        if (!nv)
            return -1;
        m->v = nv;
        m->vcap = nc;
    }
    memset(&m->v[m->n], 0, sizeof m->v[m->n]);
    m->v[m->n].pc = pc;
    m->idx[j] = (uint32_t)m->n + 1;
    return (int64_t)m->n++;
}

struct replay {
    struct live_map live;
    struct site_map sites;
    struct ht_summary s;
};

static ht_err on_alloc(struct replay *r, uint64_t addr, uint64_t size,
                       uint64_t pc, uint64_t seq)
{
    int64_t si = site_index(&r->sites, pc);
    if (si < 0)
        return HT_ENOMEM;
    struct live_slot *old = live_find(&r->live, addr);
    if (old) { /* allocation over a live block: the free was not seen */
        r->s.live_bytes -= old->size;
        r->s.live_blocks--;
        r->sites.v[old->site].live_blocks--;
        r->sites.v[old->site].live_bytes -= old->size;
    }
    struct live_slot *s = live_put(&r->live, addr);
    if (!s)
        return HT_ENOMEM;
    s->size = size;
    s->site = (uint32_t)si;
    struct site *st = &r->sites.v[si];
    st->allocs++;
    st->bytes += size;
    st->live_blocks++;
    st->live_bytes += size;
    r->s.bytes_allocated += size;
    r->s.live_blocks++;
    r->s.live_bytes += size;
    if (r->s.live_bytes > r->s.peak_live_bytes) {
        r->s.peak_live_bytes = r->s.live_bytes;
        r->s.peak_live_blocks = r->s.live_blocks;
        r->s.peak_seq = seq;
    }
    return HT_OK;
}

/* Release addr if live; user_free says whether it counts as a free of its
 * site (a realloc's release does not). Returns 1 if addr was live. */
static int release(struct replay *r, uint64_t addr, int user_free)
{
    struct live_slot *s = live_find(&r->live, addr);
    if (!s)
        return 0;
    struct site *st = &r->sites.v[s->site];
    st->frees += user_free ? 1 : 0;
    st->live_blocks--;
    st->live_bytes -= s->size;
    r->s.live_blocks--;
    r->s.live_bytes -= s->size;
    live_del(&r->live, s);
    return 1;
}

/*
 * A moving realloc arrives as FREE(old, HT_EVF_REALLOC) then REALLOC(new,
 * c=old) (event.h); an in-place one as REALLOC(a == c) alone.
 */
static ht_err apply(struct replay *r, const struct ht_rec *ev)
{
    switch (ev->kind) {
    case HT_EV_ALLOC:
        r->s.allocs++;
        return on_alloc(r, ev->a, ev->b, ev->d, ev->seq);
    case HT_EV_FREE: {
        int user = !(ev->flags & HT_EVF_REALLOC);
        r->s.frees += (uint64_t)user;
        if (!release(r, ev->a, user))
            r->s.invalid_frees++;
        return HT_OK;
    }
    case HT_EV_REALLOC:
        r->s.reallocs++;
        if (ev->a == 0)
            return HT_OK; /* failed realloc: old block unchanged */
        if (ev->c == ev->a && !release(r, ev->c, 0))
            r->s.invalid_frees++;
        return on_alloc(r, ev->a, ev->b, ev->d, ev->seq);
    default:
        return HT_OK;
    }
}

static ht_err write_results(ht_store *st, int64_t run, const struct replay *r)
{
    ht_err e;
    char sql[256];
    if ((e = ht_store_exec(st,
            "CREATE TABLE IF NOT EXISTS run_stats(run_id INTEGER PRIMARY KEY,"
            " allocs INTEGER, reallocs INTEGER, frees INTEGER,"
            " bytes_allocated INTEGER, peak_live_bytes INTEGER,"
            " peak_live_blocks INTEGER, peak_seq INTEGER, live_blocks INTEGER,"
            " live_bytes INTEGER, invalid_frees INTEGER, events INTEGER);"
            "CREATE TABLE IF NOT EXISTS site_stats(run_id INTEGER, pc INTEGER,"
            " allocs INTEGER, bytes_allocated INTEGER, frees INTEGER,"
            " live_blocks INTEGER, live_bytes INTEGER,"
            " PRIMARY KEY(run_id, pc)) WITHOUT ROWID;"
            "CREATE VIEW IF NOT EXISTS site_report AS SELECT s.run_id, s.pc,"
            " p.file, p.line, p.col, p.func, s.allocs, s.bytes_allocated,"
            " s.frees, s.live_blocks, s.live_bytes FROM site_stats s"
            " LEFT JOIN pcs p ON p.run_id = s.run_id AND p.pc = s.pc;")) != HT_OK)
        return e;
    snprintf(sql, sizeof sql,
             "DELETE FROM run_stats WHERE run_id=%lld;"
             "DELETE FROM site_stats WHERE run_id=%lld;",
             (long long)run, (long long)run);
    if ((e = ht_store_exec(st, sql)) != HT_OK)
        return e;
    ht_insert *ins = NULL;
    if ((e = ht_store_insert_prepare(st,
            "INSERT INTO run_stats VALUES(?,?,?,?,?,?,?,?,?,?,?,?)", &ins)) != HT_OK)
        return e;
    const struct ht_summary *s = &r->s;
    e = ht_store_insert_row(ins, "iiiiiiiiiiii", (int64_t)run,
                            (int64_t)s->allocs, (int64_t)s->reallocs,
                            (int64_t)s->frees, (int64_t)s->bytes_allocated,
                            (int64_t)s->peak_live_bytes,
                            (int64_t)s->peak_live_blocks, (int64_t)s->peak_seq,
                            (int64_t)s->live_blocks, (int64_t)s->live_bytes,
                            (int64_t)s->invalid_frees, (int64_t)s->events);
    ht_store_insert_free(ins);
    if (e != HT_OK)
        return e;
    if ((e = ht_store_insert_prepare(st,
            "INSERT INTO site_stats VALUES(?,?,?,?,?,?,?)", &ins)) != HT_OK)
        return e;
    for (size_t i = 0; e == HT_OK && i < r->sites.n; i++) {
        const struct site *x = &r->sites.v[i];
        e = ht_store_insert_row(ins, "iiiiiii", (int64_t)run, (int64_t)x->pc,
                                (int64_t)x->allocs, (int64_t)x->bytes,
                                (int64_t)x->frees, (int64_t)x->live_blocks,
                                (int64_t)x->live_bytes);
    }
    ht_store_insert_free(ins);
    return e;
}

ht_err ht_replay_summary(ht_store *st, int64_t run_id, struct ht_summary *out)
{
    memset(out, 0, sizeof *out);
    struct replay r;
    memset(&r, 0, sizeof r);
    ht_reader *rd = NULL;
    ht_err e = ht_reader_open(st, run_id, &rd);
    if (e != HT_OK)
        return e;
    struct ht_rec ev;
    while ((e = ht_reader_next(rd, &ev)) == HT_OK) {
        r.s.events++;
        if ((e = apply(&r, &ev)) != HT_OK)
            break;
    }
    ht_reader_close(rd);
    if (e == HT_ENOTFOUND)
        e = HT_OK;
    if (e == HT_OK && (e = ht_store_begin(st)) == HT_OK) {
        e = write_results(st, run_id, &r);
        if (e == HT_OK)
            e = ht_store_commit(st);
        else
            ht_store_rollback(st);
    }
    if (e == HT_OK)
        *out = r.s;
    free(r.live.v);
    free(r.sites.idx);
    free(r.sites.v);
    return e;
}
