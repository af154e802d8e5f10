/*
 * Ingestion: spill file (include/heaptrail/spill.h) -> one run in the trace.
 *
 * Steps, all inside one write transaction (a failure leaves the trace as it
 * was and the spill in place: nothing is lost):
 *   1. map the spill read-only and validate its header;
 *   2. cut the used part into streams, one per chunk, read in place (spill
 *      invariant S4: a chunk is sorted unless a signal handler interrupted
 *      the recorder; the merge detects such a chunk and the pass is redone
 *      from copied and sorted chunks, M2);
 *   3. k-way merge the streams by seq (a binary heap holding only the chunks
 *      whose first seq has been reached, so memory ~ threads, not chunks;
 *      runs of one chunk copied - unpacked from the spill's 32-byte slots
 *      into struct ht_rec (spill.h) - in one loop that also skips and
 *      counts torn slots, T1, M1), cutting the merged stream into
 *      HT_CODEC_MAX_RECORDS-record chunks;
 *      two worker threads encode chunks k-1 and k while this thread merges
 *      chunk k+1 (three buffers; chunks are inserted in order by this
 *      thread, the only one that touches SQLite);
 *   4. symbolise every distinct return address and store modules and pcs
 *      (while the encoders finish the last chunks);
 *   5. insert the run row, commit, delete the spill (its blocks freed by
 *      a detached grandchild when the caller asked for background_free).
 */
#define _GNU_SOURCE /* close_range, SEEK_DATA */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "heaptrail/spill.h"
#include "store_priv.h"

struct stream {
    const struct ht_spill_rec *r; /* slots r[pos..n): records in seq order,
                             * maybe with torn, owner and wide-first-half
                             * slots between them (the merge skips those
                             * and counts the torn: T1 below); r[0] is the
                             * chunk's (or the copy's) first slot */
    size_t n, pos;
    struct ht_spill_rec *owned; /* sorted copy of the valid records, or NULL */
    uint64_t key;           /* seq of r[pos], always a valid record */
    uint32_t tid;           /* thread of r[pos] (spill.h S6) */
    int fault_in;           /* r is the map's: fault it in when merged */
};
struct spill_map {
    int fd;
    void *base;
    size_t size;
    const struct ht_spill_header *h;
};

static void spill_unmap(struct spill_map *m)
{
    if (m->base && m->base != MAP_FAILED)
        munmap(m->base, m->size);
    if (m->fd >= 0)
        close(m->fd);
    m->fd = -1;
    m->base = NULL;
}

static ht_err spill_map(const char *path, struct spill_map *m)
{
    memset(m, 0, sizeof *m);
    m->fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    if (m->fd < 0) {
        ht__store_set_error("%s: %s", path, strerror(errno));
        return errno == ENOENT ? HT_ENOENT : HT_EIO;
    }
    struct stat sb;
    if (fstat(m->fd, &sb) != 0 || !S_ISREG(sb.st_mode)) {
        ht__store_set_error("%s: not a regular file", path);
        spill_unmap(m);
        return HT_EIO;
    }
    m->size = (size_t)sb.st_size;
    if (m->size < sizeof(struct ht_spill_header)) {
        ht__store_set_error("%s: spill is truncated (%zu bytes, header needs %zu)",
                            path, m->size, sizeof(struct ht_spill_header));
        spill_unmap(m);
        return HT_ETRUNC;
    }
    m->base = mmap(NULL, m->size, PROT_READ, MAP_SHARED, m->fd, 0);
    if (m->base == MAP_FAILED) {
        ht__store_set_error("%s: mmap: %s", path, strerror(errno));
        m->base = NULL;
        spill_unmap(m);
        return HT_EIO;
    }
    m->h = m->base;
    const struct ht_spill_header *h = m->h;
    if (memcmp(h->magic, HT_SPILL_MAGIC, 8) != 0) {
        ht__store_set_error("%s: not a heaptrail spill (bad magic)", path);
        spill_unmap(m);
        return HT_ECORRUPT;
    }
    if (h->version > HT_SPILL_VERSION) {
        ht__store_set_error("%s: spill version %u is newer than this heaptrail",
                            path, h->version);
        spill_unmap(m);
        return HT_EVERSION;
    }
    /* version 1 (48-byte struct ht_rec slots) is still read: a spill an
     * older heaptrail's recording left after a crash (v1_copy) */
    if (h->version < 1 ||
        h->rec_size != (h->version == 1 ? sizeof(struct ht_rec)
                                        : sizeof(struct ht_spill_rec)) ||
        h->header_size < sizeof *h ||
        h->header_size % _Alignof(max_align_t) != 0 || /* records aligned */
        h->chunk_records == 0 || h->chunk_records > (1u << 24) ||
        h->header_size > m->size || h->nmodules > HT_SPILL_MAX_MODULES ||
        h->argv_len > HT_SPILL_ARGV_MAX) {
        ht__store_set_error("%s: spill header is corrupt", path);
        spill_unmap(m);
        return HT_ECORRUPT;
    }
    return HT_OK;
}

static int rec_cmp(const void *x, const void *y)
{
    const struct ht_rec *a = x, *b = y;
    return a->seq < b->seq ? -1 : a->seq > b->seq;
}

/* How many bytes from off (of a len-byte chunk) are allocated data: 0 for
 * a chunk the recorder reserved (next_chunk) but could not allocate (disk
 * full), less than len for one whose fallocate was cut short. Reading a
 * hole through the map of a full tmpfs raises SIGBUS (found by
 * tests/e2e/test_reliability.c, test_disk_full), and a hole holds no
 * records, so holes are never touched. */
static size_t chunk_data_bytes(const struct spill_map *m, size_t off, size_t len)
{
    off_t d = lseek(m->fd, (off_t)off, SEEK_DATA);
    if (d < 0)
        return errno == ENXIO ? 0 : len; /* ENXIO: no data from off on */
    if ((size_t)d != off)
        return 0; /* starts with a hole: never allocated */
    off_t h = lseek(m->fd, (off_t)off, SEEK_HOLE);
    if (h < 0 || (size_t)h >= off + len)
        return len;
    return (size_t)h - off; /* allocated in part (a fallocate cut short) */
}

/* Torn slots (the one rule of every path; docs/DECISIONS.md 30):
 *   T1. A torn slot is a slot of a chunk, before the chunk's last written
 *       slot (kind != 0), whose kind is not a valid event kind (0: a slot
 *       reserved and never completed; >= HT_EV_KIND_COUNT: garbage), other
 *       than an owner slot (spill.h S6) and a wide record's first half
 *       (kind byte 0 directly before its valid second slot, S7; a wide
 *       record never completed is two torn slots, a wide slot with no
 *       kind-0 slot before it is torn). Each
 *       is counted once, whether or not its chunk (or the range a live
 *       step takes) holds any valid record: by stream_over (those before
 *       the first valid record), by the merge (those between records of a
 *       map stream) or by sorted_copy. A live ingest's ranges partition
 *       the same slots, so live and offline ingests count the same.
 * valid_kind: one compare (kind 0 wraps to UINT_MAX). */
static inline int valid_kind(unsigned k)
{
    return k - 1u < HT_EV_KIND_COUNT - 1u;
}

/* Version-2 slots (spill.h): the kind byte, the seq, and whether the slot
 * holds a record (compact or wide; not an owner slot, S6). */
static inline unsigned slot_kb(const struct ht_spill_rec *p)
{
    return ht_spill_kind_byte(p->w[3]);
}
static inline uint64_t slot_seq(const struct ht_spill_rec *p)
{
    return p->w[3] & HT_SPILL_LOW48;
}
static inline int valid_slot(unsigned kb)
{
    return valid_kind(kb & 0x7fu);
}

/* The first record slot of [p, end) (end if none), base being the first
 * slot of the chunk or copy. The slots passed over are counted in *torn
 * (T1) but for owner slots, whose tid goes to *tid (S6), and a wide
 * record's first half (S7). A wide slot is a record only if the slot
 * before it has kind byte 0 (S7): one at base, or after a record or an
 * owner slot, is torn (only a corrupt spill has one; unpacking it would
 * pair it with the wrong first half). Off the merge's hot path: only met
 * at slots that are no compact record, so every wide slot is checked
 * here. */
static const struct ht_spill_rec *
skip_slots(const struct ht_spill_rec *base, const struct ht_spill_rec *p,
           const struct ht_spill_rec *end, uint32_t *tid, uint64_t *torn)
{
    for (; p < end; p++) {
        unsigned kb = slot_kb(p);
        if (valid_slot(kb) &&
            (!(kb & HT_SPILL_WIDE) || (p > base && slot_kb(p - 1) == 0)))
            return p;
        if (kb == HT_SPILL_OWNER)
            *tid = (uint32_t)p->w[0];
        else if (!(kb == 0 && p + 1 < end &&
                   (slot_kb(p + 1) & HT_SPILL_WIDE) &&
                   valid_slot(slot_kb(p + 1))))
            (*torn)++;
    }
    return end;
}

/* Make s a stream over r[from..end) in place (the caller knows the valid
 * records are in seq order; tid: the thread of r[from], S6): from its
 * first valid record, the slots before it counted in *torn; s->n == 0
 * (all counted) when there is none. */
static void stream_over(struct stream *s, const struct ht_spill_rec *r,
                        size_t from, size_t end, uint32_t tid, uint64_t *torn)
{
    const struct ht_spill_rec *f = skip_slots(r, r + from, r + end, &tid, torn);
    memset(s, 0, sizeof *s);
    if (f == r + end)
        return;
    s->r = r;
    s->pos = (size_t)(f - r);
    s->n = end;
    s->key = slot_seq(f);
    s->tid = tid;
}

/* Make s a stream of the n records of v (any order; v is consumed):
 * sorted by seq and packed into an owned copy, an owner slot before each
 * record whose thread differs from the one before. */
static ht_err pack_sorted(struct stream *s, struct ht_rec *v, size_t n)
{
    memset(s, 0, sizeof *s);
    if (!n)
        return HT_OK;
    struct ht_spill_rec *cp = malloc(3 * n * sizeof *cp);
    if (!cp)
        return HT_ENOMEM;
    qsort(v, n, sizeof *v, rec_cmp);
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        if (i == 0 || v[i].tid != v[i - 1].tid)
            ht_spill_owner(&cp[k++], v[i].tid);
        k += ht_spill_pack(&cp[k], &v[i]);
    }
    uint64_t none = 0; /* a packed copy has no torn slot */
    stream_over(s, cp, 0, k, 0, &none);
    s->owned = cp;
    return HT_OK;
}

/* Make s a sorted copy of the valid records of r[from..end) (tid: the
 * thread of r[from]), the torn slots counted in *torn (a chunk a signal
 * handler left out of seq order, S4). s->n == 0: none valid. */
static ht_err sorted_copy(struct stream *s, const struct ht_spill_rec *r,
                          size_t from, size_t end, uint32_t tid,
                          uint64_t *torn)
{
    memset(s, 0, sizeof *s);
    struct ht_rec *v = malloc((end > from ? end - from : 1) * sizeof *v);
    if (!v)
        return HT_ENOMEM;
    size_t j = 0;
    for (const struct ht_spill_rec *p = r + from;; p++) {
        if ((p = skip_slots(r, p, r + end, &tid, torn)) == r + end)
            break;
        ht_spill_unpack(p, tid, &v[j++]);
    }
    ht_err e = pack_sorted(s, v, j);
    free(v);
    return e;
}

/* A version-1 chunk (48-byte struct ht_rec slots, tid in each): its
 * valid records as a sorted packed copy, the others counted in *torn. */
static ht_err v1_copy(struct stream *s, const struct ht_rec *r, size_t end,
                      uint64_t *torn)
{
    struct ht_rec *v = malloc((end ? end : 1) * sizeof *v);
    if (!v)
        return HT_ENOMEM;
    size_t j = 0;
    for (size_t i = 0; i < end; i++)
        if (valid_kind(r[i].kind) && r[i].seq < HT_SPILL_SEQ_LIMIT &&
            r[i].flags < 0x100)
            v[j++] = r[i];
    *torn += end - j;
    ht_err e = pack_sorted(s, v, j);
    free(v);
    return e;
}

/* Make s a stream of the valid records of r[from..end) (end: the chunk
 * without its trailing unused slots; tid: the thread of r[from]) in seq
 * order: over the map when they are sorted, else a sorted copy; torn slots
 * counted as T1 says. */
static ht_err validate_chunk(struct stream *s, const struct ht_spill_rec *r,
                             size_t from, size_t end, uint32_t tid,
                             uint64_t *torn)
{
    uint64_t last = 0;
    int any = 0;
    for (size_t i = from; i < end; i++) {
        if (!valid_slot(slot_kb(&r[i])))
            continue;
        if (any && slot_seq(&r[i]) < last)
            return sorted_copy(s, r, from, end, tid, torn);
        last = slot_seq(&r[i]);
        any = 1;
    }
    stream_over(s, r, from, end, tid, torn);
    return HT_OK;
}

/* Where the chunks of a mapped spill are: chunk c starts at header_size +
 * c * chunk_bytes; avail chunks lie wholly inside the file, and tail
 * records of one more (a file cut short); reserved chunks were handed out
 * by the recorder (next_chunk, acquire: their slots may be read). */
struct spill_geom {
    size_t chunk_bytes, avail, tail, reserved;
};

static void spill_geom(const struct spill_map *m, struct spill_geom *g)
{
    const struct ht_spill_header *h = m->h;
    g->chunk_bytes = (size_t)h->chunk_records * h->rec_size;
    g->avail = (m->size - h->header_size) / g->chunk_bytes;
    g->tail = (m->size - h->header_size) % g->chunk_bytes / h->rec_size;
    uint64_t nc = __atomic_load_n(&h->next_chunk, __ATOMIC_ACQUIRE);
    g->reserved = nc < h->max_chunks ? (size_t)nc : h->max_chunks;
}

/* A live ingest's progress in one chunk (invariant L2 below). */
struct chunk_prog {
    size_t merged; /* slots handed to the merge */
    size_t data;   /* slots known to be allocated (chunk_data_bytes) */
    uint32_t tid;  /* thread of slot merged (S6: its last owner slot) */
};

static void free_streams(struct stream *s, size_t ns)
{
    for (size_t i = 0; i < ns; i++)
        free(s[i].owned);
    free(s);
}

/* Build streams from the spill's chunks, torn slots counted as T1 says.
 * Eager (lazy == 0): every chunk scanned here, and copied and sorted when
 * a signal handler left it out of order. Lazy: only up to the first valid
 * record is read (key = its seq) and the merge reads each chunk once, as
 * it copies it: a chunk out of order shows as an output record not after
 * the one before it, and the merge then asks for an eager redo (M2).
 * start (NULL: none) gives, for chunks below nstart, the slots a live
 * ingest already merged: only the rest of each chunk becomes a stream. */
static ht_err build_streams(const struct spill_map *m, int lazy,
                            const struct chunk_prog *start, size_t nstart,
                            struct stream **out, size_t *nout, uint64_t *torn,
                            int *truncated)
{
    const struct ht_spill_header *h = m->h;
    struct spill_geom g;
    spill_geom(m, &g);
    size_t chunk_bytes = g.chunk_bytes, avail = g.avail, tail = g.tail;
    size_t used = g.reserved;
    *truncated = 0;
    if (used > avail) {
        *truncated = 1; /* torn tail: file shorter than its chunks */
        used = tail ? avail + 1 : avail;
    }
    struct stream *s = calloc(used ? used : 1, sizeof *s);
    if (!s)
        return HT_ENOMEM;
    size_t ns = 0;
    for (size_t c = 0; c < used; c++) {
        const char *cb = (const char *)m->base + h->header_size + c * chunk_bytes;
        const struct ht_spill_rec *r = (const struct ht_spill_rec *)cb;
        const struct ht_rec *r1 = (const struct ht_rec *)cb; /* version 1 */
        size_t end = c < avail ? h->chunk_records : tail;
        size_t first = start && c < nstart ? start[c].merged : 0;
        if (first >= end)
            continue; /* merged live: not even the lseeks below (they scan
                       * the page cache of fallocated chunks) */
        /* a chunk reserved but not (or not wholly) allocated when the disk
         * filled up: reading its holes would fault pages in (SIGBUS on a
         * full tmpfs); its records, if any, are in the allocated part */
        size_t data = chunk_data_bytes(m, h->header_size + c * chunk_bytes,
                                       chunk_bytes);
        if (end > data / h->rec_size)
            end = data / h->rec_size;
        /* trailing unused slots */
        while (end > first && (h->version == 1 ? r1[end - 1].kind == 0
                                               : slot_kb(&r[end - 1]) == 0))
            end--;
        if (end <= first)
            continue;
        uint32_t tid = start && c < nstart ? start[c].tid : 0;
        ht_err e = HT_OK;
        if (h->version == 1)
            e = v1_copy(&s[ns], r1, end, torn); /* never live (step) */
        else if (lazy)
            stream_over(&s[ns], r, first, end, tid, torn);
        else
            e = validate_chunk(&s[ns], r, first, end, tid, torn);
        if (e != HT_OK) {
            free_streams(s, ns);
            return e;
        }
        /* an eager stream's records were all read by validate_chunk
         * (faulted in already, or copied: owned); a lazy stream may be an
         * owned copy too (a version-1 spill's) */
        s[ns].fault_in = lazy && !start && !s[ns].owned;
        if (s[ns].n)
            ns++;
    }
    *out = s;
    *nout = ns;
    return HT_OK;
}

static int stream_first_cmp(const void *x, const void *y)
{
    const struct stream *a = x, *b = y;
    return a->key < b->key ? -1 : a->key > b->key;
}

/* Min-heap of stream pointers keyed by the current record's seq (key). */
static void heap_down(struct stream **hp, size_t n, size_t i)
{
    for (;;) {
        size_t l = 2 * i + 1, m = i;
        if (l < n && hp[l]->key < hp[m]->key)
            m = l;
        if (l + 1 < n && hp[l + 1]->key < hp[m]->key)
            m = l + 1;
        if (m == i)
            return;
        struct stream *t = hp[i];
        hp[i] = hp[m];
        hp[m] = t;
        i = m;
    }
}

static void heap_up(struct stream **hp, size_t i)
{
    while (i && hp[(i - 1) / 2]->key > hp[i]->key) {
        struct stream *t = hp[i];
        hp[i] = hp[(i - 1) / 2];
        hp[(i - 1) / 2] = t;
        i = (i - 1) / 2;
    }
}

/* Home slot of pc in a set of cap (a power of two) slots. */
static inline size_t pc_home(uint64_t pc, size_t cap)
{
    return (size_t)((pc * 0x9E3779B97F4A7C15ull) >> 20) & (cap - 1);
}

/* ---- pc set (open addressing) ------------------------------------------ */
struct pcset {
    uint64_t *v;
    size_t cap, n;
};

static ht_err pcset_add(struct pcset *p, uint64_t pc)
{
    if (!pc)
        return HT_OK;
    if ((p->n + 1) * 2 > p->cap) {
        size_t ncap = p->cap ? p->cap * 2 : 1024;
        uint64_t *nv = calloc(ncap, sizeof *nv);
        if (!nv)
            return HT_ENOMEM;
        for (size_t i = 0; i < p->cap; i++) {
            if (!p->v[i])
                continue;
            size_t j = pc_home(p->v[i], ncap);
            while (nv[j])
                j = (j + 1) & (ncap - 1);
            nv[j] = p->v[i];
        }
        free(p->v);
        p->v = nv;
        p->cap = ncap;
    }
    size_t j = pc_home(pc, p->cap);
    while (p->v[j]) {
        if (p->v[j] == pc)
            return HT_OK;
        j = (j + 1) & (p->cap - 1);
    }
    p->v[j] = pc;
    p->n++;
    return HT_OK;
}

/* pcset_add with the common case inline: pc already in its first slot. */
static inline ht_err pcset_note(struct pcset *p, uint64_t pc)
{
    if (p->cap && p->v[pc_home(pc, p->cap)] == pc)
        return HT_OK;
    return pcset_add(p, pc);
}

/* One chunk handed to the encoder thread. Protected by mu: state and the
 * result fields; buf is read by the encoder only while state == PENDING. */
enum { ENC_IDLE, ENC_PENDING, ENC_DONE, ENC_QUIT };
struct encoder {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    pthread_t thread;
    int started, state;
    const struct ht_rec *buf;
    size_t n;
    uint8_t *out; /* the encoded chunk, out[0..len); reused for every chunk
                   * (capacity cap), freed by encoder_stop */
    size_t cap, len;
    ht_err e;
};

static void *encoder_main(void *arg)
{
    struct encoder *w = arg;
    pthread_mutex_lock(&w->mu);
    for (;;) {
        while (w->state != ENC_PENDING && w->state != ENC_QUIT)
            pthread_cond_wait(&w->cv, &w->mu);
        if (w->state == ENC_QUIT)
            break;
        const struct ht_rec *buf = w->buf;
        size_t n = w->n;
        pthread_mutex_unlock(&w->mu);
        /* out and cap are this thread's while the chunk is PENDING */
        size_t len = 0;
        ht_err e = ht__codec_encode_to(buf, n, &w->out, &w->cap, &len);
        pthread_mutex_lock(&w->mu);
        w->len = len;
        w->e = e;
        w->state = ENC_DONE;
        pthread_cond_broadcast(&w->cv);
    }
    pthread_mutex_unlock(&w->mu);
    ht__codec_thread_done();
    return NULL;
}

/* Insert one encoded chunk, enc[0..len) (the caller's: bound static and
 * unbound again before returning, so the caller may reuse it). */
static ht_err store_encoded(ht_store *st, sqlite3_stmt *ins, int64_t run_id,
                            int64_t chunk_no, const struct ht_rec *buf,
                            size_t n, ht_err e, const uint8_t *enc, size_t len)
{
    if (e != HT_OK) {
        ht__store_set_error("encoding chunk: %s", ht_strerror(e));
        return e;
    }
    sqlite3_bind_int64(ins, 1, run_id);
    sqlite3_bind_int64(ins, 2, chunk_no);
    sqlite3_bind_int64(ins, 3, (sqlite3_int64)buf[0].seq);
    sqlite3_bind_int64(ins, 4, (sqlite3_int64)buf[n - 1].seq);
    sqlite3_bind_int64(ins, 5, (sqlite3_int64)n);
    sqlite3_bind_text(ins, 6, HT_CODEC_NAME, -1, SQLITE_STATIC);
    sqlite3_bind_blob(ins, 7, enc, (int)len, SQLITE_STATIC);
    int rc = sqlite3_step(ins);
    sqlite3_reset(ins);
    sqlite3_bind_null(ins, 7);
    return rc == SQLITE_DONE ? HT_OK : ht__store_sqlerr(st, "storing chunk");
}

/* Encode and insert a chunk inline, into the buffer *out (capacity *cap,
 * the caller's: see ht__codec_encode_to). */
static ht_err flush_chunk(ht_store *st, sqlite3_stmt *ins, int64_t run_id,
                          int64_t chunk_no, const struct ht_rec *buf, size_t n,
                          uint8_t **out, size_t *cap)
{
    size_t len = 0;
    ht_err e = ht__codec_encode_to(buf, n, out, cap, &len);
    return store_encoded(st, ins, run_id, chunk_no, buf, n, e, *out, len);
}

/* Wait for the chunk in flight (if any) and insert it. */
static ht_err encoder_finish(struct encoder *w, ht_store *st,
                             sqlite3_stmt *ins, int64_t run_id,
                             int64_t *chunk_no, struct ht_ingest_result *res)
{
    pthread_mutex_lock(&w->mu);
    if (w->state == ENC_IDLE) {
        pthread_mutex_unlock(&w->mu);
        return HT_OK;
    }
    while (w->state != ENC_DONE)
        pthread_cond_wait(&w->cv, &w->mu);
    w->state = ENC_IDLE;
    pthread_mutex_unlock(&w->mu);
    ht_err e = store_encoded(st, ins, run_id, (*chunk_no)++, w->buf, w->n,
                             w->e, w->out, w->len);
    if (e == HT_OK)
        res->events += w->n;
    return e;
}

static void encoder_start(struct encoder *w)
{
    memset(w, 0, sizeof *w);
    pthread_mutex_init(&w->mu, NULL);
    pthread_cond_init(&w->cv, NULL);
    /* without the thread, chunks are encoded inline */
    w->started = pthread_create(&w->thread, NULL, encoder_main, w) == 0;
}

/* Stop the thread; a chunk still in flight is dropped (error paths). */
static void encoder_stop(struct encoder *w)
{
    pthread_mutex_lock(&w->mu);
    while (w->state == ENC_PENDING)
        pthread_cond_wait(&w->cv, &w->mu);
    w->state = ENC_QUIT;
    pthread_cond_broadcast(&w->cv);
    pthread_mutex_unlock(&w->mu);
    if (w->started)
        pthread_join(w->thread, NULL);
    free(w->out);
    w->out = NULL;
    pthread_mutex_destroy(&w->mu);
    pthread_cond_destroy(&w->cv);
}

/* Encoder threads: encoding (the codec and zstd) costs about twice the
 * merge per record, so with one the merge waited; two keep both cores of
 * a quiet machine busy. */
#define HT_INGEST_ENCODERS 2

/* The merge's output side, kept across calls so that a live ingest can
 * merge the spill in steps (ht_store_ingest_step) and still cut the same
 * 65,536-record chunks as one offline merge: the partial buffer, the chunk
 * number, the encoders and the seq of the last record merged.
 * Chunk k goes to encoder k % nw; before it is handed over, that encoder's
 * chunk k - nw, the oldest in flight, is stored: so chunks are stored in
 * order, and nw + 1 buffers suffice (nw in flight, one being merged). */
struct merger {
    ht_store *st;
    int64_t run_id;
    sqlite3_stmt *ins;
    struct encoder w[HT_INGEST_ENCODERS];
    int nw_init;  /* encoders initialised (each needs encoder_stop) */
    int nw;       /* of them running; 0: chunks are encoded inline */
    int wi;       /* the encoder of the next chunk (holds the oldest) */
    int bi;       /* buf == bufs + bi * HT_CODEC_MAX_RECORDS */
    struct ht_rec *bufs, *buf;
    size_t nb;
    uint8_t *out; /* encoded chunk without encoder threads (flush_chunk) */
    size_t outcap;
    int64_t chunk_no;
    uint64_t last_pc;  /* most pcs repeat: skip the set lookup */
    uint64_t last_out; /* seq of the last record merged, if merged */
    uint64_t merged;   /* records copied into the buffers so far */
    uint64_t total;    /* expected records, for the progress callback: 0
                        * while the program runs (no bar over its output) */
    struct pcset *pcs;
    struct ht_ingest_result *res;
};

static ht_err merger_open(struct merger *m, ht_store *st, int64_t run_id,
                          struct pcset *pcs, struct ht_ingest_result *res)
{
    memset(m, 0, sizeof *m);
    m->st = st;
    m->run_id = run_id;
    m->pcs = pcs;
    m->res = res;
    m->bufs = m->buf = malloc((HT_INGEST_ENCODERS + 1) * HT_CODEC_MAX_RECORDS *
                              sizeof *m->bufs);
    if (!m->bufs)
        return HT_ENOMEM;
    if (sqlite3_prepare_v2(st->db, "INSERT INTO chunks VALUES(?,?,?,?,?,?,?)",
                           -1, &m->ins, NULL) != SQLITE_OK) {
        ht_err e = ht__store_sqlerr(st, "storing chunk");
        free(m->bufs);
        m->bufs = NULL;
        return e;
    }
    /* without threads, chunks are encoded inline */
    while (m->nw_init < HT_INGEST_ENCODERS) {
        struct encoder *w = &m->w[m->nw_init++];
        encoder_start(w);
        if (!w->started)
            break;
        m->nw++;
    }
    return HT_OK;
}

/* Store buf[0..n) (m->buf): hand it to the next encoder after storing
 * that encoder's chunk, the oldest in flight (the caller merges into the
 * next buffer meanwhile), or encode it inline without encoder threads. */
static ht_err merger_submit(struct merger *m, const struct ht_rec *buf,
                            size_t n)
{
    ht_err e;
    if (m->nw == 0) {
        if ((e = flush_chunk(m->st, m->ins, m->run_id, m->chunk_no++, buf,
                             n, &m->out, &m->outcap)) == HT_OK)
            m->res->events += n;
        return e;
    }
    struct encoder *w = &m->w[m->wi];
    if ((e = encoder_finish(w, m->st, m->ins, m->run_id, &m->chunk_no,
                            m->res)) != HT_OK)
        return e;
    pthread_mutex_lock(&w->mu);
    w->buf = buf;
    w->n = n;
    w->state = ENC_PENDING;
    pthread_cond_broadcast(&w->cv);
    pthread_mutex_unlock(&w->mu);
    m->wi = (m->wi + 1) % m->nw;
    m->bi = (m->bi + 1) % (m->nw + 1);
    m->buf = m->bufs + (size_t)m->bi * HT_CODEC_MAX_RECORDS;
    return HT_OK;
}

/* Wait for every chunk in flight and store them, oldest first. */
static ht_err merger_drain(struct merger *m)
{
    for (int i = 0; i < m->nw; i++) {
        ht_err e = encoder_finish(&m->w[(m->wi + i) % m->nw], m->st, m->ins,
                                  m->run_id, &m->chunk_no, m->res);
        if (e != HT_OK)
            return e;
    }
    return HT_OK;
}

/* Stop the encoders (chunks in flight are dropped) and free m; m may be
 * zeroed or closed already. */
static void merger_close(struct merger *m)
{
    for (int i = 0; i < m->nw_init; i++)
        encoder_stop(&m->w[i]);
    m->nw_init = m->nw = 0;
    sqlite3_finalize(m->ins);
    m->ins = NULL;
    free(m->bufs);
    m->bufs = m->buf = NULL;
    free(m->out);
    m->out = NULL;
    m->outcap = 0;
}

/* Fault a map stream's records in with one call instead of a fault per
 * few pages (best effort: MADV_POPULATE_READ needs Linux 5.14). Done as
 * the merge reaches the chunk, not for the whole spill before the merge
 * starts: the encoder threads then have chunks to encode meanwhile. Only
 * allocated data is touched (stream ends are inside chunk_data_bytes). */
static void fault_in(const struct stream *s)
{
#ifdef MADV_POPULATE_READ
    static size_t page;
    if (!page)
        page = (size_t)sysconf(_SC_PAGESIZE);
    uintptr_t a = (uintptr_t)(s->r + s->pos) & ~(uintptr_t)(page - 1);
    uintptr_t b = (uintptr_t)(s->r + s->n);
    madvise((void *)a, b - a, MADV_POPULATE_READ);
#else
    (void)s;
#endif
}

/* Kinds whose d is a return address unless flagged HT_EVF_SITE. */
#define PC_KINDS (1u << HT_EV_ALLOC | 1u << HT_EV_REALLOC | 1u << HT_EV_FREE)

/* Merge the streams s[0..ns) into the output after what m merged before;
 * collect pcs; count the torn slots between records (T1).
 *   M1. The heap holds the active streams (those whose key was reached),
 *       each with a valid record at its head; the smallest is copied as a
 *       run, up to the first record not before every other stream's head
 *       or the next inactive stream's key: the run loop reads each slot
 *       once (no separate validation pass), and with one thread the whole
 *       chunk is one run.
 *   M2. Output order: no record of a run may come before the one before
 *       it (a lazy chunk a signal handler disordered: lazy streams are not
 *       sorted), and with check each run's first record must come after
 *       the last one merged (across calls: merger.last_out; a straggler of
 *       a live ingest, or a seq repeated across chunks of a corrupt
 *       spill). Otherwise *redo is set and HT_OK returned early, and the
 *       caller rolls back what was stored and merges again from eager
 *       streams (sorted, merged with check == 0: the output is then in
 *       seq order up to repeated seqs, which need no redo). */
static ht_err merger_run(struct merger *m, struct stream *s, size_t ns,
                         int check, int *redo)
{
    *redo = 0;
    qsort(s, ns, sizeof *s, stream_first_cmp);
    struct stream **hp = malloc((ns ? ns : 1) * sizeof *hp);
    if (!hp)
        return HT_ENOMEM;
    ht_err e = HT_OK;
    struct ht_ingest_result *res = m->res;
    size_t nh = 0, next = 0;
    struct ht_rec *buf = m->buf, *o = buf + m->nb;
    /* the last two distinct pcs seen: most records repeat one of them
     * (a site's malloc and its free alternate), so skip the set lookup */
    uint64_t pc0 = m->last_pc, pc1 = 0, torn = 0;
    for (;;) {
        /* activate streams whose first seq is not after the heap minimum */
        while (next < ns && (nh == 0 || s[next].key <= hp[0]->key)) {
            if (s[next].fault_in)
                fault_in(&s[next]);
            hp[nh] = &s[next++];
            heap_up(hp, nh++);
        }
        if (nh == 0)
            break;
        struct stream *t = hp[0];
        uint64_t lim = next < ns ? s[next].key : UINT64_MAX;
        if (nh > 1 && hp[1]->key < lim)
            lim = hp[1]->key;
        if (nh > 2 && hp[2]->key < lim)
            lim = hp[2]->key;
        const struct ht_spill_rec *p = t->r + t->pos, *pe = t->r + t->n;
        struct ht_rec *o0 = o, *oe = buf + HT_CODEC_MAX_RECORDS;
        uint64_t prev = slot_seq(p);
        uint32_t tid = t->tid;
        int at_rec = 0;
        if (check && m->merged && prev <= m->last_out) {
            *redo = 1; /* M2, across streams and calls */
            goto out;
        }
        /* the run ends by pr at the latest: there the stream or the
         * output buffer is full (each record copied takes a slot) */
        const struct ht_spill_rec *pr =
            p + ((size_t)(pe - p) < (size_t)(oe - o) ? (size_t)(pe - p)
                                                     : (size_t)(oe - o));
        for (;;) { /* the run: *p is a valid record slot */
            uint64_t seq = slot_seq(p);
            if (seq < prev) {
                *redo = 1; /* M2: a lazy chunk out of order */
                goto out;
            }
            prev = seq;
            ht_spill_unpack(p, tid, o); /* the one copy (spill.h layout) */
            if ((PC_KINDS >> o->kind & 1) && !(o->flags & HT_EVF_SITE) &&
                o->d != pc0) {
                uint64_t pc = o->d;
                if (pc != pc1 && (e = pcset_note(m->pcs, pc)) != HT_OK)
                    goto out;
                pc1 = pc0;
                pc0 = pc;
            }
            o++;
            if (++p == pr)
                break;
            unsigned kb = slot_kb(p);
            if (!valid_kind(kb)) {
                /* a wide record (S7: kind byte 0, then its valid wide
                 * slot) inline, as common as a third of the records
                 * (bench_micro threads); torn (T1), owner (S6) and the
                 * rest through skip_slots */
                if (kb == 0 && p + 1 < pr &&
                    (slot_kb(p + 1) & HT_SPILL_WIDE) &&
                    valid_slot(slot_kb(p + 1)))
                    p++;
                else if ((p = skip_slots(t->r, p, pe, &tid, &torn)) >= pr)
                    break;
            }
            if (slot_seq(p) >= lim) {
                at_rec = 1; /* p is a record slot: no skip_slots below */
                break;
            }
        }
        /* pr reached with torn slots left before the stream's end */
        if (!at_rec)
            p = skip_slots(t->r, p, pe, &tid, &torn);
        m->merged += (uint64_t)(o - o0);
        m->last_out = prev;
        t->pos = (size_t)(p - t->r);
        t->tid = tid;
        if (p == pe)
            hp[0] = hp[--nh];
        else
            t->key = slot_seq(p);
        if (nh)
            heap_down(hp, nh, 0);
        if (o == oe) {
            if ((e = merger_submit(m, buf, HT_CODEC_MAX_RECORDS)) != HT_OK)
                goto out;
            buf = m->buf;
            o = buf;
            if (m->st->progress && m->total)
                m->st->progress(m->st->progress_ctx, res->events, m->total);
        }
    }
out:
    res->torn += torn;
    m->nb = (size_t)(o - buf);
    m->buf = buf;
    m->last_pc = pc0;
    free(hp);
    return e;
}

/* Hand over the partial last chunk (merger_end then waits for the
 * encoders). */
static ht_err merger_flush(struct merger *m)
{
    ht_err e = HT_OK;
    if (m->nb && (e = merger_submit(m, m->buf, m->nb)) != HT_OK)
        return e;
    m->nb = 0;
    return HT_OK;
}

/* Wait for the encoders and store the chunks in flight. */
static ht_err merger_end(struct merger *m)
{
    ht_err e = merger_drain(m);
    if (e == HT_OK)
        m->res->chunks = (uint64_t)m->chunk_no;
    return e;
}

/* Integer result of a one-value PRAGMA, or 0. */
static int64_t pragma_int(ht_store *st, const char *sql)
{
    sqlite3_stmt *q = NULL;
    int64_t v = 0;
    if (sqlite3_prepare_v2(st->db, sql, -1, &q, NULL) == SQLITE_OK &&
        sqlite3_step(q) == SQLITE_ROW)
        v = sqlite3_column_int64(q, 0);
    sqlite3_finalize(q);
    return v;
}

static ht_err store_modules_pcs(ht_store *st, int64_t run_id,
                                const struct ht_spill_header *h,
                                const struct pcset *pcs,
                                struct ht_ingest_result *res)
{
    ht_err e = HT_OK;
    sqlite3_stmt *mi = NULL, *pi = NULL;
    ht_symbolizer *sym = NULL;
    if (sqlite3_prepare_v2(st->db, "INSERT INTO modules VALUES(?,?,?,?,?,?,?,?)",
                           -1, &mi, NULL) != SQLITE_OK ||
        sqlite3_prepare_v2(st->db, "INSERT INTO pcs VALUES(?,?,?,?,?,?,?,NULL)",
                           -1, &pi, NULL) != SQLITE_OK) {
        e = ht__store_sqlerr(st, "storing modules");
        goto out;
    }
    uint32_t nm = h->nmodules;
    for (uint32_t i = 0; i < nm; i++) {
        const struct ht_spill_module *m = &h->modules[i];
        char path[HT_SPILL_PATH_MAX];
        memcpy(path, m->path, sizeof path);
        path[sizeof path - 1] = 0;
        char exe[HT_SPILL_PATH_MAX];
        memcpy(exe, h->exe, sizeof exe);
        exe[sizeof exe - 1] = 0;
        sqlite3_bind_int64(mi, 1, run_id);
        sqlite3_bind_int64(mi, 2, i);
        /* SQLITE_STATIC here and below: the strings outlive the step, and a
         * TRANSIENT copy that fails for lack of memory would silently store
         * NULL (found by tests/reliability/test_faults.c) */
        sqlite3_bind_text(mi, 3, path[0] ? path : exe, -1, SQLITE_STATIC);
        sqlite3_bind_int64(mi, 4, (sqlite3_int64)m->bias);
        sqlite3_bind_int64(mi, 5, (sqlite3_int64)m->lo);
        sqlite3_bind_int64(mi, 6, (sqlite3_int64)m->hi);
        sqlite3_bind_int64(mi, 7, (sqlite3_int64)m->data_lo);
        sqlite3_bind_int64(mi, 8, (sqlite3_int64)m->data_hi);
        if (sqlite3_step(mi) != SQLITE_DONE) {
            e = ht__store_sqlerr(st, "storing modules");
            goto out;
        }
        sqlite3_reset(mi);
    }
    if ((e = ht__sym_new(&sym)) != HT_OK)
        goto out;
    for (size_t i = 0; i < pcs->cap; i++) {
        uint64_t pc = pcs->v[i];
        if (!pc)
            continue;
        res->pcs++;
        int mod = -1;
        for (uint32_t k = 0; k < nm; k++)
            if (pc >= h->modules[k].lo && pc < h->modules[k].hi) {
                mod = (int)k;
                break;
            }
        struct ht_symloc loc = {0};
        if (mod >= 0) {
            char path[HT_SPILL_PATH_MAX];
            const char *src = h->modules[mod].path[0] ? h->modules[mod].path : h->exe;
            memcpy(path, src, sizeof path);
            path[sizeof path - 1] = 0;
            if (ht__sym_lookup(sym, path, h->modules[mod].bias, pc, &loc) == HT_OK)
                res->pcs_symbolised++;
        }
        sqlite3_bind_int64(pi, 1, run_id);
        sqlite3_bind_int64(pi, 2, (sqlite3_int64)pc);
        if (mod >= 0)
            sqlite3_bind_int(pi, 3, mod);
        else
            sqlite3_bind_null(pi, 3);
        sqlite3_bind_text(pi, 4, loc.file, -1, SQLITE_STATIC);
        if (loc.line)
            sqlite3_bind_int(pi, 5, loc.line);
        else
            sqlite3_bind_null(pi, 5);
        if (loc.col)
            sqlite3_bind_int(pi, 6, loc.col);
        else
            sqlite3_bind_null(pi, 6);
        sqlite3_bind_text(pi, 7, loc.func, -1, SQLITE_STATIC);
        if (sqlite3_step(pi) != SQLITE_DONE) {
            e = ht__store_sqlerr(st, "storing pcs");
            goto out;
        }
        sqlite3_reset(pi);
        sqlite3_clear_bindings(pi);
    }
out:
    ht__sym_free(sym);
    sqlite3_finalize(mi);
    sqlite3_finalize(pi);
    return e;
}

static void argv_text(const struct ht_spill_header *h, char *out, size_t n)
{
    size_t len = h->argv_len < HT_SPILL_ARGV_MAX ? h->argv_len : HT_SPILL_ARGV_MAX;
    size_t j = 0;
    for (size_t i = 0; i < len && j + 1 < n; i++) {
        char ch = h->argv[i];
        if (ch == 0) {
            if (i + 1 == len)
                break;
            ch = ' ';
        }
        out[j++] = ch;
    }
    out[j] = 0;
}

/* The run row of spill header h: inserted (res->run_id == 0; events 0,
 * sets res->run_id) when ingest begins, then updated (every column that
 * can change while the program runs, events and torn from res) once the
 * run is merged. */
static ht_err insert_run(ht_store *st, const struct ht_spill_header *h,
                         const char *spill_path, const struct ht_run_end *end,
                         int truncated, struct ht_ingest_result *res)
{
    sqlite3_stmt *s = NULL;
    int update = res->run_id != 0;
    if (sqlite3_prepare_v2(st->db, update ?
            "UPDATE runs SET end_ns=?8,exit_status=?9,signal=?10,status=?11,"
            "complete=?12,events=?13,torn=?14,overflow_events=?15 "
            "WHERE run_id=?17" :
            "INSERT INTO runs(pid,ppid,parent_pid,program,argv,cwd,start_ns,"
            "end_ns,exit_status,signal,status,complete,events,torn,"
            "overflow_events,spill) VALUES(?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
            -1, &s, NULL) != SQLITE_OK)
        return ht__store_sqlerr(st, "storing run");
    char exe[HT_SPILL_PATH_MAX], cwd[HT_SPILL_PATH_MAX], argv[HT_SPILL_ARGV_MAX];
    memcpy(exe, h->exe, sizeof exe);
    exe[sizeof exe - 1] = 0;
    memcpy(cwd, h->cwd, sizeof cwd);
    cwd[sizeof cwd - 1] = 0;
    argv_text(h, argv, sizeof argv);
    uint32_t state = __atomic_load_n(&h->state, __ATOMIC_ACQUIRE);
    const char *status = "incomplete";
    int complete = 0;
    int have_exit = 0, exit_status = 0, sig = 0;
    if (state == HT_SPILL_EXITED) {
        status = "exited";
        complete = 1;
        have_exit = 1;
        exit_status = h->exit_status;
    } else if (state == HT_SPILL_EXECED) {
        status = "execed";
        complete = 1;
    }
    if (end && end->known) {
        if (end->exited) {
            have_exit = 1;
            exit_status = end->status;
            if (state != HT_SPILL_EXITED && state != HT_SPILL_EXECED)
                status = "exited-without-exit"; /* _exit(): events complete? unknown */
        } else {
            sig = end->status;
            status = "killed";
            complete = 0;
        }
    }
    if (truncated)
        complete = 0;
    sqlite3_bind_int(s, 1, h->pid);
    sqlite3_bind_int(s, 2, h->ppid);
    sqlite3_bind_int(s, 3, h->parent_pid);
    sqlite3_bind_text(s, 4, exe, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 5, argv, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 6, cwd, -1, SQLITE_STATIC);
    sqlite3_bind_int64(s, 7, (sqlite3_int64)h->start_ns);
    if (h->end_ns)
        sqlite3_bind_int64(s, 8, (sqlite3_int64)h->end_ns);
    if (have_exit)
        sqlite3_bind_int(s, 9, exit_status);
    if (sig)
        sqlite3_bind_int(s, 10, sig);
    sqlite3_bind_text(s, 11, status, -1, SQLITE_STATIC);
    sqlite3_bind_int(s, 12, complete);
    sqlite3_bind_int64(s, 13, (sqlite3_int64)res->events);
    sqlite3_bind_int64(s, 14, (sqlite3_int64)res->torn);
    uint64_t overflow = __atomic_load_n(&h->overflow_events, __ATOMIC_ACQUIRE);
    sqlite3_bind_int64(s, 15, (sqlite3_int64)overflow);
    sqlite3_bind_text(s, 16, spill_path, -1, SQLITE_STATIC);
    if (update)
        sqlite3_bind_int64(s, 17, res->run_id);
    int rc = sqlite3_step(s);
    sqlite3_finalize(s);
    if (rc != SQLITE_DONE)
        return ht__store_sqlerr(st, "storing run");
    if (!update)
        res->run_id = sqlite3_last_insert_rowid(st->db);
    res->complete = complete;
    res->pid = h->pid;
    res->overflow_events = overflow;
    /* S8/R8: each event that would have taken a seq >= 2^48 advanced the
     * seq counter past the limit and was counted in overflow_events; the
     * rest of them were lost for want of a slot (spill full) */
    uint64_t seq = __atomic_load_n(&h->seq, __ATOMIC_ACQUIRE);
    uint64_t spent = seq > HT_SPILL_SEQ_LIMIT ? seq - HT_SPILL_SEQ_LIMIT : 0;
    res->seq_limit_events = spent < overflow ? spent : overflow;
    return HT_OK;
}

/* Delete the committed spill m (path), and with rm_dir its directory if
 * that is then empty. The kernel frees an unlinked file's
 * blocks and page cache when its last reference goes (~1 s for a 1 GB spill
 * on ext4); with background_free that last reference is a descriptor held
 * by a detached grandchild, released once this process has dropped its
 * own (the pipe's EOF orders the two), so the caller's wait ends at the
 * commit. The unlink itself stays here: a spill still visible after
 * ingest returns could be ingested a second time. Leaves m unmapped. */
static void release_spill(ht_store *st, struct spill_map *m,
                          const char *path, int rm_dir)
{
    /* the map is a reference too: drop it before the fork (cheap fork) */
    if (m->base)
        munmap(m->base, m->size);
    m->base = NULL;
    int p[2] = {-1, -1};
    pid_t pid = -1;
    /* the directory: removing it right after a large file's blocks start
     * being freed waits for ext4's journal (0.25-0.6 s measured), so the
     * background process does that too (no malloc after the fork: the
     * name is cut here) */
    char dir[4096];
    dir[0] = 0;
    const char *slash = strrchr(path, '/');
    if (rm_dir && slash && slash != path && (size_t)(slash - path) < sizeof dir) {
        memcpy(dir, path, (size_t)(slash - path));
        dir[slash - path] = 0;
    }
    if (st->background_free && pipe2(p, O_CLOEXEC) == 0 && (pid = fork()) == 0) {
        /* child: only async-signal-safe calls from here on */
        if (fork() != 0)
            _exit(0); /* the grandchild is re-parented: nobody reaps it here */
        int a = m->fd < p[0] ? m->fd : p[0], b = m->fd < p[0] ? p[0] : m->fd;
        if (a > 0)
            close_range(0, (unsigned)a - 1, 0);
        if (b > a + 1)
            close_range((unsigned)a + 1, (unsigned)b - 1, 0);
        close_range((unsigned)b + 1, ~0u, 0);
        char c;
        while (read(p[0], &c, 1) < 0 && errno == EINTR)
            ;
        close(m->fd); /* the last reference: the kernel frees the file */
        if (dir[0])
            rmdir(dir); /* only succeeds when empty */
        _exit(0);
    }
    unlink(path);
    if (pid > 0) {
        while (waitpid(pid, NULL, 0) < 0 && errno == EINTR)
            ;
        st->handoffs++;
    }
    spill_unmap(m); /* closes our descriptor (the last one if inline) */
    if (p[0] >= 0) {
        close(p[0]);
        close(p[1]); /* EOF: the grandchild may drop the file now */
    }
}

static int process_alive(int pid)
{
    return pid > 0 && (kill(pid, 0) == 0 || errno == EPERM);
}

/* ---- the ingest handle: begin / step / finish -----------------------------
 *
 * Design (docs/DECISIONS.md 18). ht_store_ingest_spill is begin + finish; a
 * live ingest (heaptrail run) calls step while the program records, so
 * that what is left after it exits is the tail. Invariants:
 *   L1. Between begin and finish/abort, one write transaction is open with
 *       the run row inserted and SAVEPOINT merge taken after it; nothing is
 *       committed and the spill is only read before finish commits, so a
 *       crash of heaptrail leaves the trace as it was and the spill for a
 *       later ingest.
 *   L2. The first prog[c].merged slots of chunk c (c < nprog) have been
 *       handed to the merge; each had kind != 0 (acquire: its fields are
 *       complete), or is a wide record's first half taken with its second
 *       (spill.h S7), and a seq below the watermark of its step;
 *       prog[c].tid is the owner (S6) of slot prog[c].merged. A step reads
 *       chunks only below next_chunk (acquire) and inside the file, and
 *       only their allocated part (chunk_data_bytes): a chunk just reserved
 *       may not be allocated yet.
 *   L3. The watermark is the header's seq counter as read at least
 *       HT_LIVE_LAG_NS earlier: a seq below it was taken that long ago, so
 *       its record is written unless its thread stalled (a straggler).
 *   L4. The merge output is in seq order across steps (merger.last_out).
 *       A record found not after it (a straggler, or a chunk a signal
 *       handler disordered) sets straggler and stops live merging; finish
 *       then rolls back to the savepoint and ingests the whole spill
 *       offline (exact, only slower). So the stored chunks are those of
 *       an offline ingest of the final spill.
 */
#define HT_LIVE_LAG_NS 20000000ull /* 20 ms */

struct ht_ingest {
    ht_store *st;
    char *path;
    struct spill_map m;
    int64_t cache_kib; /* the connection's cache_size, restored at the end */
    int txn;           /* a transaction is open (L1) */
    struct ht_ingest_result res;
    struct pcset pcs;
    struct merger mg;
    int live;            /* begun by ht_store_ingest_begin */
    int straggler;       /* L4 */
    struct chunk_prog *prog; /* per chunk (L2) */
    size_t nprog, lo;        /* chunks below lo are wholly merged */
    struct stream *segs; /* scratch: one stream per chunk with new records */
    size_t segcap;
    uint64_t wm, pend_seq, pend_ns; /* watermark and its next value (L3) */
    int have_pend;
};

static uint64_t mono_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* Free ig: roll back an open transaction (the spill stays), restore the
 * cache size. Accepts NULL. */
static void ingest_free(ht_ingest *ig)
{
    if (!ig)
        return;
    merger_close(&ig->mg);
    if (ig->txn)
        ht_store_rollback(ig->st);
    if (ig->cache_kib) {
        char sql[64];
        snprintf(sql, sizeof sql, "PRAGMA cache_size=%lld", (long long)ig->cache_kib);
        sqlite3_exec(ig->st->db, sql, NULL, NULL, NULL);
    }
    free(ig->prog);
    free(ig->segs);
    free(ig->pcs.v);
    spill_unmap(&ig->m);
    free(ig->path);
    free(ig);
}

/* Map and lock the spill (first half of begin). */
static ht_err ingest_open(ht_store *st, const char *spill_path, ht_ingest **out)
{
    *out = NULL;
    if (st->readonly) {
        ht__store_set_error("trace opened read-only; cannot ingest");
        return HT_EINVAL;
    }
    ht_ingest *ig = calloc(1, sizeof *ig);
    if (!ig)
        return HT_ENOMEM;
    ig->st = st;
    ig->m.fd = -1;
    if (!(ig->path = strdup(spill_path))) {
        free(ig);
        return HT_ENOMEM;
    }
    ht_err e = spill_map(spill_path, &ig->m);
    if (e == HT_OK && flock(ig->m.fd, LOCK_EX | LOCK_NB) != 0) {
        ht__store_set_error("%s: being ingested by another process", spill_path);
        e = HT_EBUSY;
    }
    if (e != HT_OK) {
        ingest_free(ig);
        return e;
    }
    *out = ig;
    return HT_OK;
}

/* Open the transaction, insert the run row, take the savepoint (L1). */
static ht_err ingest_txn(ht_ingest *ig)
{
    ht_store *st = ig->st;
    /* Offline: up to 256 MiB of page cache for the transaction, so dirty
     * pages are not spilled to the WAL and read back before the commit
     * (measured: 1/3 fewer page writes, 2/3 fewer reads). Live: 8 MiB, so
     * that most pages reach the WAL (a new trace's file: DECISIONS 26)
     * while the program runs instead of in the commit the user waits for
     * (commit 0.21-0.30 s -> 0.17-0.21 s on 30 M churn events). Restored
     * afterwards. */
    ig->cache_kib = pragma_int(st, "PRAGMA cache_size");
    sqlite3_exec(st->db, ig->live ? "PRAGMA cache_size=-8192"
                                  : "PRAGMA cache_size=-262144", NULL, NULL, NULL);
    ht_err e = ht_store_begin(st);
    if (e != HT_OK)
        return e;
    ig->txn = 1;
    if ((e = insert_run(st, ig->m.h, ig->path, NULL, 0, &ig->res)) != HT_OK ||
        (e = ht_store_exec(st, "SAVEPOINT merge")) != HT_OK)
        return e;
    return merger_open(&ig->mg, st, ig->res.run_id, &ig->pcs, &ig->res);
}

ht_err ht_store_ingest_begin(ht_store *st, const char *spill_path,
                             ht_ingest **out)
{
    ht_ingest *ig = NULL;
    ht_err e = ingest_open(st, spill_path, &ig);
    if (ig)
        ig->live = 1;
    if (e == HT_OK && (e = ingest_txn(ig)) != HT_OK) {
        ingest_free(ig);
        ig = NULL;
    }
    *out = ig;
    return e;
}

void ht_store_ingest_abort(ht_ingest *ig)
{
    ingest_free(ig);
}

/* Room for used chunks in ig->prog (new ones zeroed) and for a stream per
 * chunk not wholly merged in ig->segs. */
static ht_err step_reserve(ht_ingest *ig, size_t used)
{
    if (used > ig->nprog) {
        size_t ncap = ig->nprog ? ig->nprog : 64;
        while (ncap < used)
            ncap *= 2;
        struct chunk_prog *np = realloc(ig->prog, ncap * sizeof *np);
        if (!np)
            return HT_ENOMEM;
        memset(np + ig->nprog, 0, (ncap - ig->nprog) * sizeof *np);
        ig->prog = np;
        ig->nprog = ncap;
    }
    if (used - ig->lo > ig->segcap) {
        size_t ncap = (used - ig->lo) * 2;
        struct stream *ns = realloc(ig->segs, ncap * sizeof *ns);
        if (!ns)
            return HT_ENOMEM;
        ig->segs = ns;
        ig->segcap = ncap;
    }
    return HT_OK;
}

/* Take the records of chunk r's slots [p->merged, p->data) that are
 * written (kind != 0, acquire) and below the watermark (L2, L3), up to the
 * first that is not, into sg (owner slots passed counted in *owners):
 * one scan finds that end, the first valid record and whether the valid
 * ones are in seq order. In order (always, but for a signal handler's
 * records): a stream over the map from the first valid record, the torn
 * slots before it counted here and those after it by the merge (T1);
 * else a sorted copy (sorted_copy counts them). sg->n == 0: nothing
 * valid (every slot taken counted torn). p->merged: the slot after the last
 * one taken, p->tid its thread (both unchanged on error). The merge checks the records against
 * the output of earlier steps (M2: the straggler test, L4). */
static ht_err step_chunk(ht_ingest *ig, const struct ht_spill_rec *r,
                         struct chunk_prog *p, struct stream *sg,
                         uint64_t *owners)
{
    size_t first = p->merged, i = first, data = p->data;
    int sorted = 1, seen = 0;
    uint64_t last = 0, wm = ig->wm;
    uint32_t tid = p->tid;
    for (; i < data; i++) {
        size_t at = i;
        uint64_t w3 = __atomic_load_n(&r[i].w[3], __ATOMIC_ACQUIRE);
        if (w3 == 0 && i + 1 < data) {
            /* a wide record's first half is taken with its second (S7),
             * so a step never ends between them */
            uint64_t n3 = __atomic_load_n(&r[i + 1].w[3], __ATOMIC_ACQUIRE);
            unsigned nkb = ht_spill_kind_byte(n3);
            if ((nkb & HT_SPILL_WIDE) && valid_slot(nkb))
                w3 = n3, i++;
        }
        unsigned kb = ht_spill_kind_byte(w3);
        uint64_t seq = w3 & HT_SPILL_LOW48;
        if (kb == 0 || seq >= wm) {
            i = at;
            break;
        }
        if (kb == HT_SPILL_OWNER) {
            tid = (uint32_t)r[i].w[0];
            (*owners)++;
        }
        if (!valid_slot(kb))
            continue;
        if (seen && seq < last)
            sorted = 0;
        seen = 1;
        last = seq;
    }
    if (sorted) {
        stream_over(sg, r, first, i, p->tid, &ig->res.torn);
    } else {
        ht_err e = sorted_copy(sg, r, first, i, p->tid, &ig->res.torn);
        if (e != HT_OK)
            return e; /* nothing counted; the caller aborts (store.h) */
    }
    p->merged = i;
    p->tid = tid;
    return HT_OK;
}

ht_err ht_store_ingest_step(ht_ingest *ig, uint64_t *merged)
{
    *merged = 0;
    if (ig->straggler)
        return HT_OK; /* finish redoes the spill offline (L4) */
    const struct ht_spill_header *h = ig->m.h;
    uint64_t now = mono_ns();
    if (!ig->have_pend || now - ig->pend_ns >= HT_LIVE_LAG_NS) {
        if (ig->have_pend)
            ig->wm = ig->pend_seq; /* L3 */
        ig->pend_seq = __atomic_load_n(&h->seq, __ATOMIC_ACQUIRE);
        ig->pend_ns = now;
        ig->have_pend = 1;
    }
    if (!ig->wm || h->version == 1)
        return HT_OK; /* version 1 (an old recorder's spill): finish reads it */
    struct spill_geom g;
    spill_geom(&ig->m, &g);
    size_t used = g.reserved < g.avail ? g.reserved : g.avail;
    ht_err e = step_reserve(ig, used);
    if (e != HT_OK)
        return e;
    size_t nseg = 0;
    uint64_t n = 0;
    for (size_t c = ig->lo; c < used; c++) {
        struct chunk_prog *p = &ig->prog[c];
        if (p->merged == h->chunk_records) {
            if (c == ig->lo)
                ig->lo++;
            continue;
        }
        size_t off = h->header_size + c * g.chunk_bytes;
        if (p->data < h->chunk_records)
            p->data = chunk_data_bytes(&ig->m, off, g.chunk_bytes) /
                      sizeof(struct ht_spill_rec);
        const struct ht_spill_rec *r = (const struct ht_spill_rec *)
            ((const char *)ig->m.base + off);
        size_t first = p->merged;
        uint64_t owners = 0;
        struct stream *sg = &ig->segs[nseg];
        if ((e = step_chunk(ig, r, p, sg, &owners)) != HT_OK)
            break;
        n += p->merged - first - owners;
        if (sg->n)
            nseg++;
    }
    if (e == HT_OK && nseg) {
        int redo = 0;
        e = merger_run(&ig->mg, ig->segs, nseg, 1, &redo);
        if (redo)
            ig->straggler = 1;
    }
    for (size_t i = 0; i < nseg; i++)
        free(ig->segs[i].owned);
    *merged = n;
    return e;
}

/* Undo everything merged (back to the savepoint) and start a new merge. */
static ht_err merge_restart(ht_ingest *ig)
{
    merger_close(&ig->mg);
    ht_err e = ht_store_exec(ig->st, "ROLLBACK TO merge");
    ig->res.events = ig->res.chunks = ig->res.torn = 0;
    ig->res.redone = 1;
    if (e == HT_OK)
        e = merger_open(&ig->mg, ig->st, ig->res.run_id, &ig->pcs, &ig->res);
    return e;
}

/* One merge pass over the spill: lazy streams (checked as they are copied)
 * of every slot (from_prog: of the slots the steps did not merge), or
 * eagerly validated ones (eager: never asks for a redo). *redo as merger_run. */
static ht_err merge_pass(ht_ingest *ig, int from_prog, int eager,
                         int *truncated, int *redo)
{
    struct stream *s = NULL;
    size_t ns = 0;
    ht_err e = build_streams(&ig->m, !eager, from_prog ? ig->prog : NULL,
                             from_prog ? ig->nprog : 0, &s, &ns,
                             &ig->res.torn, truncated);
    if (e != HT_OK)
        return e;
    ig->mg.total = ig->mg.merged;
    for (size_t i = 0; i < ns; i++)
        ig->mg.total += s[i].n - s[i].pos;
    e = merger_run(&ig->mg, s, ns, !eager, redo);
    free_streams(s, ns);
    return e;
}

/* Merge what the steps left, in up to three passes:
 *   1. lazily, the slots the steps did not merge (all of the spill when
 *      there were none) - skipped when a step found a straggler (L4);
 *   2. after a straggler or a disordered chunk behind what steps merged:
 *      rolled back, the whole spill lazily again;
 *   3. still a redo (a disordered chunk, which lazy streams do not sort,
 *      M2): rolled back, the whole spill from eagerly validated streams.
 * The last chunk is handed over but not waited for: merger_end. */
static ht_err merge_rest(ht_ingest *ig, int *truncated)
{
    int live = ig->mg.merged != 0, redo = ig->straggler;
    ht_err e = HT_OK;
    if (!redo)
        e = merge_pass(ig, live, 0, truncated, &redo);
    if (e == HT_OK && redo && live && (e = merge_restart(ig)) == HT_OK)
        e = merge_pass(ig, 0, 0, truncated, &redo);
    if (e == HT_OK && redo && (e = merge_restart(ig)) == HT_OK)
        e = merge_pass(ig, 0, 1, truncated, &redo);
    if (e == HT_OK)
        e = merger_flush(&ig->mg);
    return e;
}

ht_err ht_store_ingest_finish(ht_ingest *ig, const struct ht_run_end *end,
                              struct ht_ingest_result *res)
{
    memset(res, 0, sizeof *res);
    ht_store *st = ig->st;
    int truncated = 0;
    ht_err e = merge_rest(ig, &truncated);
    /* the pcs are known once the merge has handed its last chunk over:
     * they are symbolised and joined to the sites while the encoder
     * threads finish the last chunks (libyaml: ~8 ms of symbolising off
     * the serial tail), then those chunks are stored */
    if (e == HT_OK &&
        (e = store_modules_pcs(st, ig->res.run_id, ig->m.h, &ig->pcs,
                               &ig->res)) == HT_OK &&
        (e = ht__sites_import(st, ig->res.run_id)) == HT_OK &&
        (e = merger_end(&ig->mg)) == HT_OK &&
        (e = ht_store_exec(st, "RELEASE merge")) == HT_OK &&
        (e = insert_run(st, ig->m.h, ig->path, end, truncated, &ig->res)) == HT_OK)
        e = ht_store_commit(st);
    if (e == HT_OK) {
        ig->txn = 0;
        merger_close(&ig->mg);
        /* heaptrail run's spill directory too (as ingest_dir's) */
        release_spill(st, &ig->m, ig->path,
                      ig->live || st->rm_spill_dir); /* only after the commit */
        *res = ig->res;
    }
    ingest_free(ig); /* rolls back on failure: the spill stays */
    return e;
}

ht_err ht_store_ingest_spill(ht_store *st, const char *spill_path,
                             const struct ht_run_end *end, int force,
                             struct ht_ingest_result *res)
{
    memset(res, 0, sizeof *res);
    ht_ingest *ig = NULL;
    ht_err e = ingest_open(st, spill_path, &ig);
    if (e != HT_OK)
        return e;
    uint32_t state = __atomic_load_n(&ig->m.h->state, __ATOMIC_ACQUIRE);
    if (!force && !(end && end->known) && state == HT_SPILL_RUNNING &&
        process_alive(ig->m.h->pid)) {
        ht__store_set_error("%s: process %d is still running", spill_path,
                            ig->m.h->pid);
        ingest_free(ig);
        return HT_EBUSY;
    }
    if ((e = ingest_txn(ig)) != HT_OK) {
        ingest_free(ig);
        return e;
    }
    return ht_store_ingest_finish(ig, end, res);
}

/* "spill-<pid>-<start>.hts" names: by pid, then start time (numbers) */
static int spill_name_cmp(const void *x, const void *y)
{
    const char *a = strrchr(*(const char *const *)x, '/') + 7;
    const char *b = strrchr(*(const char *const *)y, '/') + 7;
    char *ea, *eb;
    unsigned long long pa = strtoull(a, &ea, 10), pb = strtoull(b, &eb, 10);
    if (pa != pb)
        return pa < pb ? -1 : 1;
    unsigned long long sa = *ea == '-' ? strtoull(ea + 1, NULL, 10) : 0;
    unsigned long long sb = *eb == '-' ? strtoull(eb + 1, NULL, 10) : 0;
    if (sa != sb)
        return sa < sb ? -1 : 1;
    return strcmp(a, b);
}

/* Whether name is a spill's ("spill-" ... ".hts"), of process pid if
 * pid > 0 ("spill-<pid>-"). */
static int spill_name_match(const char *name, int pid)
{
    size_t L = strlen(name);
    if (strncmp(name, "spill-", 6) != 0 || L < 10 ||
        strcmp(name + L - 4, ".hts") != 0)
        return 0;
    if (pid <= 0)
        return 1;
    char *end;
    errno = 0;
    unsigned long long p = strtoull(name + 6, &end, 10);
    return errno == 0 && end != name + 6 && *end == '-' &&
           p == (unsigned long long)pid;
}

void ht_spill_list_free(char **paths, size_t n)
{
    if (!paths)
        return;
    for (size_t i = 0; i < n; i++)
        free(paths[i]);
    free(paths);
}

ht_err ht_spill_list(const char *dir, int pid, char ***paths, size_t *n)
{
    *paths = NULL;
    *n = 0;
    DIR *d = opendir(dir);
    if (!d) {
        if (errno == ENOENT)
            return HT_OK;
        ht__store_set_error("%s: %s", dir, strerror(errno));
        return HT_EIO;
    }
    char **v = NULL;
    size_t nv = 0, cap = 0;
    ht_err e = HT_OK;
    struct dirent *de;
    while ((de = readdir(d))) {
        if (!spill_name_match(de->d_name, pid))
            continue;
        if (nv == cap) {
            cap = cap ? cap * 2 : 16;
            char **nn = realloc(v, cap * sizeof *nn);
            if (!nn) {
                e = HT_ENOMEM;
                break;
            }
            v = nn;
        }
        size_t len = strlen(dir) + strlen(de->d_name) + 2;
        if (!(v[nv] = malloc(len))) {
            e = HT_ENOMEM;
            break;
        }
        snprintf(v[nv++], len, "%s/%s", dir, de->d_name);
    }
    closedir(d);
    if (e != HT_OK) {
        ht_spill_list_free(v, nv);
        return e;
    }
    if (nv > 1)
        qsort(v, nv, sizeof *v, spill_name_cmp);
    *paths = v;
    *n = nv;
    return HT_OK;
}

ht_err ht_store_ingest_dir(ht_store *st, const char *dir,
                           const struct ht_run_end *end_for_pid, int pid,
                           ht_ingest_cb cb, void *ctx)
{
    char **names = NULL;
    size_t n = 0;
    ht_err e = ht_spill_list(dir, 0, &names, &n);
    if (e != HT_OK)
        return e;
    unsigned long handoffs = st->handoffs;
    st->rm_spill_dir = 1;
    for (size_t i = 0; e == HT_OK && i < n; i++) {
        const char *path = names[i];
        int spid = atoi(strrchr(path, '/') + 7);
        const struct ht_run_end *end = spid == pid ? end_for_pid : NULL;
        struct ht_ingest_result res;
        ht_err r = ht_store_ingest_spill(st, path, end, 0, &res);
        if (cb)
            cb(ctx, path, r, &res);
        if (r == HT_ESQL || r == HT_ENOMEM)
            e = r;
    }
    ht_spill_list_free(names, n);
    st->rm_spill_dir = 0;
    /* only succeeds when empty; done in the background with the last
     * spill's blocks when one was handed off (release_spill) */
    if (e == HT_OK && st->handoffs == handoffs)
        rmdir(dir);
    return e;
}
