#include <stdio.h>

#include "list.h"

struct item *g_last;

int main(void)
{
    struct item *l = NULL;
    for (int i = 0; i < 3; i++)
        l = push(l, i);
    g_last = l;
    int n = count(l);
    printf("%d\n", n);
    g_last = NULL;
    release(l);
    return n == 3 ? 0 : 1;
}
