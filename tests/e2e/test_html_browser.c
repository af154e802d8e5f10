/* E2E: the HTML report of the demo tour loaded in headless Chromium. The
 * page's script must run without a console message (it sets
 * data-rendered="1" when every section is drawn), the plots must be in the
 * DOM with one path point per snapshot, and the screenshot must not be
 * blank (decoded with zlib, counted by colour). Exit 77 (skip) when no
 * chromium is installed (scripts/install-deps.sh installs it). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>
#include <cmocka.h>

#include "e2e_util.h"
#include "heaptrail/report.h"

static char chromium[512];
static char dir[512], html[600], png[600], profile[600];

static int find_chromium(void)
{
    const char *env = getenv("HT_CHROMIUM");
    if (env && access(env, X_OK) == 0) {
        snprintf(chromium, sizeof chromium, "%s", env);
        return 0;
    }
    const char *names[] = {"/usr/bin/chromium", "/usr/bin/chromium-browser",
                           "/usr/lib/chromium/chromium"};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        if (access(names[i], X_OK) == 0) {
            snprintf(chromium, sizeof chromium, "%s", names[i]);
            return 0;
        }
    return -1;
}

static size_t count(const char *hay, const char *needle)
{
    size_t n = 0;
    for (const char *p = hay; (p = strstr(p, needle)); p++)
        n++;
    return n;
}

/* Load page in headless chromium (profile: a --user-data-dir= option) and
 * capture the DOM after its scripts ran, and the browser's log. */
static int dump_dom(const char *page, const char *profile_opt, char *dom,
                    size_t n, char *err, size_t en)
{
    char *argv[] = {chromium, "--headless", "--disable-gpu", "--no-sandbox",
                    "--no-first-run", (char *)profile_opt,
                    "--enable-logging=stderr", "--v=0", "--dump-dom",
                    (char *)page, NULL};
    return e2e_run2(argv, NULL, dom, n, err, en);
}

static uint32_t be32(const unsigned char *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static int paeth(int a, int b, int c)
{
    int p = a + b - c, pa = abs(p - a), pb = abs(p - b), pc = abs(p - c);
    return pa <= pb && pa <= pc ? a : pb <= pc ? b : c;
}

/* Decode an 8-bit RGB/RGBA PNG; returns the number of distinct colours (up
 * to 4096) and in *fg the share of pixels unlike the top-left one. */
static int png_colours(const char *path, int *w_out, int *h_out, double *fg)
{
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    fseek(f, 0, SEEK_END);
    long len = ftell(f);
    fseek(f, 0, SEEK_SET);
    unsigned char *buf = malloc((size_t)len);
    assert_int_equal(fread(buf, 1, (size_t)len, f), (size_t)len);
    fclose(f);
    assert_memory_equal(buf, "\x89PNG\r\n\x1a\n", 8);
    uint32_t w = 0, h = 0, bpp = 0;
    unsigned char *idat = NULL;
    size_t ilen = 0;
    for (long p = 8; p + 12 <= len;) {
        uint32_t n = be32(buf + p);
        const unsigned char *t = buf + p + 4, *d = buf + p + 8;
        assert_true(p + 12 + (long)n <= len);
        if (!memcmp(t, "IHDR", 4)) {
            w = be32(d);
            h = be32(d + 4);
            assert_int_equal(d[8], 8); /* bit depth */
            assert_true(d[9] == 2 || d[9] == 6);
            assert_int_equal(d[12], 0); /* not interlaced */
            bpp = d[9] == 6 ? 4 : 3;
        } else if (!memcmp(t, "IDAT", 4)) {
            idat = realloc(idat, ilen + n);
            memcpy(idat + ilen, d, n);
            ilen += n;
        }
        p += 12 + (long)n;
    }
    assert_true(w > 0 && h > 0 && ilen > 0);
    size_t stride = (size_t)w * bpp;
    uLongf rawlen = (uLongf)((stride + 1) * h);
    unsigned char *raw = malloc(rawlen);
    assert_int_equal(uncompress(raw, &rawlen, idat, (uLong)ilen), Z_OK);
    assert_int_equal(rawlen, (stride + 1) * h);
    unsigned char *img = calloc(stride * h, 1);
    for (uint32_t y = 0; y < h; y++) {
        const unsigned char *src = raw + y * (stride + 1) + 1;
        unsigned char *cur = img + y * stride, *up = y ? cur - stride : NULL;
        int ft = src[-1];
        assert_true(ft <= 4);
        for (size_t x = 0; x < stride; x++) {
            int a = x >= bpp ? cur[x - bpp] : 0, b = up ? up[x] : 0;
            int c = x >= bpp && up ? up[x - bpp] : 0;
            int pred = ft == 1 ? a : ft == 2 ? b : ft == 3 ? (a + b) / 2
                     : ft == 4 ? paeth(a, b, c) : 0;
            cur[x] = (unsigned char)(src[x] + pred);
        }
    }
    uint32_t seen[4096] = {0};
    int ncol = 0;
    size_t differ = 0;
    for (size_t i = 0; i < (size_t)w * h; i++) {
        const unsigned char *px = img + i * bpp;
        uint32_t rgb = (uint32_t)px[0] << 16 | (uint32_t)px[1] << 8 | px[2];
        if (memcmp(px, img, 3))
            differ++;
        uint32_t k = (rgb * 2654435761u) >> 20;
        while (ncol < 4000 && seen[k] && seen[k] != rgb + 1)
            k = (k + 1) & 4095;
        if (ncol < 4000 && !seen[k]) {
            seen[k] = rgb + 1;
            ncol++;
        }
    }
    *w_out = (int)w;
    *h_out = (int)h;
    *fg = (double)differ / ((double)w * h);
    free(buf);
    free(idat);
    free(raw);
    free(img);
    return ncol;
}

static void test_report_in_browser(void **state)
{
    (void)state;
    snprintf(dir, sizeof dir, "%s", e2e_tmpdir("browser"));
    snprintf(html, sizeof html, "%s/report.html", dir);
    snprintf(png, sizeof png, "%s/shot.png", dir);
    snprintf(profile, sizeof profile, "--user-data-dir=%s/profile", dir);
    static char out[1 << 16];
    char *demo[] = {HT_BIN_DIR "/heaptrail", "demo", "-o", dir, NULL};
    assert_int_equal(e2e_run(demo, NULL, out, sizeof out), 0);

    /* scripts run; the DOM after them */
    static char dom[8 << 20], err[1 << 20];
    assert_int_equal(dump_dom(html, profile, dom, sizeof dom, err, sizeof err), 0);
    if (strstr(err, "CONSOLE") || strstr(err, "Uncaught"))
        fail_msg("console output from the report's script:\n%s", err);
    assert_non_null(strstr(dom, "data-rendered=\"1\""));
    /* every section drawn: 2 + 1 + 1 line charts (4 series paths), the peak
     * marker, both pool maps, the icicle, the cycle with its 3 nodes and 3
     * edges, and the leak table's 3 definite groups */
    assert_int_equal(count(dom, "class=\"series\""), 4);
    assert_int_equal(count(dom, "class=\"peak\""), 1);
    assert_int_equal(count(dom, "class=\"poolmap\" data-kind=\"peak\""), 1);
    assert_int_equal(count(dom, "class=\"poolmap\" data-kind=\"exit\""), 1);
    assert_int_equal(count(dom, "class=\"flame\""), 1);
    assert_int_equal(count(dom, "class=\"cyclegraph\" data-cycle=\"1\""), 1);
    assert_int_equal(count(dom, "class=\"node\""), 3);
    assert_int_equal(count(dom, "class=\"edge\""), 3);
    assert_int_equal(count(dom, "<td class=\" kind-definite\">definite</td>"), 3);
    /* the live-heap path has one point per snapshot, plus the exact peak */
    char db[600];
    snprintf(db, sizeof db, "%s/trace.db", dir);
    ht_store *st = NULL;
    assert_int_equal(ht_store_open(db, HT_STORE_READONLY, &st), HT_OK);
    long snaps = atol(e2e_sql1(st, "SELECT count(*) FROM frag_snapshots"));
    ht_store_close(st);
    assert_true(snaps >= 200 && snaps <= 1100);
    const char *path = strstr(dom, "<path d=\"M");
    assert_non_null(path);
    const char *end = strchr(path + 9, '"');
    long points = 1;
    for (const char *p = path + 9; p < end; p++)
        points += *p == 'L';
    assert_int_equal(points, snaps + 1);

    /* a screenshot that is not blank */
    char shot[700];
    snprintf(shot, sizeof shot, "--screenshot=%s", png);
    char *ss[] = {chromium, "--headless", "--disable-gpu", "--no-sandbox",
                  "--no-first-run", profile, "--hide-scrollbars",
                  "--window-size=1140,2400", shot, html, NULL};
    assert_int_equal(e2e_run2(ss, NULL, out, sizeof out, err, sizeof err), 0);
    int w, h;
    double fg;
    int ncol = png_colours(png, &w, &h, &fg);
    assert_int_equal(w, 1140);
    assert_int_equal(h, 2400);
    assert_true(ncol >= 32);   /* text, plot lines, map hues */
    assert_true(fg > 0.10);    /* more than the background */
    if (getenv("HT_KEEP_SCREENSHOT"))
        fprintf(stderr, "screenshot kept: %s (%d colours, %.0f %% non-background)\n",
                png, ncol, fg * 100);
    else
        e2e_rmtree(dir);
}

/* Hostile strings in the trace stay text in the browser; a page with only
 * some tables (no replay snapshots) still renders. */
static void test_hostile_strings_in_browser(void **state)
{
    (void)state;
    char hdir[512], db[600], page[600], prof[600];
    snprintf(hdir, sizeof hdir, "%s", e2e_tmpdir("browser-hostile"));
    snprintf(db, sizeof db, "%s/t.db", hdir);
    snprintf(page, sizeof page, "%s/r.html", hdir);
    snprintf(prof, sizeof prof, "--user-data-dir=%s/profile", hdir);
    ht_store *st = NULL;
    assert_int_equal(ht_store_open(db, HT_STORE_CREATE, &st), HT_OK);
    assert_int_equal(ht_store_exec(st,
        "INSERT INTO runs(run_id, pid, argv, status, complete) VALUES(1, 7,"
        " '</script><script>console.error(\"pwned\")</script><b>x</b>',"
        " 'exited', 1);"
        "INSERT INTO pcs(run_id, pc, file, line, func) VALUES(1, 4096,"
        " '<img src=x onerror=console.error(1)>.c', 3, '<i>f</i>');"
        "CREATE TABLE site_stats(run_id, pc, allocs, bytes_allocated, frees,"
        " live_blocks, live_bytes);"
        "INSERT INTO site_stats VALUES(1, 4096, 2, 64, 1, 1, 32);"
        "CREATE TABLE churn(run_id, pc, size, allocs, frees, max_live, short_lived);"
        "INSERT INTO churn VALUES(1, 4096, 32, 10, 9, 1, 9);"), HT_OK);
    FILE *f = fopen(page, "w");
    assert_non_null(f);
    struct ht_report rep;
    assert_int_equal(ht_report_load(st, 1, NULL, &rep), HT_OK);
    assert_int_equal(ht_report_html(st, &rep, f), HT_OK);
    ht_report_free(&rep);
    fclose(f);
    ht_store_close(st);
    static char dom[1 << 20], err[1 << 18];
    assert_int_equal(dump_dom(page, prof, dom, sizeof dom, err, sizeof err), 0);
    if (strstr(err, "CONSOLE") || strstr(err, "Uncaught"))
        fail_msg("console output from the page:\n%s", err);
    assert_non_null(strstr(dom, "data-rendered=\"1\""));
    /* the strings are text nodes: serialised escaped, never as elements */
    assert_non_null(strstr(dom, "&lt;/script&gt;&lt;script&gt;console.error("));
    assert_null(strstr(dom, "<b>x</b>"));
    assert_null(strstr(dom, "<img"));
    assert_null(strstr(dom, "<i>f</i>"));
    assert_int_equal(count(dom, "class=\"flame\""), 1);
    assert_int_equal(count(dom, "id=\"sec-churn\""), 1);
    assert_int_equal(count(dom, "class=\"series\""), 0); /* no snapshots */
    e2e_rmtree(hdir);
}

int main(void)
{
    if (find_chromium()) {
        fprintf(stderr, "SKIP: no chromium found (apt-get install chromium, "
                        "or run scripts/install-deps.sh)\n");
        return 77;
    }
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_report_in_browser),
        cmocka_unit_test(test_hostile_strings_in_browser),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
