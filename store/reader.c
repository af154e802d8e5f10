/*
 * Streaming reader over one run's chunks, and the `events` virtual table.
 *
 * Memory is bounded by one chunk's decoder workspace plus a batch of
 * CC_BATCH decoded records: records are decoded a batch at a time (a
 * buffer of a whole chunk, 3 MB, would not stay in cache between being
 * written and read).
 */
#include <stdlib.h>
#include <string.h>

#include "store_priv.h"

/* records decoded at a time: 48 KB, within L2 next to the consumer's data */
#define CC_BATCH 1024u

/* A chunk cursor: a statement over chunk rows, the decoder of the current
 * chunk and its current batch buf[0..n), pos the next record to hand out. */
struct chunk_cursor {
    sqlite3_stmt *stmt;
    ht__codec_dec *dec;
    struct ht_rec *buf;
    size_t n, pos;
    int64_t run_id;
    int eof;
};

static ht_err cc_open(ht_store *st, struct chunk_cursor *cc, int64_t run_id,
                      int all_runs)
{
    memset(cc, 0, sizeof *cc);
    cc->buf = malloc(CC_BATCH * sizeof *cc->buf);
    if (!cc->buf || ht__codec_dec_new(&cc->dec) != HT_OK) {
        free(cc->buf);
        cc->buf = NULL;
        return HT_ENOMEM;
    }
    const char *sql = all_runs
        ? "SELECT run_id, data, codec FROM chunks ORDER BY run_id, chunk_no"
        : "SELECT run_id, data, codec FROM chunks WHERE run_id=?1 ORDER BY chunk_no";
    if (sqlite3_prepare_v2(st->db, sql, -1, &cc->stmt, NULL) != SQLITE_OK) {
        free(cc->buf);
        cc->buf = NULL;
        ht__codec_dec_free(cc->dec);
        cc->dec = NULL;
        return ht__store_sqlerr(st, "reading chunks");
    }
    if (!all_runs)
        sqlite3_bind_int64(cc->stmt, 1, run_id);
    return HT_OK;
}

static void cc_close(struct chunk_cursor *cc)
{
    sqlite3_finalize(cc->stmt);
    ht__codec_dec_free(cc->dec);
    free(cc->buf);
    memset(cc, 0, sizeof *cc);
}

static ht_err cc_bad_chunk(struct chunk_cursor *cc, ht_err e)
{
    ht__store_set_error("chunk of run %lld does not decode: %s",
                        (long long)cc->run_id, ht_strerror(e));
    return e;
}

/* Make cc->buf[cc->pos] valid: the next batch of the open chunk, else the
 * next chunk's first. HT_ENOTFOUND at the end. */
static ht_err cc_fill(struct chunk_cursor *cc)
{
    while (cc->pos >= cc->n) {
        size_t n = 0;
        ht_err e = ht__codec_dec_next(cc->dec, cc->buf, CC_BATCH, &n);
        if (e != HT_OK)
            return cc_bad_chunk(cc, e);
        cc->n = n;
        cc->pos = 0;
        if (n)
            return HT_OK;
        if (cc->eof)
            return HT_ENOTFOUND;
        int rc = sqlite3_step(cc->stmt);
        if (rc == SQLITE_DONE) {
            cc->eof = 1;
            return HT_ENOTFOUND;
        }
        if (rc != SQLITE_ROW) {
            ht__store_set_error("reading chunks: %s",
                                sqlite3_errmsg(sqlite3_db_handle(cc->stmt)));
            return rc == SQLITE_CORRUPT ? HT_ECORRUPT : HT_ESQL;
        }
        cc->run_id = sqlite3_column_int64(cc->stmt, 0);
        const void *blob = sqlite3_column_blob(cc->stmt, 1);
        size_t len = (size_t)sqlite3_column_bytes(cc->stmt, 1);
        const char *codec = (const char *)sqlite3_column_text(cc->stmt, 2);
        if (!codec || strcmp(codec, HT_CODEC_NAME) != 0) {
            ht__store_set_error("chunk of run %lld uses unknown codec '%s'",
                                (long long)cc->run_id, codec ? codec : "");
            return HT_EVERSION;
        }
        if ((e = ht__codec_dec_open(cc->dec, blob, len, &n)) != HT_OK)
            return cc_bad_chunk(cc, e);
    }
    return HT_OK;
}

struct ht_reader {
    struct chunk_cursor cc;
};

ht_err ht_reader_open(ht_store *st, int64_t run_id, ht_reader **out)
{
    *out = NULL;
    ht_reader *r = calloc(1, sizeof *r);
    if (!r)
        return HT_ENOMEM;
    ht_err e = cc_open(st, &r->cc, run_id, 0);
    if (e != HT_OK) {
        free(r);
        return e;
    }
    *out = r;
    return HT_OK;
}

ht_err ht_reader_next(ht_reader *r, struct ht_rec *ev)
{
    ht_err e = cc_fill(&r->cc);
    if (e != HT_OK)
        return e;
    *ev = r->cc.buf[r->cc.pos++];
    return HT_OK;
}

ht_err ht_reader_batch(ht_reader *r, const struct ht_rec **recs, size_t *n)
{
    *recs = NULL;
    *n = 0;
    ht_err e = cc_fill(&r->cc);
    if (e != HT_OK)
        return e;
    *recs = r->cc.buf + r->cc.pos;
    *n = r->cc.n - r->cc.pos;
    r->cc.pos = r->cc.n;
    return HT_OK;
}

void ht_reader_close(ht_reader *r)
{
    if (!r)
        return;
    cc_close(&r->cc);
    free(r);
}

/* ---- events virtual table ----------------------------------------------
 * One row per event: run_id, seq, kind (readable name), tid, addr, size,
 * old_addr, value, old_value, site, pc, raw a/b/c/d. Columns that do not
 * apply to a kind are NULL. An equality constraint on run_id is pushed down.
 */
enum {
    COL_RUN, COL_SEQ, COL_KIND, COL_TID, COL_ADDR, COL_SIZE, COL_OLD_ADDR,
    COL_VALUE, COL_OLD_VALUE, COL_SITE, COL_PC, COL_A, COL_B, COL_C, COL_D
};

typedef struct {
    sqlite3_vtab base;
    ht_store *st;
} ev_vtab;

typedef struct {
    sqlite3_vtab_cursor base;
    ev_vtab *vt;
    struct chunk_cursor cc;
    int open;
    int64_t rowid;
    int err;
} ev_cursor;

static int ev_connect(sqlite3 *db, void *aux, int argc, const char *const *argv,
                      sqlite3_vtab **out, char **errp)
{
    (void)argc; (void)argv; (void)errp;
    int rc = sqlite3_declare_vtab(db,
        "CREATE TABLE x(run_id INTEGER, seq INTEGER, kind TEXT, tid INTEGER,"
        " addr INTEGER, size INTEGER, old_addr INTEGER, value INTEGER,"
        " old_value INTEGER, site INTEGER, pc INTEGER, a INTEGER, b INTEGER,"
        " c INTEGER, d INTEGER)");
    if (rc != SQLITE_OK)
        return rc;
    ev_vtab *vt = sqlite3_malloc(sizeof *vt);
    if (!vt)
        return SQLITE_NOMEM;
    memset(vt, 0, sizeof *vt);
    vt->st = aux;
    *out = &vt->base;
    return SQLITE_OK;
}

static int ev_disconnect(sqlite3_vtab *vt)
{
    sqlite3_free(vt);
    return SQLITE_OK;
}

static int ev_best_index(sqlite3_vtab *vt, sqlite3_index_info *info)
{
    (void)vt;
    info->idxNum = 0;
    info->estimatedCost = 1e9;
    for (int i = 0; i < info->nConstraint; i++) {
        const struct sqlite3_index_constraint *c = &info->aConstraint[i];
        if (c->usable && c->iColumn == COL_RUN && c->op == SQLITE_INDEX_CONSTRAINT_EQ) {
            info->idxNum = 1;
            info->aConstraintUsage[i].argvIndex = 1;
            info->aConstraintUsage[i].omit = 1;
            info->estimatedCost = 1e6;
            break;
        }
    }
    if (info->nOrderBy == 1 && info->aOrderBy[0].iColumn == COL_SEQ &&
        !info->aOrderBy[0].desc && info->idxNum == 1)
        info->orderByConsumed = 1;
    return SQLITE_OK;
}

static int ev_open(sqlite3_vtab *vt, sqlite3_vtab_cursor **out)
{
    ev_cursor *c = sqlite3_malloc(sizeof *c);
    if (!c)
        return SQLITE_NOMEM;
    memset(c, 0, sizeof *c);
    c->vt = (ev_vtab *)vt;
    *out = &c->base;
    return SQLITE_OK;
}

static int ev_close(sqlite3_vtab_cursor *cur)
{
    ev_cursor *c = (ev_cursor *)cur;
    if (c->open)
        cc_close(&c->cc);
    sqlite3_free(c);
    return SQLITE_OK;
}

static int ev_report(ev_cursor *c, ht_err e)
{
    if (e == HT_OK || e == HT_ENOTFOUND)
        return SQLITE_OK;
    sqlite3_free(c->vt->base.zErrMsg);
    c->vt->base.zErrMsg = sqlite3_mprintf("%s", ht_store_last_error());
    return e == HT_ENOMEM ? SQLITE_NOMEM : SQLITE_CORRUPT;
}

static int ev_filter(sqlite3_vtab_cursor *cur, int idx, const char *idxstr,
                     int argc, sqlite3_value **argv)
{
    (void)idxstr; (void)argc;
    ev_cursor *c = (ev_cursor *)cur;
    if (c->open)
        cc_close(&c->cc);
    c->open = 0;
    int64_t run = idx == 1 ? sqlite3_value_int64(argv[0]) : 0;
    ht_err e = cc_open(c->vt->st, &c->cc, run, idx != 1);
    if (e != HT_OK)
        return ev_report(c, e);
    c->open = 1;
    c->rowid = 0;
    return ev_report(c, cc_fill(&c->cc));
}

static int ev_next(sqlite3_vtab_cursor *cur)
{
    ev_cursor *c = (ev_cursor *)cur;
    c->cc.pos++;
    c->rowid++;
    return ev_report(c, cc_fill(&c->cc));
}

static int ev_eof(sqlite3_vtab_cursor *cur)
{
    ev_cursor *c = (ev_cursor *)cur;
    return !c->open || c->cc.pos >= c->cc.n;
}

static void result_u64(sqlite3_context *ctx, uint64_t v)
{
    sqlite3_result_int64(ctx, (sqlite3_int64)v);
}

static int ev_column(sqlite3_vtab_cursor *cur, sqlite3_context *ctx, int col)
{
    ev_cursor *c = (ev_cursor *)cur;
    const struct ht_rec *r = &c->cc.buf[c->cc.pos];
    int k = r->kind;
    int is_mem = k == HT_EV_ALLOC || k == HT_EV_REALLOC || k == HT_EV_FREE;
    switch (col) {
    case COL_RUN: sqlite3_result_int64(ctx, c->cc.run_id); break;
    case COL_SEQ: result_u64(ctx, r->seq); break;
    case COL_KIND: sqlite3_result_text(ctx, ht_event_kind_name(k), -1, SQLITE_STATIC); break;
    case COL_TID: sqlite3_result_int64(ctx, r->tid); break;
    case COL_ADDR:
        if (is_mem || k == HT_EV_INCREF || k == HT_EV_DECREF || k == HT_EV_ROOT)
            result_u64(ctx, r->a);
        else if (k == HT_EV_STORE || k == HT_EV_EDGE)
            result_u64(ctx, r->a); /* the slot address */
        break;
    case COL_SIZE:
        if (k == HT_EV_ALLOC || k == HT_EV_REALLOC || k == HT_EV_ROOT)
            result_u64(ctx, r->b);
        break;
    case COL_OLD_ADDR:
        if (k == HT_EV_REALLOC)
            result_u64(ctx, r->c);
        break;
    case COL_VALUE:
        if (k == HT_EV_STORE || k == HT_EV_EDGE)
            result_u64(ctx, r->b);
        break;
    case COL_OLD_VALUE:
        if (k == HT_EV_STORE)
            result_u64(ctx, r->c);
        break;
    case COL_SITE:
        if (r->flags & HT_EVF_SITE)
            result_u64(ctx, r->d);
        else if (k == HT_EV_FN_ENTER || k == HT_EV_FN_EXIT)
            result_u64(ctx, r->a);
        break;
    case COL_PC:
        if (is_mem && !(r->flags & HT_EVF_SITE))
            result_u64(ctx, r->d);
        break;
    case COL_A: result_u64(ctx, r->a); break;
    case COL_B: result_u64(ctx, r->b); break;
    case COL_C: result_u64(ctx, r->c); break;
    case COL_D: result_u64(ctx, r->d); break;
    }
    return SQLITE_OK;
}

static int ev_rowid(sqlite3_vtab_cursor *cur, sqlite3_int64 *out)
{
    *out = ((ev_cursor *)cur)->rowid;
    return SQLITE_OK;
}

static sqlite3_module events_module = {
    .iVersion = 0,
    .xCreate = NULL, /* eponymous-only */
    .xConnect = ev_connect,
    .xBestIndex = ev_best_index,
    .xDisconnect = ev_disconnect,
    .xDestroy = ev_disconnect,
    .xOpen = ev_open,
    .xClose = ev_close,
    .xFilter = ev_filter,
    .xNext = ev_next,
    .xEof = ev_eof,
    .xColumn = ev_column,
    .xRowid = ev_rowid,
};

ht_err ht__vtab_register(ht_store *st)
{
    if (sqlite3_create_module(st->db, "events", &events_module, st) != SQLITE_OK)
        return ht__store_sqlerr(st, "registering events table");
    if (ht__objvtab_register(st->db, st) != SQLITE_OK)
        return ht__store_sqlerr(st, "registering objects_freed table");
    return HT_OK;
}

/* Loadable-extension entry point for the sqlite3 shell:
 *   sqlite3 trace.db '.load /path/to/libheaptrail_sqlite' 'SELECT ... FROM events'
 * The store handle it creates is owned by the connection (freed with it). */
int sqlite3_heaptrailsqlite_init(sqlite3 *db, char **errp, const void *api)
{
    (void)api;
    ht_store *st = sqlite3_malloc(sizeof *st);
    if (!st)
        return SQLITE_NOMEM;
    memset(st, 0, sizeof *st);
    st->db = db;
    st->readonly = 1;
    int rc = sqlite3_create_module_v2(db, "events", &events_module, st, sqlite3_free);
    if (rc == SQLITE_OK)
        rc = ht__objvtab_register(db, st);
    if (rc != SQLITE_OK && errp)
        *errp = sqlite3_mprintf("heaptrail: cannot register events table");
    return rc;
}
