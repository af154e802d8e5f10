/* Allocation sites the store must join (tests/e2e/test_cc_shapes.c): after
 * an instrumented store on the same line, inside a macro, in a `?:` that
 * gcc folds (its DWARF column is the `:`, not the call's), through a
 * function pointer, and from a static inline function. 6 ALLOC, 6 FREE;
 * all join a site except grab()'s (line 24: a folded `?:` with two
 * allocation calls on one line, docs/analyzer.md). */
#include <stdlib.h>
#include <string.h>

#define NEW(T) ((T *)calloc(1, sizeof(T)))

struct rec {
    char *name;
    struct rec *next;
};

static void *(*alloc_fn)(size_t) = malloc;

/* keeps gcc from eliding a malloc/free pair */
static void use(void *p) { __asm__ volatile("" : : "r"(p) : "memory"); }

static inline void *grab(size_t n)
{
    return sizeof(int) > 2 ? malloc(n) : calloc(1, n);
}

int main(void)
{
    struct rec *r = NEW(struct rec);
    r->name = strdup("a"); r->next = NEW(struct rec);
    void *p = alloc_fn(16), *q = grab(8);
    char *s = sizeof(long) > 4 ? (char *)malloc(4) : (char *)calloc(4, 1);
    use(s), use(q), use(p), use(r->name);
    free(s);
    free(q);
    free(p);
    free(r->next);
    free(r->name);
    free(r);
    return 0;
}
