#include <stdlib.h>

#include "list.h"

struct node *list_push(struct node *head, int v)
{
    struct node *n = malloc(sizeof *n);
    n->v = v;
    n->next = head; /* one STORE per push */
    return n;
}

int list_free(struct node *head)
{
    int k = 0;
    while (head) {
        struct node *nx = head->next;
        free(head);
        head = nx;
        k++;
    }
    return k;
}
