/*
 * End-to-end: samples/analyzer/graph.c compiled by heaptrail-cc (options
 * from a .heaptrail-cc.conf in the build directory), linked, run; every
 * ALLOC/FREE/STORE/INCREF/DECREF event in its spill is rendered with the
 * program's own names for addresses ("a+24") and the site table's kind and
 * line for site ids, and the whole sequence is compared exactly with what
 * the program did.
 */
#include "../support/sites_section.h"
#include <inttypes.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "an_util.h"

#include "heaptrail/spill.h"
#include "tests/support/spill_read.h"

#define MAXEV 256
#define MAXSITES 128

struct named {
    const char *name;
    uintptr_t addr;
};
struct sitename {
    uint64_t id;
    char text[64];
};

static struct ht_rec evs[MAXEV];
static size_t nev;
static struct sitename sites[MAXSITES];
static size_t nsites;

static int by_seq(const void *a, const void *b)
{
    const struct ht_rec *x = a, *y = b;
    return x->seq < y->seq ? -1 : x->seq > y->seq;
}

/* All heap-graph events of the single spill of trace, in seq order. */
static void read_spill(const char *trace)
{
    size_t n;
    int nsp;
    struct ht_rec *r = ht_test_spill_read(trace, &n, &nsp);
    assert_non_null(r);
    assert_int_equal(nsp, 1);
    nev = 0;
    for (size_t i = 0; i < n; i++)
        if (r[i].kind >= HT_EV_ALLOC && r[i].kind <= HT_EV_DECREF &&
            r[i].kind != HT_EV_REALLOC) {
            assert_true(nev < MAXEV);
            evs[nev++] = r[i];
        }
    free(r);
    qsort(evs, nev, sizeof *evs, by_seq);
}

/* dir/g.o's site table (its .heaptrail.sites section) dumped to the file
 * dir/g.o.htsites, whose path is written to p. */
static void dump_sites(const char *dir, char *p, size_t n)
{
    char obj[600];
    snprintf(obj, sizeof obj, "%s/g.o", dir);
    snprintf(p, n, "%s/g.o.htsites", dir);
    assert_int_equal(ht_test_dump_sites(obj, p), 0);
}

/* id -> "kind:line" or "kind:line:MACRO" from a site table. */
static void read_sites(const char *path)
{
    FILE *f = fopen(path, "r");
    assert_non_null(f);
    char line[8192];
    nsites = 0;
    assert_non_null(fgets(line, sizeof line, f)); /* header */
    while (fgets(line, sizeof line, f)) {
        char kind[16];
        unsigned ln;
        uint64_t id;
        char file[4096];
        assert_int_equal(sscanf(line, "%" SCNu64 "\t%15s\t%4095s\t%u", &id,
                                kind, file, &ln), 4);
        assert_true(nsites < MAXSITES);
        /* column 7: macro (columns may be empty: split by hand) */
        const char *mac = line;
        for (int k = 0; k < 6 && mac; k++)
            if ((mac = strchr(mac, '\t')) != NULL)
                mac++;
        assert_non_null(mac);
        int ml = (int)strcspn(mac, "\t");
        sites[nsites].id = id;
        snprintf(sites[nsites].text, sizeof sites[nsites].text, "%s:%u%s%.*s",
                 kind, ln, ml ? ":" : "", ml, mac);
        nsites++;
    }
    fclose(f);
}

static const char *site_text(const struct ht_rec *r)
{
    if (!(r->flags & HT_EVF_SITE))
        return "pc";
    for (size_t i = 0; i < nsites; i++)
        if (sites[i].id == r->d)
            return sites[i].text;
    return "unknown-site";
}

/* name or name+off of the nearest named address at or below v. */
static void name_of(uint64_t v, const struct named *nm, size_t n, char *out,
                    size_t outsz)
{
    const struct named *best = NULL;
    for (size_t i = 0; i < n; i++)
        if (nm[i].addr <= v && v - nm[i].addr < 64 &&
            (!best || nm[i].addr > best->addr))
            best = &nm[i];
    if (v == 0)
        snprintf(out, outsz, "0");
    else if (!best)
        snprintf(out, outsz, "?");
    else if (v == best->addr)
        snprintf(out, outsz, "%s", best->name);
    else
        snprintf(out, outsz, "%s+%u", best->name, (unsigned)(v - best->addr));
}

/* sample of samples/analyzer compiled by heaptrail-cc in dir (which
 * holds its .heaptrail-cc.conf) to g.o without any diagnostic, linked to
 * g and run with the trace g.db; its stdout (an_slurp's buffer). */
static char *build_run(const char *dir, const char *sample)
{
    char cmd[4096], p[600];
    snprintf(cmd, sizeof cmd,
             "cd '%s' && unset HEAPTRAIL_OPTS HEAPTRAIL_CONFIG; "
             "HEAPTRAIL_REAL_CC='%s' '%s' -c -O1 -Wall -Wextra -Wshadow "
             "-Werror -I'%s' '%s/%s' -o g.o 2> err.txt && "
             "HEAPTRAIL_REAL_CC='%s' '%s' -o g g.o && "
             "HEAPTRAIL_TRACE='%s/g.db' ./g > out.txt",
             dir, HT_CC, HT_CC_WRAPPER, HT_SAMPLE_SRC, HT_SAMPLE_SRC, sample,
             HT_CC, HT_CC_WRAPPER, dir);
    assert_int_equal(system(cmd), 0);
    snprintf(p, sizeof p, "%s/err.txt", dir);
    assert_string_equal(an_slurp(p), "");
    snprintf(p, sizeof p, "%s/out.txt", dir);
    char *out = an_slurp(p);
    assert_non_null(out);
    return out;
}

/* The events of dir/g.db into got, one line each, with the addresses
 * named by nm[0..nn) and the site ids by dir/g.o.htsites. */
static void render(const char *dir, const struct named *nm, size_t nn,
                   char *got)
{
    char p[600];
    dump_sites(dir, p, sizeof p);
    read_sites(p);
    snprintf(p, sizeof p, "%s/g.db", dir);
    read_spill(p);
    got[0] = 0;
    for (size_t i = 0; i < nev; i++) {
        const struct ht_rec *r = &evs[i];
        char x[64], y[64], z[64], line[300];
        name_of(r->a, nm, nn, x, sizeof x);
        name_of(r->b, nm, nn, y, sizeof y);
        name_of(r->c, nm, nn, z, sizeof z);
        if (r->kind == HT_EV_ALLOC)
            snprintf(line, sizeof line, "alloc %s %" PRIu64 " @%s\n", x, r->b,
                     site_text(r));
        else if (r->kind == HT_EV_STORE)
            snprintf(line, sizeof line, "store %s %s %s @%s\n", x, y, z,
                     site_text(r));
        else
            snprintf(line, sizeof line, "%s %s @%s\n",
                     ht_event_kind_name(r->kind), x, site_text(r));
        strcat(got, line);
    }
}

/* The site table line of a store of sample at line:col (macro, field,
 * rewritable) must be in dir/g.o.htsites. */
static void has_store_site(const char *dir, const char *sample,
                           unsigned line, unsigned col, const char *macro,
                           const char *type, const char *field, int rw)
{
    char p[600], path[600], real[4096], want[4400];
    dump_sites(dir, p, sizeof p);
    snprintf(path, sizeof path, "%s/%s", HT_SAMPLE_SRC, sample);
    assert_non_null(realpath(path, real));
    snprintf(want, sizeof want, "\tstore\t%s\t%u\t%u\tmain\t%s\t%s\t%s\t%d\t",
             real, line, col, macro, type, field, rw);
    char *t = an_slurp(p);
    assert_non_null(t);
    assert_non_null(strstr(t, want));
}

/* mkdtemp(dir) holding a .heaptrail-cc.conf with text conf. */
static void conf_dir(char *dir, const char *conf)
{
    assert_non_null(mkdtemp(dir));
    char p[600];
    snprintf(p, sizeof p, "%s/.heaptrail-cc.conf", dir);
    FILE *f = fopen(p, "w");
    assert_non_null(f);
    fputs(conf, f);
    assert_int_equal(fclose(f), 0);
}

static void rm_dir(const char *dir)
{
    char cmd[700];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    assert_int_equal(system(cmd), 0);
}

static void test_graph(void **state)
{
    (void)state;
    char dir[] = "/tmp/ht_graph_XXXXXX";
    conf_dir(dir, "# graph.c's refcount API and pool allocator\n"
                  "--refcount-inc=obj_incref\n--refcount-dec=obj_decref\n"
                  "--alloc-fn pool_alloc:size=2   # (pool, size)\n"
                  "--free-fn=pool_free:ptr=2\n");
    char *out = build_run(dir, "graph.c");
    void *a, *b, *arr, *o, *g;
    assert_int_equal(sscanf(out, "a=%p b=%p arr=%p o=%p g_root=%p\nrc=2\n", &a,
                            &b, &arr, &o, &g), 5);
    assert_non_null(strstr(out, "\nrc=2\n"));
    const struct named nm[] = {{"a", (uintptr_t)a},     {"b", (uintptr_t)b},
                               {"arr", (uintptr_t)arr}, {"o", (uintptr_t)o},
                               {"g_root", (uintptr_t)g}};
    char got[8192];
    render(dir, nm, 5, got);
    /* graph.c line by line; LINK(b, a) (line 65) is a store in a macro
     * body, recorded through the expansion of the invocation */
    assert_string_equal(got, "alloc a 32 @pc\n"           /* MAKE: macro */
                             "alloc b 32 @pc\n"           /* fn pointer */
                             "alloc arr 16 @pc\n"
                             "alloc o 8 @alloc:56\n"      /* --alloc-fn */
                             "store a b 0 @store:61\n"    /* -> */
                             "store a 0 b @store:62\n"    /* * */
                             "store arr+8 a 0 @store:63\n" /* [] */
                             "store g_root b 0 @store:64\n" /* global */
                             "store b a 0 @store:65:LINK\n" /* macro body */
                             "store b+16 a 0 @store:45\n" /* via setter */
                             "store a+24 o 0 @store:67\n"
                             "incref o @incref:68\n"      /* static inline */
                             "incref o @incref:69:HOLD\n" /* HOLD's body */
                             "decref o @decref:70\n"
                             "store a+24 0 o @store:71\n"
                             "free o @free:72\n"          /* --free-fn */
                             "free arr @pc\n"
                             "free b @pc\n"
                             "free a @pc\n");
    has_store_site(dir, "graph.c", 65, 5, "LINK", "struct node", "next", 1);
    rm_dir(dir);
}

/* macrostores.c: every store written in a macro (body or argument) is
 * recorded once, with the slot, new and old value, and a site naming the
 * outermost macro invoked in the file; ## pasting is refused. */
static void test_macro_stores(void **state)
{
    (void)state;
    char dir[] = "/tmp/ht_mstores_XXXXXX";
    conf_dir(dir, "# no options\n");
    char *out = build_run(dir, "macrostores.c");
    void *a, *b, *l, *buf, *g;
    assert_int_equal(sscanf(out, "a=%p b=%p l=%p buf=%p g_root=%p\n", &a, &b,
                            &l, &buf, &g), 5);
    /* pick() ran once (LINK(pick(a), NULL)); LINK's value is its right
     * operand, NULL */
    assert_non_null(strstr(out, "\ncalls=1 r=1\n"));
    const struct named nm[] = {{"a", (uintptr_t)a},     {"b", (uintptr_t)b},
                               {"l", (uintptr_t)l},     {"buf", (uintptr_t)buf},
                               {"g_root", (uintptr_t)g}};
    char got[8192];
    render(dir, nm, 5, got);
    assert_string_equal(got, "alloc a 16 @pc\n"
                             "alloc b 16 @pc\n"
                             "alloc l 16 @pc\n"
                             "alloc buf 8 @pc\n"
                             "store a+8 buf 0 @store:46\n"
                             "store g_root a 0 @store:47\n"
                             "store a b 0 @store:48:LINK\n"
                             "store b 0 0 @store:49:PUSH\n" /* 2 lines */
                             "store l b 0 @store:49:PUSH\n"
                             "store a+8 0 buf @store:51:RESET\n"
                             "store b a 0 @store:52:RELINK\n" /* nested */
                             "store b+8 0 0 @store:52:RELINK\n"
                             "store g_root 0 a @store:53:ROOTLESS\n"
                             "store a 0 b @store:54:SET\n" /* argument */
                             "store b 0 a @store:55:SETV\n" /* variadic */
                             "store a b 0 @store:55:SETV\n"
                             "store a 0 b @store:56:LINK\n"
                             "store a b 0 @store:57:LINK\n" /* the value */
                             "store l b b @store:57\n"      /* of this */
                             "free buf @pc\n"
                             "free l @pc\n"
                             "free b @pc\n"
                             "free a @pc\n");
    has_store_site(dir, "macrostores.c", 58, 5, "SETF", "struct list",
                   "tail_ptr", 0);
    rm_dir(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_graph),
        cmocka_unit_test(test_macro_stores),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
