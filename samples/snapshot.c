/* Exit-snapshot sample: a 5-node list held by a global (next at offset 0)
 * and a 3-node list whose head pointer is lost. Prints all addresses. */
#include <stdio.h>
#include <stdlib.h>

struct node {
    struct node *next;
    long val;
};

struct node *g_head;

static struct node *build(int n)
{
    struct node *h = NULL;
    for (int i = 0; i < n; i++) {
        struct node *x = malloc(sizeof *x);
        x->next = h;
        x->val = i;
        h = x;
    }
    return h;
}

int main(void)
{
    g_head = build(5);
    struct node *lost = build(3);
    printf("global %p\n", (void *)&g_head);
    for (struct node *p = g_head; p; p = p->next)
        printf("list %p\n", (void *)p);
    for (struct node *p = lost; p; p = p->next)
        printf("lost %p\n", (void *)p);
    lost = NULL;
    return 0;
}
