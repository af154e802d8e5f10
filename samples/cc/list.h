/* samples/cc: a list split over several files (heaptrail-cc build shapes). */
struct node {
    struct node *next;
    int v;
};
struct node *list_push(struct node *head, int v);
int list_free(struct node *head);
int twice(int x); /* twice.S */
