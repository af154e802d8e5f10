/* store/ internals that need SQLite (only store/ includes sqlite3.h). */
#ifndef HEAPTRAIL_STORE_PRIV_H
#define HEAPTRAIL_STORE_PRIV_H

#include <sqlite3.h>

#include "heaptrail/store.h"
#include "store_int.h"

struct ht_store {
    sqlite3 *db;
    int readonly;
    ht_progress_cb progress; /* optional, see ht_store_set_progress */
    void *progress_ctx;
    int background_free; /* see ht_store_set_background_free */
    int wal_owed;        /* in rollback-journal mode: store.c W1 */
    /* ingest_dir while it runs: a spill's directory is removed (if empty)
     * after the spill, by the background process when there is one;
     * handoffs counts the spills handed to background processes */
    int rm_spill_dir;
    unsigned long handoffs;
};

void ht__store_set_error(const char *fmt, ...)
    __attribute__((format(printf, 1, 2)));
ht_err ht__store_sqlerr(ht_store *st, const char *what);
ht_err ht__vtab_register(ht_store *st);
/* sites_import.c: import <module>.htsites, join pcs.site_id (in a txn). */
ht_err ht__sites_import(ht_store *st, int64_t run_id);
/* objects_freed virtual table (objcodec.c); a SQLite result code. */
int ht__objvtab_register(sqlite3 *db, ht_store *st);

#endif
