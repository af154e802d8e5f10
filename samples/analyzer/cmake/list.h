#ifndef LIST_H
#define LIST_H
#ifndef LIST_FLAG
#error "built with -DLIST_FLAG (from CMakeLists.txt)"
#endif
struct item {
    struct item *next;
    int val;
};
struct item *push(struct item *l, int v);
int count(const struct item *l);
void release(struct item *l);
#endif
