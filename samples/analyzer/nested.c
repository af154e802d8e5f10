/* Nested pointer stores (compiled with -Wshadow -Werror in test_sites). */
#include <stdio.h>
#include <stdlib.h>

struct n {
    struct n *next, *prev;
};

static struct n *g;

int main(void)
{
    struct n *a = calloc(1, sizeof *a), *b = calloc(1, sizeof *b);
    a->next = b->prev = g = a;
    (a->next = b)->next = a;
    int ok = a->next == b && b->next == a && b->prev == a && g == a;
    printf("%d\n", ok);
    free(a);
    free(b);
    return !ok;
}
