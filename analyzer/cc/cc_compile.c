/*
 * heaptrail-cc compile mode: instrument the one .c source of a `-c` step.
 *
 * The source is parsed with the analyzer, rewritten into a temporary copy
 * and the copy is compiled with the original flags plus -iquote <srcdir>
 * and -ffile-prefix-map=<tmpdir>=<srcdir>; -MD/-MMD depfiles get the
 * original path back. The site table goes into the object's
 * .heaptrail.sites section (cc_section.c). On any failure the caller
 * compiles the original file unchanged after exactly one warning line.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cc_argv.h"
#include "heaptrail/slurp.h"

#include "cc_colmap.h"
#include "cc_compile.h"
#include "cc_opts.h"
#include "cc_section.h"
#include "sites.h"

/* Run v (NULL-terminated) with its stderr into errfile (when not NULL)
 * and wait: its exit status, 127 if it cannot run, 128 + signal if killed. */
int ht__cc_spawn(char **v, const char *errfile)
{
    pid_t p = fork();
    if (p < 0)
        return 127;
    if (p == 0) {
        if (errfile) {
            int fd = open(errfile, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC,
                          0600);
            if (fd == 2)
                fcntl(2, F_SETFD, 0); /* stderr was closed: keep it open */
            else if (fd >= 0)
                dup2(fd, 2); /* fd itself closes at exec */
        }
        execvp(v[0], v);
        fprintf(stderr, "heaptrail-cc: cannot run %s: %s\n", v[0],
                strerror(errno));
        _exit(127);
    }
    int st;
    while (waitpid(p, &st, 0) < 0)
        if (errno != EINTR)
            return 127;
    return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}


/* Replace every occurrence of from by to in the file at path. */
static int fix_depfile(const char *path, const char *from, const char *to)
{
    size_t len;
    char *b = ht__slurp(path, &len);
    if (!b)
        return -1;
    FILE *f = fopen(path, "wb");
    if (!f) {
        free(b);
        return -1;
    }
    size_t fl = strlen(from);
    for (char *p = b; *p;) {
        char *q = strstr(p, from);
        if (!q) {
            fputs(p, f);
            break;
        }
        fwrite(p, 1, (size_t)(q - p), f);
        fputs(to, f);
        p = q + fl;
    }
    free(b);
    return fclose(f) == 0 ? 0 : -1;
}

int ht_cc_compile_instrumented(int argc, char **argv, const char *real_cc,
                               const char *rt_lib, char *reason,
                               size_t reason_sz, const char **src_out,
                               struct ht_cc_counts *counts)
{
    memset(counts, 0, sizeof *counts);
    int src = -1, has_c = 0, md = 0, xc = 0;
    const char *obj = NULL, *mf = NULL;
    *src_out = NULL;
    for (int i = 0; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "-c") == 0)
            has_c = 1;
        else if (strcmp(a, "-E") == 0 || strcmp(a, "-S") == 0 ||
                 strcmp(a, "-M") == 0 || strcmp(a, "-MM") == 0 ||
                 strcmp(a, "-") == 0)
            return HT_CC_NOT_APPLICABLE;
        else if (strcmp(a, "-x") == 0) {
            /* `-x c` names the language of any file name; others pass */
            if (i + 1 >= argc || strcmp(argv[i + 1], "c") != 0)
                return HT_CC_NOT_APPLICABLE;
            xc = 1;
        }
        else if (strcmp(a, "-MD") == 0 || strcmp(a, "-MMD") == 0)
            md = 1;
        else if (strncmp(a, "-Wp,-MD,", 8) == 0 || strncmp(a, "-Wp,-MMD,", 9) == 0) {
            md = 1; /* kbuild style: -Wp,-MD,<depfile> */
            mf = strchr(a + 5, ',') + 1;
        }
        if (ht__cc_takes_value(a) && i + 1 < argc) {
            if (strcmp(a, "-o") == 0)
                obj = argv[i + 1];
            if (strcmp(a, "-MF") == 0)
                mf = argv[i + 1];
            i++;
            continue;
        }
        size_t l = strlen(a);
        if (a[0] != '-' && (xc || (l > 2 && strcmp(a + l - 2, ".c") == 0))) {
            if (src >= 0)
                return HT_CC_NOT_APPLICABLE; /* several sources */
            src = i;
        }
    }
    if (!has_c || src < 0)
        return HT_CC_NOT_APPLICABLE;
    *src_out = argv[src];
    char err[512];
    struct ht_cc_opts o;
    if (ht_cc_opts_load(&o, err, sizeof err) != 0) {
        fprintf(stderr, "heaptrail-cc: error: %s\n", err);
        ht_cc_opts_free(&o);
        return HT_CC_BAD_OPTS;
    }
    int rc = HT_CC_FAILED;
    char *real = realpath(argv[src], NULL);
    const char *tdir = getenv("TMPDIR");
    char tmpd[4096];
    snprintf(tmpd, sizeof tmpd, "%s/heaptrail-cc-XXXXXX",
             tdir && *tdir && strlen(tdir) < 4000 ? tdir : "/tmp");
    char *objbuf = NULL, *tmpsrc = NULL, *srcdir = NULL, *errf = NULL;
    char **v = NULL, **v2 = NULL;
    int nv = 0, have_tmp = 0;
    struct ht_site_list l;
    memset(&l, 0, sizeof l);
    if (!real) {
        snprintf(reason, reason_sz, "cannot resolve the source path");
        goto out;
    }
    if (!mkdtemp(tmpd)) {
        snprintf(reason, reason_sz, "cannot create a temporary directory");
        goto out;
    }
    have_tmp = 1;
    const char **fa = calloc((size_t)argc + 2, sizeof *fa);
    if (!fa)
        goto oom;
    fa[0] = real_cc;
    for (int i = 0; i < argc; i++)
        fa[i + 1] = argv[i];
    struct ht_site_opts so = ht_cc_opts_site_opts(&o);
    ht_err e = ht_sites_find(fa, argc + 1, NULL, &so, &l);
    free(fa);
    if (e) {
        snprintf(reason, reason_sz, "%s", ht_strerror(e));
        goto out;
    }
    const char *base = strrchr(real, '/') + 1;
    srcdir = strndup(real, (size_t)(base - real - 1));
    if (asprintf(&tmpsrc, "%s/%s", tmpd, base) < 0)
        tmpsrc = NULL;
    if (asprintf(&errf, "%s/stderr", tmpd) < 0)
        errf = NULL;
    if (!srcdir || !tmpsrc || !errf)
        goto oom;
    e = ht_rewrite_file(&l, tmpsrc);
    if (e) {
        snprintf(reason, reason_sz, "rewrite failed: %s", ht_strerror(e));
        goto out;
    }
    ht__cc_map_cols(&l, tmpsrc);
    e = ht__cc_embed_sites(&l, tmpd, tmpsrc);
    if (e) {
        snprintf(reason, reason_sz, "cannot embed the site table: %s",
                 ht_strerror(e));
        goto out;
    }
    char *saved = argv[src];
    argv[src] = tmpsrc;
    e = ht_cc_build_argv(argc, argv, real_cc, rt_lib, &v, &nv);
    argv[src] = saved;
    if (e)
        goto oom;
    v2 = calloc((size_t)nv + 5, sizeof *v2);
    char *iq = NULL, *pm = NULL, *dg = NULL;
    /* the options' digest on the command line: a cache keyed by it
     * (ccache behind heaptrail-cc) misses when the options change */
    if (!v2 || asprintf(&pm, "-ffile-prefix-map=%s=%s", tmpd, srcdir) < 0)
        goto oom;
    if (asprintf(&dg, "-D__HEAPTRAIL_OPTS__=0x%016llx",
                 (unsigned long long)ht_cc_opts_digest(&o)) < 0) {
        free(pm);
        goto oom;
    }
    iq = srcdir;
    memcpy(v2, v, (size_t)nv * sizeof *v2);
    v2[nv] = "-iquote";
    v2[nv + 1] = iq;
    v2[nv + 2] = pm;
    v2[nv + 3] = dg;
    v2[nv + 4] = NULL;
    int st = ht__cc_spawn(v2, errf);
    free(pm);
    free(dg);
    if (st != 0) {
        snprintf(reason, reason_sz, "the rewritten file did not compile");
        goto out;
    }
    size_t elen;
    char *emsg = ht__slurp(errf, &elen);
    if (emsg) {
        fwrite(emsg, 1, elen, stderr);
        free(emsg);
    }
    if (!obj) {
        size_t bl = strlen(base);
        objbuf = malloc(bl + 1);
        if (!objbuf)
            goto oom;
        memcpy(objbuf, base, bl - 1);
        strcpy(objbuf + bl - 1, "o");
        obj = objbuf;
    }
    if (md) {
        char *d = NULL;
        if (!mf) {
            const char *dot = strrchr(obj, '.');
            size_t k = dot && !strchr(dot, '/') ? (size_t)(dot - obj)
                                                  : strlen(obj);
            if (asprintf(&d, "%.*s.d", (int)k, obj) < 0)
                goto oom;
        }
        int bad = fix_depfile(mf ? mf : d, tmpsrc, real);
        free(d);
        if (bad) {
            snprintf(reason, reason_sz, "cannot fix up the depfile");
            goto out;
        }
    }
    for (size_t i = 0; i < l.n; i++) {
        enum ht_site_kind k = l.v[i].kind;
        if ((k == HT_SITE_STORE || k == HT_SITE_INCREF ||
             k == HT_SITE_DECREF) && !l.v[i].rewritable)
            counts->unrecorded++;
    }
    counts->splice_failed = l.n_splice_failed;
    rc = HT_CC_DONE;
    goto out;
oom:
    snprintf(reason, reason_sz, "out of memory");
out:
    if (have_tmp) {
        if (tmpsrc)
            unlink(tmpsrc);
        if (errf)
            unlink(errf);
        rmdir(tmpd);
    }
    ht_sites_free(&l);
    free(v);
    free(v2);
    free(real);
    free(objbuf);
    free(tmpsrc);
    free(srcdir);
    free(errf);
    ht_cc_opts_free(&o);
    return rc;
}
