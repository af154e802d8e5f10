/*
 * Site tables at ingest: heaptrail-cc puts each object's site table (TSV
 * rows) into its ".heaptrail.sites" ELF section and the linker concatenates
 * them, so every program and shared object it links carries the table of
 * its objects (analyzer/cc/cc_section.c); a "<module path>.htsites" file
 * with the same rows is read when the module has no such section. For each
 * module of a run this imports the table into `sites` and joins the run's
 * return addresses to them: pcs.site_id is the alloc/free/icall site with the same
 * (file, line, compiled column), and the joined pcs.col becomes the site's
 * source column (see ccol below).
 *
 * Why the join is exact: the analyzer records the expansion location of the
 * call (absolute real path, line, column of the callee name, or of the macro
 * name for a call expanded from a macro) and gcc's DWARF line table gives
 * the same position for the call instruction the return address follows,
 * except that the rewriter shifts calls that follow an instrumented store on
 * the same line: the table's ccol column is the call's column in the
 * compiled copy (analyzer/cc/cc_colmap.c) (heaptrail-cc compiles with -g -fno-optimize-sibling-calls
 * and maps the rewritten copy's directory back with -ffile-prefix-map, so
 * file names are the original absolute paths). docs/analyzer.md lists the
 * cases where they differ.
 *
 * Invariants:
 *   1. sites rows are keyed by the analyzer's site id; re-importing the same
 *      table (several runs of one program) changes nothing (INSERT OR IGNORE);
 *   2. only pcs of this run whose site_id is NULL are updated: first by the
 *      exact (file, line, compiled column), then, for pcs still unjoined,
 *      to the only alloc/free/icall site of their (file, line) if there is
 *      exactly one (gcc gives some calls another column, docs/analyzer.md);
 *      rows with ccol 0 (calls in a never-selected `?:` branch) join nothing;
 *      a pc's file is compared by its real path (map_real_paths);
 *   3. a missing or unreadable table is not an error: the run simply has no
 *      sites (programs not built by heaptrail-cc, stripped installs).
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <gelf.h>
#include <libelf.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "store_priv.h"

/* Written by heaptrail-cc (analyzer/cc/cc_section.c). */
#define HT_SITES_SECTION ".heaptrail.sites"

/* id kind file line col func macro type field rewritable [ccol] */
enum { NFIELDS = 11 };

/* Split line (modified in place) at tabs into f[]; the number of fields. */
static int split_tsv(char *line, char **f)
{
    int n = 0;
    line[strcspn(line, "\r\n")] = 0;
    for (char *p = line; n < NFIELDS; n++) {
        f[n] = p;
        p = strchr(p, '\t');
        if (!p)
            return n + 1;
        *p++ = 0;
    }
    return n;
}

/* Insert the rows of one table (text, NUL-terminated, modified) with the
 * prepared statements ins (into sites) and cc (call sites' compiled columns
 * into temp.ht_ccol). */
static ht_err import_text(ht_store *st, sqlite3_stmt *ins, sqlite3_stmt *cc,
                          char *text)
{
    char *fld[NFIELDS], *save = NULL;
    for (char *line = strtok_r(text, "\n", &save); line;
         line = strtok_r(NULL, "\n", &save)) {
        int nf = split_tsv(line, fld);
        if (nf < 9 || strcmp(fld[0], "id") == 0)
            continue;
        char *end;
        unsigned long long id = strtoull(fld[0], &end, 10);
        if (*end || id >> 63)
            continue; /* not a site row */
        sqlite3_bind_int64(ins, 1, (sqlite3_int64)id);
        for (int k = 1; k < 9; k++) {
            if (k == 3 || k == 4)
                sqlite3_bind_int64(ins, k + 1, strtoll(fld[k], NULL, 10));
            else
                sqlite3_bind_text(ins, k + 1, fld[k], -1, SQLITE_TRANSIENT);
        }
        if (sqlite3_step(ins) != SQLITE_DONE)
            return ht__store_sqlerr(st, "storing sites");
        sqlite3_reset(ins);
        /* ccol 0: a call that never runs (dead `?:` branch) joins nothing */
        if ((strcmp(fld[1], "alloc") && strcmp(fld[1], "free") &&
             strcmp(fld[1], "icall")) || (nf > 10 && !strcmp(fld[10], "0")))
            continue;
        sqlite3_bind_int64(cc, 1, (sqlite3_int64)id);
        sqlite3_bind_text(cc, 2, fld[2], -1, SQLITE_TRANSIENT);
        sqlite3_bind_int64(cc, 3, strtoll(fld[3], NULL, 10));
        sqlite3_bind_int64(cc, 4, strtoll(nf > 10 ? fld[10] : fld[4], NULL, 10));
        if (sqlite3_step(cc) != SQLITE_DONE)
            return ht__store_sqlerr(st, "storing sites");
        sqlite3_reset(cc);
    }
    return HT_OK;
}

/* The module's site table: its ELF section HT_SITES_SECTION, else the
 * file "<path>.htsites"; malloc'd NUL-terminated text, or NULL (none, or
 * unreadable: invariant 3). */
static char *module_sites(const char *path)
{
    char *text = NULL;
    struct stat sb;
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
    if (fd >= 0 && (fstat(fd, &sb) != 0 || !S_ISREG(sb.st_mode))) {
        close(fd); /* a recorded module path may name anything */
        fd = -1;
    }
    if (fd >= 0) {
        elf_version(EV_CURRENT);
        Elf *elf = elf_begin(fd, ELF_C_READ, NULL);
        size_t shstrndx;
        if (elf && elf_getshdrstrndx(elf, &shstrndx) == 0) {
            Elf_Scn *scn = NULL;
            while (!text && (scn = elf_nextscn(elf, scn))) {
                GElf_Shdr sh;
                const char *name;
                Elf_Data *d;
                if (!gelf_getshdr(scn, &sh) || sh.sh_type != SHT_PROGBITS ||
                    !(name = elf_strptr(elf, shstrndx, sh.sh_name)) ||
                    strcmp(name, HT_SITES_SECTION) != 0 ||
                    !(d = elf_getdata(scn, NULL)) || !d->d_buf)
                    continue;
                if ((text = malloc(d->d_size + 1))) {
                    memcpy(text, d->d_buf, d->d_size);
                    text[d->d_size] = 0;
                }
            }
        }
        elf_end(elf);
        close(fd);
    }
    if (text)
        return text;
    char *p = NULL;
    size_t cap = 0;
    if (asprintf(&p, "%s.htsites", path) < 0)
        return NULL;
    FILE *f = stat(p, &sb) == 0 && S_ISREG(sb.st_mode) ? fopen(p, "r") : NULL;
    free(p);
    if (f) {
        ssize_t n = getdelim(&text, &cap, 0, f); /* whole file */
        if (n < 0) {
            free(text);
            text = NULL;
        }
        fclose(f);
    }
    return text;
}

/* pcs.file as the real path when map_real_paths mapped it (a header reached
 * as "src/../inc/x.h" through a relative -I: DWARF keeps that spelling,
 * the site table has the real path) */
#define RF "coalesce((SELECT m.real FROM temp.ht_fmap m" \
           " WHERE m.file = pcs.file), pcs.file)"

/* Fill temp.ht_fmap with (file, realpath) for the run's unjoined pcs files
 * whose real path differs (files gone since the run keep their name). */
static ht_err map_real_paths(ht_store *st, int64_t run_id)
{
    ht_err e = ht_store_exec(st,
        "CREATE TEMP TABLE IF NOT EXISTS ht_fmap(file TEXT PRIMARY KEY,"
        " real TEXT); DELETE FROM temp.ht_fmap;");
    sqlite3_stmt *q = NULL, *ins = NULL;
    if (e != HT_OK)
        return e;
    if (sqlite3_prepare_v2(st->db, "SELECT DISTINCT file FROM pcs WHERE"
                           " run_id = ? AND site_id IS NULL AND file IS NOT"
                           " NULL", -1, &q, NULL) != SQLITE_OK ||
        sqlite3_prepare_v2(st->db, "INSERT OR IGNORE INTO temp.ht_fmap"
                           " VALUES(?, ?)", -1, &ins, NULL) != SQLITE_OK) {
        e = ht__store_sqlerr(st, "mapping source paths");
        goto out;
    }
    sqlite3_bind_int64(q, 1, run_id);
    int rc;
    while ((rc = sqlite3_step(q)) == SQLITE_ROW) {
        const char *f = (const char *)sqlite3_column_text(q, 0);
        char *real = f ? realpath(f, NULL) : NULL;
        if (real && strcmp(real, f) != 0) {
            sqlite3_bind_text(ins, 1, f, -1, SQLITE_TRANSIENT);
            sqlite3_bind_text(ins, 2, real, -1, SQLITE_TRANSIENT);
            rc = sqlite3_step(ins);
            sqlite3_reset(ins);
        }
        free(real);
        if (rc != SQLITE_ROW && rc != SQLITE_DONE)
            break;
    }
    if (rc != SQLITE_DONE)
        e = ht__store_sqlerr(st, "mapping source paths");
out:
    sqlite3_finalize(q);
    sqlite3_finalize(ins);
    return e;
}

/*
 * Import the site tables of every module of run run_id and set the run's
 * pcs.site_id. Runs inside the caller's transaction. Errors: HT_ESQL (the
 * message in ht_store_last_error()), HT_ENOMEM.
 */
ht_err ht__sites_import(ht_store *st, int64_t run_id)
{
    sqlite3_stmt *mods = NULL, *ins = NULL, *cc = NULL;
    ht_err e = ht_store_exec(st,
        "CREATE TEMP TABLE IF NOT EXISTS ht_ccol(site_id INTEGER PRIMARY KEY,"
        " file TEXT, line INTEGER, ccol INTEGER);"
        "CREATE INDEX IF NOT EXISTS temp.ht_ccol_loc ON ht_ccol(file, line, ccol);"
        "DELETE FROM temp.ht_ccol;");
    if (e != HT_OK)
        return e;
    if (sqlite3_prepare_v2(st->db, "SELECT DISTINCT path FROM modules "
                           "WHERE run_id=? AND path IS NOT NULL",
                           -1, &mods, NULL) != SQLITE_OK ||
        sqlite3_prepare_v2(st->db, "INSERT OR IGNORE INTO sites "
                           "VALUES(?,?,?,?,?,?,?,?,?)", -1, &ins,
                           NULL) != SQLITE_OK ||
        sqlite3_prepare_v2(st->db, "INSERT OR IGNORE INTO temp.ht_ccol "
                           "VALUES(?,?,?,?)", -1, &cc, NULL) != SQLITE_OK) {
        e = ht__store_sqlerr(st, "storing sites");
        goto out;
    }
    sqlite3_bind_int64(mods, 1, run_id);
    int rc;
    while ((rc = sqlite3_step(mods)) == SQLITE_ROW && e == HT_OK) {
        char *text = module_sites((const char *)sqlite3_column_text(mods, 0));
        if (text)
            e = import_text(st, ins, cc, text);
        free(text);
    }
    if (e == HT_OK && rc != SQLITE_DONE && rc != SQLITE_ROW)
        e = ht__store_sqlerr(st, "reading modules");
    if (e != HT_OK)
        goto out;
    e = map_real_paths(st, run_id);
    if (e != HT_OK)
        goto out;
    /* join on the compiled column, then show the source column */
    char sql[2048];
    snprintf(sql, sizeof sql,
             "UPDATE pcs SET site_id = (SELECT min(c.site_id) FROM temp.ht_ccol c"
             " WHERE c.file = " RF " AND c.line = pcs.line AND c.ccol = pcs.col)"
             " WHERE run_id = %lld AND site_id IS NULL AND file IS NOT NULL;"
             /* gcc moved the column (e.g. a call in a folded `?:`): the
              * only call site of that line */
             "UPDATE pcs SET site_id = (SELECT min(c.site_id) FROM temp.ht_ccol c"
             " WHERE c.file = " RF " AND c.line = pcs.line)"
             " WHERE run_id = %lld AND site_id IS NULL AND file IS NOT NULL"
             " AND (SELECT count(*) FROM temp.ht_ccol c"
             " WHERE c.file = " RF " AND c.line = pcs.line) = 1;"
             "UPDATE pcs SET col = (SELECT s.col FROM sites s"
             " WHERE s.site_id = pcs.site_id)"
             " WHERE run_id = %lld AND site_id IS NOT NULL;"
             "DELETE FROM temp.ht_ccol;",
             (long long)run_id, (long long)run_id, (long long)run_id);
    e = ht_store_exec(st, sql);
out:
    sqlite3_finalize(mods);
    sqlite3_finalize(ins);
    sqlite3_finalize(cc);
    return e;
}
