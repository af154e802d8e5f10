/*
 * The `heaptrail demo` tour: one of each finding, with known exact counts.
 * Built by heaptrail-cc with
 *   HEAPTRAIL_OPTS="--refcount-inc=obj_incref --refcount-dec=obj_decref".
 *   1. leak: 5 names of 48 bytes that nothing points to (definitely lost);
 *   2. lost by a store: g_holder.buf is overwritten, the first 100-byte
 *      buffer is definitely lost at that store; the second stays reachable;
 *   3. a reference cycle a -> b -> c -> a made by stores to `next` fields
 *      (3 nodes of 16 bytes), then the only pointer to it is dropped;
 *   4. refcounts, CPython's convention: obj_new returns a new reference
 *      (count 1) and a second owner takes one with obj_incref. A good
 *      object (incref x1, decref x2: freed at 0) and a bad one (incref x1,
 *      decref x1: the final decref is missing, its count stays 1, it leaks,
 *      16 bytes) -> 2 INCREF and 3 DECREF events;
 *   5. fragmentation: 20000 blocks of 64 bytes, every 50th kept in the
 *      global g_keep (400 blocks, reachable), the rest freed: the kept blocks
 *      pin every pymalloc pool and arena the 20000 needed.
 * Totals at exit: definite 7 blocks / 356 bytes, cycle 3 / 48, reachable
 * 401 / 25700, indirect 0.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct obj {
    long rc;
    long value;
};

static struct obj *obj_new(long value)
{
    struct obj *o = malloc(sizeof *o);
    o->rc = 1; /* a new reference, owned by the caller */
    o->value = value;
    return o;
}

static void obj_incref(struct obj *o) { o->rc++; }

static void obj_decref(struct obj *o)
{
    if (--o->rc == 0)
        free(o);
}

struct node {
    struct node *next;
    long v;
};

struct holder {
    char *buf;
    long len;
};

#define NFRAG 20000
#define KEEP_EVERY 50
struct holder g_holder;
void *g_keep[NFRAG / KEEP_EVERY]; /* extern: the compiler keeps it */

static void leak_names(void)
{
    char *names[5];
    for (int i = 0; i < 5; i++) {
        names[i] = malloc(48);
        snprintf(names[i], 48, "name-%d", i);
    }
    for (int i = 0; i < 5; i++)
        puts(names[i]);
}

static void lose_by_store(void)
{
    g_holder.buf = malloc(100);
    strcpy(g_holder.buf, "first");
    g_holder.buf = malloc(100); /* the first buffer is lost here */
    strcpy(g_holder.buf, "second");
    g_holder.len = 6;
}

static long make_cycle(void)
{
    struct node *a = malloc(sizeof *a);
    struct node *b = malloc(sizeof *b);
    struct node *c = malloc(sizeof *c);
    a->v = 1;
    b->v = 2;
    c->v = 3;
    a->next = b;
    b->next = c;
    c->next = a;
    return a->next->next->next->v; /* 1; then a, b and c are dropped */
}

static long refcounts(void)
{
    struct obj *good = obj_new(1);
    obj_incref(good); /* a second owner */
    obj_decref(good);
    obj_decref(good); /* freed */
    struct obj *bad = obj_new(2);
    obj_incref(bad);
    long v = bad->value;
    obj_decref(bad);
    /* missing obj_decref(bad): it leaks with one reference */
    return v;
}

static void fragment(void)
{
    static void *blocks[NFRAG];
    for (int i = 0; i < NFRAG; i++) {
        blocks[i] = malloc(64);
        memset(blocks[i], i & 0xff, 64);
    }
    for (int i = 0; i < NFRAG; i++) {
        if (i % KEEP_EVERY == 0)
            g_keep[i / KEEP_EVERY] = blocks[i];
        else
            free(blocks[i]);
        blocks[i] = NULL;
    }
}

int main(void)
{
    leak_names();
    lose_by_store();
    long c = make_cycle();
    long r = refcounts();
    fragment();
    printf("tour done: cycle %ld, refcount %ld, holder %s\n", c, r,
           g_holder.buf);
    return 0;
}
