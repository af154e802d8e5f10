/*
 * Tests of the pymalloc model (replay/pymalloc.c) against the rules and the
 * vectors of cpython-memory.md §1 and §4, and against golden fixtures
 * recorded from real CPython builds (tests/replay/fixtures/pymalloc/, made by
 * tools/pymalloc_golden/, method in its README.md). ht__pym_is_valid() runs
 * after every operation of the unit tests, and every 997 operations plus at
 * the end of the golden replays (it walks every block, so running it after
 * each of 400,000 operations would take minutes).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "heaptrail/pymalloc.h"

static ht_pym *mk(const char *prof, unsigned ppa)
{
    struct ht_pym_config cfg = {prof, ppa};
    ht_pym *m = NULL;
    assert_int_equal(ht_pym_new(&cfg, &m), HT_OK);
    assert_non_null(m);
    assert_true(ht__pym_is_valid(m));
    return m;
}

static uint64_t xmalloc(ht_pym *m, uint64_t n)
{
    uint64_t a = 0;
    assert_int_equal(ht_pym_malloc(m, n, &a), HT_OK);
    assert_true(a != 0);
    assert_true(ht__pym_is_valid(m));
    return a;
}

static void xfree(ht_pym *m, uint64_t a)
{
    assert_int_equal(ht_pym_release(m, a), HT_OK);
    assert_true(ht__pym_is_valid(m));
}

static uint64_t xrealloc(ht_pym *m, uint64_t a, uint64_t n)
{
    uint64_t r = 0;
    assert_int_equal(ht_pym_realloc(m, a, n, &r), HT_OK);
    assert_true(ht__pym_is_valid(m));
    return r;
}

/* §4.1 geometry table: blocks per pool for 4 KiB and 16 KiB pools. */
static void test_geometry(void **state)
{
    (void)state;
    static const unsigned b4[32] = {253, 126, 84, 63, 50, 42, 36, 31, 28, 25,
        23, 21, 19, 18, 16, 15, 14, 14, 13, 12, 12, 11, 11, 10, 10, 9, 9, 9,
        8, 8, 8, 7};
    static const unsigned w4[32] = {0, 16, 16, 16, 48, 16, 16, 80, 16, 48, 0,
        16, 96, 16, 208, 208, 240, 16, 96, 208, 16, 176, 0, 208, 48, 304, 160,
        16, 336, 208, 80, 464};
    static const unsigned b16[32] = {1021, 510, 340, 255, 204, 170, 145, 127,
        113, 102, 92, 85, 78, 72, 68, 63, 60, 56, 53, 51, 48, 46, 44, 42, 40,
        39, 37, 36, 35, 34, 32, 31};
    static const unsigned w16[32] = {0, 16, 16, 16, 16, 16, 96, 80, 64, 16,
        144, 16, 112, 208, 16, 208, 16, 208, 224, 16, 208, 144, 144, 208, 336,
        112, 352, 208, 96, 16, 464, 464};
    ht_pym *m4 = mk("3.8", 0), *m16 = mk("3.12", 0);
    for (unsigned c = 0; c < 32; c++) {
        unsigned size = (c + 1) * 16;
        assert_int_equal(ht_pym_class_blocks(m4, c), b4[c]);
        assert_int_equal(ht_pym_class_blocks(m16, c), b16[c]);
        assert_int_equal((4096 - 48) - b4[c] * size, w4[c]);
        assert_int_equal((16384 - 48) - b16[c] * size, w16[c]);
        /* one pool of this class: quantization line == waste */
        ht_pym *m = mk("3.12", 0);
        xmalloc(m, size);
        struct ht_pym_stats st;
        ht_pym_stats(m, &st);
        assert_int_equal(st.bytes_quantization, w16[c]);
        assert_int_equal(st.cls[c].pools, 1);
        assert_int_equal(st.cls[c].in_use + st.cls[c].avail, b16[c]);
        ht_pym_free(m);
    }
    ht_pym_free(m4);
    ht_pym_free(m16);
}

/* V1: class 0 shares a pool; 17 bytes opens a new pool at offset 48. */
static void test_v1(void **state)
{
    (void)state;
    ht_pym *m = mk("3.12", 64);
    uint64_t a = xmalloc(m, 1), b = xmalloc(m, 16), c = xmalloc(m, 17);
    assert_int_equal(b, a + 16);
    assert_int_equal(a % 16384, 48);
    assert_int_equal(c % 16384, 48);
    assert_int_equal(c / 16384, a / 16384 + 1);   /* second pool */
    struct ht_pym_stats st;
    ht_pym_stats(m, &st);
    assert_int_equal(st.cls[0].pools, 1);
    assert_int_equal(st.cls[0].in_use, 2);
    assert_int_equal(st.cls[1].pools, 1);
    ht_pym_free(m);
}

/* V2: 1021 blocks fill one 16 KiB pool; a freed block is reused next. */
static void test_v2(void **state)
{
    (void)state;
    ht_pym *m = mk("3.12", 64);
    uint64_t *p = malloc(1022 * sizeof *p);
    for (int i = 0; i < 1021; i++)
        p[i] = xmalloc(m, 16);
    struct ht_pym_stats st;
    ht_pym_stats(m, &st);
    assert_int_equal(st.cls[0].pools, 1);
    assert_int_equal(st.cls[0].avail, 0);
    p[1021] = xmalloc(m, 16);
    assert_int_equal(p[1021] / 16384, p[0] / 16384 + 1);
    xfree(m, p[500]);
    assert_int_equal(xmalloc(m, 16), p[500]);
    free(p);
    ht_pym_free(m);
}

/* V3: 64 x 1021 blocks fill an aligned 1 MiB arena; the next opens #2. */
static void test_v3(void **state)
{
    (void)state;
    ht_pym *m = mk("3.12", 64);
    uint64_t a = 0, first = 0;
    for (int i = 0; i < 64 * 1021; i++) {
        assert_int_equal(ht_pym_malloc(m, 16, &a), HT_OK);
        if (!i)
            first = a;
    }
    assert_true(ht__pym_is_valid(m));
    assert_int_equal(ht__pym_arena_nfreepools(m, first), 0);
    struct ht_pym_stats st;
    ht_pym_stats(m, &st);
    assert_int_equal(st.arenas_current, 1);
    assert_int_equal(st.unused_pools, 0);
    a = xmalloc(m, 16);
    assert_int_equal(ht__pym_arena_nfreepools(m, a), 63);
    ht_pym_stats(m, &st);
    assert_int_equal(st.arenas_current, 2);
    ht_pym_free(m);
}

/* V4 and §1.7: realloc thresholds for a 496-byte block. */
static void test_v4(void **state)
{
    (void)state;
    ht_pym *m = mk("3.10", 0);
    for (uint64_t n = 1; n <= 700; n++) {
        uint64_t p = xmalloc(m, 496);
        uint64_t q = xrealloc(m, p, n);
        if (n >= 373 && n <= 496)
            assert_int_equal(q, p);
        else
            assert_true(q != p);
        assert_int_equal(ht_pym_owns(m, q), n >= 1 && n <= 512);
        xfree(m, q);
    }
    /* raw stays raw, even when shrinking to a small size */
    uint64_t r = xmalloc(m, 600);
    assert_false(ht_pym_owns(m, r));
    r = xrealloc(m, r, 100);
    assert_false(ht_pym_owns(m, r));
    r = xrealloc(m, r, 8);
    assert_false(ht_pym_owns(m, r));
    xfree(m, r);
    /* realloc(p, 0) moves to raw; realloc(0, n) is malloc */
    uint64_t p = xmalloc(m, 496);
    uint64_t q = xrealloc(m, p, 0);
    assert_false(ht_pym_owns(m, q));
    q = xrealloc(m, 0, 40);
    assert_true(ht_pym_owns(m, q));
    ht_pym_free(m);
}

/* V5: 0 and 513 bytes only touch the raw counter (3.9+). */
static void test_v5(void **state)
{
    (void)state;
    ht_pym *m = mk("3.9", 0);
    xmalloc(m, 100);
    struct ht_pym_stats a, b;
    ht_pym_stats(m, &a);
    uint64_t z = xmalloc(m, 0), big = xmalloc(m, 513), c = 0;
    assert_int_equal(ht_pym_calloc(m, 1, 513, &c), HT_OK);
    ht_pym_stats(m, &b);
    assert_int_equal(b.raw_blocks, a.raw_blocks + 3);
    b.raw_blocks = a.raw_blocks;
    assert_memory_equal(&a, &b, sizeof a);
    assert_false(ht_pym_owns(m, z) || ht_pym_owns(m, big) || ht_pym_owns(m, c));
    xfree(m, z);
    xfree(m, big);
    xfree(m, c);
    ht_pym_stats(m, &b);
    assert_memory_equal(&a, &b, sizeof a);
    /* calloc(4, 8) is a 32-byte pymalloc block */
    assert_int_equal(ht_pym_calloc(m, 4, 8, &c), HT_OK);
    assert_true(ht_pym_owns(m, c));
    ht_pym_stats(m, &b);
    assert_int_equal(b.cls[1].in_use, 1);
    /* double free is refused, model unchanged */
    xfree(m, c);
    assert_int_equal(ht_pym_release(m, c), HT_EINVAL);
    assert_true(ht__pym_is_valid(m));
    ht_pym_free(m);
}

/* S1: offsets 48, 544, 1040, 1536; LIFO reuse. */
static void test_s1(void **state)
{
    (void)state;
    static const char *profs[] = {"3.8", "3.9", "3.10", "3.13"};
    for (int v = 0; v < 4; v++) {
        ht_pym *m = mk(profs[v], 0);
        uint64_t ps = v < 2 ? 4096 : 16384, b[4];
        for (int i = 0; i < 4; i++)
            b[i] = xmalloc(m, 496);
        assert_int_equal(b[0] % ps, 48);
        assert_int_equal(b[1] % ps, 544);
        assert_int_equal(b[2] % ps, 1040);
        assert_int_equal(b[3] % ps, 1536);
        xfree(m, b[2]);
        assert_int_equal(xmalloc(m, 496), b[2]);
        xfree(m, b[3]);
        xfree(m, b[2]);
        assert_int_equal(xmalloc(m, 496), b[2]);
        assert_int_equal(xmalloc(m, 496), b[3]);
        ht_pym_free(m);
    }
}

static void counters(ht_pym *m, uint64_t cur, uint64_t tot, uint64_t rec)
{
    struct ht_pym_stats st;
    ht_pym_stats(m, &st);
    assert_int_equal(st.arenas_current, cur);
    assert_int_equal(st.arenas_allocated_total, tot);
    assert_int_equal(st.arenas_reclaimed, rec);
    assert_int_equal(st.bytes_total, st.arenas_current * st.arena_size);
}

/* S2: 3 arenas of 496 B blocks, free forward, re-alloc, free reverse.
 * The deltas of §4.2's table from a fresh allocator. */
static void test_s2(void **state)
{
    (void)state;
    static const struct { const char *p; unsigned n; uint64_t cur2, tot3, rec3; }
        vs[] = {{"3.8", 1536, 0, 6, 6}, {"3.9", 1536, 1, 5, 4},
                {"3.10", 6144, 1, 5, 4}, {"3.12", 6144, 1, 5, 4}};
    for (int v = 0; v < 4; v++) {
        ht_pym *m = mk(vs[v].p, 64);
        uint64_t *b = malloc(vs[v].n * sizeof *b);
        for (unsigned i = 0; i < vs[v].n; i++)
            b[i] = xmalloc(m, 496);
        counters(m, 3, 3, 0);
        for (unsigned i = 0; i < vs[v].n; i++)
            xfree(m, b[i]);
        counters(m, vs[v].cur2, 3, 3 - vs[v].cur2);
        for (unsigned i = 0; i < vs[v].n; i++)
            b[i] = xmalloc(m, 496);
        counters(m, 3, 3 + 3 - vs[v].cur2, 3 - vs[v].cur2);
        for (unsigned i = vs[v].n; i-- > 0;)
            xfree(m, b[i]);
        counters(m, vs[v].cur2, vs[v].tot3, vs[v].rec3);
        free(b);
        ht_pym_free(m);
    }
}

/* Free every block of the pool containing blocks[i]'s pool (16 KiB pools,
 * class 30: 32 blocks per pool, allocated in address order). */
static void free_pool(ht_pym *m, uint64_t *blocks, unsigned pool)
{
    for (unsigned j = pool * 32; j < pool * 32 + 32; j++)
        xfree(m, blocks[j]);
}

/* S2b and the nfp2lasta tie rule. */
static void test_s2b(void **state)
{
    (void)state;
    ht_pym *m = mk("3.12", 64);
    unsigned n = 3 * 64 * 32;
    uint64_t *b = malloc(n * sizeof *b);
    for (unsigned i = 0; i < n; i++)
        b[i] = xmalloc(m, 496);
    for (unsigned i = 1; i < n; i++)
        assert_true(b[i] > b[i - 1]);   /* address order */
    /* arena A = pools 0..63, B = 64..127, C = 128..191 */
    for (unsigned k = 129; k < 192; k++)
        free_pool(m, b, k);          /* all but one pool of C */
    free_pool(m, b, 64);
    free_pool(m, b, 65);             /* 2 pools of B */
    assert_int_equal(ht__pym_arena_nfreepools(m, b[128 * 32]), 63);
    uint64_t p = xmalloc(m, 480);
    assert_int_equal(p / (1u << 20), b[64 * 32] / (1u << 20));   /* from B */
    assert_int_equal(ht__pym_arena_nfreepools(m, p), 1);
    /* the cached empty pool most recently freed (LIFO) was pool 65 */
    assert_int_equal(p / 16384, b[65 * 32] / 16384);
    free(b);
    ht_pym_free(m);

    /* Tie rule: among equal counts, the arena that just changed is leftmost. */
    m = mk("3.12", 64);
    b = malloc(n * sizeof *b);
    for (unsigned i = 0; i < n; i++)
        b[i] = xmalloc(m, 496);
    free_pool(m, b, 0);     /* A:1          usable = [A]       */
    free_pool(m, b, 64);    /* B:1 at head  usable = [B A]     */
    free_pool(m, b, 128);   /* C:1 at head  usable = [C B A]   */
    free_pool(m, b, 1);     /* A:2 rightmost of 1s, stays       [C B A]  */
    free_pool(m, b, 129);   /* C:2 moves after B: [B C A], C leftmost 2 */
    uint64_t q1 = xmalloc(m, 480);   /* head B */
    assert_int_equal(q1 / (1u << 20), b[64 * 32] / (1u << 20));
    uint64_t q2 = xmalloc(m, 464);   /* B full now; next head is C */
    assert_int_equal(q2 / (1u << 20), b[128 * 32] / (1u << 20));
    uint64_t q3 = xmalloc(m, 448);   /* C and A both had 2; C had 1 now */
    assert_int_equal(q3 / (1u << 20), b[128 * 32] / (1u << 20));
    uint64_t q4 = xmalloc(m, 432);
    assert_int_equal(q4 / (1u << 20), b[0] / (1u << 20));
    free(b);
    ht_pym_free(m);
}

/* 63-pool arenas: alignment loss and ownership. */
static void test_misaligned(void **state)
{
    (void)state;
    ht_pym *m = mk("3.13", 63);
    uint64_t a = xmalloc(m, 16);
    assert_int_equal(ht__pym_arena_nfreepools(m, a), 62);
    struct ht_pym_stats st;
    ht_pym_stats(m, &st);
    assert_int_equal(st.bytes_arena_alignment, 16384);
    assert_int_equal(st.unused_pools, 62);
    assert_int_equal(st.bytes_total, 1u << 20);
    assert_true(ht_pym_owns(m, a));
    assert_false(ht_pym_owns(m, a + (1u << 20) * 5));
    xfree(m, a);
    ht_pym_free(m);
    struct ht_pym_config bad = {"3.7", 0};
    assert_int_equal(ht_pym_new(&bad, &m), HT_EINVAL);
    assert_null(m);
    bad.profile = "3.12";
    bad.pools_per_arena = 10;
    assert_int_equal(ht_pym_new(&bad, &m), HT_EINVAL);
    assert_null(m);
}

/* Releases of addresses that name no live block: inside a block, between
 * classes' block boundaries, in a pool header, before the first pool of a
 * 63-pool arena, past the carved pools, in slot 0. The model refuses them
 * (HT_EINVAL) or takes them for raw blocks, and stays unchanged. */
static void test_release_bad_addr(void **state)
{
    (void)state;
    for (unsigned ppa = 63; ppa <= 64; ppa++) {
        ht_pym *m = mk("3.13", ppa);
        uint64_t a = xmalloc(m, 32), b = xmalloc(m, 32);
        uint64_t pool = a & ~(uint64_t)16383, arena = a & ~(uint64_t)((1u << 20) - 1);
        struct ht_pym_stats s0, s1;
        ht_pym_stats(m, &s0);
        assert_int_equal(ht_pym_release(m, a + 8), HT_EINVAL);
        assert_int_equal(ht_pym_release(m, a + 16), HT_EINVAL);
        assert_int_equal(ht_pym_release(m, b + 31), HT_EINVAL);
        assert_int_equal(ht_pym_release(m, pool + 16), HT_EINVAL);
        assert_int_equal(ht_pym_release(m, b + 32), HT_EINVAL);   /* virgin */
        assert_int_equal(ht_pym_release(m, pool + 16384 + 48), HT_EINVAL);
        assert_int_equal(ht_pym_owns(m, arena + 48), ppa == 64);
        assert_false(ht_pym_owns(m, 48));
        ht_pym_stats(m, &s1);
        assert_memory_equal(&s0, &s1, sizeof s0);
        assert_true(ht__pym_is_valid(m));
        xfree(m, a);
        xfree(m, b);
        ht_pym_free(m);
    }
}

/* Output format: the §1.10 printone layout, checked on a tiny state. */
static void test_format(void **state)
{
    (void)state;
    ht_pym *m = mk("3.13", 63);
    for (int i = 0; i < 24; i++)
        xmalloc(m, 16);
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    assert_int_equal(ht_pym_format_stats(m, f), HT_OK);
    fclose(f);
    const char *want =
        "Small block threshold = 512, in 32 size classes.\n"
        "\n"
        "class   size   num pools   blocks in use  avail blocks\n"
        "-----   ----   ---------   -------------  ------------\n"
        "    0     16           1              24           997\n"
        "\n"
        "# arenas allocated total           =                    1\n"
        "# arenas reclaimed                 =                    0\n"
        "# arenas highwater mark            =                    1\n"
        "# arenas allocated current         =                    1\n"
        "1 arenas * 1048576 bytes/arena     =            1,048,576\n"
        "\n"
        "# bytes in allocated blocks        =                  384\n"
        "# bytes in available blocks        =               15,952\n"
        "62 unused pools * 16384 bytes      =            1,015,808\n"
        "# bytes lost to pool headers       =                   48\n"
        "# bytes lost to quantization       =                    0\n"
        "# bytes lost to arena alignment    =               16,384\n"
        "Total                              =            1,048,576\n";
    assert_string_equal(buf, want);
    free(buf);
    ht_pym_free(m);
}


/* ---- golden fixtures from real CPython (tools/pymalloc_golden) -------- */

#include "tools/pymalloc_golden/golden_ops.h"

struct real_dump {
    struct ht_pym_stats st;   /* numbers as printed by CPython */
    uint64_t arena_line;      /* "N arenas * S bytes/arena" value */
};

static uint64_t parse_num(const char *s)
{
    uint64_t v = 0;
    for (; *s && *s != '\n'; s++)
        if (*s >= '0' && *s <= '9')
            v = v * 10 + (uint64_t)(*s - '0');
    return v;
}

/* Parse one _PyObject_DebugMallocStats dump starting at p (up to the first
 * "Total" line). Returns the position after it, or NULL. */
static const char *parse_dump(const char *p, struct real_dump *d)
{
    memset(d, 0, sizeof *d);
    p = strstr(p, "-----   ----");
    if (!p)
        return NULL;
    p = strchr(p, '\n') + 1;
    unsigned c, sz;
    unsigned long long a, b, f;
    while (sscanf(p, "%u %u %llu %llu %llu", &c, &sz, &a, &b, &f) == 5) {
        assert_true(c < 32);
        assert_int_equal(sz, (c + 1) * 16);
        d->st.cls[c].pools = a;
        d->st.cls[c].in_use = b;
        d->st.cls[c].avail = f;
        p = strchr(p, '\n') + 1;
    }
    for (;;) {
        const char *eol = strchr(p, '\n');
        const char *eq = strchr(p, '=');
        if (!eol)
            return NULL;
        if (eq && eq < eol) {
            uint64_t v = parse_num(eq + 1);
            size_t n = (size_t)(eq - p);
#define IS(lbl) (n >= strlen(lbl) && !strncmp(p, lbl, strlen(lbl)))
            if (IS("# arenas allocated total"))
                d->st.arenas_allocated_total = v;
            else if (IS("# arenas reclaimed"))
                d->st.arenas_reclaimed = v;
            else if (IS("# arenas highwater mark"))
                d->st.arenas_highwater = v;
            else if (IS("# arenas allocated current"))
                d->st.arenas_current = v;
            else if (strstr(p, " arenas * ") && strstr(p, " arenas * ") < eq)
                d->arena_line = v;
            else if (IS("# bytes in allocated blocks"))
                d->st.bytes_allocated_blocks = v;
            else if (IS("# bytes in available blocks"))
                d->st.bytes_available_blocks = v;
            else if (strstr(p, " unused pools * ") &&
                     strstr(p, " unused pools * ") < eq) {
                d->st.bytes_unused_pools = v;
                d->st.unused_pools = strtoull(p, NULL, 10);
            } else if (IS("# bytes lost to pool headers"))
                d->st.bytes_pool_headers = v;
            else if (IS("# bytes lost to quantization"))
                d->st.bytes_quantization = v;
            else if (IS("# bytes lost to arena alignment"))
                d->st.bytes_arena_alignment = v;
            else if (IS("Total")) {
                d->st.bytes_total = v;
                return eol + 1;
            }
#undef IS
        }
        p = eol + 1;
    }
}

static char *slurp(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *s = malloc((size_t)n + 1);
    assert_non_null(s);
    assert_int_equal(fread(s, 1, (size_t)n, f), (size_t)n);
    s[n] = '\0';
    fclose(f);
    return s;
}

/* real == baseline + model, field by field (highwater: max rule). */
static void compare(const struct real_dump *base, const struct real_dump *real,
                    const struct ht_pym_stats *mo, uint64_t arena_size)
{
    const struct ht_pym_stats *b = &base->st, *r = &real->st;
    for (unsigned c = 0; c < 32; c++) {
        assert_int_equal(r->cls[c].pools, b->cls[c].pools + mo->cls[c].pools);
        assert_int_equal(r->cls[c].in_use, b->cls[c].in_use + mo->cls[c].in_use);
        assert_int_equal(r->cls[c].avail, b->cls[c].avail + mo->cls[c].avail);
    }
    assert_int_equal(r->arenas_allocated_total,
                     b->arenas_allocated_total + mo->arenas_allocated_total);
    assert_int_equal(r->arenas_reclaimed,
                     b->arenas_reclaimed + mo->arenas_reclaimed);
    assert_int_equal(r->arenas_current, b->arenas_current + mo->arenas_current);
    uint64_t hw = b->arenas_current + mo->arenas_highwater;
    assert_int_equal(r->arenas_highwater,
                     hw > b->arenas_highwater ? hw : b->arenas_highwater);
    assert_int_equal(real->arena_line, r->arenas_current * arena_size);
    assert_int_equal(r->bytes_allocated_blocks,
                     b->bytes_allocated_blocks + mo->bytes_allocated_blocks);
    assert_int_equal(r->bytes_available_blocks,
                     b->bytes_available_blocks + mo->bytes_available_blocks);
    assert_int_equal(r->unused_pools, b->unused_pools + mo->unused_pools);
    assert_int_equal(r->bytes_unused_pools,
                     b->bytes_unused_pools + mo->bytes_unused_pools);
    assert_int_equal(r->bytes_pool_headers,
                     b->bytes_pool_headers + mo->bytes_pool_headers);
    assert_int_equal(r->bytes_quantization,
                     b->bytes_quantization + mo->bytes_quantization);
    assert_int_equal(r->bytes_arena_alignment,
                     b->bytes_arena_alignment + mo->bytes_arena_alignment);
    assert_int_equal(r->bytes_total, b->bytes_total + mo->bytes_total);
}

/* Pools per new arena, read from the recording as cpython-memory.md §5.3
 * advises: the alignment bytes added per new arena (0 -> 64, POOL -> 63). */
static unsigned infer_ppa(const char *txt, const struct real_dump *base,
                          uint64_t pool_size)
{
    struct real_dump d;
    const char *p = txt;
    p = strstr(p, "=== baseline 0\n") + 1;
    while ((p = strstr(p, "\n=== ")) != NULL) {
        p = parse_dump(p, &d);
        assert_non_null(p);
        uint64_t na = d.st.arenas_current - base->st.arenas_current;
        if (na == 0)
            continue;
        uint64_t al = d.st.bytes_arena_alignment - base->st.bytes_arena_alignment;
        if (al == 0)
            return 64;
        assert_int_equal(al, na * pool_size);   /* never mixed */
        return 63;
    }
    return 64;
}

static void replay_fixture(const char *ver, const char *suffix)
{
    char path[512];
    snprintf(path, sizeof path, "%s/pymalloc/cpython-%s%s.txt", HT_FIXTURES_DIR,
             ver, suffix);
    char *txt = slurp(path);
    assert_non_null(txt);
    char prof[16];
    unsigned long long seed;
    long nops, every, phase;
    const char *hdr = strstr(txt, "profile ");
    assert_non_null(hdr);
    assert_int_equal(sscanf(hdr,
                            "profile %15s seed %llu ops %ld every %ld phase %ld",
                            prof, &seed, &nops, &every, &phase), 5);
    assert_string_equal(prof, ver);
    const char *p = strstr(txt, "=== baseline 0\n");
    assert_non_null(p);
    struct real_dump base, real;
    assert_non_null(parse_dump(p, &base));
    /* priming left no free pool and no partially used pool behind */
    assert_int_equal(base.st.unused_pools, 0);
    for (unsigned c = 0; c < 32; c++)
        assert_int_equal(base.st.cls[c].avail, 0);
    uint64_t pool_size = strcmp(ver, "3.8") && strcmp(ver, "3.9") ? 16384 : 4096;
    ht_pym *m = mk(ver, infer_ppa(txt, &base, pool_size));
    struct ht_golden_gen g;
    ht_golden_init(&g, seed);
    uint64_t *live = malloc(HT_GOLDEN_MAX_LIVE * sizeof *live);
    long nlive = 0, ncheck = 0;
    struct ht_pym_stats st;
    for (long i = 1; i <= nops; i++) {
        struct ht_golden_op op = ht_golden_next(&g, i, nlive, phase);
        if (op.kind == HT_GOLDEN_MALLOC) {
            assert_int_equal(ht_pym_malloc(m, op.size, &live[nlive]), HT_OK);
            nlive++;
        } else if (op.kind == HT_GOLDEN_FREE) {
            assert_int_equal(ht_pym_release(m, live[op.index]), HT_OK);
            live[op.index] = live[--nlive];
        } else {
            assert_int_equal(ht_pym_realloc(m, live[op.index], op.size,
                                            &live[op.index]), HT_OK);
        }
        if (i % 997 == 0)
            assert_true(ht__pym_is_valid(m));
        if (i % every == 0) {
            char title[64];
            snprintf(title, sizeof title, "=== checkpoint %ld\n", i);
            p = strstr(txt, title);
            assert_non_null(p);
            assert_non_null(parse_dump(p, &real));
            ht_pym_stats(m, &st);
            compare(&base, &real, &st, st.arena_size);
            ncheck++;
        }
    }
    for (long i = 0; i < nlive; i++)
        assert_int_equal(ht_pym_release(m, live[i]), HT_OK);
    assert_true(ht__pym_is_valid(m));
    p = strstr(txt, "=== freed ");
    assert_non_null(p);
    assert_non_null(parse_dump(p, &real));
    ht_pym_stats(m, &st);
    compare(&base, &real, &st, st.arena_size);
    assert_int_equal(ncheck, nops / every);
    free(live);
    free(txt);
    ht_pym_free(m);
}


/* The scripted tie scenario: the model is driven through ht_golden_script
 * and each dump is compared with the fixture's section of the same title. */
struct tie_ctx {
    ht_pym *m;
    const char *txt;
    const struct real_dump *base;
    int ndumps;
};

static uint64_t tie_alloc(void *ctx, uint64_t size)
{
    return xmalloc(((struct tie_ctx *)ctx)->m, size);
}

static void tie_release(void *ctx, uint64_t addr)
{
    xfree(((struct tie_ctx *)ctx)->m, addr);
}

static void tie_dump(void *ctx, const char *title, long n)
{
    struct tie_ctx *t = ctx;
    char hdr[64];
    struct real_dump real;
    struct ht_pym_stats st;
    snprintf(hdr, sizeof hdr, "=== %s %ld\n", title, n);
    const char *p = strstr(t->txt, hdr);
    assert_non_null(p);
    assert_non_null(parse_dump(p, &real));
    ht_pym_stats(t->m, &st);
    compare(t->base, &real, &st, st.arena_size);
    t->ndumps++;
}

static void replay_tie(const char *ver)
{
    char path[512];
    snprintf(path, sizeof path, "%s/pymalloc/cpython-%s-tie.txt",
             HT_FIXTURES_DIR, ver);
    char *txt = slurp(path);
    assert_non_null(txt);
    const char *p = strstr(txt, "=== baseline 0\n");
    assert_non_null(p);
    struct real_dump base;
    assert_non_null(parse_dump(p, &base));
    assert_int_equal(base.st.unused_pools, 0);
    uint64_t pool_size = strcmp(ver, "3.8") && strcmp(ver, "3.9") ? 16384 : 4096;
    struct tie_ctx t = {mk(ver, infer_ppa(txt, &base, pool_size)), txt, &base, 0};
    struct ht_golden_api api = {&t, tie_alloc, tie_release, tie_dump};
    uint64_t *blocks = malloc((HT_GOLDEN_SCRIPT_POOLS + 2) * 1024 * sizeof *blocks);
    assert_int_equal(ht_golden_script(&api, pool_size, blocks), 0);
    assert_int_equal(t.ndumps, 3);
    free(blocks);
    free(txt);
    ht_pym_free(t.m);
}

static void test_golden_3_8(void **s)
{
    (void)s;
    replay_fixture("3.8", "");
}
static void test_golden_3_8_big(void **s)
{
    (void)s;
    replay_fixture("3.8", "-big");
}
static void test_golden_3_9(void **s)
{
    (void)s;
    replay_fixture("3.9", "");
}
static void test_golden_3_9_big(void **s)
{
    (void)s;
    replay_fixture("3.9", "-big");
}
static void test_golden_3_10(void **s)
{
    (void)s;
    replay_fixture("3.10", "");
}
static void test_golden_3_10_big(void **s)
{
    (void)s;
    replay_fixture("3.10", "-big");
}
static void test_golden_3_11(void **s)
{
    (void)s;
    replay_fixture("3.11", "");
}
static void test_golden_3_11_big(void **s)
{
    (void)s;
    replay_fixture("3.11", "-big");
}
static void test_golden_3_12(void **s)
{
    (void)s;
    replay_fixture("3.12", "");
}
static void test_golden_3_12_big(void **s)
{
    (void)s;
    replay_fixture("3.12", "-big");
}
static void test_golden_3_13(void **s)
{
    (void)s;
    replay_fixture("3.13", "");
}
static void test_golden_3_13_big(void **s)
{
    (void)s;
    replay_fixture("3.13", "-big");
}

static void test_golden_3_8_tie(void **s)
{
    (void)s;
    replay_tie("3.8");
}
static void test_golden_3_9_tie(void **s)
{
    (void)s;
    replay_tie("3.9");
}
static void test_golden_3_10_tie(void **s)
{
    (void)s;
    replay_tie("3.10");
}
static void test_golden_3_11_tie(void **s)
{
    (void)s;
    replay_tie("3.11");
}
static void test_golden_3_12_tie(void **s)
{
    (void)s;
    replay_tie("3.12");
}
static void test_golden_3_13_tie(void **s)
{
    (void)s;
    replay_tie("3.13");
}

/* ---- peak view ---------------------------------------------------------- */

struct pools {
    struct ht_pym_pool_info p[4096];
    size_t n;
};

static int add_info(void *ctx, const struct ht_pym_pool_info *pi)
{
    struct pools *ps = ctx;
    assert_true(ps->n < 4096);
    ps->p[ps->n++] = *pi;
    return 0;
}

/* Random allocations and frees (arenas made and released, pools reused
 * for other classes, raw blocks) with a peak mark now and then: the peak
 * view always equals the stats and pool list taken at the last mark. */
static void test_peak_view(void **state)
{
    (void)state;
    static const char *const prof[] = {"3.8", "3.12", "3.13"};
    static const unsigned ppa[] = {0, 63, 0};
    static uint64_t live[3000];
    static struct pools at_mark, now;
    for (int pi = 0; pi < 3; pi++) {
        ht_pym *m = mk(prof[pi], ppa[pi]);
        struct ht_pym_stats want, got;
        ht_pym_peak_stats(m, &want); /* before any mark: the empty model */
        at_mark.n = 0;
        uint64_t x = 0x9E3779B97F4A7C15ull;
        size_t n = 0;
        for (int i = 0; i < 60000; i++) {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            /* grow, then shrink, then grow again */
            int phase = (i / 10000) % 3;
            int alloc = n == 0 || (n < 3000 && (x % 100) < (phase == 1 ? 30u : 65u));
            if (alloc) {
                uint64_t sz = (x >> 8) % 50 == 0 ? 1000 + (x >> 20) % 4000
                                                   : 1 + (x >> 20) % 512;
                live[n++] = xmalloc(m, sz);
            } else {
                size_t k = (size_t)((x >> 8) % n);
                xfree(m, live[k]);
                live[k] = live[--n];
            }
            if ((x >> 40) % 97 == 0) {
                ht_pym_mark_peak(m);
                ht_pym_stats(m, &want);
                at_mark.n = 0;
                ht_pym_each_pool(m, add_info, &at_mark);
            }
            if (i % 997 == 0) {
                ht_pym_peak_stats(m, &got);
                assert_memory_equal(&got, &want, sizeof got);
                now.n = 0;
                ht_pym_peak_each_pool(m, add_info, &now);
                assert_int_equal(now.n, at_mark.n);
                assert_memory_equal(now.p, at_mark.p, now.n * sizeof *now.p);
            }
        }
        struct ht_pym_stats end;
        ht_pym_stats(m, &end);
        /* the run did make and release arenas */
        assert_true(end.arenas_allocated_total > end.arenas_current);
        ht_pym_free(m);
    }
}

#define HT_PYM_GOLDEN_TESTS \
    cmocka_unit_test(test_golden_3_8), \
    cmocka_unit_test(test_golden_3_8_big), \
    cmocka_unit_test(test_golden_3_9), \
    cmocka_unit_test(test_golden_3_9_big), \
    cmocka_unit_test(test_golden_3_10), \
    cmocka_unit_test(test_golden_3_10_big), \
    cmocka_unit_test(test_golden_3_11), \
    cmocka_unit_test(test_golden_3_11_big), \
    cmocka_unit_test(test_golden_3_12), \
    cmocka_unit_test(test_golden_3_12_big), \
    cmocka_unit_test(test_golden_3_13), \
    cmocka_unit_test(test_golden_3_13_big), \
    cmocka_unit_test(test_golden_3_8_tie), \
    cmocka_unit_test(test_golden_3_9_tie), \
    cmocka_unit_test(test_golden_3_10_tie), \
    cmocka_unit_test(test_golden_3_11_tie), \
    cmocka_unit_test(test_golden_3_12_tie), \
    cmocka_unit_test(test_golden_3_13_tie), \
    /* end */

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_geometry),
        cmocka_unit_test(test_peak_view),
        cmocka_unit_test(test_v1),
        cmocka_unit_test(test_v2),
        cmocka_unit_test(test_v3),
        cmocka_unit_test(test_v4),
        cmocka_unit_test(test_v5),
        cmocka_unit_test(test_s1),
        cmocka_unit_test(test_s2),
        cmocka_unit_test(test_s2b),
        cmocka_unit_test(test_misaligned),
        cmocka_unit_test(test_release_bad_addr),
        cmocka_unit_test(test_format),
        HT_PYM_GOLDEN_TESTS
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
