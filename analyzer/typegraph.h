/*
 * Type-level cycle candidates (heaptrail analyze).
 *
 * A graph of struct/union types: a field S.f whose type is T *, T **, an
 * array of T * (typedefs looked through), or a T held by value, gives an
 * edge S -> T. A cycle of this graph is a shape of heap object graph that
 * CAN form a reference cycle (node.next -> node); a type-level candidate,
 * not a finding. `void *` fields cannot be followed: they are listed as
 * untyped instead. Types declared in system headers are left out.
 *
 * The graph is filled from each parsed translation unit (set
 * ht_site_opts.types before ht_sites_find) and merged by type name, so a
 * struct defined in a header shared by many units appears once.
 *
 * Ownership: a struct ht_typegraph owns all its strings and arrays; release
 * it with ht_typegraph_free(). A struct ht_tg_cycles owns its arrays; its
 * field pointers borrow from the graph.
 *
 * Invariants: 1. (from, field) pairs are distinct; 2. every edge has
 * to != NULL unless untyped; 3. line >= 1.
 */
#ifndef HT_ANALYZER_TYPEGRAPH_H
#define HT_ANALYZER_TYPEGRAPH_H

#include <stddef.h>

#include "heaptrail/err.h"

struct ht_tg_field {
    char *from;   /* record type name ("node", or a typedef name) */
    char *field;  /* field name */
    char *to;     /* pointed-to / embedded record type, NULL if untyped */
    char *file;   /* where the field is declared */
    unsigned line;
    int embedded; /* by value (no pointer on the way) */
};

struct ht_typegraph {
    struct ht_tg_field *v;
    size_t n, cap;
    size_t nrecords; /* record definitions seen (all units, with repeats) */
    ht_err err;      /* first allocation failure while filling, or HT_OK */
};

/* One strongly connected component with a cycle: its edges (borrowed
 * from the graph) and one shortest cycle through its first type, as text
 * ("a.b → b.a → a"; owned). */
struct ht_tg_cycle {
    char *text;
    const struct ht_tg_field **edges;
    size_t nedges;
};

struct ht_tg_cycles {
    struct ht_tg_cycle *v;
    size_t n;
};

/* The cycle candidates of g, sorted by text (zeroed on failure). */
ht_err ht_typegraph_cycles(const struct ht_typegraph *g,
                           struct ht_tg_cycles *out);

void ht_tg_cycles_free(struct ht_tg_cycles *c);
void ht_typegraph_free(struct ht_typegraph *g);

#endif
