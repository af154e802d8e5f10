/* Site finder sample: every kind of site, one per line (see test_sites.c). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "refapi.h"

struct node {
    struct node *next;
    struct obj *val;
};

struct node *g_head;
#define SET_NEXT(n, v) ((n)->next = (v))
#define NEW(T) ((T *)malloc(sizeof(T)))

static void *(*alloc_fn)(size_t) = malloc;

int main(void)
{
    struct node *a = malloc(sizeof(struct node));
    struct node *b = calloc(1, sizeof *b);
    struct node *arr[2];
    struct node **pp = &a->next;
    struct obj o = {1};
    a->next = NULL;
    b->next = a;
    *pp = b;
    arr[0] = a;
    g_head = b;
    if (a->next == b)
        a->val = &o;
    arr[1] = arr[0] + 0;
    SET_NEXT(b, NULL);
    struct node *c = NEW(struct node);
    void *d = alloc_fn(16);
    obj_incref(&o);
    KEEP(&o);
    OBJ_INCREF(&o);
    obj_decref(&o);
    printf("slot=%p new=%p old=%p\n", (void *)&b->next, (void *)c, (void *)NULL);
    b->next = c;
    printf("obj=%p rc=%ld\n", (void *)&o, o.rc);
    free(d);
    free(c);
    free(b);
    free(a);
    return 0;
}
