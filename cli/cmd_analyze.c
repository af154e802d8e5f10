/*
 * heaptrail analyze -p compile_commands.json [--format text|json]
 *
 * The static report (analyzer/analyze.h): site inventory by kind and by
 * file, type-level cycle candidates with the fields that make them, and
 * the untyped (void *) pointer fields the type graph cannot follow.
 * Refcount names come from the heaptrail-cc options (HEAPTRAIL_OPTS or a
 * config file, see analyzer/cc/cc_opts.h). Paths under the current
 * directory are printed relative to it.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>

#include "analyze.h"
#include "cc_opts.h"
#include "cli.h"

static const char analyze_usage[] =
    "usage: heaptrail analyze -p compile_commands.json [--format text|json]\n";

static const char analyze_help[] =
    "NAME\n"
    "    heaptrail analyze - what heaptrail-cc would instrument in a project\n"
    "\n"
    "SYNOPSIS\n"
    "    heaptrail analyze -p compile_commands.json [--format text|json]\n"
    "\n"
    "DESCRIPTION\n"
    "    Parses every C source of a compilation database (CMake's\n"
    "    CMAKE_EXPORT_COMPILE_COMMANDS, bear) with libclang, without building\n"
    "    anything, and prints the site inventory by kind and by file\n"
    "    (allocations, frees, indirect calls, pointer stores, stores inside\n"
    "    macros, refcount calls, functions), the type-level cycle candidates\n"
    "    with the fields that make them, and the untyped (void *) pointer\n"
    "    fields the type graph cannot follow. A file that does not parse is\n"
    "    named in a warning and counted as failed.\n"
    "\n"
    "OPTIONS\n"
    "    -p PATH         compile_commands.json, or the folder holding it.\n"
    "    --format text|json\n"
    "                    text (default) or one JSON object on one line.\n"
    "\n"
    "ENVIRONMENT\n"
    "    HEAPTRAIL_OPTS, HEAPTRAIL_CONFIG\n"
    "                    refcount function names and other heaptrail-cc\n"
    "                    options (docs/analyzer.md).\n"
    "\n"
    "EXIT STATUS\n"
    "    0 analyzed; 1 unreadable database; 2 bad usage.\n"
    "\n"
    "EXAMPLES\n"
    "    heaptrail analyze -p build --format json | jq .by_kind\n";

static char cwd[4096];

/* path relative to the cwd when it lies under it (borrowed). */
static const char *rel(const char *path)
{
    size_t n = strlen(cwd);
    if (n > 1 && strncmp(path, cwd, n) == 0 && path[n] == '/')
        return path + n + 1;
    return path;
}

static void progress(void *ctx, const struct ht_ccdb_entry *e, ht_err err)
{
    (void)ctx;
    if (err)
        fprintf(stderr, "heaptrail: warning: %s%s%s not analyzed: %s\n",
                e->file[0] == '/' ? "" : e->dir, e->file[0] == '/' ? "" : "/",
                e->file, ht_strerror(err));
}

static void text(const struct ht_analysis *a)
{
    printf("heaptrail analyze: %zu source files parsed, %zu failed\n\n"
           "sites by kind\n",
           a->units, a->failed);
    for (int c = 0; c < HT_AN_COLS; c++)
        printf("  %-16s %6u\n", ht_an_col_name(c), a->total[c]);
    int w = 4;
    for (size_t i = 0; i < a->nfiles; i++)
        if ((int)strlen(rel(a->files[i].file)) > w)
            w = (int)strlen(rel(a->files[i].file));
    printf("\nsites by file\n  %-*s", w, "file");
    for (int c = 0; c < HT_AN_COLS; c++)
        printf(" %*s", c == HT_AN_STORE_MACRO ? 14 : 6, ht_an_col_name(c));
    putchar('\n');
    for (size_t i = 0; i < a->nfiles; i++) {
        printf("  %-*s", w, rel(a->files[i].file));
        for (int c = 0; c < HT_AN_COLS; c++)
            printf(" %*u", c == HT_AN_STORE_MACRO ? 14 : 6, a->files[i].n[c]);
        putchar('\n');
    }
    printf("\ntype-level cycle candidates: %zu\n", a->cycles.n);
    for (size_t i = 0; i < a->cycles.n; i++) {
        printf("  %s\n", a->cycles.v[i].text);
        for (size_t k = 0; k < a->cycles.v[i].nedges; k++) {
            const struct ht_tg_field *f = a->cycles.v[i].edges[k];
            printf("    %s.%s -> %s%s  %s:%u\n", f->from, f->field, f->to,
                   f->embedded ? " (by value)" : "", rel(f->file), f->line);
        }
    }
    size_t nu = 0;
    for (size_t i = 0; i < a->types.n; i++)
        nu += !a->types.v[i].to;
    printf("\nuntyped pointer fields (void *, not followed): %zu\n", nu);
    for (size_t i = 0; i < a->types.n; i++)
        if (!a->types.v[i].to)
            printf("  %s.%s  %s:%u\n", a->types.v[i].from,
                   a->types.v[i].field, rel(a->types.v[i].file),
                   a->types.v[i].line);
}

/* {"type","field"[,"to","embedded"],"file","line"} of a type-graph field */
static json_t *jfield(const struct ht_tg_field *f)
{
    json_t *o = json_pack("{s:s,s:s}", "type", f->from, "field", f->field);
    if (o && f->to) {
        json_object_set_new(o, "to", json_string(f->to));
        json_object_set_new(o, "embedded", json_boolean(f->embedded));
    }
    if (o) {
        json_object_set_new(o, "file", json_string(rel(f->file)));
        json_object_set_new(o, "line", json_integer(f->line));
    }
    return o;
}

/* The analysis as one JSON line (jansson escapes every string); 1 if it
 * cannot be built or written. */
static int json(const struct ht_analysis *a)
{
    json_t *doc = json_object(), *kinds = json_object(), *files = json_array(),
           *cycles = json_array(), *untyped = json_array();
    json_object_set_new(doc, "files_parsed", json_integer((json_int_t)a->units));
    json_object_set_new(doc, "files_failed", json_integer((json_int_t)a->failed));
    for (int c = 0; c < HT_AN_COLS; c++)
        json_object_set_new(kinds, ht_an_col_name(c), json_integer(a->total[c]));
    json_object_set_new(doc, "by_kind", kinds);
    for (size_t i = 0; i < a->nfiles; i++) {
        json_t *f = json_pack("{s:s}", "file", rel(a->files[i].file));
        for (int c = 0; f && c < HT_AN_COLS; c++)
            json_object_set_new(f, ht_an_col_name(c),
                                json_integer(a->files[i].n[c]));
        json_array_append_new(files, f);
    }
    json_object_set_new(doc, "by_file", files);
    for (size_t i = 0; i < a->cycles.n; i++) {
        json_t *edges = json_array();
        for (size_t k = 0; k < a->cycles.v[i].nedges; k++)
            json_array_append_new(edges, jfield(a->cycles.v[i].edges[k]));
        json_array_append_new(cycles, json_pack("{s:s,s:o}", "cycle",
                              a->cycles.v[i].text, "edges", edges));
    }
    json_object_set_new(doc, "cycles", cycles);
    for (size_t i = 0; i < a->types.n; i++)
        if (!a->types.v[i].to)
            json_array_append_new(untyped, jfield(&a->types.v[i]));
    json_object_set_new(doc, "untyped", untyped);
    int rc = json_dumpf(doc, stdout, JSON_COMPACT | JSON_PRESERVE_ORDER);
    json_decref(doc);
    putchar('\n');
    if (rc) {
        fprintf(stderr, "heaptrail analyze: cannot write the JSON (a name"
                " that is not UTF-8?)\n");
        return 1;
    }
    return 0;
}

int cmd_analyze(int argc, char **argv)
{
    const char *db_path = NULL, *format = "text";
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
            fputs(analyze_help, stdout);
            return 0;
        }
        if (!strcmp(argv[i], "-p") && i + 1 < argc)
            db_path = argv[++i];
        else if (!strcmp(argv[i], "--format") && i + 1 < argc)
            format = argv[++i];
        else if (!strncmp(argv[i], "--format=", 9))
            format = argv[i] + 9;
        else {
            fprintf(stderr, "heaptrail analyze: unexpected argument '%s'\n%s",
                    argv[i], analyze_usage);
            return 2;
        }
    }
    if (!db_path || (strcmp(format, "text") && strcmp(format, "json"))) {
        fprintf(stderr, "%s", analyze_usage);
        return 2;
    }
    struct ht_cc_opts o;
    char err[700];
    if (ht_cc_opts_load(&o, err, sizeof err)) {
        fprintf(stderr, "heaptrail: %s\n", err);
        ht_cc_opts_free(&o);
        return 2;
    }
    struct ht_ccdb db;
    ht_err e = ht_ccdb_load(db_path, &db);
    if (e) {
        fprintf(stderr, "heaptrail: %s: %s\n", db_path,
                e == HT_ENOENT ? "no compile_commands.json there"
                : e == HT_EPARSE ? "not a readable compile_commands.json "
                                   "(or it has no entries)"
                                 : ht_strerror(e));
        ht_cc_opts_free(&o);
        return 1;
    }
    if (!getcwd(cwd, sizeof cwd))
        cwd[0] = 0;
    struct ht_site_opts so = ht_cc_opts_site_opts(&o);
    struct ht_analysis a;
    e = ht_analyze_project(&db, &so, &a, progress, NULL);
    int rc = 0;
    if (e) {
        fprintf(stderr, "heaptrail: analyze: %s\n", ht_strerror(e));
        rc = 1;
    } else if (!strcmp(format, "json")) {
        rc = json(&a);
    } else {
        text(&a);
    }
    ht_analysis_free(&a);
    ht_ccdb_free(&db);
    ht_cc_opts_free(&o);
    return rc;
}
