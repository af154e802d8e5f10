/*
 * heaptrail store: the SQLite trace file (schema in docs/trace-format.md).
 *
 * A trace holds runs; each run holds its module map, symbolised return
 * addresses (pcs) and its events as compressed chunks of up to 65536 records
 * in seq order. No SQLite type appears here: the CLI talks to SQLite only
 * through these functions.
 */
#ifndef HEAPTRAIL_STORE_H
#define HEAPTRAIL_STORE_H

#include <stddef.h>
#include <stdint.h>

#include "heaptrail/err.h"
#include "heaptrail/event.h"

#define HT_SCHEMA_VERSION 1

typedef struct ht_store ht_store;
typedef struct ht_reader ht_reader;

enum {
    HT_STORE_READONLY = 0x1, /* open read-only; fails if missing */
    HT_STORE_CREATE = 0x2,   /* create the file and schema if missing */
};

/* Open (or create) a trace. On success *out is owned by the caller and freed
 * with ht_store_close(). Errors: HT_ENOENT (missing, no CREATE),
 * HT_ENOTTRACE (not a SQLite file or not a heaptrail trace), HT_ECORRUPT,
 * HT_EVERSION (schema newer than this build), HT_ESQL, HT_EPERM (READONLY:
 * a killed writer's hot journal that this user cannot roll back; see
 * DECISIONS 36). *out = NULL then.
 * ht_store_errmsg() of NULL gives no detail; see ht_store_last_error(). */
ht_err ht_store_open(const char *path, int flags, ht_store **out);
void ht_store_close(ht_store *st); /* accepts NULL */

/* Last detailed error message of the most recent failing call on this thread
 * (static storage, valid until the next call). Never NULL. */
const char *ht_store_last_error(void);

/* Route SQLite's own allocations through heaptrail's allocator table
 * (include/heaptrail/alloc.h) when on, back to SQLite's default when off;
 * for fault-injection tests. Only call it while no trace is open (it
 * reinitialises SQLite). Errors: HT_ESQL. */
ht_err ht_store_use_allocator(int on);

/* The spill directory belonging to a trace path: "<path>.spill". Writes into
 * buf (size n); HT_EINVAL if it does not fit. */
ht_err ht_store_spill_dir(const char *trace_path, char *buf, size_t n);

/* Result of ingesting one spill file. */
struct ht_ingest_result {
    int64_t run_id;
    uint64_t events;          /* records stored */
    uint64_t torn;            /* slots skipped as torn/invalid */
    uint64_t overflow_events; /* events the recorder could not write */
    uint64_t seq_limit_events; /* of those, lost because the 48-bit seq
                                * was spent (spill.h S8); the rest found
                                * the spill full */
    uint64_t chunks;          /* chunks stored */
    uint64_t pcs, pcs_symbolised;
    int complete;             /* run ended through exit() or exec */
    int pid;
    int redone;               /* the merge was redone from the whole spill
                               * (a straggler of a live ingest, or a chunk a
                               * signal handler disordered): same result */
};

/* How a run ended when the caller knows (heaptrail run after waitpid). */
struct ht_run_end {
    int known;       /* 0: use what the spill says */
    int exited;      /* 1: exited with status; 0: killed by signal */
    int status;      /* exit status or signal number */
};

/* Ingest one spill file into the trace in one transaction, then delete the
 * spill. end may be NULL. A spill whose process is still running is refused
 * with HT_EBUSY (unless force). Errors: HT_ECORRUPT / HT_ETRUNC (header
 * unreadable: the spill is left in place), HT_EIO, HT_ESQL, HT_ENOMEM. */
ht_err ht_store_ingest_spill(ht_store *st, const char *spill_path,
                             const struct ht_run_end *end, int force,
                             struct ht_ingest_result *res);

/* Live ingest: the same result as ht_store_ingest_spill, but merged while
 * the program still records, so that after it exits only the tail is left
 * (docs/DECISIONS.md 18). begin maps and locks the spill (its process may
 * run), opens the write transaction and inserts the run row; *out is owned
 * by the caller until finish or abort. step merges the records that are
 * safely in seq order (taken >= 20 ms before: see L3 in store/ingest.c)
 * and sets *merged to the number of slots consumed, owner slots (spill.h S6)
 * not counted (0: nothing new; the caller may sleep). finish, once the process has ended (end as for
 * ht_store_ingest_spill), merges the rest - or, if a record arrived out of
 * order, rolls back and ingests the whole spill again - then commits and
 * deletes the spill; it frees ig whatever it returns. Nothing is committed
 * before finish: abort (accepts NULL) or a crash leaves the trace as it was
 * and the spill for a later ingest. Errors as ht_store_ingest_spill; step
 * fails only with HT_ENOMEM / HT_ESQL (then abort). */
typedef struct ht_ingest ht_ingest;
ht_err ht_store_ingest_begin(ht_store *st, const char *spill_path,
                             ht_ingest **out);
ht_err ht_store_ingest_step(ht_ingest *ig, uint64_t *merged);
ht_err ht_store_ingest_finish(ht_ingest *ig, const struct ht_run_end *end,
                              struct ht_ingest_result *res);
void ht_store_ingest_abort(ht_ingest *ig);

/* Ingest every finished spill in dir (none is fine). Calls cb (may be NULL)
 * for each spill with its result or error. Returns the first hard error
 * (HT_ESQL/HT_ENOMEM); per-spill problems are reported through cb only. */
typedef void (*ht_ingest_cb)(void *ctx, const char *spill_path, ht_err err,
                             const struct ht_ingest_result *res);
ht_err ht_store_ingest_dir(ht_store *st, const char *dir,
                           const struct ht_run_end *end_for_pid, int pid,
                           ht_ingest_cb cb, void *ctx);

/* The spill files in dir (a trace's spill directory: ht_store_spill_dir),
 * named "spill-<pid>-<start_ns>.hts" (include/heaptrail/spill.h), in the
 * order ht_store_ingest_dir ingests them: by pid, then start time. pid > 0:
 * only that process's (its first image's spill first). *paths[0..*n)
 * ("dir/name" each) and the array are malloc'd, owned by the caller:
 * ht_spill_list_free. A missing directory lists nothing. Errors: HT_EIO
 * (dir unreadable), HT_ENOMEM; *paths NULL and *n 0 then. */
ht_err ht_spill_list(const char *dir, int pid, char ***paths, size_t *n);
void ht_spill_list_free(char **paths, size_t n); /* accepts NULL */

/* Optional progress report of long operations on st (ingest): called
 * every chunk (65536 events) with the events done and expected in the
 * current spill. cb NULL: none. The CLI draws a progress bar with it. */
typedef void (*ht_progress_cb)(void *ctx, uint64_t done, uint64_t total);
void ht_store_set_progress(ht_store *st, ht_progress_cb cb, void *ctx);

/* How ingest frees a spill whose run it committed. Either way the spill is
 * unlinked before ingest returns, so it is never ingested twice. Freeing
 * the blocks and page cache of a large unlinked file is slow (~1 s for a
 * 1 GB spill on ext4). background != 0: the last open reference to the
 * file is handed to a detached grandchild process that drops it, so the
 * caller does not wait for the kernel (meant for a CLI that exits right
 * after; the grandchild holds no other descriptor). 0 (default): freed
 * inline. If fork fails, inline. */
void ht_store_set_background_free(ht_store *st, int background);

/* Run a SQL text (possibly several statements), with the `events` virtual
 * table registered. For every result row cb(ctx, ncol, values, names) is
 * called; values may be NULL for SQL NULL. If cb returns non-zero the query
 * stops. With readonly, statements that would write are refused.
 * Errors: HT_ESQL (message in ht_store_last_error()). */
typedef int (*ht_row_cb)(void *ctx, int ncol, const char *const *values,
                         const char *const *names);
ht_err ht_store_query(ht_store *st, const char *sql, int readonly,
                      ht_row_cb cb, void *ctx);

/* Whether sql is a complete statement (for an interactive shell). */
int ht_store_sql_complete(const char *sql);

/* ---- reading events --------------------------------------------------- */

/* Stream the events of run_id in seq order with memory bounded by one chunk.
 * *out is owned by the caller (ht_reader_close). */
ht_err ht_reader_open(ht_store *st, int64_t run_id, ht_reader **out);
/* Next event into *ev. Returns HT_OK, HT_ENOTFOUND at the end, or
 * HT_ECORRUPT if a chunk fails to decode (the rest of the run is unread). */
ht_err ht_reader_next(ht_reader *r, struct ht_rec *ev);
/* The next events as a batch: *recs[0..*n) (n >= 1), valid until the next
 * call on r; the same returns and order as ht_reader_next, which it does
 * not mix with in one batch (it hands out the rest of the current one).
 * A consumer of millions of events saves a call and a copy per event. */
ht_err ht_reader_batch(ht_reader *r, const struct ht_rec **recs, size_t *n);
void ht_reader_close(ht_reader *r); /* accepts NULL */

/* Run ids of the trace in ascending order; *ids malloc'd, caller frees. */
ht_err ht_store_runs(ht_store *st, int64_t **ids, size_t *n);

/* ---- writing replay results ------------------------------------------ */

/* Begin / commit / roll back a write transaction. */
ht_err ht_store_begin(ht_store *st);
ht_err ht_store_commit(ht_store *st);
void ht_store_rollback(ht_store *st);
/* ht_store_begin for a transaction that mostly appends pages (a replay's
 * output): when no other connection has the trace open it runs in
 * rollback-journal mode, so each appended page is written once, and the
 * commit or rollback that ends it switches the trace back to WAL
 * (DECISIONS 36). Otherwise the same as ht_store_begin. */
ht_err ht_store_begin_append(ht_store *st);

/* Execute SQL with no result rows (DDL, DELETE...). */
ht_err ht_store_exec(ht_store *st, const char *sql);

/* A prepared insert: ht_store_insert_prepare(st, "INSERT INTO t VALUES(?,?)",
 * &ins); then for each row ht_store_insert_row(ins, "ids", int64, double,
 * const char*) where the format string gives one letter per value:
 * i = int64_t, d = double, s = const char* (NULL = SQL NULL), n = NULL. */
typedef struct ht_insert ht_insert;
ht_err ht_store_insert_prepare(ht_store *st, const char *sql, ht_insert **out);
ht_err ht_store_insert_row(ht_insert *ins, const char *fmt, ...);
void ht_store_insert_free(ht_insert *ins); /* accepts NULL */
/* A batched insert into table (ncol columns, 1..64): ht_store_insert_row
 * buffers its row (missing values NULL, extra ones ignored) and inserts
 * `rows` rows at a time with one multi-row statement; one statement
 * execution per row cost ~4000 instructions a row. Rows reach the table in
 * the order given, so rowids are as with a plain insert. The caller must
 * call ht_store_insert_flush before the transaction commits; strings ('s')
 * are borrowed until the row is inserted (string literals in practice).
 * HT_EINVAL when ncol * rows > 999; HT_ENOMEM, HT_ESQL. */
ht_err ht_store_insert_batch(ht_store *st, const char *table, int ncol,
                             int rows, ht_insert **out);
/* Insert the rows a batched insert still buffers (none left after, even on
 * failure); HT_OK for a plain insert or NULL. */
ht_err ht_store_insert_flush(ht_insert *ins);

/* ---- compact objects rows of freed blocks (store/objcodec.c) ----------
 * The replay writes the `objects` rows of blocks freed during the run (their
 * leak columns are all NULL) as compressed column chunks in table
 * object_chunks(run_id, chunk_no, nrows, data); the `objects_freed` virtual
 * table decodes them and the `objects` view is objects_freed UNION ALL
 * objects_live (docs/trace-format.md). */
struct ht_objrow {
    uint64_t addr, size, alloc_seq, free_seq, pc;
    int64_t refcnt;     /* meaningful when has_refcnt */
    uint32_t tid;
    uint8_t has_refcnt; /* 0: refcnt is SQL NULL */
};
#define HT_OBJCHUNK_MAX_ROWS 65536u

/* A chunk (up to HT_OBJCHUNK_MAX_ROWS rows) built from rows appended in
 * batches, so that a caller need not hold all its rows (4 MB) at once: the
 * chunk stored does not depend on how the rows were batched. Owns its
 * buffers (about 5 MB); ht_objenc_free accepts NULL. */
typedef struct ht_objenc ht_objenc;
ht_err ht_objenc_new(ht_objenc **out); /* HT_ENOMEM */
void ht_objenc_free(ht_objenc *x);
/* Append rows[0..n). HT_EINVAL (nothing appended) if the chunk would exceed
 * HT_OBJCHUNK_MAX_ROWS rows. */
ht_err ht_objenc_add(ht_objenc *x, const struct ht_objrow *rows, size_t n);
size_t ht_objenc_count(const ht_objenc *x); /* rows appended, not stored */
/* Store x's rows as chunk chunk_no of run_id and empty x (also on error).
 * Errors: HT_EINVAL (no rows), HT_ENOMEM, HT_ESQL. */
ht_err ht_store_objchunk_flush(ht_store *st, int64_t run_id,
                               int64_t chunk_no, ht_objenc *x);

#endif
