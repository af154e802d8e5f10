#ifndef TREE_FLAG
#error "tree.c is built with -DTREE_FLAG (its compile_commands entry has it)"
#endif
#include <stdlib.h>

#include "types.h"

static void (*visit)(tree_t *);

/* a store heaptrail-cc cannot reach: ## pasting is not expanded */
#define SET_KID(t, i, k) ((t)->kid##s[i] = (k))

void tree_free(tree_t *t)
{
    for (int i = 0; i < 4; i++)
        if (t->kids[i])
            tree_free(t->kids[i]);
    if (visit)
        visit(t);
    free(t->data);
    free(t);
}

tree_t *tree_new(tree_t *parent, int i)
{
    tree_t *t = calloc(1, sizeof *t);
    if (parent)
        SET_KID(parent, i, t);
    return t;
}
