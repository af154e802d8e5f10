/*
 * The report sample: one of each finding the report renders, with known
 * answers (the exit snapshot, on by default, classifies them):
 *   - a 3-node list whose head pointer is overwritten: 1 block (24 bytes)
 *     definitely lost, 2 blocks (48 bytes) indirectly lost; the head's last
 *     reference is dropped by the store at make_list's `*out = NULL`;
 *   - a two-object cycle a.next -> b, b.prev -> a (2 x 32 bytes) whose
 *     external pointers are dropped: lost in a cycle;
 *   - a 64-byte config block held by a global: still reachable;
 *   - an object whose refcount is taken twice and dropped once, then leaked;
 *   - one double free and one invalid free (an interior pointer). glibc
 *     detects both before touching its state and aborts; the sample catches
 *     that SIGABRT and jumps back, so the run still ends normally.
 */
#include <setjmp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>

struct item {
    struct item *link;
    long value;
    long pad;
};

struct pair {
    struct pair *next;
    struct pair *prev;
    long a, b;
};

struct obj {
    long refs;
    long data[5];
};

struct holder {
    void *slot;
};

static char *g_config;

void obj_incref(struct obj *o) { o->refs++; }
void obj_decref(struct obj *o) { o->refs--; }

static void make_list(struct holder *h)
{
    struct item *head = NULL;
    for (int i = 0; i < 3; i++) {
        struct item *it = malloc(sizeof *it);
        it->link = head;
        it->value = i;
        head = it;
    }
    h->slot = head;
    h->slot = NULL; /* the list's last reference dropped here */
}

static void make_cycle(struct holder *h)
{
    struct pair *a = calloc(1, sizeof *a);
    struct pair *b = calloc(1, sizeof *b);
    a->next = b;
    b->prev = a;
    h->slot = a;
    h->slot = NULL; /* the cycle's last external reference dropped here */
}

static void refcounting(void)
{
    struct obj *o = calloc(1, sizeof *o);
    obj_incref(o);
    obj_incref(o);
    obj_decref(o); /* one decref missing: o leaks */
}

static sigjmp_buf g_jump;

static void on_abort(int sig)
{
    (void)sig;
    siglongjmp(g_jump, 1);
}

/* Call free(p) and survive glibc's abort on a bad pointer. */
static void free_surviving(void *p)
{
    struct sigaction sa = {0}, old;
    sa.sa_handler = on_abort;
    sigaction(SIGABRT, &sa, &old);
    if (!sigsetjmp(g_jump, 1))
        free(p);
    sigaction(SIGABRT, &old, NULL);
}

static void bad_frees(void)
{
    char *p = malloc(16);
    free(p);
    free_surviving(p); /* double free */
    char *q = malloc(40);
    free_surviving(q + 8); /* invalid free: interior pointer */
    free(q);
}

int main(void)
{
    struct holder *h = malloc(sizeof *h);
    g_config = malloc(64);
    make_list(h);
    make_cycle(h);
    refcounting();
    bad_frees();
    free(h);
    printf("findings done\n");
    return 0;
}
