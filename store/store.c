/*
 * Trace file: open/create, schema, queries, result inserts.
 *
 * Invariants:
 *   T1. meta('schema_version') exists in every trace and is <= HT_SCHEMA_VERSION
 *       for any trace this build writes to; a newer one is refused (HT_EVERSION).
 *   T2. chunks of one run are numbered 0..n-1 and hold disjoint increasing
 *       seq ranges; (run_id, chunk_no) order is event order.
 *   T3. Every error from SQLite is translated here or in ingest.c/reader.c and
 *       its message kept in ht_store_last_error().
 *   W1. st->wal_owed is set exactly while this handle keeps the trace in
 *       rollback-journal mode: a trace it created, from the open (DECISIONS
 *       26), or a transaction of ht_store_begin_append (36; with
 *       synchronous=FULL). Either ends in back_to_wal (WAL +
 *       synchronous=NORMAL): at the commit or rollback that ends the
 *       transaction, or at ht_store_close. ht_store_begin_append on a handle
 *       that owes WAL is already in that state and changes nothing.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "heaptrail/alloc.h"
#include "store_priv.h"

static _Thread_local char last_error[1024];

const char *ht_store_last_error(void) { return last_error; }

void ht__store_set_error(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(last_error, sizeof last_error, fmt, ap);
    va_end(ap);
}

ht_err ht__store_sqlerr(ht_store *st, const char *what)
{
    ht__store_set_error("%s: %s", what, st && st->db ? sqlite3_errmsg(st->db) : "?");
    return HT_ESQL;
}

static const char *const schema_sql =
    "CREATE TABLE IF NOT EXISTS meta(key TEXT PRIMARY KEY, value);"
    "CREATE TABLE IF NOT EXISTS runs("
    " run_id INTEGER PRIMARY KEY, pid INTEGER, ppid INTEGER, parent_pid INTEGER,"
    " program TEXT, argv TEXT, cwd TEXT, start_ns INTEGER, end_ns INTEGER,"
    " exit_status INTEGER, signal INTEGER, status TEXT, complete INTEGER,"
    " events INTEGER, torn INTEGER, overflow_events INTEGER, spill TEXT);"
    "CREATE TABLE IF NOT EXISTS modules("
    " run_id INTEGER, module_id INTEGER, path TEXT, bias INTEGER, lo INTEGER,"
    " hi INTEGER, data_lo INTEGER, data_hi INTEGER,"
    " PRIMARY KEY(run_id, module_id)) WITHOUT ROWID;"
    "CREATE TABLE IF NOT EXISTS pcs("
    " run_id INTEGER, pc INTEGER, module_id INTEGER, file TEXT, line INTEGER,"
    " col INTEGER, func TEXT, site_id INTEGER,"
    " PRIMARY KEY(run_id, pc)) WITHOUT ROWID;"
    "CREATE TABLE IF NOT EXISTS sites("
    " site_id INTEGER PRIMARY KEY, kind TEXT, file TEXT, line INTEGER,"
    " col INTEGER, func TEXT, macro TEXT, type TEXT, field TEXT);"
    "CREATE TABLE IF NOT EXISTS chunks("
    " run_id INTEGER, chunk_no INTEGER, first_seq INTEGER, last_seq INTEGER,"
    " nevents INTEGER, codec TEXT, data BLOB,"
    " PRIMARY KEY(run_id, chunk_no));"; /* a rowid table: DECISIONS 28 */

static ht_err check_schema(ht_store *st, int create)
{
    sqlite3_stmt *s = NULL;
    int rc = sqlite3_prepare_v2(st->db,
        "SELECT value FROM meta WHERE key='schema_version'", -1, &s, NULL);
    if (rc != SQLITE_OK) {
        const char *msg = sqlite3_errmsg(st->db);
        if (!msg)
            msg = "unknown SQLite error";
        int code = sqlite3_errcode(st->db);
        if (code == SQLITE_NOTADB) {
            ht__store_set_error("not a SQLite database");
            return HT_ENOTTRACE;
        }
        if (code == SQLITE_CORRUPT) {
            ht__store_set_error("database disk image is malformed");
            return HT_ECORRUPT;
        }
        if (strstr(msg, "no such table") && create)
            return HT_ENOTFOUND; /* fresh file */
        ht__store_set_error("%s", msg);
        return strstr(msg, "no such table") ? HT_ENOTTRACE : HT_ESQL;
    }
    rc = sqlite3_step(s);
    ht_err err = HT_OK;
    if (rc == SQLITE_ROW) {
        int v = sqlite3_column_int(s, 0);
        if (v > HT_SCHEMA_VERSION) {
            ht__store_set_error("trace schema version %d is newer than this "
                                "heaptrail (%d); upgrade heaptrail", v,
                                HT_SCHEMA_VERSION);
            err = HT_EVERSION;
        } else if (v < 1) {
            ht__store_set_error("bad schema version %d", v);
            err = HT_ECORRUPT;
        }
    } else if (rc == SQLITE_DONE) {
        ht__store_set_error("meta table has no schema_version");
        err = create ? HT_ENOTFOUND : HT_ENOTTRACE;
    } else {
        int code = sqlite3_errcode(st->db);
        ht__store_set_error("%s", sqlite3_errmsg(st->db));
        err = code == SQLITE_CORRUPT ? HT_ECORRUPT : HT_ESQL;
    }
    sqlite3_finalize(s);
    return err;
}

static ht_err create_schema(ht_store *st)
{
    char *msg = NULL;
    char sql[4096];
    snprintf(sql, sizeof sql,
             "BEGIN;%sINSERT OR REPLACE INTO meta VALUES('schema_version',%d);"
             "INSERT OR REPLACE INTO meta VALUES('created_by','heaptrail');"
             "COMMIT;", schema_sql, HT_SCHEMA_VERSION);
    if (sqlite3_exec(st->db, sql, NULL, NULL, &msg) != SQLITE_OK) {
        ht__store_set_error("creating schema: %s", msg ? msg : "?");
        sqlite3_free(msg);
        sqlite3_exec(st->db, "ROLLBACK", NULL, NULL, NULL);
        return HT_ESQL;
    }
    return HT_OK;
}

/* A transaction in rollback-journal mode (a first ingest, a replay:
 * DECISIONS 26, 36) killed mid-way leaves a hot journal next to the trace.
 * A read-only connection cannot roll it back (SQLite answers "attempt to
 * write a readonly database"), so a read-only open first lets a read-write
 * connection do it: that restores the trace as it was before the killed
 * transaction, which is what the reader would see anyway. A user who cannot
 * write the trace (SQLite opens it read-only and refuses the rollback) or
 * its directory (the journal cannot be deleted) gets HT_EPERM and what to
 * do, not SQLite's puzzling message from the reader; any other failure is
 * left for the reader's own open to report. */
static ht_err roll_back_hot_journal(const char *path)
{
    char jpath[4096];
    struct stat sb;
    if (snprintf(jpath, sizeof jpath, "%s-journal", path) >= (int)sizeof jpath ||
        stat(jpath, &sb) != 0 || sb.st_size == 0)
        return HT_OK;
    sqlite3 *db = NULL;
    ht_err err = HT_OK;
    if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOFOLLOW,
                        NULL) == SQLITE_OK) {
        sqlite3_extended_result_codes(db, 1);
        sqlite3_busy_timeout(db, 10000);
        /* the first read of the schema rolls a hot journal back */
        int rc = sqlite3_exec(db, "SELECT count(*) FROM sqlite_master", NULL,
                              NULL, NULL);
        if ((rc & 0xff) == SQLITE_READONLY || rc == SQLITE_IOERR_DELETE) {
            ht__store_set_error(
                "%s: a heaptrail process was killed while writing this "
                "trace; undoing its unfinished change (%s) needs write "
                "permission on the trace and its directory: run any "
                "heaptrail command on it once as a user who has that "
                "(e.g. heaptrail sql %s 'SELECT 1') (SQLite: %s)",
                path, jpath, path, sqlite3_errmsg(db));
            err = HT_EPERM;
        }
    }
    sqlite3_close(db);
    return err;
}

ht_err ht_store_open(const char *path, int flags, ht_store **out)
{
    *out = NULL;
    struct stat sb;
    if (lstat(path, &sb) == 0 && S_ISLNK(sb.st_mode)) {
        /* SQLITE_OPEN_NOFOLLOW below refuses it too; say why */
        ht__store_set_error("%s: is a symbolic link; heaptrail never follows "
                            "one to a trace (give the real path)", path);
        return HT_EINVAL;
    }
    int exists = stat(path, &sb) == 0;
    if (!exists && !(flags & HT_STORE_CREATE)) {
        ht__store_set_error("%s: no such trace file", path);
        return HT_ENOENT;
    }
    if (exists && !S_ISREG(sb.st_mode)) {
        ht__store_set_error("%s: not a regular file", path);
        return HT_ENOTTRACE;
    }
    ht_store *st = calloc(1, sizeof *st);
    if (!st)
        return HT_ENOMEM;
    st->readonly = (flags & HT_STORE_READONLY) != 0;
    ht_err err = st->readonly ? roll_back_hot_journal(path) : HT_OK;
    if (err != HT_OK)
        goto fail;
    int oflags = st->readonly ? SQLITE_OPEN_READONLY
                              : SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE;
    oflags |= SQLITE_OPEN_NOFOLLOW;
    /* an ht_store is used by one thread: no per-call connection mutex */
    oflags |= SQLITE_OPEN_NOMUTEX;
    if (!exists) {
        /* create with mode 0600, never following a planted symlink */
        mode_t old = umask(077);
        int rc = sqlite3_open_v2(path, &st->db, oflags, NULL);
        umask(old);
        if (rc != SQLITE_OK)
            goto sqlfail;
    } else if (sqlite3_open_v2(path, &st->db, oflags, NULL) != SQLITE_OK) {
        goto sqlfail;
    }
    sqlite3_extended_result_codes(st->db, 0);
    sqlite3_busy_timeout(st->db, 10000);
    err = check_schema(st, (flags & HT_STORE_CREATE) && !st->readonly);
    int fresh = err == HT_ENOTFOUND;
    if (fresh) {
        /* 16 KiB pages (takes effect on an empty file only; DECISIONS 29,
         * revising 16): the first ingest appends in rollback-journal mode
         * (see below), so the page count no longer costs a WAL copy, and a
         * small trace's fixed tables take 16 KiB each instead of 64 KiB. */
        sqlite3_exec(st->db, "PRAGMA page_size=16384", NULL, NULL, NULL);
        /* No syncs for the empty schema (DECISIONS 31): the journal
         * still rolls a crashed creation back, and the first commit's
         * sync (synchronous=NORMAL, set below) makes these pages durable
         * with its own; only an OS crash before that can leave a trace
         * that holds nothing unreadable. Saves four syncs (~12 ms). */
        sqlite3_exec(st->db, "PRAGMA synchronous=OFF", NULL, NULL, NULL);
        err = create_schema(st);
    }
    if (err != HT_OK)
        goto fail;
    /* A trace this call created stays in rollback-journal mode until its
     * first transaction ends or ht_store_close (W1, DECISIONS 26): a
     * transaction that only appends pages (the first
     * ingest) then writes each page once, to the file, where WAL writes it
     * to the WAL, then copies it into the file at the checkpoint of the
     * close (4.5 M events, 14 MB: the close's checkpoint was ~0.1-0.18 s
     * of a ~0.5 s `heaptrail ingest`). Appended pages are not journaled,
     * so a crash of the process rolls the transaction back as in WAL
     * mode; on a power loss, synchronous=NORMAL in rollback mode keeps a
     * small chance of a corrupt trace (SQLite's documentation). */
    if (!st->readonly)
        sqlite3_exec(st->db, fresh ? "PRAGMA synchronous=NORMAL;"
                                   : "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
                     NULL, NULL, NULL);
    st->wal_owed = fresh && !st->readonly; /* W1 */
    if ((err = ht__vtab_register(st)) != HT_OK)
        goto fail;
    *out = st;
    return HT_OK;
sqlfail:
    ht__store_set_error("%s: %s", path, st->db ? sqlite3_errmsg(st->db) : "cannot open");
    err = HT_ESQL;
    if (st->db && sqlite3_errcode(st->db) == SQLITE_CANTOPEN)
        err = HT_EIO;
fail:
    sqlite3_close(st->db);
    free(st);
    return err;
}

void ht_store_set_progress(ht_store *st, ht_progress_cb cb, void *ctx)
{
    st->progress = cb;
    st->progress_ctx = ctx;
}

void ht_store_set_background_free(ht_store *st, int background)
{
    st->background_free = background != 0;
}

/* Back to WAL + synchronous=NORMAL after the rollback-journal mode of W1
 * (outside a transaction only: SQLite cannot change the mode inside one).
 * One try, best effort: the next read-write open sets WAL otherwise. */
static void back_to_wal(ht_store *st)
{
    if (!st->wal_owed || !sqlite3_get_autocommit(st->db))
        return;
    /* Without syncs (h-ing8): the switch only rewrites page 1's format
     * bytes, all in its first sector; lost to a power loss, the trace is
     * still a valid rollback-mode one (a journal left behind restores the
     * page as the committed data left it). Its three syncs (journal,
     * directory, file) were 8-20 ms of every `heaptrail ingest` into a new
     * trace. */
    sqlite3_exec(st->db, "PRAGMA synchronous=OFF; PRAGMA journal_mode=WAL; "
                         "PRAGMA synchronous=NORMAL;", NULL, NULL, NULL);
    st->wal_owed = 0;
}

void ht_store_close(ht_store *st)
{
    if (!st)
        return;
    back_to_wal(st);
    sqlite3_close_v2(st->db);
    free(st);
}

/* SQLite allocator over ht_alloc_*: SQLite needs xSize, so each block
 * carries its size in a 16-byte prefix (16 keeps SQLite's 8-byte alignment
 * and malloc's 16). */
#define HT_SQLMEM_PREFIX 16

static void *sqlmem_malloc(int n)
{
    if (n <= 0)
        return NULL;
    char *p = ht_alloc_malloc((size_t)n + HT_SQLMEM_PREFIX);
    if (!p)
        return NULL;
    memcpy(p, &n, sizeof n);
    return p + HT_SQLMEM_PREFIX;
}

static void sqlmem_free(void *p)
{
    if (p)
        ht_alloc_free((char *)p - HT_SQLMEM_PREFIX);
}

static int sqlmem_size(void *p)
{
    int n = 0;
    if (p)
        memcpy(&n, (char *)p - HT_SQLMEM_PREFIX, sizeof n);
    return n;
}

static void *sqlmem_realloc(void *p, int n)
{
    if (n <= 0)
        return NULL;
    char *q = ht_alloc_realloc((char *)p - HT_SQLMEM_PREFIX,
                               (size_t)n + HT_SQLMEM_PREFIX);
    if (!q)
        return NULL;
    memcpy(q, &n, sizeof n);
    return q + HT_SQLMEM_PREFIX;
}

static int sqlmem_roundup(int n) { return (n + 7) & ~7; }
static int sqlmem_init(void *ctx) { (void)ctx; return SQLITE_OK; }
static void sqlmem_shutdown(void *ctx) { (void)ctx; }

ht_err ht_store_use_allocator(int on)
{
    static sqlite3_mem_methods saved;
    static int have_saved;
    static const sqlite3_mem_methods ours = {
        sqlmem_malloc, sqlmem_free, sqlmem_realloc, sqlmem_size,
        sqlmem_roundup, sqlmem_init, sqlmem_shutdown, NULL,
    };
    sqlite3_shutdown();
    int rc = SQLITE_OK;
    if (!have_saved) {
        rc = sqlite3_config(SQLITE_CONFIG_GETMALLOC, &saved);
        have_saved = rc == SQLITE_OK;
    }
    if (rc == SQLITE_OK)
        rc = sqlite3_config(SQLITE_CONFIG_MALLOC, on ? &ours : &saved);
    if (rc == SQLITE_OK)
        rc = sqlite3_initialize();
    if (rc != SQLITE_OK) {
        ht__store_set_error("configuring SQLite's allocator: %s", sqlite3_errstr(rc));
        return HT_ESQL;
    }
    return HT_OK;
}

ht_err ht_store_spill_dir(const char *trace_path, char *buf, size_t n)
{
    int k = snprintf(buf, n, "%s.spill", trace_path);
    if (k < 0 || (size_t)k >= n) {
        if (n)
            buf[0] = 0;
        return HT_EINVAL;
    }
    return HT_OK;
}

int ht_store_sql_complete(const char *sql) { return sqlite3_complete(sql); }

ht_err ht_store_query(ht_store *st, const char *sql, int readonly,
                      ht_row_cb cb, void *ctx)
{
    const char *tail = sql;
    while (tail && *tail) {
        sqlite3_stmt *s = NULL;
        const char *next = NULL;
        if (sqlite3_prepare_v2(st->db, tail, -1, &s, &next) != SQLITE_OK)
            return ht__store_sqlerr(st, "SQL error");
        tail = next;
        if (!s)
            continue; /* whitespace or comment */
        if (readonly && !sqlite3_stmt_readonly(s)) {
            sqlite3_finalize(s);
            ht__store_set_error("statement would modify the trace; "
                                "use --write to allow changes");
            return HT_ESQL;
        }
        int ncol = sqlite3_column_count(s);
        const char **vals = calloc((size_t)ncol + 1, sizeof *vals);
        const char **names = calloc((size_t)ncol + 1, sizeof *names);
        if (!vals || !names) {
            free(vals);
            free(names);
            sqlite3_finalize(s);
            return HT_ENOMEM;
        }
        for (int i = 0; i < ncol; i++)
            names[i] = sqlite3_column_name(s, i);
        int rc, stop = 0;
        while (!stop && (rc = sqlite3_step(s)) == SQLITE_ROW) {
            for (int i = 0; i < ncol; i++)
                vals[i] = (const char *)sqlite3_column_text(s, i);
            if (cb)
                stop = cb(ctx, ncol, vals, names);
        }
        free(vals);
        free(names);
        if (!stop && rc != SQLITE_DONE) {
            ht_err e = ht__store_sqlerr(st, "SQL error");
            sqlite3_finalize(s);
            return e;
        }
        sqlite3_finalize(s);
        if (stop)
            break;
    }
    return HT_OK;
}

ht_err ht_store_exec(ht_store *st, const char *sql)
{
    char *msg = NULL;
    if (sqlite3_exec(st->db, sql, NULL, NULL, &msg) != SQLITE_OK) {
        ht__store_set_error("%s", msg ? msg : sqlite3_errmsg(st->db));
        sqlite3_free(msg);
        return HT_ESQL;
    }
    return HT_OK;
}

ht_err ht_store_begin(ht_store *st) { return ht_store_exec(st, "BEGIN IMMEDIATE"); }

/* A replay's transaction appends its output (object_chunks, objects_live,
 * ...: AF20, 55 MB). In WAL mode each page went to the WAL, then was copied
 * into the file by the checkpoint of the close (twice the writes, and the
 * close's checkpoint + syncs); in rollback-journal mode an appended page is
 * not journaled, so it is written once, to the file, as in the first ingest
 * (DECISIONS 26, 36). Leaving WAL needs the only connection to the trace:
 * with a reader open, SQLite refuses at once (no busy wait) and the
 * transaction runs in WAL as before. Crash safety: a killed replay leaves a
 * hot journal that the next read-write open rolls back (the file is cut
 * back to its old size). */
ht_err ht_store_begin_append(ht_store *st)
{
    /* owed already (a trace this handle created): in rollback mode, W1 */
    if (!st->readonly && !st->wal_owed && sqlite3_get_autocommit(st->db)) {
        char mode[16] = "";
        sqlite3_stmt *q = NULL;
        if (sqlite3_prepare_v2(st->db, "PRAGMA journal_mode=DELETE", -1, &q,
                               NULL) == SQLITE_OK &&
            sqlite3_step(q) == SQLITE_ROW && sqlite3_column_text(q, 0))
            snprintf(mode, sizeof mode, "%s",
                     (const char *)sqlite3_column_text(q, 0));
        sqlite3_finalize(q);
        st->wal_owed = !strcmp(mode, "delete"); /* W1 */
        /* FULL in rollback mode: NORMAL keeps a small chance of a trace
         * corrupted by a power loss (SQLite's documentation), and the
         * trace's recorded events cannot be made again; a few more syncs
         * of the small journal (the appended pages are not in it) */
        if (st->wal_owed)
            sqlite3_exec(st->db, "PRAGMA synchronous=FULL", NULL, NULL, NULL);
    }
    return ht_store_begin(st);
}

ht_err ht_store_commit(ht_store *st)
{
    ht_err e = ht_store_exec(st, "COMMIT");
    /* W1; for an ingest before the spill is released: a switch that syncs
     * waits for ext4's journal to free the spill's blocks otherwise (~0.1 s
     * measured on a 200 MB spill) */
    back_to_wal(st);
    return e;
}

void ht_store_rollback(ht_store *st)
{
    sqlite3_exec(st->db, "ROLLBACK", NULL, NULL, NULL);
    back_to_wal(st); /* W1 */
}

/* A plain insert has stmt only (rows 0). A batched one
 * (ht_store_insert_batch, rows > 0) keeps up to rows rows in cells, ncol
 * values a row, and steps them with many (stmt's VALUES repeated rows
 * times, prepared when the first batch fills: a replay with few rows never
 * parses the long statement): B1. ncells < rows * ncol and ncells is a
 * multiple of ncol outside ht_store_insert_row; B2. the buffered rows
 * follow every row already stepped, in the order they were given. */
struct ht_cell {
    char type; /* 'i', 'd', 's' or 'n' (the format letters) */
    union {
        int64_t i;
        double d;
        const char *s; /* borrowed: the caller keeps it until the flush */
    } v;
};
struct ht_insert {
    ht_store *st;
    sqlite3_stmt *stmt;
    sqlite3_stmt *many; /* batched: rows rows at a time, or NULL yet */
    char *table;        /* batched: the table's name (owned) */
    int ncol, rows;
    struct ht_cell *cells; /* rows * ncol; owned */
    int ncells;
};

ht_err ht_store_insert_prepare(ht_store *st, const char *sql, ht_insert **out)
{
    *out = NULL;
    ht_insert *ins = calloc(1, sizeof *ins);
    if (!ins)
        return HT_ENOMEM;
    ins->st = st;
    if (sqlite3_prepare_v2(st->db, sql, -1, &ins->stmt, NULL) != SQLITE_OK) {
        free(ins);
        return ht__store_sqlerr(st, "prepare");
    }
    *out = ins;
    return HT_OK;
}

/* Bind c[0..n) to parameters 1..n of stmt; SQLITE_OK or the bind's code.
 * Strings are bound SQLITE_STATIC (they outlive the step that follows): a
 * TRANSIENT copy can fail for lack of memory, and an unchecked failed bind
 * silently stores NULL (found by tests/reliability/test_faults.c). */
static int bind_cells(sqlite3_stmt *stmt, const struct ht_cell *c, int n)
{
    int rc = SQLITE_OK;
    for (int i = 0; i < n && rc == SQLITE_OK; i++) {
        switch (c[i].type) {
        case 'i': rc = sqlite3_bind_int64(stmt, i + 1, c[i].v.i); break;
        case 'd': rc = sqlite3_bind_double(stmt, i + 1, c[i].v.d); break;
        case 's':
            rc = c[i].v.s ? sqlite3_bind_text(stmt, i + 1, c[i].v.s, -1,
                                              SQLITE_STATIC)
                          : sqlite3_bind_null(stmt, i + 1);
            break;
        default: rc = sqlite3_bind_null(stmt, i + 1); break;
        }
    }
    return rc;
}

/* Bind c[0..n) and run stmt once. */
static ht_err step_cells(ht_insert *ins, sqlite3_stmt *stmt,
                         const struct ht_cell *c, int n)
{
    int rc = bind_cells(stmt, c, n);
    if (rc != SQLITE_OK) {
        sqlite3_clear_bindings(stmt);
        return ht__store_sqlerr(ins->st, "insert");
    }
    rc = sqlite3_step(stmt);
    sqlite3_reset(stmt);
    sqlite3_clear_bindings(stmt);
    return rc == SQLITE_DONE ? HT_OK : ht__store_sqlerr(ins->st, "insert");
}

/* fmt's values as cells (at most max: the rest of fmt is ignored) */
static int read_cells(struct ht_cell *c, int max, const char *fmt, va_list ap)
{
    int n = 0;
    for (; *fmt && n < max; fmt++, n++) {
        c[n].type = *fmt;
        switch (*fmt) {
        case 'i': c[n].v.i = va_arg(ap, int64_t); break;
        case 'd': c[n].v.d = va_arg(ap, double); break;
        case 's': c[n].v.s = va_arg(ap, const char *); break;
        default: c[n].type = 'n'; break;
        }
    }
    return n;
}

/* "INSERT INTO table VALUES(?,..)" with the VALUES group repeated rows
 * times (malloc'd), or NULL */
static char *values_sql(const char *table, int ncol, int rows)
{
    size_t tl = strlen(table), gl = (size_t)ncol * 2 + 2;
    char *q = malloc(tl + 32 + (size_t)rows * gl);
    if (!q)
        return NULL;
    char *p = q + sprintf(q, "INSERT INTO %s VALUES", table);
    for (int r = 0; r < rows; r++) {
        *p++ = r ? ',' : '(';
        if (r)
            *p++ = '(';
        for (int c = 0; c < ncol; c++) {
            *p++ = '?';
            *p++ = c + 1 < ncol ? ',' : ')';
        }
    }
    *p = 0;
    return q;
}

/* many of a batched insert, prepared at its first use */
static ht_err prepare_many(ht_insert *ins)
{
    if (ins->many)
        return HT_OK;
    char *q = values_sql(ins->table, ins->ncol, ins->rows);
    if (!q)
        return HT_ENOMEM;
    int rc = sqlite3_prepare_v2(ins->st->db, q, -1, &ins->many, NULL);
    free(q);
    return rc == SQLITE_OK ? HT_OK : ht__store_sqlerr(ins->st, "prepare");
}

ht_err ht_store_insert_row(ht_insert *ins, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    if (ins->rows) { /* batched: buffer it (B1), step a full batch */
        int n = read_cells(ins->cells + ins->ncells, ins->ncol, fmt, ap);
        va_end(ap);
        for (; n < ins->ncol; n++) /* a short row's missing values */
            ins->cells[ins->ncells + n].type = 'n';
        ins->ncells += ins->ncol;
        if (ins->ncells < ins->rows * ins->ncol)
            return HT_OK;
        ins->ncells = 0; /* stepped or failed: either way not kept */
        ht_err e = prepare_many(ins);
        return e ? e : step_cells(ins, ins->many, ins->cells,
                                  ins->rows * ins->ncol);
    }
    struct ht_cell c[64];
    int n = read_cells(c, 64, fmt, ap);
    va_end(ap);
    return step_cells(ins, ins->stmt, c, n);
}

/* A batched insert; see store.h. */
ht_err ht_store_insert_batch(ht_store *st, const char *table, int ncol,
                             int rows, ht_insert **out)
{
    *out = NULL;
    if (ncol < 1 || ncol > 64 || rows < 1 || rows > 999 / ncol)
        return HT_EINVAL; /* 999: SQLite's smallest parameter limit */
    char *one = values_sql(table, ncol, 1);
    ht_insert *ins = NULL;
    ht_err e = one ? ht_store_insert_prepare(st, one, &ins) : HT_ENOMEM;
    if (!e) {
        ins->ncol = ncol;
        ins->rows = rows;
        ins->cells = malloc((size_t)ncol * (size_t)rows * sizeof *ins->cells);
        ins->table = strdup(table);
        if (!ins->cells || !ins->table)
            e = HT_ENOMEM;
    }
    free(one);
    if (e) {
        ht_store_insert_free(ins);
        return e;
    }
    *out = ins;
    return HT_OK;
}

/* Insert the buffered rows of a batched insert; see store.h. */
ht_err ht_store_insert_flush(ht_insert *ins)
{
    ht_err e = HT_OK;
    if (!ins || !ins->rows)
        return HT_OK;
    for (int r = 0; r < ins->ncells && !e; r += ins->ncol)
        e = step_cells(ins, ins->stmt, ins->cells + r, ins->ncol);
    ins->ncells = 0;
    return e;
}

void ht_store_insert_free(ht_insert *ins)
{
    if (!ins)
        return;
    sqlite3_finalize(ins->stmt);
    sqlite3_finalize(ins->many);
    free(ins->table);
    free(ins->cells);
    free(ins);
}

ht_err ht_store_runs(ht_store *st, int64_t **ids, size_t *n)
{
    *ids = NULL;
    *n = 0;
    sqlite3_stmt *s = NULL;
    if (sqlite3_prepare_v2(st->db, "SELECT run_id FROM runs ORDER BY run_id",
                           -1, &s, NULL) != SQLITE_OK)
        return ht__store_sqlerr(st, "listing runs");
    size_t cap = 0;
    int64_t *v = NULL;
    int rc;
    while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
        if (*n == cap) {
            cap = cap ? cap * 2 : 16;
            int64_t *nv = realloc(v, cap * sizeof *v);
            if (!nv) {
                free(v);
                sqlite3_finalize(s);
                *n = 0;
                return HT_ENOMEM;
            }
            v = nv;
        }
        v[(*n)++] = sqlite3_column_int64(s, 0);
    }
    sqlite3_finalize(s);
    if (rc != SQLITE_DONE) {
        free(v);
        *n = 0;
        return ht__store_sqlerr(st, "listing runs");
    }
    *ids = v;
    return HT_OK;
}
