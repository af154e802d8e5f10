#include <stdlib.h>

#include "list.h"

struct item *push(struct item *l, int v)
{
    struct item *it = malloc(sizeof *it);
    if (!it)
        abort();
    it->next = l;
    it->val = v;
    return it;
}

int count(const struct item *l)
{
    int n = 0;
    for (; l; l = l->next)
        n++;
    return n;
}

void release(struct item *l)
{
    while (l) {
        struct item *next = l->next;
        free(l);
        l = next;
    }
}
