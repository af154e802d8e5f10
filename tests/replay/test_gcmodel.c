/*
 * Tests of the collector model (replay/gcmodel.c) against the design doc
 * (cpython-memory.md sections 2.3, 2.4, 4.3, 4.5) and against golden output
 * of real CPython interpreters (tests/replay/fixtures/gc/<version>.txt,
 * produced by tools/gc_golden/gc_golden.py; see that script for the format).
 *
 * How the scheduling vector's model input is derived from a fixture:
 *   - the gen-2 population is sched_long_lived containers held by an
 *     external reference, followed by collect(2), so that long_lived_total
 *     equals the size of gen 2 after the script's first full collection;
 *   - then sched_count_start[0] live containers (the objects the script
 *     allocated between that collection and the loop: get_objects/get_stats
 *     results), then sched_allocs containers kept alive, with threshold
 *     (50, 3, 3); for deferred versions ht_gc_tick() after each allocation
 *     (the loop back-edge is an eval-breaker check).
 *   - asserted: the exact sequence of generations, count1/count2 at each
 *     start, collected/uncollectable of each collection, count0 at each
 *     start except the first (the interpreter allocates one or two loop
 *     containers after get_count() that the model does not see, so the
 *     first real start is at 52-53 instead of 51), and per-generation
 *     collection counts of get_stats().
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "heaptrail/gcmodel.h"

#define MAXCOLL 256

struct rec {
    size_t n;
    int gen[MAXCOLL];
    int64_t before[MAXCOLL][HT_GC_NGEN];
    size_t collected[MAXCOLL];
    size_t uncollectable[MAXCOLL];
};

static void record(void *arg, const struct ht_gc_result *r)
{
    struct rec *rec = arg;
    if (rec->n >= MAXCOLL)
        return;
    rec->gen[rec->n] = r->generation;
    memcpy(rec->before[rec->n], r->count_before, sizeof r->count_before);
    rec->collected[rec->n] = r->collected;
    rec->uncollectable[rec->n] = r->uncollectable;
    rec->n++;
}

static ht_gc *make(const char *version, struct rec *rec)
{
    struct ht_gc_config cfg;
    ht_gc *gc = NULL;
    assert_int_equal(ht_gc_config_for_version(version, &cfg), HT_OK);
    cfg.hook = rec ? record : NULL;
    cfg.hook_arg = rec;
    assert_int_equal(ht_gc_new(&cfg, &gc), HT_OK);
    return gc;
}

/* ---- fixture parsing ---------------------------------------------------- */

struct fixture {
    char version[32];
    int64_t threshold[3];
    struct { char name[64]; long value; } outcome[16];
    int noutcome;
    int64_t sched_threshold[3];
    long long_lived, allocs;
    int64_t count_start[3];
    struct rec coll;
    long stats[3][3];
};

static int load_fixture(const char *ver, struct fixture *f)
{
    char path[512], line[256];
    snprintf(path, sizeof path, "%s/gc/%s.txt", HT_FIXTURES_DIR, ver);
    FILE *fp = fopen(path, "r");
    if (!fp)
        return 0;
    memset(f, 0, sizeof *f);
    while (fgets(line, sizeof line, fp)) {
        long a[7];
        char name[64];
        if (sscanf(line, "version %31s", f->version) == 1)
            continue;
        if (sscanf(line, "threshold %ld %ld %ld", &a[0], &a[1], &a[2]) == 3) {
            for (int i = 0; i < 3; i++)
                f->threshold[i] = a[i];
        } else if (sscanf(line, "outcome %63s %ld", name, &a[0]) == 2 &&
                   f->noutcome < 16) {
            strcpy(f->outcome[f->noutcome].name, name);
            f->outcome[f->noutcome++].value = a[0];
        } else if (sscanf(line, "sched_threshold %ld %ld %ld", &a[0], &a[1], &a[2]) == 3) {
            for (int i = 0; i < 3; i++)
                f->sched_threshold[i] = a[i];
        } else if (sscanf(line, "sched_long_lived %ld", &a[0]) == 1) {
            f->long_lived = a[0];
        } else if (sscanf(line, "sched_count_start %ld %ld %ld", &a[0], &a[1], &a[2]) == 3) {
            for (int i = 0; i < 3; i++)
                f->count_start[i] = a[i];
        } else if (sscanf(line, "sched_allocs %ld", &a[0]) == 1) {
            f->allocs = a[0];
        } else if (sscanf(line, "sched_coll %ld %ld %ld %ld %ld %ld %ld", &a[0], &a[1],
                          &a[2], &a[3], &a[4], &a[5], &a[6]) == 7 &&
                   f->coll.n < MAXCOLL) {
            size_t n = f->coll.n++;
            f->coll.gen[n] = (int)a[1];
            for (int i = 0; i < 3; i++)
                f->coll.before[n][i] = a[2 + i];
            f->coll.collected[n] = (size_t)a[5];
            f->coll.uncollectable[n] = (size_t)a[6];
        } else if (sscanf(line, "sched_stats %ld %ld %ld %ld", &a[0], &a[1], &a[2],
                          &a[3]) == 4 && a[0] >= 0 && a[0] < 3) {
            for (int i = 0; i < 3; i++)
                f->stats[a[0]][i] = a[1 + i];
        }
    }
    fclose(fp);
    return 1;
}

static const char *const versions[] = {"3.8", "3.9", "3.10", "3.11", "3.12", "3.13"};

/* ---- section 4.3 graphs, driven exactly like gc_golden.py --------------- */

/* Run the O(n) invariant checker after every helper operation (turned off
 * for the large scheduling vector). */
static int check_each = 1;

static void checked(ht_gc *gc)
{
    if (check_each)
        assert_true(ht__gc_is_valid(gc));
}

static void obj(ht_gc *gc, uint64_t id)
{
    assert_int_equal(ht_gc_alloc(gc, id, 1), HT_OK);
    checked(gc);
    assert_int_equal(ht_gc_extref(gc, id, 1), HT_OK); /* the local name */
    checked(gc);
}

static void edge(ht_gc *gc, uint64_t a, uint64_t b)
{
    assert_int_equal(ht_gc_edge_add(gc, a, b), HT_OK);
    checked(gc);
}

static void drop(ht_gc *gc, uint64_t id)
{
    assert_int_equal(ht_gc_extref(gc, id, -1), HT_OK);
    checked(gc);
}

static long run_case(ht_gc *gc, const char *name)
{
    struct ht_gc_result r;
    assert_int_equal(ht_gc_collect(gc, 2, NULL), HT_OK);
    if (strcmp(name, "self_list") == 0) { /* l = []; l.append(l) */
        obj(gc, 1);
        edge(gc, 1, 1);
        drop(gc, 1);
    } else if (strcmp(name, "two_lists") == 0) { /* a = []; b = [a]; a.append(b) */
        obj(gc, 1);
        obj(gc, 2);
        edge(gc, 2, 1);
        edge(gc, 1, 2);
        drop(gc, 1);
        drop(gc, 2);
    } else if (strcmp(name, "list_tuple") == 0) { /* l = []; t = (l,); l.append(t) */
        obj(gc, 1);
        obj(gc, 2);
        edge(gc, 2, 1);
        edge(gc, 1, 2);
        drop(gc, 1);
        drop(gc, 2);
    } else if (strcmp(name, "dict_self") == 0) { /* d = {}; d['me'] = d */
        obj(gc, 1); /* tracked once a container value is inserted */
        edge(gc, 1, 1);
        drop(gc, 1);
    } else {
        return -1;
    }
    assert_true(ht__gc_is_valid(gc));
    assert_int_equal(ht_gc_collect(gc, 2, &r), HT_OK);
    assert_true(ht__gc_is_valid(gc));
    assert_int_equal(ht_gc_live(gc), 0);
    return (long)r.collected;
}

/* The cross-generation cycle: a = []; collect(); b = [a]; a.append(b). */
static void cross_gen(ht_gc *gc, long out[3])
{
    struct ht_gc_result r;
    obj(gc, 10);
    assert_int_equal(ht_gc_collect(gc, 2, NULL), HT_OK);
    assert_int_equal(ht_gc_generation_of(gc, 10), 2);
    obj(gc, 11);
    edge(gc, 11, 10);
    edge(gc, 10, 11);
    drop(gc, 10);
    drop(gc, 11);
    for (int g = 0; g < 3; g++) {
        assert_int_equal(ht_gc_collect(gc, g, &r), HT_OK);
        assert_true(ht__gc_is_valid(gc));
        out[g] = (long)r.collected;
    }
}

static void test_outcomes_match_cpython(void **state)
{
    (void)state;
    int checked = 0;
    for (size_t v = 0; v < sizeof versions / sizeof versions[0]; v++) {
        struct fixture *f = malloc(sizeof *f);
        assert_non_null(f);
        if (!load_fixture(versions[v], f)) {
            free(f);
            continue;
        }
        ht_gc *gc = make(versions[v], NULL);
        long cross[3];
        cross_gen(gc, cross);
        for (int i = 0; i < f->noutcome; i++) {
            const char *n = f->outcome[i].name;
            long got;
            if (strncmp(n, "cross_gen_collect", 17) == 0)
                got = cross[n[17] - '0'];
            else
                got = run_case(gc, n);
            assert_int_equal(got, f->outcome[i].value);
            checked++;
        }
        ht_gc_free(gc);
        free(f);
    }
    assert_true(checked >= 7);
}

/* ---- section 4.5 scheduling vector --------------------------------------- */

static void run_schedule(const char *ver, const struct fixture *f, struct rec *rec,
                         ht_gc **out)
{
    ht_gc *gc = make(ver, rec);
    uint64_t id = 1;
    int deferred = strcmp(ver, "3.12") == 0 || strcmp(ver, "3.13") == 0;
    assert_int_equal(ht_gc_set_threshold(gc, 0, 0, 0), HT_OK); /* build quietly */
    for (long i = 0; i < f->long_lived; i++)
        obj(gc, id++);
    assert_int_equal(ht_gc_collect(gc, 2, NULL), HT_OK);
    uint64_t total;
    ht_gc_get_long_lived(gc, NULL, &total);
    assert_int_equal(total, (uint64_t)f->long_lived);
    rec->n = 0;
    assert_int_equal(ht_gc_set_threshold(gc, f->sched_threshold[0], f->sched_threshold[1],
                                         f->sched_threshold[2]), HT_OK);
    for (int64_t i = 0; i < f->count_start[0]; i++)
        obj(gc, id++);
    for (long i = 0; i < f->allocs; i++) {
        obj(gc, id++);
        if (deferred)
            assert_int_equal(ht_gc_tick(gc, NULL), HT_OK);
    }
    assert_true(ht__gc_is_valid(gc));
    *out = gc;
}

static void test_schedule_matches_cpython(void **state)
{
    (void)state;
    int checked = 0;
    for (size_t v = 0; v < sizeof versions / sizeof versions[0]; v++) {
        struct fixture *f = malloc(sizeof *f);
        struct rec *rec = calloc(1, sizeof *rec);
        ht_gc *gc;
        assert_non_null(f);
        assert_non_null(rec);
        if (!load_fixture(versions[v], f)) {
            free(f);
            free(rec);
            continue;
        }
        assert_true(f->coll.n > 0);
        check_each = 0;
        run_schedule(versions[v], f, rec, &gc);
        check_each = 1;
        assert_int_equal(rec->n, f->coll.n);
        for (size_t i = 0; i < rec->n; i++) {
            assert_int_equal(rec->gen[i], f->coll.gen[i]);
            if (i > 0)
                assert_int_equal(rec->before[i][0], f->coll.before[i][0]);
            assert_int_equal(rec->before[i][1], f->coll.before[i][1]);
            assert_int_equal(rec->before[i][2], f->coll.before[i][2]);
            assert_int_equal(rec->collected[i], f->coll.collected[i]);
            assert_int_equal(rec->uncollectable[i], f->coll.uncollectable[i]);
        }
        struct ht_gc_stats st[3];
        ht_gc_get_stats(gc, st);
        st[2].collections--; /* the set-up collect(2) is not part of the vector */
        for (int g = 0; g < 3; g++) {
            assert_int_equal(st[g].collections, f->stats[g][0]);
            assert_int_equal(st[g].collected, f->stats[g][1]);
            assert_int_equal(st[g].uncollectable, f->stats[g][2]);
        }
        checked++;
        ht_gc_free(gc);
        free(rec);
        free(f);
    }
    assert_true(checked >= 4);
}

/* Default thresholds of the profiles equal the interpreters' (section 0.2). */
static void test_default_thresholds(void **state)
{
    (void)state;
    for (size_t v = 0; v < sizeof versions / sizeof versions[0]; v++) {
        struct fixture *f = malloc(sizeof *f);
        struct ht_gc_config cfg;
        assert_non_null(f);
        if (load_fixture(versions[v], f)) {
            assert_int_equal(ht_gc_config_for_version(versions[v], &cfg), HT_OK);
            for (int i = 0; i < 3; i++)
                assert_int_equal(cfg.threshold[i], f->threshold[i]);
        }
        free(f);
    }
    struct ht_gc_config cfg;
    assert_int_equal(ht_gc_config_for_version("3.14.0", &cfg), HT_EINVAL);
    assert_int_equal(cfg.threshold[0], 0);
}

/* ---- unit tests from sections 2.3 and 2.4 -------------------------------- */

static void test_two_cycle_and_reachability(void **state)
{
    (void)state;
    struct ht_gc_result r;
    ht_gc *gc = make("3.8", NULL);
    obj(gc, 1);
    obj(gc, 2);
    obj(gc, 3); /* 3 -> 1 keeps the cycle alive while 3 is referenced */
    edge(gc, 1, 2);
    edge(gc, 2, 1);
    edge(gc, 3, 1);
    drop(gc, 1);
    drop(gc, 2);
    assert_int_equal(ht_gc_collect(gc, 0, &r), HT_OK);
    assert_int_equal(r.collected, 0);
    assert_int_equal(ht_gc_generation_of(gc, 1), 1); /* promoted */
    drop(gc, 3);
    assert_int_equal(ht_gc_collect(gc, 1, &r), HT_OK);
    assert_int_equal(r.collected, 3);
    assert_int_equal(ht_gc_live(gc), 0);
    assert_true(ht__gc_is_valid(gc));
    /* a multi-edge: two references from the same object both count */
    obj(gc, 4);
    obj(gc, 5);
    edge(gc, 4, 5);
    edge(gc, 4, 5);
    drop(gc, 5);
    assert_int_equal(ht_gc_edge_del(gc, 4, 5), HT_OK);
    assert_int_equal(ht_gc_collect(gc, 2, &r), HT_OK);
    assert_int_equal(r.collected, 0);
    assert_int_equal(ht_gc_edge_del(gc, 4, 5), HT_OK);
    assert_int_equal(ht_gc_edge_del(gc, 4, 5), HT_ENOTFOUND);
    assert_int_equal(ht_gc_dealloc(gc, 5), HT_OK); /* refcounting frees it */
    /* an untracked object holding a reference keeps its target alive */
    assert_int_equal(ht_gc_alloc(gc, 6, 0), HT_OK);
    obj(gc, 7);
    edge(gc, 6, 7);
    edge(gc, 7, 7);
    drop(gc, 7);
    assert_int_equal(ht_gc_collect(gc, 2, &r), HT_OK);
    assert_int_equal(r.collected, 0);
    assert_int_equal(ht_gc_dealloc(gc, 6), HT_OK); /* stale-free: edge vanishes */
    assert_int_equal(ht_gc_collect(gc, 2, &r), HT_OK);
    assert_int_equal(r.collected, 1);
    assert_int_equal(r.ids[0], 7);
    assert_true(ht__gc_is_valid(gc));
    ht_gc_free(gc);
}

/* Lazy mode (cfg.lazy): an eager and a lazy model fed the same allocs,
 * deallocs and ticks (random, thresholds low enough that every generation
 * is collected) agree after every step on counts, statistics, generation
 * sizes, live objects, long-lived figures, each collection's generation,
 * counts before and collected count, and each ref's generation; then
 * ht_gc_lazy_end hands the lazy refs over and, with edges added to both,
 * the next collection finds the same objects in the same order. */
#define LZ_N 400
static void lazy_run(const char *version)
{
    struct ht_gc_config cfg;
    struct rec re = {0}, rl = {0};
    ht_gc *e = NULL, *l = NULL;
    ht_gc_ref er[LZ_N], lr[LZ_N];
    uint64_t ids[LZ_N];
    int live[LZ_N] = {0};
    assert_int_equal(ht_gc_config_for_version(version, &cfg), HT_OK);
    cfg.no_ids = 1;
    cfg.hook = record;
    cfg.hook_arg = &re;
    assert_int_equal(ht_gc_new(&cfg, &e), HT_OK);
    cfg.lazy = 1;
    cfg.hook_arg = &rl;
    assert_int_equal(ht_gc_new(&cfg, &l), HT_OK);
    assert_true(ht_gc_is_lazy(l) && !ht_gc_is_lazy(e));
    assert_int_equal(ht_gc_set_threshold(e, 7, 2, 2), HT_OK);
    assert_int_equal(ht_gc_set_threshold(l, 7, 2, 2), HT_OK);
    assert_int_equal(ht_gc_alloc_ref(l, 1, 0, &lr[0]), HT_EINVAL);
    uint32_t x = 12345;
    for (int step = 0; step < 3000; step++) {
        x = x * 1103515245u + 12345u;
        size_t i = (x >> 8) % LZ_N;
        if (!live[i]) {
            ids[i] = 0x1000 + i;
            assert_int_equal(ht_gc_alloc_ref(e, ids[i], 1, &er[i]), HT_OK);
            assert_int_equal(ht_gc_tick(e, NULL), HT_OK);
            /* the replay's call: allocation and tick at once */
            assert_int_equal(ht_gc_alloc_tick_ref(l, ids[i], 1, &lr[i]),
                             HT_OK);
            live[i] = 1;
        } else { /* collected ones too: both say HT_ENOTFOUND */
            assert_int_equal(ht_gc_dealloc_ref(e, er[i]),
                             ht_gc_dealloc_ref(l, lr[i]));
            live[i] = 0;
        }
        assert_int_equal(ht_gc_tick(e, NULL), HT_OK);
        assert_int_equal(ht_gc_tick(l, NULL), HT_OK);
        int64_t ce[3], cl[3];
        struct ht_gc_stats se[3], sl[3];
        uint64_t pe, te, pl, tl;
        ht_gc_get_count(e, ce);
        ht_gc_get_count(l, cl);
        assert_memory_equal(ce, cl, sizeof ce);
        ht_gc_get_stats(e, se);
        ht_gc_get_stats(l, sl);
        assert_memory_equal(se, sl, sizeof se);
        ht_gc_get_long_lived(e, &pe, &te);
        ht_gc_get_long_lived(l, &pl, &tl);
        assert_true(pe == pl && te == tl);
        assert_int_equal(ht_gc_live(e), ht_gc_live(l));
        for (int g = 0; g < HT_GC_NGEN; g++)
            assert_int_equal(ht_gc_gen_size(e, g), ht_gc_gen_size(l, g));
        for (size_t k = 0; k < LZ_N; k++)
            if (live[k])
                assert_int_equal(ht_gc_generation_of_ref(e, er[k]),
                                 ht_gc_generation_of_ref(l, lr[k]));
        assert_true(ht__gc_is_valid(l));
    }
    assert_true(re.n > 20 && re.n == rl.n);
    assert_memory_equal(re.gen, rl.gen, sizeof re.gen);
    assert_memory_equal(re.before, rl.before, sizeof re.before);
    assert_memory_equal(re.collected, rl.collected, sizeof re.collected);
    int seen[3] = {0};
    for (size_t c = 0; c < re.n && c < MAXCOLL; c++)
        seen[re.gen[c]] = 1;
    assert_true(seen[0] && seen[1] && seen[2]);
    /* a few more objects, none collected, so that several are live */
    assert_int_equal(ht_gc_set_threshold(e, 700, 10, 10), HT_OK);
    assert_int_equal(ht_gc_set_threshold(l, 700, 10, 10), HT_OK);
    for (size_t k = 0, made = 0; k < LZ_N && made < 6; k++) {
        if (live[k] && ht_gc_generation_of_ref(e, er[k]) == 0)
            continue;
        if (live[k]) /* collected: the caller still frees it */
            assert_int_equal(ht_gc_dealloc_ref(l, lr[k]), HT_ENOTFOUND);
        ids[k] = 0x2000 + k;
        assert_int_equal(ht_gc_alloc_ref(e, ids[k], 1, &er[k]), HT_OK);
        assert_int_equal(ht_gc_alloc_ref(l, ids[k], 1, &lr[k]), HT_OK);
        live[k] = 1;
        made++;
    }
    /* hand the refs over: every slot's, dead and deallocated ones too
     * (a dealloc'd one is given as 0: the caller holds it no more) */
    ht_gc_ref hand[LZ_N];
    size_t nlive = 0;
    for (size_t k = 0; k < LZ_N; k++) {
        hand[k] = live[k] ? lr[k] : 0;
        nlive += live[k] && ht_gc_generation_of_ref(l, lr[k]) == 0;
    }
    assert_int_equal(nlive, ht_gc_live(l));
    assert_true(nlive > 1);
    assert_int_equal(ht_gc_edge_add_ref(l, lr[0], lr[1]), HT_EINVAL);
    size_t miss = 0; /* a live one missing: refused, nothing changed */
    while (!(live[miss] && ht_gc_generation_of_ref(l, lr[miss]) == 0))
        miss++; /* one exists: nlive > 1 */
    hand[miss] = 0;
    assert_int_equal(ht_gc_lazy_end(l, hand, ids, LZ_N), HT_EINVAL);
    assert_true(ht_gc_is_lazy(l));
    hand[miss] = lr[miss];
    assert_int_equal(ht_gc_lazy_end(l, hand, ids, LZ_N), HT_OK);
    assert_false(ht_gc_is_lazy(l));
    assert_true(ht__gc_is_valid(l));
    /* a ring of edges over the live objects (with refs in both models) */
    size_t prev = LZ_N, first = LZ_N;
    for (size_t k = 0; k < LZ_N; k++) {
        if (!live[k] || ht_gc_generation_of_ref(e, er[k]) != 0)
            continue;
        assert_int_equal(ht_gc_generation_of_ref(l, hand[k]), 0);
        if (prev < LZ_N) {
            assert_int_equal(ht_gc_edge_add_ref(e, er[prev], er[k]), HT_OK);
            assert_int_equal(ht_gc_edge_add_ref(l, hand[prev], hand[k]), HT_OK);
        } else {
            first = k;
        }
        prev = k;
    }
    assert_int_equal(ht_gc_extref_ref(e, er[first], 1), HT_OK);
    assert_int_equal(ht_gc_extref_ref(l, hand[first], 1), HT_OK);
    struct ht_gc_result ra, rb;
    uint64_t ida[LZ_N];
    assert_int_equal(ht_gc_collect(e, 0, &ra), HT_OK);
    memcpy(ida, ra.ids, ra.collected * sizeof *ida);
    assert_int_equal(ht_gc_collect(l, 0, &rb), HT_OK);
    assert_int_equal(ra.collected, rb.collected);
    assert_memory_equal(ida, rb.ids, rb.collected * sizeof *ida);
    assert_int_equal(ht_gc_extref_ref(e, er[first], -1), HT_OK);
    assert_int_equal(ht_gc_extref_ref(l, hand[first], -1), HT_OK);
    assert_int_equal(ht_gc_collect(e, 2, &ra), HT_OK);
    memcpy(ida, ra.ids, ra.collected * sizeof *ida);
    assert_int_equal(ht_gc_collect(l, 2, &rb), HT_OK);
    assert_true(ra.collected == nlive && rb.collected == nlive);
    assert_memory_equal(ida, rb.ids, rb.collected * sizeof *ida);
    assert_true(ht__gc_is_valid(e) && ht__gc_is_valid(l));
    ht_gc_free(e);
    ht_gc_free(l);
}

/* ht_gc_prefetch_ref is a hint: live, stale, absurd and lazy refs leave
 * the model as it was (an eager tick-allocation after it too). */
static void test_prefetch_is_a_hint(void **state)
{
    (void)state;
    struct ht_gc_config cfg;
    ht_gc *gc = NULL, *lz = NULL;
    ht_gc_ref a, b, c;
    assert_int_equal(ht_gc_config_for_version("3.12", &cfg), HT_OK);
    cfg.no_ids = 1;
    assert_int_equal(ht_gc_new(&cfg, &gc), HT_OK);
    assert_int_equal(ht_gc_alloc_tick_ref(gc, 1, 1, &a), HT_OK);
    assert_int_equal(ht_gc_alloc_tick_ref(gc, 2, 1, &b), HT_OK);
    assert_int_equal(ht_gc_edge_add_ref(gc, a, b), HT_OK);
    assert_int_equal(ht_gc_dealloc_ref(gc, b), HT_OK);
    const ht_gc_ref refs[] = {a, b, 0, UINT64_MAX, (UINT64_C(1) << 40) | 5};
    for (size_t i = 0; i < sizeof refs / sizeof refs[0]; i++)
        ht_gc_prefetch_ref(gc, refs[i]);
    assert_true(ht__gc_is_valid(gc));
    assert_int_equal(ht_gc_live(gc), 1);
    assert_int_equal(ht_gc_generation_of_ref(gc, a), 0);
    assert_int_equal(ht_gc_generation_of_ref(gc, b), -2);
    assert_int_equal(ht_gc_alloc_tick_ref(gc, 3, 1, &c), HT_OK);
    assert_int_equal(ht_gc_live(gc), 2);
    assert_int_equal(ht_gc_gen_size(gc, 0), 2);
    ht_gc_free(gc);
    cfg.lazy = 1;
    assert_int_equal(ht_gc_new(&cfg, &lz), HT_OK);
    assert_int_equal(ht_gc_alloc_tick_ref(lz, 1, 1, &a), HT_OK);
    ht_gc_prefetch_ref(lz, a);
    assert_true(ht_gc_is_lazy(lz) && ht__gc_is_valid(lz));
    assert_int_equal(ht_gc_live(lz), 1);
    ht_gc_free(lz);
}

static void test_lazy_matches_eager(void **state)
{
    (void)state;
    struct ht_gc_config cfg;
    ht_gc *gc = NULL;
    assert_int_equal(ht_gc_config_for_version("3.12", &cfg), HT_OK);
    cfg.lazy = 1; /* needs no_ids */
    assert_int_equal(ht_gc_new(&cfg, &gc), HT_EINVAL);
    assert_null(gc);
    lazy_run("3.8");  /* collections inside the allocation */
    lazy_run("3.12"); /* deferred to the tick */
    /* a second dealloc of the only lazy ref cannot take the counts below 0 */
    cfg.no_ids = 1;
    assert_int_equal(ht_gc_new(&cfg, &gc), HT_OK);
    ht_gc_ref a;
    int64_t count[HT_GC_NGEN];
    assert_int_equal(ht_gc_alloc_ref(gc, 1, 1, &a), HT_OK);
    assert_int_equal(ht_gc_dealloc_ref(gc, a), HT_OK);
    assert_int_equal(ht_gc_dealloc_ref(gc, a), HT_ENOTFOUND);
    ht_gc_get_count(gc, count);
    assert_int_equal(count[0], 0);
    assert_int_equal(ht_gc_lazy_end(gc, NULL, NULL, 0), HT_OK);
    assert_int_equal(ht_gc_is_lazy(gc), 0);
    ht_gc_free(gc);
}

/* Refs (cfg.no_ids): the replay's way to name objects. Same outcomes as by
 * id; a stale ref (deallocated or collected) never reaches the object that
 * reuses its slot; ids may repeat and only come back in results. */
static void test_refs_without_ids(void **state)
{
    (void)state;
    struct ht_gc_config cfg;
    struct ht_gc_result r;
    ht_gc *gc = NULL;
    ht_gc_ref a, b, c, d;
    assert_int_equal(ht_gc_config_for_version("3.8", &cfg), HT_OK);
    cfg.no_ids = 1;
    assert_int_equal(ht_gc_new(&cfg, &gc), HT_OK);
    assert_int_equal(ht_gc_alloc(gc, 1, 1), HT_EINVAL);
    assert_int_equal(ht_gc_alloc_ref(gc, 1, 1, &a), HT_OK);
    assert_int_equal(ht_gc_alloc_ref(gc, 1, 1, &b), HT_OK); /* same id */
    assert_int_equal(ht_gc_alloc_ref(gc, 3, 1, &c), HT_OK);
    assert_true(a && b && c && a != b);
    assert_int_equal(ht_gc_dealloc(gc, 1), HT_EINVAL);
    assert_int_equal(ht_gc_extref(gc, 1, 1), HT_EINVAL);
    assert_int_equal(ht_gc_edge_add(gc, 1, 3), HT_EINVAL);
    assert_int_equal(ht_gc_ref_of(gc, 1), 0);
    assert_int_equal(ht_gc_generation_of(gc, 1), -2);
    assert_int_equal(ht_gc_edge_add_ref(gc, a, b), HT_OK);
    assert_int_equal(ht_gc_edge_add_ref(gc, b, a), HT_OK);
    assert_int_equal(ht_gc_edge_add_ref(gc, c, a), HT_OK);
    assert_int_equal(ht_gc_extref_ref(gc, c, 1), HT_OK);
    assert_int_equal(ht_gc_extref_ref(gc, c, -2), HT_EINVAL);
    assert_int_equal(ht_gc_collect(gc, 0, &r), HT_OK);
    assert_int_equal(r.collected, 0);
    assert_int_equal(ht_gc_generation_of_ref(gc, a), 1);
    assert_int_equal(ht_gc_extref_ref(gc, c, -1), HT_OK);
    assert_int_equal(ht_gc_collect(gc, 1, &r), HT_OK);
    assert_int_equal(r.collected, 3);
    assert_int_equal(ht_gc_live(gc), 0);
    assert_true(ht__gc_is_valid(gc));
    /* collected: stale; the next object takes a freed slot, not the ref */
    assert_int_equal(ht_gc_dealloc_ref(gc, a), HT_ENOTFOUND);
    assert_int_equal(ht_gc_alloc_ref(gc, 9, 1, &d), HT_OK);
    assert_true(d != a && d != b && d != c);
    assert_int_equal(ht_gc_extref_ref(gc, a, 1), HT_ENOTFOUND);
    assert_int_equal(ht_gc_extref_ref(gc, b, 1), HT_ENOTFOUND);
    assert_int_equal(ht_gc_extref_ref(gc, c, 1), HT_ENOTFOUND);
    assert_int_equal(ht_gc_edge_add_ref(gc, d, a), HT_ENOTFOUND);
    assert_int_equal(ht_gc_generation_of_ref(gc, a), -2);
    assert_int_equal(ht_gc_dealloc_ref(gc, 0), HT_ENOTFOUND);
    assert_int_equal(ht_gc_dealloc_ref(gc, d), HT_OK);
    assert_int_equal(ht_gc_dealloc_ref(gc, d), HT_ENOTFOUND);
    assert_true(ht__gc_is_valid(gc));
    ht_gc_free(gc);
    /* with ids kept, refs and ids name the same objects */
    gc = make("3.8", NULL);
    assert_int_equal(ht_gc_alloc_ref(gc, 5, 1, &a), HT_OK);
    assert_int_equal(ht_gc_alloc_ref(gc, 5, 1, &b), HT_EINVAL);
    assert_int_equal(b, 0);
    assert_int_equal(ht_gc_ref_of(gc, 5), a);
    assert_int_equal(ht_gc_alloc(gc, 6, 1), HT_OK);
    assert_int_equal(ht_gc_edge_add_ref(gc, a, ht_gc_ref_of(gc, 6)), HT_OK);
    assert_int_equal(ht_gc_edge_del(gc, 5, 6), HT_OK);
    assert_int_equal(ht_gc_dealloc_ref(gc, a), HT_OK);
    assert_int_equal(ht_gc_dealloc(gc, 5), HT_ENOTFOUND);
    assert_int_equal(ht_gc_live(gc), 1);
    assert_true(ht__gc_is_valid(gc));
    ht_gc_free(gc);
}

static void test_count_semantics(void **state)
{
    (void)state;
    int64_t c[3];
    ht_gc *gc = make("3.8", NULL);
    obj(gc, 1);
    obj(gc, 2);
    assert_int_equal(ht_gc_alloc(gc, 3, 0), HT_OK); /* non-GC memory */
    ht_gc_get_count(gc, c);
    assert_int_equal(c[0], 2);
    assert_int_equal(ht_gc_collect(gc, 0, NULL), HT_OK);
    ht_gc_get_count(gc, c);
    assert_int_equal(c[0], 0);
    assert_int_equal(c[1], 1);
    /* deallocations before allocations do not cancel them (clamp at 0) */
    assert_int_equal(ht_gc_dealloc(gc, 1), HT_OK);
    assert_int_equal(ht_gc_dealloc(gc, 2), HT_OK);
    obj(gc, 4);
    ht_gc_get_count(gc, c);
    assert_int_equal(c[0], 1);
    assert_int_equal(ht_gc_dealloc(gc, 4), HT_OK);
    ht_gc_get_count(gc, c);
    assert_int_equal(c[0], 0);
    assert_int_equal(ht_gc_dealloc(gc, 4), HT_ENOTFOUND);
    /* collect(1) resets count0/count1 and bumps count2 */
    assert_int_equal(ht_gc_collect(gc, 1, NULL), HT_OK);
    ht_gc_get_count(gc, c);
    assert_int_equal(c[0], 0);
    assert_int_equal(c[1], 0);
    assert_int_equal(c[2], 1);
    assert_int_equal(ht_gc_extref(gc, 3, -1), HT_EINVAL);
    assert_true(ht__gc_is_valid(gc));
    ht_gc_free(gc);
}

/* Thresholds (5, 0, 0): every trigger after a gen-0 collection wants gen 1,
 * and gen 2 as soon as count2 > 0, unless pending < total / 4. With 100
 * long-lived objects (total 100, limit 25), a trigger every 6th allocation
 * (count0 > 5), and the triggering object not yet tracked during a <= 3.11
 * collection (_PyObject_GC_Alloc collects before the object is tracked):
 *   alloc 106: gen 0, young 5          alloc 112: gen 1, young 6 + 5 -> pending 11
 *   alloc 118: 11 < 25 -> gen 0 (6)    alloc 124: gen 1, young 6 + 6 -> pending 23
 *   alloc 130: 23 < 25 -> gen 0 (6)    alloc 136: gen 1, young 12    -> pending 35
 *   alloc 142: 35 >= 25 -> gen 2, survivors 100 + 41 (142 not yet tracked). */
static void test_long_lived_rule(void **state)
{
    (void)state;
    static const int want[] = {0, 1, 0, 1, 0, 1, 2};
    struct rec rec = {0};
    uint64_t pending, total;
    ht_gc *gc = make("3.8", &rec);
    assert_int_equal(ht_gc_set_threshold(gc, 0, 0, 0), HT_OK);
    for (uint64_t i = 1; i <= 100; i++)
        obj(gc, i);
    assert_int_equal(ht_gc_collect(gc, 2, NULL), HT_OK);
    rec.n = 0;
    assert_int_equal(ht_gc_set_threshold(gc, 5, 0, 0), HT_OK);
    for (uint64_t i = 101; i <= 142; i++)
        obj(gc, i);
    assert_int_equal(rec.n, 7);
    for (size_t i = 0; i < 7; i++)
        assert_int_equal(rec.gen[i], want[i]);
    ht_gc_get_long_lived(gc, &pending, &total);
    assert_int_equal(pending, 0);
    assert_int_equal(total, 141);
    assert_int_equal(ht_gc_generation_of(gc, 142), 0);
    assert_true(ht__gc_is_valid(gc));
    ht_gc_free(gc);
}

/* 3.12+: the allocation only schedules; the tick runs the collection. */
static void test_deferred_trigger(void **state)
{
    (void)state;
    struct rec rec = {0};
    int ran;
    ht_gc *gc = make("3.12", &rec);
    assert_int_equal(ht_gc_set_threshold(gc, 2, 10, 10), HT_OK);
    for (uint64_t i = 1; i <= 5; i++)
        obj(gc, i);
    assert_int_equal(rec.n, 0);
    assert_int_equal(ht_gc_tick(gc, &ran), HT_OK);
    assert_int_equal(ran, 1);
    assert_int_equal(rec.n, 1);
    assert_int_equal(rec.before[0][0], 5);
    assert_int_equal(ht_gc_tick(gc, &ran), HT_OK);
    assert_int_equal(ran, 0);
    ht_gc_free(gc);
    /* <= 3.11: immediately on the allocation that makes count0 > threshold0 */
    memset(&rec, 0, sizeof rec);
    gc = make("3.11", &rec);
    assert_int_equal(ht_gc_set_threshold(gc, 2, 10, 10), HT_OK);
    for (uint64_t i = 1; i <= 3; i++)
        obj(gc, i);
    assert_int_equal(rec.n, 1);
    assert_int_equal(rec.before[0][0], 3);
    ht_gc_free(gc);
}

/* Throughput figure, printed for the report (asserts only correctness). */
static void test_throughput(void **state)
{
    (void)state;
    ht_gc *gc = make("3.13", NULL);
    const uint64_t n = 1000000;
    clock_t t0 = clock();
    for (uint64_t i = 1; i <= n; i++) {
        /* a chain i -> i-1 held from outside; every third object freed */
        if (ht_gc_alloc(gc, i * 16, 1) != HT_OK || ht_gc_extref(gc, i * 16, 1) != HT_OK)
            fail();
        if (i > 1 && ht_gc_edge_add(gc, i * 16, (i - 1) * 16) != HT_OK)
            fail();
        if (i % 3 == 0 && ht_gc_dealloc(gc, (i - 2) * 16) != HT_OK)
            fail();
        if (ht_gc_tick(gc, NULL) != HT_OK)
            fail();
    }
    double s = (double)(clock() - t0) / CLOCKS_PER_SEC;
    print_message("gcmodel: %.0f ops in %.3f s = %.2f Mops/s\n", (double)n * 4.33, s,
                  (double)n * 4.33 / (s > 0 ? s : 1e-9) / 1e6);
    assert_true(ht__gc_is_valid(gc));
    ht_gc_free(gc);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_outcomes_match_cpython),
        cmocka_unit_test(test_schedule_matches_cpython),
        cmocka_unit_test(test_default_thresholds),
        cmocka_unit_test(test_two_cycle_and_reachability),
        cmocka_unit_test(test_refs_without_ids),
        cmocka_unit_test(test_count_semantics),
        cmocka_unit_test(test_long_lived_rule),
        cmocka_unit_test(test_deferred_trigger),
        cmocka_unit_test(test_throughput),
        cmocka_unit_test(test_lazy_matches_eager),
        cmocka_unit_test(test_prefetch_is_a_hint),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
