/*
 * heaptrail-cc build driver: every shape of compiler command a build system
 * sends to $CC, reduced to the one shape cc_compile.c instruments (one C
 * source, `-c`, explicit `-o`) plus the real compiler for everything else.
 *
 *   passthrough  -E, -S, -M, -MM, `-o -`, stdin input, no input: the real
 *                compiler with the old argv (cc_argv.c adds -g etc.); this is
 *                also what ccache's preprocessing run gets.
 *   compile      `-c` with N inputs: each C source compiled instrumented to
 *                the object the compiler would have named (its -o when N==1,
 *                else <basename>.o in the cwd), other inputs (.S, .s, ...)
 *                compiled by the real compiler, one command per input.
 *   link         no -c: each C source compiled instrumented to a temporary
 *                object (unique mkdtemp directory: parallel builds share
 *                nothing), then the original command with those objects in
 *                place of the sources, plus the wraps and the runtime. The
 *                site tables ride along inside the objects (cc_section.c):
 *                the linker concatenates them into the output.
 *
 * Invariants:
 *   1. a C source is compiled exactly once, instrumented or (after one
 *      warning line) as is; the build never fails because of heaptrail;
 *   2. the temporary directory holds only files this process created and is
 *      removed before returning;
 *   3. the build sees no file it did not ask for.
 *
 * HEAPTRAIL_NO_REWRITE=1 makes every command a passthrough (link mode only).
 * $HEAPTRAIL_CC_LOG, if set, gets one line per C source:
 * "instrumented\t<src>\tunrecorded=U\tsplice_failed=F" (U store/refcount
 * sites left as written, F macro invocations whose expansion could
 * not be matched) or "fallback\t<src>\t<reason>" (one write(2) with
 * O_APPEND, so parallel compiles do not interleave).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cc_argv.h"
#include "cc_compile.h"
#include "cc_driver.h"

static int has_suffix(const char *s, const char *suf)
{
    size_t l = strlen(s), k = strlen(suf);
    return l > k && strcmp(s + l - k, suf) == 0;
}

/* Options only the link step needs (dropped from per-source compiles). */
static int link_only(const char *a)
{
    return strncmp(a, "-l", 2) == 0 || strncmp(a, "-L", 2) == 0 ||
           strncmp(a, "-Wl,", 4) == 0 || strcmp(a, "-Xlinker") == 0 ||
           strcmp(a, "-T") == 0 || strcmp(a, "-u") == 0 ||
           strcmp(a, "-z") == 0;
}

void ht__cc_cmd_free(struct ht_cc_cmd *cmd)
{
    if (!cmd)
        return;
    free(cmd->copts);
    free(cmd->in);
    memset(cmd, 0, sizeof *cmd);
}

/* Classify one option a (value v or NULL) into cmd. */
static void parse_opt(struct ht_cc_cmd *c, const char *a, const char *v,
                      const char **lang)
{
    if (strcmp(a, "-c") == 0)
        c->compile_only = 1;
    else if (!strcmp(a, "-E") || !strcmp(a, "-S") || !strcmp(a, "-M") ||
             !strcmp(a, "-MM"))
        c->passthrough = 1;
    else if (!strcmp(a, "-MD") || !strcmp(a, "-MMD"))
        c->md = 1;
    else if (!strcmp(a, "-MF"))
        c->has_mf = 1;
    else if (!strcmp(a, "-MT") || !strcmp(a, "-MQ"))
        c->has_mt = 1;
    if (strcmp(a, "-o") == 0) {
        c->out = v;
        if (v && strcmp(v, "-") == 0)
            c->passthrough = 1;
        return;
    }
    if (strcmp(a, "-x") == 0 || (strncmp(a, "-x", 2) == 0 && a[2])) {
        const char *l = a[2] ? a + 2 : v;
        *lang = l && strcmp(l, "none") != 0 ? l : NULL;
        return;
    }
    if (link_only(a))
        return;
    c->copts[c->ncopts++] = a;
    if (v)
        c->copts[c->ncopts++] = v;
}

int ht__cc_parse(int argc, char **argv, struct ht_cc_cmd *c)
{
    memset(c, 0, sizeof *c);
    c->copts = calloc((size_t)argc + 1, sizeof *c->copts);
    c->in = calloc((size_t)argc + 1, sizeof *c->in);
    if (!c->copts || !c->in) {
        ht__cc_cmd_free(c);
        return -1;
    }
    const char *lang = NULL;
    for (int i = 0; i < argc; i++) {
        const char *a = argv[i];
        if (a[0] != '-' || strcmp(a, "-") == 0) {
            if (strcmp(a, "-") == 0)
                c->passthrough = 1; /* stdin */
            struct ht_cc_input *in = &c->in[c->nin++];
            in->path = a;
            in->lang = lang;
            in->is_c = lang ? strcmp(lang, "c") == 0 : has_suffix(a, ".c");
            continue;
        }
        const char *v = NULL;
        if (ht__cc_takes_value(a) && i + 1 < argc)
            v = argv[++i];
        parse_opt(c, a, v, &lang);
    }
    if (c->nin == 0 || (c->compile_only && c->nin > 1 && c->out))
        c->passthrough = 1; /* nothing to do, or gcc's own error message */
    return 0;
}

/* Append one line to $HEAPTRAIL_CC_LOG (if set) with a single write. */
static void log_line(const char *what, const char *src, const char *reason)
{
    const char *path = getenv("HEAPTRAIL_CC_LOG");
    if (!path || !*path)
        return;
    char *line = NULL;
    int n = asprintf(&line, "%s\t%s%s%s\n", what, src, reason ? "\t" : "",
                     reason ? reason : "");
    if (n < 0)
        return;
    int fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    if (fd >= 0) {
        ssize_t w = write(fd, line, (size_t)n);
        (void)w;
        close(fd);
    }
    free(line);
}

/* The real compiler on argv as is (cc_argv.c rules), waited for. */
static int run_plain(int argc, char **argv, const char *real_cc,
                     const char *rt_lib)
{
    char **v;
    int n;
    if (ht_cc_build_argv(argc, argv, real_cc, rt_lib, &v, &n) != HT_OK) {
        fprintf(stderr, "heaptrail-cc: out of memory\n");
        return 1;
    }
    if (getenv("HEAPTRAIL_CC_VERBOSE")) {
        for (int i = 0; i < n; i++)
            fprintf(stderr, "%s%s", i ? " " : "", v[i]);
        fputc('\n', stderr);
    }
    int st = ht__cc_spawn(v, NULL);
    free(v);
    return st;
}

/* Compile the one-source `-c` command argv: instrumented, else as is after
 * one warning line. Exit status. */
static int compile_one(int argc, char **argv, const char *real_cc,
                       const char *rt_lib)
{
    char reason[600];
    const char *src = NULL;
    struct ht_cc_counts cnt;
    int r = ht_cc_compile_instrumented(argc, argv, real_cc, rt_lib, reason,
                                       sizeof reason, &src, &cnt);
    if (r == HT_CC_DONE) {
        snprintf(reason, sizeof reason, "unrecorded=%zu\tsplice_failed=%zu",
                 cnt.unrecorded, cnt.splice_failed);
        log_line("instrumented", src, reason);
        return 0;
    }
    if (r == HT_CC_BAD_OPTS)
        return 2;
    if (r == HT_CC_FAILED) {
        fprintf(stderr, "heaptrail-cc: warning: %s not instrumented: %s\n",
                src, reason);
        log_line("fallback", src, reason);
    }
    return run_plain(argc, argv, real_cc, rt_lib);
}

/* Per-source argv: copts [-x LANG] -c SRC [-o OBJ] [extra...] into v
 * (capacity ncopts + 12). Returns its length. */
static int source_argv(const struct ht_cc_cmd *c, const struct ht_cc_input *in,
                       const char *obj, const char *const *extra, char **v)
{
    int n = 0;
    for (int i = 0; i < c->ncopts; i++)
        v[n++] = (char *)c->copts[i];
    if (in->lang) {
        v[n++] = "-x";
        v[n++] = (char *)in->lang;
    }
    v[n++] = "-c";
    v[n++] = (char *)in->path;
    if (obj) {
        v[n++] = "-o";
        v[n++] = (char *)obj;
    }
    for (int i = 0; extra && extra[i]; i++)
        v[n++] = (char *)extra[i];
    v[n] = NULL;
    return n;
}

static int drive_compile(int argc, char **argv, const struct ht_cc_cmd *c,
                         const char *real_cc, const char *rt_lib)
{
    char **v = calloc((size_t)c->ncopts + 12, sizeof *v);
    if (!v) {
        fprintf(stderr, "heaptrail-cc: out of memory\n");
        return 1;
    }
    int status = 0;
    for (int i = 0; i < c->nin && status == 0; i++) {
        const struct ht_cc_input *in = &c->in[i];
        if (c->nin == 1) { /* the common case: the argv exactly as given */
            status = in->is_c ? compile_one(argc, argv, real_cc, rt_lib)
                              : run_plain(argc, argv, real_cc, rt_lib);
            break;
        }
        int n = source_argv(c, in, NULL, NULL, v);
        status = in->is_c ? compile_one(n, v, real_cc, rt_lib)
                          : run_plain(n, v, real_cc, rt_lib);
    }
    free(v);
    return status;
}

/* ---- link ------------------------------------------------------------------ */

/* The link argv: the original with C sources replaced by objs[], `-x`
 * options dropped (re-added around non-C inputs that had one) and the
 * depfile options dropped. */
static char **link_argv(int argc, char **argv, const struct ht_cc_cmd *c,
                        char **objs, int *out_n)
{
    char **v = calloc((size_t)argc + 4 * (size_t)c->nin + 1, sizeof *v);
    if (!v)
        return NULL;
    int n = 0, k = 0;
    for (int i = 0; i < argc; i++) {
        const char *a = argv[i];
        if (a[0] != '-') {
            const struct ht_cc_input *in = &c->in[k];
            if (objs[k])
                v[n++] = objs[k];
            else if (in->lang) {
                v[n++] = "-x";
                v[n++] = (char *)in->lang;
                v[n++] = argv[i];
                v[n++] = "-x";
                v[n++] = "none";
            } else
                v[n++] = argv[i];
            k++;
            continue;
        }
        if (strcmp(a, "-x") == 0) {
            i++;
            continue;
        }
        if (strncmp(a, "-x", 2) == 0 && a[2])
            continue;
        /* the per-source compiles wrote the depfile; a .S in the link
         * command must not overwrite it */
        if (!strcmp(a, "-MD") || !strcmp(a, "-MMD") || !strcmp(a, "-MP"))
            continue;
        if (!strcmp(a, "-MF") || !strcmp(a, "-MT") || !strcmp(a, "-MQ")) {
            i++;
            continue;
        }
        v[n++] = argv[i];
        if (ht__cc_takes_value(a) && i + 1 < argc)
            v[n++] = argv[++i];
    }
    *out_n = n;
    return v;
}

static void rm_tmpdir(const char *dir, char **objs, int nin)
{
    for (int i = 0; i < nin; i++) {
        if (!objs[i])
            continue;
        unlink(objs[i]);
        free(objs[i]);
    }
    rmdir(dir);
}

static int drive_link(int argc, char **argv, const struct ht_cc_cmd *c,
                      const char *real_cc, const char *rt_lib)
{
    int nc = 0;
    for (int i = 0; i < c->nin; i++)
        nc += c->in[i].is_c;
    if (nc == 0) /* link only: nothing to instrument */
        return run_plain(argc, argv, real_cc, rt_lib);
    const char *td = getenv("TMPDIR");
    char *dir = NULL;
    char **objs = calloc((size_t)c->nin + 1, sizeof *objs);
    char **v = calloc((size_t)c->ncopts + 12, sizeof *v);
    char *mf = NULL;
    int status = 1, have_dir = 0;
    if (!objs || !v ||
        asprintf(&dir, "%s/heaptrail-cc-link-XXXXXX", td && *td ? td : "/tmp") < 0)
        goto oom;
    if (!mkdtemp(dir)) {
        fprintf(stderr, "heaptrail-cc: cannot create a temporary directory: %s\n",
                strerror(errno));
        goto out;
    }
    have_dir = 1;
    /* -MD in a compile-and-link command: gcc writes "<output stem>.d" with
     * the output as target; each per-source compile does the same. */
    const char *extra[5] = {NULL};
    if (c->md && c->out) {
        int e = 0;
        if (!c->has_mf) {
            const char *dot = strrchr(c->out, '.'), *sl = strrchr(c->out, '/');
            int k = dot && (!sl || dot > sl) ? (int)(dot - c->out) : (int)strlen(c->out);
            if (asprintf(&mf, "%.*s.d", k, c->out) < 0)
                goto oom;
            extra[e++] = "-MF";
            extra[e++] = mf;
        }
        if (!c->has_mt) {
            extra[e++] = "-MT";
            extra[e++] = c->out;
        }
    }
    status = 0;
    for (int i = 0; i < c->nin && status == 0; i++) {
        const struct ht_cc_input *in = &c->in[i];
        if (!in->is_c)
            continue;
        const char *b = strrchr(in->path, '/');
        if (asprintf(&objs[i], "%s/%d-%s.o", dir, i, b ? b + 1 : in->path) < 0) {
            objs[i] = NULL;
            goto oom;
        }
        int n = source_argv(c, in, objs[i], extra, v);
        status = compile_one(n, v, real_cc, rt_lib);
    }
    if (status == 0) {
        int n;
        char **lv = link_argv(argc, argv, c, objs, &n);
        if (!lv)
            goto oom;
        status = run_plain(n, lv, real_cc, rt_lib);
        free(lv);
    }
    goto out;
oom:
    fprintf(stderr, "heaptrail-cc: out of memory\n");
    status = 1;
out:
    if (have_dir)
        rm_tmpdir(dir, objs, c->nin);
    free(objs);
    free(v);
    free(dir);
    free(mf);
    return status;
}

int ht_cc_drive(int argc, char **argv, const char *real_cc, const char *rt_lib)
{
    struct ht_cc_cmd c;
    if (ht__cc_parse(argc, argv, &c) != 0) {
        fprintf(stderr, "heaptrail-cc: out of memory\n");
        return 1;
    }
    int st;
    if (c.passthrough || getenv("HEAPTRAIL_NO_REWRITE"))
        st = run_plain(argc, argv, real_cc, rt_lib);
    else if (c.compile_only)
        st = drive_compile(argc, argv, &c, real_cc, rt_lib);
    else
        st = drive_link(argc, argv, &c, real_cc, rt_lib);
    ht__cc_cmd_free(&c);
    return st;
}
