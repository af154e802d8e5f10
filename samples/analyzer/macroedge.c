/* Stores in macros for test_sites.c (test_macro_edges): which invocations
 * the rewriter expands, and that the expanded copy keeps every line
 * (_Static_assert on __LINE__) and compiles with -Wall -Wextra -Werror. */
#include <stddef.h>

#include "macroedge.h"

struct node {
    struct node *next;
    const char *name;
};

#define LINK(a, b) ((a)->next = (b)) /* a comment, with ( */
#define L LINK
#define NAME(p, v) ((p)->name = #v)
#define FIRST(p, ...) ((p)->next = (p) __VA_ARGS__)
#define IFSET(p, v) if (p) (p)->next = (v); else (void)0
#define EACH(p) for (struct node *q_ = (p); q_; q_ = NULL) q_->next = q_

void edges(struct node *a, struct node *b)
{
    HLINK(a, b);          /* 22: defined in a header */
    L(a, b);              /* 23: refused: LINK's name comes from L */
    NAME(a, x);           /* 24: refused: # */
    FIRST(a);             /* 25: empty __VA_ARGS__ */
    FIRST(a, ->next);     /* 26 */
    LINK(a, /* two
    lines */ b);          /* 27-28 */
    LINK(a, "(,"[0] ? b : NULL); /* 29 */
    IFSET(a, b);          /* 30 */
    EACH(b);              /* 31 */
    _Static_assert(__LINE__ == 32, "lines are kept");
}
_Static_assert(__LINE__ == 34, "lines are kept");
