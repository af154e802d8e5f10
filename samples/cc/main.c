#include <stdio.h>

#include "list.h"

struct node *g_last;

int main(void)
{
    struct node *h = NULL;
    for (int i = 0; i < 5; i++)
        h = list_push(h, i);
    g_last = h;    /* STORE to a global */
    int k = list_free(h);
    g_last = NULL; /* STORE to a global */
    printf("%d\n", twice(k));
    return 0;
}
