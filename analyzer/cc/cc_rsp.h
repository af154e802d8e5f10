/*
 * heaptrail-cc response files (`@file`), expanded as gcc does: see
 * cc_rsp.c for the rules.
 */
#ifndef HEAPTRAIL_CC_RSP_H
#define HEAPTRAIL_CC_RSP_H

#include <stddef.h>

struct ht_cc_args {
    char **v;      /* NULL-terminated; strings borrowed from argv or owned */
    int n;
    char **owned;  /* the strings that came from files (owned) */
    size_t nowned, cowned; /* cowned: capacity of owned */
};

/* argv[0..argc) with every readable `@file` replaced by its arguments
 * (recursively) into *a. Returns 0, or -1 (out of memory) with *a zeroed.
 * Release with ht__cc_args_free. */
int ht__cc_expand_args(int argc, char **argv, struct ht_cc_args *a);

/* Split a response file's text into arguments (gcc's quoting): *out is a
 * malloc'd array of *n malloc'd strings (caller frees both). -1 on out of
 * memory (*out NULL, *n 0). */
int ht__cc_split_rsp(const char *text, char ***out, int *n);

/* Release what a owns; accepts NULL. */
void ht__cc_args_free(struct ht_cc_args *a);

#endif
