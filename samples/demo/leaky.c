/*
 * The demo: a small linked-list program with known heap behaviour.
 *   - builds a list of 100 nodes (each a 32-byte node + a strdup'd name),
 *   - frees the first 90 nodes and their names,
 *   - forgets the last 10 nodes: 10 nodes (320 bytes) and 10 names leak,
 *   - one 4096-byte buffer is allocated and freed (it sets the peak).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct node {
    struct node *next;
    char *name;
    long value;
    long pad;
};

static struct node *push(struct node *head, int i)
{
    struct node *n = malloc(sizeof *n);
    char buf[32];
    snprintf(buf, sizeof buf, "node-%03d", i);
    n->name = strdup(buf);
    n->value = i;
    n->next = head;
    return n;
}

int main(void)
{
    struct node *head = NULL;
    for (int i = 0; i < 100; i++)
        head = push(head, i);
    char *scratch = malloc(4096);
    snprintf(scratch, 4096, "built %d nodes", 100);
    puts(scratch); /* used, so the compiler cannot elide the buffer */
    free(scratch);
    /* free the 90 most recent nodes, then lose the rest */
    for (int i = 0; i < 90; i++) {
        struct node *next = head->next;
        free(head->name);
        free(head);
        head = next;
    }
    head = NULL;
    puts("demo done");
    return 0;
}
