/*
 * bench_micro: the allocation-heavy micro workloads of bench/run.
 *
 *   bench_micro WORKLOAD N
 *
 * WORKLOAD is one of
 *   small    small-object churn: N malloc/free pairs, 8..128 bytes, each
 *            replacing a random slot of a 4096-slot table (random lifetimes)
 *   mixed    N allocations of mixed sizes (80% 16..256 B, 19% 256 B..8 KiB,
 *            1% 8..256 KiB), first cache line written, random lifetimes in
 *            a 2048-slot table
 *   realloc  N appends of 1..64 bytes to 256 growing string builders
 *            (realloc growth x1.5 from 16 bytes; a builder is freed and
 *            restarted when it passes 64 KiB)
 *   graph    pointer-heavy: N operations on a graph of refcounted nodes
 *            (4 edge slots each): link (pointer store + node_incref),
 *            unlink (store NULL + node_decref), replace a node (free it,
 *            allocate a new one, only when no edge points at it);
 *            ~2 pointer stores per operation
 *   threads  4 threads, each N/4 mixed-size churn operations, 1/8 of the
 *            blocks handed to the next thread through a locked mailbox and
 *            freed there (cross-thread frees)
 *   leaky    a small churn (N pairs) plus leaks with known totals, printed
 *            on stderr as "expected: ..." (see leak_on_purpose below)
 *
 * Everything except `leaky` frees all it allocated before exit. The
 * result checksum is printed so that no work can be optimised away.
 * Deterministic: fixed-seed xorshift RNG per workload/thread.
 */
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static uint64_t rng_next(uint64_t *s)
{
    uint64_t x = *s;
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    return *s = x;
}

static void *xmalloc(size_t n)
{
    void *p = malloc(n);
    if (!p) {
        fprintf(stderr, "bench_micro: out of memory\n");
        exit(1);
    }
    return p;
}

static uint64_t w_small(long n)
{
    enum { SLOTS = 4096 };
    static char *slot[SLOTS];
    uint64_t s = 0x9e3779b97f4a7c15ull, sum = 0;
    for (long i = 0; i < n; i++) {
        uint64_t r = rng_next(&s);
        unsigned k = (unsigned)(r % SLOTS);
        free(slot[k]);
        size_t sz = 8 + (size_t)((r >> 16) % 121);
        slot[k] = xmalloc(sz);
        slot[k][0] = (char)i;
        sum += (uintptr_t)slot[k] & 0xff;
    }
    for (unsigned k = 0; k < SLOTS; k++) {
        free(slot[k]);
        slot[k] = NULL;
    }
    return sum;
}

static size_t mixed_size(uint64_t r)
{
    unsigned c = (unsigned)(r % 100);
    r >>= 8;
    if (c < 80)
        return 16 + (size_t)(r % 241);
    if (c < 99)
        return 256 + (size_t)(r % (8192 - 256));
    return 8192 + (size_t)(r % (256 * 1024 - 8192));
}

static uint64_t mixed_loop(long n, uint64_t seed, char **slot, unsigned nslots,
                           void (*handoff)(char *, void *), void *ctx)
{
    uint64_t s = seed, sum = 0;
    for (long i = 0; i < n; i++) {
        uint64_t r = rng_next(&s);
        unsigned k = (unsigned)(r % nslots);
        if (slot[k]) {
            if (handoff && (r >> 60) == 0)
                handoff(slot[k], ctx);
            else
                free(slot[k]);
        }
        size_t sz = mixed_size(rng_next(&s));
        slot[k] = xmalloc(sz);
        memset(slot[k], (int)i, sz < 64 ? sz : 64);
        sum += (unsigned char)slot[k][sz - 1 < 63 ? sz - 1 : 63];
    }
    for (unsigned k = 0; k < nslots; k++) {
        free(slot[k]);
        slot[k] = NULL;
    }
    return sum;
}

static uint64_t w_mixed(long n)
{
    static char *slot[2048];
    return mixed_loop(n, 0x2545f4914f6cdd1dull, slot, 2048, NULL, NULL);
}

struct sb {
    char *buf;
    size_t len, cap;
};

static uint64_t w_realloc(long n)
{
    enum { NB = 256 };
    static struct sb b[NB];
    uint64_t s = 0x853c49e6748fea9bull, sum = 0;
    for (long i = 0; i < n; i++) {
        uint64_t r = rng_next(&s);
        struct sb *x = &b[r % NB];
        size_t add = 1 + (size_t)((r >> 20) % 64);
        if (x->len + add > x->cap) {
            size_t cap = x->cap ? x->cap + x->cap / 2 : 16;
            while (cap < x->len + add)
                cap += cap / 2;
            char *nb = realloc(x->buf, cap);
            if (!nb) {
                fprintf(stderr, "bench_micro: out of memory\n");
                exit(1);
            }
            x->buf = nb;
            x->cap = cap;
        }
        memset(x->buf + x->len, 'a' + (int)(i % 26), add);
        x->len += add;
        if (x->len > 64 * 1024) {
            sum += (unsigned char)x->buf[x->len / 2];
            free(x->buf);
            x->buf = NULL;
            x->len = x->cap = 0;
        }
    }
    for (unsigned k = 0; k < NB; k++) {
        free(b[k].buf);
        b[k].buf = NULL;
    }
    return sum;
}

/* ---- graph: refcounted nodes with pointer edges ---- */
struct node {
    long rc;
    struct node *edge[4];
    long payload[4];
};

/* The refcount API heaptrail-cc records with
 * HEAPTRAIL_OPTS="--refcount-inc=node_incref --refcount-dec=node_decref". */
static void node_incref(struct node *o) { o->rc++; }
static void node_decref(struct node *o) { o->rc--; }

static uint64_t w_graph(long n)
{
    enum { NN = 8192 };
    static struct node *tab[NN];
    uint64_t s = 0xda942042e4dd58b5ull, sum = 0;
    for (unsigned i = 0; i < NN; i++) {
        tab[i] = calloc(1, sizeof(struct node));
        if (!tab[i])
            exit(1);
        tab[i]->rc = 1;
        tab[i]->payload[0] = i;
    }
    for (long i = 0; i < n; i++) {
        uint64_t r = rng_next(&s);
        unsigned ka = (unsigned)(r % NN);
        struct node *a = tab[ka], *b = tab[(r >> 16) % NN];
        unsigned e = (unsigned)((r >> 32) & 3);
        unsigned op = (unsigned)((r >> 40) % 8);
        if (op < 3) { /* link a.edge[e] -> b */
            struct node *old = a->edge[e];
            if (old)
                node_decref(old);
            node_incref(b);
            a->edge[e] = b;
        } else if (op < 6) { /* unlink */
            if (a->edge[e]) {
                node_decref(a->edge[e]);
                a->edge[e] = NULL;
            }
        } else if (a->rc == 1) { /* no edge points at a: replace it */
            unsigned k = ka;
            for (unsigned j = 0; j < 4; j++)
                if (a->edge[j]) {
                    node_decref(a->edge[j]);
                    a->edge[j] = NULL;
                }
            sum += (uint64_t)a->payload[0];
            free(a);
            struct node *nw = xmalloc(sizeof *nw);
            memset(nw, 0, sizeof *nw);
            nw->rc = 1;
            nw->payload[0] = i;
            tab[k] = nw;
        }
    }
    for (unsigned i = 0; i < NN; i++) {
        sum += (uint64_t)tab[i]->payload[0];
        free(tab[i]);
        tab[i] = NULL;
    }
    return sum;
}

/* ---- threads ---- */
struct mbox {
    pthread_mutex_t mu;
    char *item[256];
    unsigned n;
};

struct tctx {
    long n;
    unsigned id;
    struct mbox *mine, *next;
    uint64_t sum;
};

static void mbox_put(char *p, void *ctx)
{
    struct tctx *t = ctx;
    pthread_mutex_lock(&t->next->mu);
    if (t->next->n < 256) {
        t->next->item[t->next->n++] = p;
        p = NULL;
    }
    pthread_mutex_unlock(&t->next->mu);
    free(p);
    /* free what others handed to us (cross-thread frees) */
    pthread_mutex_lock(&t->mine->mu);
    for (unsigned i = 0; i < t->mine->n; i++)
        free(t->mine->item[i]);
    t->mine->n = 0;
    pthread_mutex_unlock(&t->mine->mu);
}

static void *thread_main(void *arg)
{
    struct tctx *t = arg;
    char *slot[512] = {0};
    t->sum = mixed_loop(t->n, 0x9e3779b97f4a7c15ull * (t->id + 1), slot, 512,
                        mbox_put, t);
    return NULL;
}

static uint64_t w_threads(long n)
{
    enum { NT = 4 };
    static struct mbox mb[NT];
    struct tctx t[NT];
    pthread_t th[NT];
    for (unsigned i = 0; i < NT; i++)
        pthread_mutex_init(&mb[i].mu, NULL);
    for (unsigned i = 0; i < NT; i++) {
        t[i] = (struct tctx){n / NT, i, &mb[i], &mb[(i + 1) % NT], 0};
        if (pthread_create(&th[i], NULL, thread_main, &t[i]) != 0) {
            fprintf(stderr, "bench_micro: pthread_create failed\n");
            exit(1);
        }
    }
    uint64_t sum = 0;
    for (unsigned i = 0; i < NT; i++) {
        pthread_join(th[i], NULL);
        sum += t[i].sum;
    }
    for (unsigned i = 0; i < NT; i++) {
        for (unsigned j = 0; j < mb[i].n; j++)
            free(mb[i].item[j]);
        mb[i].n = 0;
        pthread_mutex_destroy(&mb[i].mu);
    }
    return sum;
}

/* ---- leaky: leaks with known totals ---- */
struct lnode {
    struct lnode *next;
    char pad[24]; /* 32 bytes */
};

struct lhead {
    struct lnode *first;
    char pad[56]; /* 64 bytes */
};

/* still reachable at exit, not a leak; not static so that the compiler
 * cannot drop the stores of a never-read array */
void *g_reachable[100];

/* Make p escape: keeps the compiler from eliding a malloc whose result is
 * dropped (clang removes such malloc/memset pairs at -O2). */
static void escape(void *p) { __asm__ volatile("" : : "r"(p) : "memory"); }

static struct lhead *make_list(unsigned len)
{
    struct lhead *h = xmalloc(sizeof *h);
    memset(h, 0, sizeof *h);
    for (unsigned i = 0; i < len; i++) {
        struct lnode *x = xmalloc(sizeof *x);
        memset(x, 0, sizeof *x);
        x->next = h->first;
        h->first = x;
    }
    return h;
}

/* Leaks, on purpose:
 *   definitely lost: 1000 x 48 B (pointer dropped)
 *                  + 100 list heads x 64 B (head pointer dropped)
 *   indirectly lost: 100 lists x 9 nodes x 32 B (reachable only from the
 *                    lost heads)
 *   lost cycles:     50 rings of 2 x 32 B pointing at each other (each ring
 *                    unreachable; the tools disagree on its class: memcheck
 *                    calls one block of a ring definite and the other
 *                    indirect, LeakSanitizer calls both indirect, heaptrail
 *                    reports them as class "cycle")
 *   still reachable: 100 x 40 B in g_reachable (not counted as lost)
 * i.e. definite 1100 blocks / 54,400 B; indirect 900 blocks / 28,800 B;
 * plus 100 blocks / 3,200 B in 50 cycles; 2100 blocks / 86,400 B lost.
 * The rings come first so that no stale register or stack slot of a later
 * step can still point at one when the leak checkers scan at exit. */
static uint64_t leak_on_purpose(void)
{
    uint64_t sum = 0;
    for (unsigned i = 0; i < 50; i++) {
        struct lnode *a = xmalloc(sizeof *a), *b = xmalloc(sizeof *b);
        memset(a, 0, sizeof *a);
        memset(b, 0, sizeof *b);
        a->next = b;
        b->next = a;
        escape(a);
        escape(b);
    }
    for (unsigned i = 0; i < 1000; i++) {
        char *p = xmalloc(48);
        memset(p, (int)i, 48);
        escape(p);
        sum += (unsigned char)p[47];
        /* p dropped here */
    }
    for (unsigned i = 0; i < 100; i++) {
        struct lhead *h = make_list(9);
        escape(h);
        sum += (uintptr_t)h->first & 1;
        /* h dropped here */
    }
    for (unsigned i = 0; i < 100; i++) {
        g_reachable[i] = xmalloc(40);
        memset(g_reachable[i], 1, 40);
        escape(g_reachable[i]);
    }
    fprintf(stderr, "expected: definitely lost 54400 bytes in 1100 blocks; "
                    "indirectly lost 28800 bytes in 900 blocks; "
                    "in 50 lost cycles 3200 bytes in 100 blocks; "
                    "still reachable 4000 bytes in 100 blocks\n");
    return sum;
}

static uint64_t w_leaky(long n)
{
    return w_small(n) + leak_on_purpose();
}

int main(int argc, char **argv)
{
    static const struct {
        const char *name;
        uint64_t (*fn)(long);
    } w[] = {{"small", w_small},     {"mixed", w_mixed},
             {"realloc", w_realloc}, {"graph", w_graph},
             {"threads", w_threads}, {"leaky", w_leaky}};
    if (argc != 3) {
        fprintf(stderr, "usage: bench_micro small|mixed|realloc|graph|"
                        "threads|leaky N\n");
        return 2;
    }
    long n = atol(argv[2]);
    for (size_t i = 0; i < sizeof w / sizeof w[0]; i++)
        if (strcmp(argv[1], w[i].name) == 0) {
            printf("%s %ld checksum %llu\n", argv[1], n,
                   (unsigned long long)w[i].fn(n));
            return 0;
        }
    fprintf(stderr, "bench_micro: unknown workload '%s'\n", argv[1]);
    return 2;
}
