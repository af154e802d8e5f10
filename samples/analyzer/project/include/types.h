/* Types for heaptrail analyze's test (tests/analyzer/test_analyze.c). */
#ifndef TYPES_H
#define TYPES_H
struct node {
    struct node *next;
    int val;
};
struct a;
struct b {
    struct a *a;
};
struct a {
    struct b *b;
    struct node *head;
};
typedef struct tree tree_t;
struct tree {
    tree_t *kids[4];
    void *data;
};
typedef struct {
    struct holder_inner {
        struct owner *back;
    } in;
} holder;
struct owner {
    holder h;
    char **names;
};
#endif
