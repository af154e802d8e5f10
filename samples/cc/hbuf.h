/* A header allocation helper (static inline): its malloc/calloc/free
 * calls are header sites (analyzer/sites.h ht_site_list.hv) that the
 * return addresses of every includer join. */
#ifndef HBUF_H
#define HBUF_H
#include <stdlib.h>

struct hbuf {
    char *data;
    size_t n;
};

static inline struct hbuf *hbuf_new(size_t n)
{
    struct hbuf *b = malloc(sizeof *b);
    b->data = calloc(n, 1);
    b->n = n;
    return b;
}

static inline void hbuf_free(struct hbuf *b)
{
    free(b->data);
    free(b);
}

/* a folded `?:` with two calls on one line: the calloc is dead */
static inline void *hbuf_raw(size_t n)
{
    return sizeof(int) > 2 ? malloc(n) : calloc(1, n);
}

/* defined in hbuf_a.c and hbuf_b.c */
extern struct hbuf *g_keep;
size_t hbuf_a(void);
size_t hbuf_b(void);
#endif
