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

#include "analyze.h"
#include "cc_opts.h"
#include "cli.h"

static const char analyze_usage[] =
    "usage: heaptrail analyze -p compile_commands.json [--format text|json]\n";

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

static void jstr(const char *s)
{
    putchar('"');
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\')
            printf("\\%c", c);
        else if (c < 0x20)
            printf("\\u%04x", c);
        else
            putchar(c);
    }
    putchar('"');
}

static void jfield(const struct ht_tg_field *f)
{
    printf("{\"type\":");
    jstr(f->from);
    printf(",\"field\":");
    jstr(f->field);
    if (f->to) {
        printf(",\"to\":");
        jstr(f->to);
        printf(",\"embedded\":%s", f->embedded ? "true" : "false");
    }
    printf(",\"file\":");
    jstr(rel(f->file));
    printf(",\"line\":%u}", f->line);
}

static void json(const struct ht_analysis *a)
{
    printf("{\"files_parsed\":%zu,\"files_failed\":%zu,\"by_kind\":{",
           a->units, a->failed);
    for (int c = 0; c < HT_AN_COLS; c++)
        printf("%s\"%s\":%u", c ? "," : "", ht_an_col_name(c), a->total[c]);
    printf("},\"by_file\":[");
    for (size_t i = 0; i < a->nfiles; i++) {
        printf("%s{\"file\":", i ? "," : "");
        jstr(rel(a->files[i].file));
        for (int c = 0; c < HT_AN_COLS; c++)
            printf(",\"%s\":%u", ht_an_col_name(c), a->files[i].n[c]);
        putchar('}');
    }
    printf("],\"cycles\":[");
    for (size_t i = 0; i < a->cycles.n; i++) {
        printf("%s{\"cycle\":", i ? "," : "");
        jstr(a->cycles.v[i].text);
        printf(",\"edges\":[");
        for (size_t k = 0; k < a->cycles.v[i].nedges; k++) {
            if (k)
                putchar(',');
            jfield(a->cycles.v[i].edges[k]);
        }
        printf("]}");
    }
    printf("],\"untyped\":[");
    int first = 1;
    for (size_t i = 0; i < a->types.n; i++)
        if (!a->types.v[i].to) {
            if (!first)
                putchar(',');
            first = 0;
            jfield(&a->types.v[i]);
        }
    printf("]}\n");
}

int cmd_analyze(int argc, char **argv)
{
    const char *db_path = NULL, *format = "text";
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
            fputs(analyze_usage, stdout);
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
    if (e) {
        cli_error("analyze", e);
    } else {
        if (!strcmp(format, "json"))
            json(&a);
        else
            text(&a);
    }
    ht_analysis_free(&a);
    ht_ccdb_free(&db);
    ht_cc_opts_free(&o);
    return e ? 1 : 0;
}
