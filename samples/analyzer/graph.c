/* End-to-end sample for tests/analyzer/test_graph.c: pointer stores
 * through ->, *, [] and to a global, a store and allocations in macro
 * bodies and through function pointers, a static-inline refcount API
 * (refapi.h) called directly and from a macro body, and a custom pool
 * allocator (--alloc-fn=pool_alloc:size=2 --free-fn=pool_free:ptr=2).
 * It prints the addresses it uses so the test can name every event. */
#include <stdio.h>
#include <stdlib.h>

#include "refapi.h"

struct node {
    struct node *next;
    struct node *kids[2];
    struct obj *o;
};

struct pool {
    char buf[256];
    size_t used;
};

static struct node *g_root;
static struct pool g_pool;

static void *pool_alloc(struct pool *p, size_t n)
{
    void *r = p->buf + p->used;
    p->used += (n + 15) & ~(size_t)15;
    return r;
}

static void pool_free(struct pool *p, void *q)
{
    (void)p;
    (void)q;
}

#define MAKE(T) ((T *)calloc(1, sizeof(T)))
#define LINK(a, b) ((a)->next = (b))
#define HOLD(o) obj_incref(o)

static void set_kid(struct node *n, int i, struct node *k)
{
    n->kids[i] = k;
}

static void (*setter)(struct node *, int, struct node *) = set_kid;
static void *(*alloc_fn)(size_t, size_t) = calloc;

int main(void)
{
    struct node *a = MAKE(struct node);
    struct node *b = alloc_fn(1, sizeof *b);
    struct node **arr = calloc(2, sizeof *arr);
    struct obj *o = pool_alloc(&g_pool, sizeof *o);
    struct node **slot = &a->next;
    printf("a=%p b=%p arr=%p o=%p g_root=%p\n", (void *)a, (void *)b,
           (void *)arr, (void *)o, (void *)&g_root);
    o->rc = 1;
    a->next = b;
    *slot = NULL;
    arr[1] = a;
    g_root = b;
    LINK(b, a);
    setter(b, 1, a);
    a->o = o;
    obj_incref(o);
    HOLD(o);
    obj_decref(o);
    a->o = NULL;
    pool_free(&g_pool, o);
    printf("rc=%ld\n", o->rc);
    free(arr);
    free(b);
    free(a);
    return 0;
}
