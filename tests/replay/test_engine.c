#define _GNU_SOURCE
/* Tests of the replay engine (replay/engine.c): a small synthetic trace is
 * written as a spill file, ingested into a temporary store and replayed;
 * every expected value below is derived by hand from the trace. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <sqlite3.h>

#include "heaptrail/replay.h"
#include "heaptrail/spill.h"
#include "heaptrail/store.h"
#include "tests/support/live_util.h"
#include "tests/support/spill_write.h"

#define CR 64u
#define NCH 16u /* chunks in the synthetic spill */

static char dir[256];

static int rm_one(const char *p, const struct stat *sb, int flag, struct FTW *f)
{
    (void)sb; (void)flag; (void)f;
    return remove(p);
}

struct sb {
    struct ht_spill_header *h;
    struct ht_rec *recs;
    size_t n, nch;
};

/* a spill of nch chunks */
static void sb_init_n(struct sb *b, size_t nch)
{
    b->h = ht_test_spill_header(CR, nch, "/bin/true");
    assert_non_null(b->h);
    b->h->next_chunk = 1;
    b->recs = calloc(CR * nch, sizeof(struct ht_rec));
    assert_non_null(b->recs);
    b->n = 0;
    b->nch = nch;
}

static void sb_init(struct sb *b)
{
    sb_init_n(b, NCH);
}

/* append an event; seq is its index; d = 0x1000 + seq */
static uint64_t ev(struct sb *b, unsigned kind, uint64_t a, uint64_t bb,
                   uint64_t c, uint16_t flags)
{
    assert_true(b->n < CR * b->nch);
    b->h->next_chunk = b->n / CR + 1;
    struct ht_rec *r = &b->recs[b->n];
    r->seq = b->n;
    r->kind = (uint8_t)kind;
    r->a = a;
    r->b = bb;
    r->c = c;
    r->d = 0x1000 + b->n;
    r->tid = 7;
    r->flags = flags;
    return b->n++;
}

static int64_t sb_ingest(struct sb *b, ht_store **st)
{
    char spill[300], db[300];
    snprintf(spill, sizeof spill, "%s/spill-999999-1.hts", dir);
    snprintf(db, sizeof db, "%s/t.db", dir);
    assert_int_equal(ht_test_spill_write(spill, b->h, b->recs,
                                         CR * b->nch * sizeof(struct ht_rec)),
                     0);
    free(b->h);
    free(b->recs);
    assert_int_equal(ht_store_open(db, HT_STORE_CREATE, st), HT_OK);
    struct ht_ingest_result res;
    assert_int_equal(ht_store_ingest_spill(*st, spill, NULL, 1, &res), HT_OK);
    return res.run_id;
}

#define q HT_TEST_Q /* live_util.h */

static int setup(void **state)
{
    (void)state;
    snprintf(dir, sizeof dir, "/tmp/ht-test-engine-XXXXXX");
    assert_non_null(mkdtemp(dir));
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    return nftw(dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

static void test_leaks_cycles_errors(void **state)
{
    (void)state;
    struct sb b;
    sb_init(&b);
    ev(&b, HT_EV_ROOT, 0x600000, 0x100, 0, 0);            /* 0 */
    ev(&b, HT_EV_ALLOC, 0x10000, 32, 0, 0);               /* 1 A */
    ev(&b, HT_EV_ALLOC, 0x10100, 32, 0, 0);               /* 2 B */
    ev(&b, HT_EV_ALLOC, 0x10200, 32, 0, 0);               /* 3 C */
    ev(&b, HT_EV_STORE, 0x10108, 0x10200, 0, 0);          /* 4 B->C */
    ev(&b, HT_EV_ALLOC, 0x10300, 48, 0, 0);               /* 5 X */
    ev(&b, HT_EV_ALLOC, 0x10400, 48, 0, 0);               /* 6 Y */
    ev(&b, HT_EV_ALLOC, 0x10500, 48, 0, 0);               /* 7 Z */
    ev(&b, HT_EV_STORE, 0x10300, 0x10400, 0, 0);          /* 8 X->Y */
    ev(&b, HT_EV_STORE, 0x10408, 0x10500, 0, 0);          /* 9 Y->Z */
    ev(&b, HT_EV_STORE, 0x10510, 0x10300, 0, 0);          /* 10 Z->X */
    ev(&b, HT_EV_ALLOC, 0x10600, 64, 0, 0);               /* 11 R */
    ev(&b, HT_EV_STORE, 0x600010, 0x10600, 0, 0);         /* 12 root->R */
    ev(&b, HT_EV_ALLOC, 0x10700, 16, 0, 0);               /* 13 D */
    ev(&b, HT_EV_STORE, 0x600020, 0x10700, 0, 0);         /* 14 root->D */
    ev(&b, HT_EV_STORE, 0x600020, 0, 0x10700, 0);         /* 15 drop D */
    ev(&b, HT_EV_FREE, 0x99000, 0, 0, 0);                 /* 16 invalid */
    ev(&b, HT_EV_ALLOC, 0x10800, 16, 0, 0);               /* 17 E */
    ev(&b, HT_EV_FREE, 0x10800, 0, 0, 0);                 /* 18 */
    ev(&b, HT_EV_FREE, 0x10800, 0, 0, 0);                 /* 19 double */
    ev(&b, HT_EV_ALLOC, 0x10900, 16, 0, 0);               /* 20 F */
    ev(&b, HT_EV_STORE, 0x10908, 0x10600, 0, 0);          /* 21 F->R */
    ev(&b, HT_EV_FREE, 0x10900, 0, 0, HT_EVF_REALLOC);    /* 22 */
    ev(&b, HT_EV_REALLOC, 0x20000, 64, 0x10900, 0);       /* 23 F moves */
    ev(&b, HT_EV_STORE, 0x10900, 0, 0, 0);                /* 24 into freed */
    ev(&b, HT_EV_EXIT, 0, 0, 0, 0);                       /* 25 */
    ht_store *st = NULL;
    int64_t run = sb_ingest(&b, &st);

    struct ht_replay_opts o = {.allocator = "3.12", .snapshot_every = 1000};
    struct ht_replay_result r;
    assert_int_equal(ht_replay_run(st, run, &o, &r), HT_OK);
    assert_int_equal(r.events, 26);
    assert_int_equal(r.objects, 10);
    assert_int_equal(r.live_at_end, 9);
    assert_int_equal(r.definite, 4); /* A, B, D, F */
    assert_int_equal(r.definite_bytes, 32 + 32 + 16 + 64);
    assert_int_equal(r.indirect, 1); /* C */
    assert_int_equal(r.indirect_bytes, 32);
    assert_int_equal(r.cycle, 3);
    assert_int_equal(r.cycle_bytes, 144);
    assert_int_equal(r.reachable, 1);
    assert_int_equal(r.reachable_bytes, 64);
    assert_int_equal(r.cycles, 1);
    assert_int_equal(r.errors, 3);
    /* live bytes: 32*3+48*3+64+16 = 320, E +16 -16, F +16 -> 336, F grows
     * to 64 at seq 23 -> 384 */
    assert_int_equal(r.peak_live_bytes, 384);
    assert_int_equal(r.peak_seq, 23);

    char out[1024];
    q(st, "SELECT category, blocks, bytes FROM leak_summary ORDER BY category",
      out);
    assert_string_equal(out, "cycle,3,144;definite,4,144;indirect,1,32;"
                             "reachable,1,64");
    /* the block whose only pointer was overwritten by the STORE at seq 15 */
    q(st, "SELECT leak_kind, lost_seq, lost_by, lost_by_site FROM objects"
          " WHERE addr=0x10700", out);
    assert_string_equal(out, "definite,15,store,4111"); /* 0x1000+15 */
    q(st, "SELECT leak_kind, lost_seq, lost_by FROM objects WHERE addr=0x10000",
      out);
    assert_string_equal(out, "definite,NULL,never_stored");
    q(st, "SELECT leak_kind, lost_by FROM objects WHERE addr=0x10200", out);
    assert_string_equal(out, "indirect,NULL");
    q(st, "SELECT size, alloc_seq, free_seq, leak_kind FROM objects"
          " WHERE addr=0x20000", out);
    assert_string_equal(out, "64,20,NULL,definite");
    q(st, "SELECT alloc_seq, free_seq, leak_kind FROM objects"
          " WHERE addr=0x10800", out);
    assert_string_equal(out, "17,18,NULL");
    q(st, "SELECT cycle_id, members, bytes FROM cycles", out);
    assert_string_equal(out, "1,3,144");
    q(st, "SELECT printf('%x',from_addr), offset, printf('%x',to_addr),"
          " store_seq, store_site - 4096 FROM cycle_edges ORDER BY from_addr",
      out);
    assert_string_equal(out, "10300,0,10400,8,8;10400,8,10500,9,9;"
                             "10500,16,10300,10,10");
    q(st, "SELECT COUNT(*) FROM cycle_members WHERE cycle_id=1", out);
    assert_string_equal(out, "3");
    q(st, "SELECT seq, kind, printf('%x', addr) FROM errors ORDER BY seq", out);
    assert_string_equal(out, "16,invalid_free,99000;19,double_free,10800;"
                             "24,store_into_freed,10900");
    /* pymalloc 3.12 (16 KiB pools, 1 MiB arenas, 64 pools): live at exit
     * class 16: D; 32: A B C; 48: X Y Z; 64: R F -> 4 pools, 9 blocks,
     * 16+96+144+128 = 384 bytes, 1 arena, 64-4 = 60 unused pools */
    q(st, "SELECT arenas, pools_used, blocks_in_use, bytes_in_use,"
          " unused_pools, CAST(bytes_total AS INTEGER), raw_blocks,"
          " live_bytes, utilisation = 384.0/1048576 FROM frag_snapshots"
          " WHERE kind='exit'", out);
    assert_string_equal(out, "1,4,9,384,60,1048576,0,384,1");
    q(st, "SELECT seq, live_bytes FROM frag_snapshots WHERE kind='peak'", out);
    assert_string_equal(out, "23,384");
    /* replaying again replaces the rows */
    assert_int_equal(ht_replay_run(st, run, &o, &r), HT_OK);
    q(st, "SELECT COUNT(*) FROM objects", out);
    assert_string_equal(out, "10");
    ht_store_close(st);
}

static void test_profiles_and_raw(void **state)
{
    (void)state;
    struct sb b;
    sb_init(&b);
    ev(&b, HT_EV_ALLOC, 0x10000, 600, 0, 0); /* raw (> 512) */
    ev(&b, HT_EV_FREE, 0x10000, 0, 0, 0);
    ht_store *st = NULL;
    int64_t run = sb_ingest(&b, &st);
    struct ht_replay_result r;
    /* run_stats as an older heaptrail wrote it (no stores column) */
    assert_int_equal(ht_store_exec(st,
        "CREATE TABLE run_stats(run_id INTEGER PRIMARY KEY, allocs INTEGER,"
        " reallocs INTEGER, frees INTEGER, bytes_allocated INTEGER,"
        " peak_live_bytes INTEGER, peak_live_blocks INTEGER,"
        " peak_seq INTEGER, live_blocks INTEGER, live_bytes INTEGER,"
        " invalid_frees INTEGER, events INTEGER)"), HT_OK);
    struct ht_replay_opts bad = {.allocator = "2.7"};
    assert_int_equal(ht_replay_run(st, run, &bad, &r), HT_EINVAL);
    assert_int_equal(r.events, 0);
    assert_int_equal(ht_replay_run(st, run, NULL, &r), HT_OK);
    assert_int_equal(r.collections, 0);
    assert_int_equal(r.live_at_end, 0);
    assert_int_equal(r.peak_live_bytes, 600);
    char out[1024];
    q(st, "SELECT allocs, frees, stores FROM run_stats", out);
    assert_string_equal(out, "1,1,0");
    /* the peak state: no arena, one raw block */
    q(st, "SELECT arenas, raw_blocks FROM frag_snapshots WHERE kind='peak'",
      out);
    assert_string_equal(out, "0,1");
    ht_store_close(st);
}

/* 3.12 thresholds 700/10/10, collection deferred to the next eval-breaker
 * check (the engine checks after every allocation): the 701st container
 * allocation triggers a generation-0 collection over 701 objects, of which
 * only the rooted one survives. */
static void test_gc_collections(void **state)
{
    (void)state;
    struct sb b;
    sb_init(&b);
    ev(&b, HT_EV_ROOT, 0x600000, 0x100, 0, 0);
    ev(&b, HT_EV_ALLOC, 0x100000, 32, 0, 0);
    ev(&b, HT_EV_STORE, 0x600000, 0x100000, 0, 0);
    uint64_t last = 0;
    for (unsigned i = 1; i < 701; i++)
        last = ev(&b, HT_EV_ALLOC, 0x100000 + 64 * (uint64_t)i, 32, 0, 0);
    ht_store *st = NULL;
    int64_t run = sb_ingest(&b, &st);
    struct ht_replay_result r;
    struct ht_replay_opts o = {.allocator = "3.12"};
    assert_int_equal(ht_replay_run(st, run, &o, &r), HT_OK);
    assert_int_equal(r.collections, 1);
    assert_int_equal(r.live_at_end, 701);
    assert_int_equal(r.reachable, 1);
    assert_int_equal(r.definite, 700);
    char out[1024], want[64];
    q(st, "SELECT n, seq, generation, collected, count0 FROM gc_collections",
      out);
    snprintf(want, sizeof want, "1,%llu,0,700,701", (unsigned long long)last);
    assert_string_equal(out, want);
    q(st, "SELECT generation, collections, collected FROM gc_stats"
          " ORDER BY generation", out);
    assert_string_equal(out, "0,1,700;1,0,0;2,0,0");
    ht_store_close(st);
}

/* SCCs: a lost 2-cycle with a tail and a pointer into it, a lost
 * self-loop, and a reachable cycle (not a leak). */
static void test_scc_shapes(void **state)
{
    (void)state;
    struct sb b;
    sb_init(&b);
    ev(&b, HT_EV_ROOT, 0x600000, 0x100, 0, 0);
    for (uint64_t a = 0x1000; a <= 0x7000; a += 0x1000)
        ev(&b, HT_EV_ALLOC, a, 32, 0, 0); /* P Q T S U V W */
    ev(&b, HT_EV_STORE, 0x1000, 0x2000, 0, 0);   /* P->Q */
    ev(&b, HT_EV_STORE, 0x2000, 0x1000, 0, 0);   /* Q->P */
    ev(&b, HT_EV_STORE, 0x2008, 0x3000, 0, 0);   /* Q->T */
    ev(&b, HT_EV_STORE, 0x4000, 0x4010, 0, 0);   /* S->S (interior) */
    ev(&b, HT_EV_STORE, 0x600000, 0x5000, 0, 0); /* root->U */
    ev(&b, HT_EV_STORE, 0x5000, 0x6000, 0, 0);   /* U->V */
    ev(&b, HT_EV_STORE, 0x6000, 0x5000, 0, 0);   /* V->U */
    ev(&b, HT_EV_EDGE, 0x7008, 0x1000, 0, 0);    /* W->P (exit snapshot) */
    ht_store *st = NULL;
    int64_t run = sb_ingest(&b, &st);
    struct ht_replay_result r;
    assert_int_equal(ht_replay_run(st, run, NULL, &r), HT_OK);
    assert_int_equal(r.cycles, 2);
    char out[1024];
    q(st, "SELECT category, blocks FROM leak_summary ORDER BY category", out);
    assert_string_equal(out, "cycle,3;definite,1;indirect,1;reachable,2");
    q(st, "SELECT printf('%x', addr), leak_kind FROM objects ORDER BY addr",
      out);
    assert_string_equal(out, "1000,cycle;2000,cycle;3000,indirect;"
                             "4000,cycle;5000,reachable;6000,reachable;"
                             "7000,definite");
    q(st, "SELECT members, bytes FROM cycles ORDER BY members", out);
    assert_string_equal(out, "1,32;2,64");
    q(st, "SELECT COUNT(*) FROM cycle_edges", out);
    assert_string_equal(out, "3"); /* P->Q, Q->P, S->S */
    ht_store_close(st);
}

/* A moving realloc takes the block's outgoing edges along (offsets kept);
 * a pointer to the old address is left dangling, so the 2-cycle P<->Q is
 * broken: Q (moved, nobody points to it) is definitely lost and P, T are
 * only held by it. An in-place shrink drops the edges beyond the new size. */
static void test_realloc_moves_edges(void **state)
{
    (void)state;
    struct sb b;
    sb_init(&b);
    ev(&b, HT_EV_ALLOC, 0x1000, 32, 0, 0);                 /* 0 P */
    ev(&b, HT_EV_ALLOC, 0x2000, 32, 0, 0);                 /* 1 Q */
    ev(&b, HT_EV_ALLOC, 0x3000, 32, 0, 0);                 /* 2 T */
    ev(&b, HT_EV_ALLOC, 0x4000, 64, 0, 0);                 /* 3 K */
    ev(&b, HT_EV_ALLOC, 0x5000, 32, 0, 0);                 /* 4 L */
    ev(&b, HT_EV_STORE, 0x1000, 0x2000, 0, 0);             /* 5 P->Q */
    ev(&b, HT_EV_STORE, 0x2000, 0x1000, 0, 0);             /* 6 Q->P */
    ev(&b, HT_EV_STORE, 0x2008, 0x3000, 0, 0);             /* 7 Q->T */
    ev(&b, HT_EV_STORE, 0x4030, 0x5000, 0, 0);             /* 8 K+48->L */
    ev(&b, HT_EV_FREE, 0x2000, 0, 0, HT_EVF_REALLOC);      /* 9 */
    ev(&b, HT_EV_REALLOC, 0x9000, 200, 0x2000, 0);         /* 10 Q moves */
    ev(&b, HT_EV_REALLOC, 0x4000, 32, 0x4000, 0);          /* 11 K shrinks */
    ht_store *st = NULL;
    int64_t run = sb_ingest(&b, &st);
    struct ht_replay_result r;
    assert_int_equal(ht_replay_run(st, run, NULL, &r), HT_OK);
    assert_int_equal(r.objects, 5);
    assert_int_equal(r.cycles, 0);
    char out[1024];
    q(st, "SELECT printf('%x', addr), size, leak_kind FROM objects"
          " ORDER BY alloc_seq", out);
    assert_string_equal(out, "1000,32,indirect;9000,200,definite;"
                             "3000,32,indirect;4000,32,definite;"
                             "5000,32,definite");
    q(st, "SELECT COUNT(*) FROM errors", out);
    assert_string_equal(out, "0");
    ht_store_close(st);
}

/* ingest b and replay it (opts may be NULL); returns the run id */
static int64_t sb_replay(struct sb *b, ht_store **st,
                         const struct ht_replay_opts *o,
                         struct ht_replay_result *r)
{
    int64_t run = sb_ingest(b, st);
    assert_int_equal(ht_replay_run(*st, run, o, r), HT_OK);
    return run;
}

/* The start of the look-ahead tests: 1100 filler blocks of 32 B, 10
 * stores between them (the page index), fillers up to n events, then A
 * (0x200000, 64 B) and C (0x400000, 32 B). Returns the fillers made. */
static uint64_t fill_a_c(struct sb *b, size_t n)
{
    uint64_t k = 0;
    for (; k < 1100; k++)
        ev(b, HT_EV_ALLOC, 0x100000 + k * 0x40, 32, 0, 0);
    for (uint64_t j = 0; j < 10; j++) /* stores into blocks: the index */
        ev(b, HT_EV_STORE, 0x100000 + j * 0x40 + 8,
           0x100000 + (j + 1) * 0x40, 0, 0);
    while (b->n < n)
        ev(b, HT_EV_ALLOC, 0x100000 + k++ * 0x40, 32, 0, 0);
    ev(b, HT_EV_ALLOC, 0x200000, 64, 0, 0);   /* A */
    ev(b, HT_EV_ALLOC, 0x400000, 32, 0, 0);   /* C */
    return k;
}

/* The end of the look-ahead tests: A (0x200000, 64 B) freed, X and B
 * (over A's old bytes) allocated, B+24 -> C (0x400000) and C -> B stored;
 * replays b and checks the B-C cycle, X lost, and the cycle's two edges
 * (none on A's old object or on X). */
static void free_a_store_b_c(struct sb *b)
{
    ev(b, HT_EV_FREE, 0x200000, 0, 0, 0);     /* A freed */
    ev(b, HT_EV_ALLOC, 0x300000, 64, 0, 0);   /* X */
    ev(b, HT_EV_ALLOC, 0x1ffff0, 64, 0, 0);   /* B, over A's old bytes */
    ev(b, HT_EV_STORE, 0x200008, 0x400000, 0, 0); /* B+24 -> C */
    ev(b, HT_EV_STORE, 0x400000, 0x1ffff0, 0, 0); /* C -> B */
    ht_store *st = NULL;
    struct ht_replay_result r;
    sb_replay(b, &st, NULL, &r);
    assert_int_equal(r.cycles, 1);
    char out[256];
    q(st, "SELECT printf('%x', addr), leak_kind FROM objects_live WHERE"
          " addr IN (2097136, 3145728, 4194304) ORDER BY addr", out);
    assert_string_equal(out, "1ffff0,cycle;300000,definite;400000,cycle");
    q(st, "SELECT printf('%x', from_addr), offset FROM cycle_edges"
          " ORDER BY from_addr", out);
    assert_string_equal(out, "1ffff0,24;400000,0");
    ht_store_close(st);
}

/* The STORE look-ahead (engine.c ptr_hints) finds a store's slot block
 * events ahead; a FREE and ALLOCs in between change the answer: block A
 * (holding the slot) is freed, X takes A's object slot, B is allocated
 * over the slot. The store must land in B (B <-> C is then a cycle), never
 * in the block found before the free. Enough blocks that the hints run
 * (a table over HT__PREFETCH_MIN_CAP slots), the page index built a batch
 * (1024 records) before the stores. */
static void test_store_lookahead_after_free(void **state)
{
    (void)state;
    struct sb b;
    sb_init_n(&b, 48);
    fill_a_c(&b, 2100);
    for (uint64_t j = 0; j < 4; j++)           /* stores into fillers */
        ev(&b, HT_EV_STORE, 0x100000 + j * 0x40 + 16, 0x100000 + 500 * 0x40,
           0, 0);
    free_a_store_b_c(&b);
}

/* The STORE look-ahead's answer does not cross a decode batch (1024
 * events): batch 2 ends with a STORE into A whose block was found ahead;
 * its root stores turn the look-ahead off for batch 3, where A is freed,
 * X and B allocated (X may take A's slot) and B+24 -> C, C -> B stored.
 * A stale answer would put the first edge on A's old object. */
static void test_store_lookahead_batch_end(void **state)
{
    (void)state;
    struct sb b;
    sb_init_n(&b, 64);
    uint64_t k = fill_a_c(&b, 2040);
    while (b.n < 2048)
        ev(&b, HT_EV_ALLOC, 0x100000 + k++ * 0x40, 32, 0, 0);
    for (uint64_t j = 0; b.n < 3071; j++)      /* root stores */
        ev(&b, HT_EV_STORE, 0x600000 + j * 8, 0x100000, 0, 0);
    ev(&b, HT_EV_STORE, 0x200008, 0x100000 + 5 * 0x40, 0, 0); /* into A */
    free_a_store_b_c(&b); /* batch 3 */
}

/* Stack roots belong to one snapshot: P held by a stack slot at a mid-run
 * snapshot and not at the exit snapshot is lost; Q, held by a stack slot
 * at the exit snapshot, is reachable; R, held by a data-segment root slot
 * stored before both snapshots, stays reachable. */
static void test_stack_roots_per_snapshot(void **state)
{
    (void)state;
    struct sb b;
    sb_init(&b);
    ev(&b, HT_EV_ROOT, 0x600000, 0x100, 0, 0);            /* data segment */
    ev(&b, HT_EV_ALLOC, 0x1000, 32, 0, 0);                 /* P */
    ev(&b, HT_EV_ALLOC, 0x2000, 48, 0, 0);                 /* Q */
    ev(&b, HT_EV_ALLOC, 0x3000, 64, 0, 0);                 /* R */
    ev(&b, HT_EV_STORE, 0x600008, 0x3000, 0, 0);           /* global -> R */
    ev(&b, HT_EV_SNAPSHOT, 0, 0, 0, 0);                    /* mid-run */
    ev(&b, HT_EV_ROOT, 0x7ff000, 0x1000, HT_ROOT_STACK, 0);
    ev(&b, HT_EV_EDGE, 0x7ff010, 0x1000, 0, 0);            /* stack -> P */
    ev(&b, HT_EV_SNAPSHOT, 1, 0, 0, 0);                    /* at exit */
    ev(&b, HT_EV_ROOT, 0x7fe000, 0x2000, HT_ROOT_STACK, 0);
    ev(&b, HT_EV_EDGE, 0x7fe020, 0x2000, 0, 0);            /* stack -> Q */
    ht_store *st = NULL;
    struct ht_replay_result r;
    sb_replay(&b, &st, NULL, &r);
    char out[256];
    q(st, "SELECT printf('%x', addr), leak_kind FROM objects ORDER BY addr",
      out);
    assert_string_equal(out, "1000,definite;2000,reachable;3000,reachable");
    ht_store_close(st);
}

/* give event i the pc / site id d (ev() sets d = 0x1000 + seq) */
static void setd(struct sb *b, uint64_t i, uint64_t d)
{
    b->recs[i].d = d;
}

/* Explicit refcounts: an object named by an INCREF/DECREF starts at 1.
 * O1 is decref'd below zero, O2 freed holding a reference, O3 lost holding
 * one; O4 has no refcount events, so its refcnt is the one pointer to it. */
static void test_refcount_errors(void **state)
{
    (void)state;
    struct sb b;
    sb_init(&b);
    ev(&b, HT_EV_ALLOC, 0x1000, 32, 0, 0);          /* 0 O1 */
    ev(&b, HT_EV_INCREF, 0x1000, 0, 0, HT_EVF_SITE); /* 1 -> 2 */
    ev(&b, HT_EV_DECREF, 0x1000, 0, 0, HT_EVF_SITE); /* 2 -> 1 */
    ev(&b, HT_EV_DECREF, 0x1000, 0, 0, HT_EVF_SITE); /* 3 -> 0 */
    ev(&b, HT_EV_DECREF, 0x1010, 0, 0, HT_EVF_SITE); /* 4 -> -1 (interior) */
    ev(&b, HT_EV_ALLOC, 0x2000, 32, 0, 0);          /* 5 O2 */
    ev(&b, HT_EV_INCREF, 0x2000, 0, 0, HT_EVF_SITE); /* 6 -> 2 */
    ev(&b, HT_EV_FREE, 0x2000, 0, 0, 0);            /* 7 freed_with_refs */
    ev(&b, HT_EV_ALLOC, 0x3000, 16, 0, 0);          /* 8 O3 */
    ev(&b, HT_EV_INCREF, 0x3000, 0, 0, HT_EVF_SITE); /* 9 -> 2 */
    ev(&b, HT_EV_ALLOC, 0x4000, 16, 0, 0);          /* 10 O4 */
    ev(&b, HT_EV_STORE, 0x3008, 0x4000, 0, 0);      /* 11 O3->O4 */
    ev(&b, HT_EV_DECREF, 0x2000, 0, 0, HT_EVF_SITE); /* 12 on freed */
    ev(&b, HT_EV_INCREF, 0x3000, 0, 0, 0);           /* 13 -> 3, pc */
    setd(&b, 13, 0x401234);
    ev(&b, HT_EV_DECREF, 0x3000, 0, 0, 0);           /* 14 -> 2, pc */
    setd(&b, 14, 0x401234);
    ev(&b, HT_EV_EXIT, 0, 0, 0, 0);                 /* 15 */
    ht_store *st = NULL;
    struct ht_replay_result r;
    sb_replay(&b, &st, NULL, &r);
    assert_int_equal(r.errors, 4);
    char out[1024];
    q(st, "SELECT seq, kind, printf('%x', addr), pc - 4096 FROM errors"
          " ORDER BY seq", out);
    assert_string_equal(out, "4,refcount_below_zero,1010,4;"
                             "7,freed_with_refs,2000,7;"
                             "12,refcount_on_freed,2000,12;"
                             "15,refcount_not_zero,3000,8");
    q(st, "SELECT printf('%x', addr), refcnt, free_seq, leak_kind FROM objects"
          " ORDER BY addr", out);
    assert_string_equal(out, "1000,-1,NULL,definite;2000,2,7,NULL;"
                             "3000,2,NULL,definite;4000,1,NULL,indirect");
    /* per site: the DECREF below zero and the INCREFs whose reference was
     * never given back (O2's at 6, O3's last at 13) are unbalanced */
    q(st, "SELECT COALESCE(site_id - 4096, printf('%x', pc)), increfs,"
          " decrefs, unbalanced FROM refcount_sites"
          " ORDER BY pc IS NOT NULL, site_id", out);
    assert_string_equal(out, "1,1,0,0;2,0,1,0;3,0,1,0;4,0,1,1;6,1,0,1;"
                             "9,1,0,0;12,0,1,0;401234,1,1,1");
    ht_store_close(st);
}

/* run_stats, site_stats, churn, peak and peak_sites of a trace with a
 * long-lived block (pc P1), 150 alloc/free pairs of 24 bytes at P2 (freed
 * at P3) and a bigger short-lived block at P1 making the peak. */
static void test_stats_churn_peak(void **state)
{
    (void)state;
    struct sb b;
    sb_init(&b);
    const uint64_t P1 = 0x401000, P2 = 0x402000, P3 = 0x403000, P4 = 0x404000;
    setd(&b, ev(&b, HT_EV_ALLOC, 0x9000, 100, 0, 0), P1);   /* 0 X */
    for (int i = 0; i < 150; i++) {
        setd(&b, ev(&b, HT_EV_ALLOC, 0x5000, 24, 0, 0), P2);
        setd(&b, ev(&b, HT_EV_FREE, 0x5000, 0, 0, 0), P3);
    }
    setd(&b, ev(&b, HT_EV_ALLOC, 0xa000, 200, 0, 0), P1);   /* 301 Y */
    /* a block that adds nothing to live bytes, after the peak: not in it */
    setd(&b, ev(&b, HT_EV_ALLOC, 0xc000, 0, 0, 0), P4);     /* 302 */
    setd(&b, ev(&b, HT_EV_FREE, 0xa000, 0, 0, 0), P3);      /* 303 */
    setd(&b, ev(&b, HT_EV_ALLOC, 0xb000, 50, 0, 0), P4);    /* 304 Z */
    ev(&b, HT_EV_ALLOC, 0, 8, 0, 0);                        /* 305 failed */
    ht_store *st = NULL;
    struct ht_replay_result r;
    sb_replay(&b, &st, NULL, &r);
    assert_int_equal(r.peak_live_bytes, 300);
    assert_int_equal(r.peak_seq, 301);
    char out[1024];
    q(st, "SELECT allocs, reallocs, frees, bytes_allocated, peak_live_bytes,"
          " peak_live_blocks, peak_seq, live_blocks, live_bytes,"
          " invalid_frees, events, stores FROM run_stats", out);
    assert_string_equal(out, "155,0,151,3950,300,2,301,3,150,0,306,0");
    q(st, "SELECT printf('%x', pc), allocs, bytes_allocated, frees,"
          " live_blocks, live_bytes FROM site_stats ORDER BY pc", out);
    assert_string_equal(out, "401000,2,300,1,1,100;402000,150,3600,150,0,0;"
                             "404000,2,50,0,2,50");
    q(st, "SELECT printf('%x', pc), size, allocs, frees, max_live,"
          " short_lived FROM churn", out);
    assert_string_equal(out, "402000,24,150,150,1,150");
    q(st, "SELECT seq, live_blocks, live_bytes FROM peak", out);
    assert_string_equal(out, "301,2,300");
    q(st, "SELECT printf('%x', pc), blocks, bytes FROM peak_sites", out);
    assert_string_equal(out, "401000,2,300");
    q(st, "SELECT generation, collections, collected, uncollectable"
          " FROM gc_stats ORDER BY generation", out);
    assert_string_equal(out, "0,0,0,0;1,0,0,0;2,0,0,0");
    q(st, "SELECT program, events, allocs, frees, reallocs, stores,"
          " peak_bytes, peak_seq, live_blocks_exit, live_bytes_exit,"
          " definite_blocks, definite_bytes, indirect_blocks, cycle_blocks,"
          " reachable_blocks, cycles, errors, gc_collections"
          " FROM run_summary", out);
    assert_string_equal(out, "/bin/true,306,155,151,0,0,300,301,3,150,"
                             "3,150.0,0,0,0,0,0,0");
    ht_store_close(st);
    /* the documented views work on a plain SQLite connection, without
     * heaptrail's virtual tables (a user's sqlite3 shell) */
    char db[300];
    snprintf(db, sizeof db, "%s/t.db", dir);
    sqlite3 *raw = NULL;
    assert_int_equal(sqlite3_open_v2(db, &raw, SQLITE_OPEN_READONLY, NULL),
                     SQLITE_OK);
    sqlite3_stmt *stmt = NULL;
    assert_int_equal(sqlite3_prepare_v2(raw, "SELECT (SELECT group_concat("
                     "category || ':' || blocks || ':' || bytes) FROM"
                     " leak_summary), definite_blocks FROM run_summary",
                     -1, &stmt, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_step(stmt), SQLITE_ROW);
    assert_string_equal((const char *)sqlite3_column_text(stmt, 0),
                        "definite:3:150");
    assert_int_equal(sqlite3_column_int(stmt, 1), 3);
    sqlite3_finalize(stmt);
    sqlite3_close(raw);
}

/* pinning at exit (3.12: 16 KiB pools, 1 MiB arenas): site A's three
 * 32-byte blocks and B's one share a pool (A's), B's two 48-byte blocks
 * fill another (B's); the arena is a 3:3 tie, charged to the lower pc (A);
 * a raw 600-byte block at C pins nothing. */
static void test_pinning(void **state)
{
    (void)state;
    struct sb b;
    sb_init(&b);
    const uint64_t A = 0x100, B = 0x200, C = 0x300;
    setd(&b, ev(&b, HT_EV_ALLOC, 0x1000, 32, 0, 0), A);
    setd(&b, ev(&b, HT_EV_ALLOC, 0x1100, 32, 0, 0), A);
    setd(&b, ev(&b, HT_EV_ALLOC, 0x1200, 32, 0, 0), B);
    setd(&b, ev(&b, HT_EV_ALLOC, 0x1300, 30, 0, 0), A);
    setd(&b, ev(&b, HT_EV_ALLOC, 0x1400, 48, 0, 0), B);
    setd(&b, ev(&b, HT_EV_ALLOC, 0x1500, 40, 0, 0), B);
    setd(&b, ev(&b, HT_EV_ALLOC, 0x1600, 600, 0, 0), C);
    ht_store *st = NULL;
    struct ht_replay_result r;
    sb_replay(&b, &st, NULL, &r);
    char out[1024];
    q(st, "SELECT seq, printf('%x', pc), blocks, pools, arenas FROM pinning"
          " ORDER BY pc", out);
    assert_string_equal(out, "6,100,3,1,1;6,200,3,1,0");
    ht_store_close(st);
}

/* --allocator system: every request goes to the raw allocator. The same
 * findings as with pymalloc; fragmentation rows describe no pools or
 * arenas: blocks are raw, bytes_in_use = bytes_total = the live requested
 * bytes (utilisation 1), and pool_map and pinning get no rows. */
static void sys_trace(struct sb *b)
{
    sb_init(b);
    ev(b, HT_EV_ALLOC, 0x1000, 32, 0, 0);           /* 0 */
    ev(b, HT_EV_ALLOC, 0x1100, 600, 0, 0);          /* 1 raw in pymalloc */
    ev(b, HT_EV_ALLOC, 0x1400, 40, 0, 0);           /* 2 */
    ev(b, HT_EV_FREE, 0x1000, 0, 0, 0);             /* 3 */
    ev(b, HT_EV_REALLOC, 0x2000, 100, 0x1400, 0);   /* 4 moves, grows */
    ev(b, HT_EV_REALLOC, 0x2000, 20, 0x2000, 0);    /* 5 shrinks */
    ev(b, HT_EV_ALLOC, 0x3000, 8, 0, 0);            /* 6 */
    ev(b, HT_EV_FREE, 0x3000, 0, 0, 0);             /* 7 */
}

static void test_system_allocator(void **state)
{
    (void)state;
    struct sb b;
    ht_store *st = NULL;
    struct ht_replay_result r;
    char out[1024];
    sys_trace(&b);
    struct ht_replay_opts o = {.allocator = "system"};
    sb_replay(&b, &st, &o, &r);
    assert_int_equal(r.events, 8);
    assert_int_equal(r.live_at_end, 2);
    assert_int_equal(r.definite, 2);
    assert_int_equal(r.definite_bytes, 620);
    assert_int_equal(r.peak_live_bytes, 700); /* after event 4 */
    q(st, "SELECT kind, seq, arenas, pools_used, blocks_in_use, bytes_in_use,"
          " utilisation, unused_pools, bytes_total, raw_blocks, live_bytes,"
          " bytes_quantization FROM frag_snapshots"
          " WHERE kind IN ('peak', 'exit') ORDER BY kind", out);
    assert_string_equal(out, "exit,7,0,0,0,620,1.0,0,620.0,2,620,0;"
                             "peak,4,0,0,0,700,1.0,0,700.0,2,700,0");
    q(st, "SELECT count(*) FROM pool_map", out);
    assert_string_equal(out, "0");
    q(st, "SELECT count(*) FROM pinning", out);
    assert_string_equal(out, "0");
    q(st, "SELECT allocs, frees, reallocs FROM run_stats", out);
    assert_string_equal(out, "4,2,2");
    ht_store_close(st);

    /* the same trace through pymalloc 3.12 ("pymalloc-" prefix accepted):
     * same findings, one arena, pools in the map */
    sys_trace(&b);
    st = NULL;
    o.allocator = "pymalloc-3.12";
    assert_int_equal(teardown(NULL), 0);
    assert_int_equal(setup(NULL), 0);
    sb_replay(&b, &st, &o, &r);
    assert_int_equal(r.definite, 2);
    assert_int_equal(r.definite_bytes, 620);
    q(st, "SELECT arenas, raw_blocks, live_bytes FROM frag_snapshots"
          " WHERE kind='exit'", out);
    assert_string_equal(out, "1,1,620");
    q(st, "SELECT count(*) > 0 FROM pool_map", out);
    assert_string_equal(out, "1");
    ht_store_close(st);
}

/* Bad traces: two events with the same seq, a lost-events marker, a free
 * and a realloc of addresses never allocated, and a run whose process
 * never finished (spill state RUNNING): rows of errors, totals unchanged. */
static void test_bad_traces(void **state)
{
    (void)state;
    struct sb b;
    sb_init(&b);
    ev(&b, HT_EV_ALLOC, 0x1000, 32, 0, 0);          /* 0 */
    ev(&b, HT_EV_ALLOC, 0x2000, 32, 0, 0);          /* 1 */
    ev(&b, HT_EV_FREE, 0x7000, 0, 0, 0);            /* 2 never allocated */
    ev(&b, HT_EV_OVERFLOW, 5, 0, 0, 0);             /* 3: 5 events lost */
    ev(&b, HT_EV_FREE, 0x2000, 0, 0, 0);            /* 4 */
    ev(&b, HT_EV_REALLOC, 0x3000, 64, 0x8000, 0);   /* 5 never allocated */
    ev(&b, HT_EV_ALLOC, 0x4000, 16, 0, 0);          /* 6, seq made 5 */
    b.recs[6].seq = 5;
    b.h->state = HT_SPILL_RUNNING;
    ht_store *st = NULL;
    struct ht_replay_result r;
    sb_replay(&b, &st, NULL, &r);
    assert_int_equal(r.events, 7);
    assert_int_equal(r.live_at_end, 3);
    char out[1024];
    q(st, "SELECT seq, kind, printf('%x', addr) FROM errors ORDER BY seq, kind",
      out);
    assert_string_equal(out, "2,invalid_free,7000;3,events_lost,5;"
                             "5,invalid_free,8000;5,seq_out_of_order,5;"
                             "5,truncated_run,0");
    q(st, "SELECT allocs, reallocs, frees, invalid_frees, live_blocks,"
          " live_bytes FROM run_stats", out);
    assert_string_equal(out, "3,1,2,2,3,112");
    ht_store_close(st);
}

/* A chunk that does not decode: the events before it are replayed, the
 * rest is reported missing (trace_corrupt), and the call succeeds. */
static void test_corrupt_chunk(void **state)
{
    (void)state;
    struct sb b;
    sb_init_n(&b, 70000 / CR + 1); /* > 65536 events: two store chunks */
    for (uint64_t i = 0; i < 70000; i++)
        ev(&b, HT_EV_ALLOC, 0x10000 + 0x100 * i, 16, 0, 0);
    ht_store *st = NULL;
    int64_t run = sb_ingest(&b, &st);
    char out[1024];
    q(st, "SELECT COUNT(*) > 1 FROM chunks", out);
    assert_string_equal(out, "1");
    assert_int_equal(ht_store_exec(st, "UPDATE chunks SET data = x'0102'"
                                       " WHERE chunk_no = (SELECT MAX(chunk_no)"
                                       " FROM chunks)"), HT_OK);
    q(st, "SELECT SUM(nevents) FROM chunks WHERE chunk_no < (SELECT"
          " MAX(chunk_no) FROM chunks)", out);
    uint64_t before = strtoull(out, NULL, 10);
    struct ht_replay_result r;
    assert_int_equal(ht_replay_run(st, run, NULL, &r), HT_OK);
    assert_int_equal(r.events, before);
    assert_int_equal(r.live_at_end, before);
    q(st, "SELECT kind FROM errors", out);
    assert_string_equal(out, "trace_corrupt");
    ht_store_close(st);
}

/* Blocks above 4 GiB are tracked like any other (the object table used to
 * refuse them: a realloc to 5 GiB then dropped the block from the table
 * while the allocator and GC models kept it, with no error row): a realloc
 * to 5 GiB, a 6 GiB block pointing into it by an interior pointer, freed. */
static void test_huge_realloc(void **state)
{
    (void)state;
    struct sb b;
    sb_init(&b);
    const uint64_t G = UINT64_C(1) << 30;
    ev(&b, HT_EV_ALLOC, 0x1000, 32, 0, 0);                        /* 0 */
    ev(&b, HT_EV_REALLOC, 0x100000000, 5 * G, 0x1000, 0);         /* 1 */
    ev(&b, HT_EV_ALLOC, 0x300000000, 6 * G, 0, 0);                /* 2 */
    ev(&b, HT_EV_STORE, 0x300000010, 0x100000020, 0, 0);          /* 3 */
    ev(&b, HT_EV_FREE, 0x300000000, 0, 0, 0);                     /* 4 */
    ht_store *st = NULL;
    struct ht_replay_result r;
    sb_replay(&b, &st, NULL, &r);
    char out[1024];
    q(st, "SELECT allocs, reallocs, frees, bytes_allocated, peak_live_bytes,"
          " peak_seq, live_blocks, live_bytes, invalid_frees FROM run_stats",
      out);
    assert_string_equal(out, "2,1,1,11811160096,11811160064,2,1,5368709120,0");
    q(st, "SELECT COUNT(*) FROM errors", out);
    assert_string_equal(out, "0");
    q(st, "SELECT printf('%x', addr), size, free_seq, leak_kind, lost_by,"
          " lost_seq FROM objects ORDER BY alloc_seq", out);
    assert_string_equal(out, "100000000,5368709120,NULL,definite,free,4;"
                             "300000000,6442450944,4,NULL,NULL,NULL");
    /* pymalloc's raw allocator holds the live 5 GiB block at exit */
    q(st, "SELECT kind, raw_blocks, live_bytes FROM frag_snapshots"
          " WHERE kind != 'periodic' ORDER BY seq, kind", out);
    assert_string_equal(out, "peak,2,11811160064;exit,1,5368709120");
    ht_store_close(st);
}

/* A realloc moves its block to the churn row (realloc pc, new size), as an
 * allocation there, and the block leaves its old row as a free: 150 blocks
 * of 24 bytes from P1 each grown to 48 at P2 and freed at P3. */
static void test_realloc_churn(void **state)
{
    (void)state;
    struct sb b;
    sb_init(&b);
    const uint64_t P1 = 0x401000, P2 = 0x402000, P3 = 0x403000;
    for (int i = 0; i < 150; i++) {
        setd(&b, ev(&b, HT_EV_ALLOC, 0x5000, 24, 0, 0), P1);
        setd(&b, ev(&b, HT_EV_REALLOC, 0x5000, 48, 0x5000, 0), P2);
        setd(&b, ev(&b, HT_EV_FREE, 0x5000, 0, 0, 0), P3);
    }
    ht_store *st = NULL;
    struct ht_replay_result r;
    sb_replay(&b, &st, NULL, &r);
    char out[1024];
    q(st, "SELECT printf('%x', pc), size, allocs, frees, max_live,"
          " short_lived FROM churn ORDER BY pc", out);
    assert_string_equal(out, "401000,24,150,150,1,150;"
                             "402000,48,150,150,1,150");
    q(st, "SELECT printf('%x', pc), allocs, bytes_allocated, frees,"
          " live_blocks FROM site_stats ORDER BY pc", out);
    assert_string_equal(out, "401000,150,3600,0,0;402000,150,7200,150,0");
    ht_store_close(st);
}

/* The peak frag_snapshot and pool_map are the model's state at the exact
 * peak (the `peak` table's seq), not at an earlier one within 1 %: 100
 * blocks of 100 bytes (peak 10,000 at seq 99), one freed, then 150 bytes
 * more in two blocks (peak 10,050 at seq 102: +0.5 %) and one freed. */
static void test_exact_peak_snapshot(void **state)
{
    (void)state;
    struct sb b;
    sb_init(&b);
    for (uint64_t i = 0; i < 100; i++)
        ev(&b, HT_EV_ALLOC, 0x10000 + 0x100 * i, 100, 0, 0);   /* 0-99 */
    ev(&b, HT_EV_FREE, 0x10000, 0, 0, 0);                       /* 100 */
    ev(&b, HT_EV_ALLOC, 0x90000, 100, 0, 0);                    /* 101 */
    ev(&b, HT_EV_ALLOC, 0x91000, 50, 0, 0);                     /* 102 */
    ev(&b, HT_EV_FREE, 0x90000, 0, 0, 0);                       /* 103 */
    ht_store *st = NULL;
    struct ht_replay_result r;
    sb_replay(&b, &st, NULL, &r);
    char out[1024];
    q(st, "SELECT seq, live_blocks, live_bytes FROM peak", out);
    assert_string_equal(out, "102,101,10050");
    q(st, "SELECT seq, blocks_in_use, bytes_in_use, live_bytes"
          " FROM frag_snapshots WHERE kind = 'peak'", out);
    assert_string_equal(out, "102,101,11264,10050");
    q(st, "SELECT seq, SUM(used_blocks) FROM pool_map WHERE kind = 'peak'"
          " GROUP BY seq", out);
    assert_string_equal(out, "102,101");
    ht_store_close(st);
}

/* A moving realloc's old block is pending (its FREE half came) when a block
 * is allocated at that same address, and the REALLOC then keeps the
 * address: the block found there is a free we never saw (missed_free), and
 * the realloc'd block is held (it used to be dropped from the table with
 * no error row, the insert failing on the address held). */
static void test_realloc_onto_pending_address(void **state)
{
    (void)state;
    struct sb b;
    sb_init(&b);
    ev(&b, HT_EV_ALLOC, 0x1000, 32, 0, 0);                     /* 0 */
    ev(&b, HT_EV_FREE, 0x1000, 0, 0, HT_EVF_REALLOC);          /* 1 */
    ev(&b, HT_EV_ALLOC, 0x1000, 16, 0, 0);                     /* 2 X */
    ev(&b, HT_EV_REALLOC, 0x1000, 64, 0x1000, 0);              /* 3 */
    ht_store *st = NULL;
    struct ht_replay_result r;
    sb_replay(&b, &st, NULL, &r);
    char out[1024];
    q(st, "SELECT seq, kind, printf('%x', addr) FROM errors", out);
    assert_string_equal(out, "3,missed_free,1000");
    q(st, "SELECT live_blocks, live_bytes FROM run_stats", out);
    assert_string_equal(out, "1,64");
    q(st, "SELECT size, alloc_seq, free_seq FROM objects ORDER BY alloc_seq",
      out);
    assert_string_equal(out, "64,0,NULL;16,2,3");
    ht_store_close(st);
}

/* A realloc keeping its address over a block allocated there while it was
 * pending (a missed free) keeps its GC node: generation and the root slot's
 * external reference. It used to remake the node (a leftover of id-named GC
 * nodes), losing the root reference, so the next gen-0 collection took the
 * block as unreachable: 701 collected instead of 700. Counts: the missed
 * free's dealloc leaves count0 at 1, the 700 allocations make it 701 >
 * threshold 700, and the collection finds the rooted block reachable. */
static void test_realloc_keeps_gc_node(void **state)
{
    (void)state;
    struct sb b;
    sb_init(&b);
    ev(&b, HT_EV_ROOT, 0x600000, 0x100, 0, 0);                 /* 0 */
    ev(&b, HT_EV_ALLOC, 0x1000, 32, 0, 0);                     /* 1 */
    ev(&b, HT_EV_STORE, 0x600000, 0x1000, 0, 0);               /* 2 */
    ev(&b, HT_EV_FREE, 0x1000, 0, 0, HT_EVF_REALLOC);          /* 3 */
    ev(&b, HT_EV_ALLOC, 0x1000, 16, 0, 0);                     /* 4 X */
    ev(&b, HT_EV_REALLOC, 0x1000, 64, 0x1000, 0);              /* 5 */
    uint64_t last = 0;
    for (unsigned i = 0; i < 700; i++)
        last = ev(&b, HT_EV_ALLOC, 0x100000 + 64 * (uint64_t)i, 32, 0, 0);
    ht_store *st = NULL;
    struct ht_replay_result r;
    sb_replay(&b, &st, NULL, &r);
    char out[1024], want[64];
    q(st, "SELECT n, seq, generation, collected, count0 FROM gc_collections",
      out);
    snprintf(want, sizeof want, "1,%llu,0,700,701", (unsigned long long)last);
    assert_string_equal(out, want);
    q(st, "SELECT seq, kind FROM errors", out);
    assert_string_equal(out, "5,missed_free");
    assert_int_equal(r.reachable, 1);
    ht_store_close(st);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_leaks_cycles_errors, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_scc_shapes, setup, teardown),
        cmocka_unit_test_setup_teardown(test_stack_roots_per_snapshot, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_realloc_moves_edges, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_huge_realloc, setup, teardown),
        cmocka_unit_test_setup_teardown(test_realloc_churn, setup, teardown),
        cmocka_unit_test_setup_teardown(test_exact_peak_snapshot, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_realloc_onto_pending_address,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_realloc_keeps_gc_node, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_profiles_and_raw, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_gc_collections, setup, teardown),
        cmocka_unit_test_setup_teardown(test_refcount_errors, setup, teardown),
        cmocka_unit_test_setup_teardown(test_stats_churn_peak, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_pinning, setup, teardown),
        cmocka_unit_test_setup_teardown(test_system_allocator, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_bad_traces, setup, teardown),
        cmocka_unit_test_setup_teardown(test_corrupt_chunk, setup, teardown),
        cmocka_unit_test_setup_teardown(test_store_lookahead_after_free,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_store_lookahead_batch_end,
                                        setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
