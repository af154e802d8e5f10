#include <stdlib.h>

#include "types.h"

#define PUSH(l, n) ((n)->next = (l), (l) = (n))

struct node *g_list;

void push(struct node *n)
{
    PUSH(g_list, n);
}

struct node *make(int v)
{
    struct node *n = malloc(sizeof *n);
    n->val = v;
    n->next = NULL;
    push(n);
    return n;
}
