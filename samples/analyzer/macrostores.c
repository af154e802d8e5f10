/* End-to-end sample for tests/analyzer/test_graph.c: pointer stores
 * written in macro bodies (function-like, statement-like, object-like,
 * variadic, nested, spread over two lines, in a macro argument, as the
 * value of another store) that heaptrail-cc records by expanding the
 * invocation in its temporary copy, and one it refuses (## pasting).
 * It prints the addresses it uses so the test can name every event. */
#include <stdio.h>
#include <stdlib.h>

struct node {
    struct node *next;
    char *buf;
};

struct list {
    struct node *head;
    struct node *tail_ptr;
};

static struct node *g_root;
static int calls;

#define LINK(a, b) ((a)->next = (b))
#define PUSH(l, x) do { (x)->next = (l)->head; (l)->head = (x); } while (0)
#define RESET(p) ((p)->buf = NULL)
#define RELINK(a, b) (LINK(a, b), RESET(a))
#define ROOTLESS (g_root = NULL)
#define SET(x) x
#define SETV(...) (__VA_ARGS__)
#define SETF(p, f, v) ((p)->f##_ptr = (v))

static struct node *pick(struct node *n)
{
    calls++;
    return n;
}

int main(void)
{
    struct node *a = calloc(1, sizeof *a);
    struct node *b = calloc(1, sizeof *b);
    struct list *l = calloc(1, sizeof *l);
    char *buf = malloc(8);
    printf("a=%p b=%p l=%p buf=%p g_root=%p\n", (void *)a, (void *)b,
           (void *)l, (void *)buf, (void *)&g_root);
    a->buf = buf;
    g_root = a;
    LINK(a, b);
    PUSH(l,
         b);
    RESET(a);
    RELINK(b, a);
    ROOTLESS;
    SET(a->next = NULL);
    SETV(b->next = NULL, a->next = b);
    struct node *r = LINK(pick(a), NULL);
    l->head = LINK(a, b);
    SETF(l, tail, a);
    printf("calls=%d r=%d\n", calls, r == NULL);
    free(buf);
    free(l);
    free(b);
    free(a);
    return 0;
}
