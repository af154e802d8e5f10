/*
 * libheaptrail_rt: the recorder linked into instrumented programs.
 *
 * Design. Every event becomes one 32-byte slot (two for a wide record) in a
 * MAP_SHARED spill file (include/heaptrail/spill.h: the slot layout, S6-S8;
 * docs/DECISIONS.md 32). Each thread owns the chunk it is filling; its
 * position is one TLS uint64 (chunk index + 1) << 32 | next slot, advanced
 * with one unlocked xadd (R2) so that a signal handler interrupting the
 * recorder at any point takes a different slot and still records its
 * events. The recorder never calls a wrapped function (no malloc, no
 * stdio): only raw syscalls and libc functions that do not allocate
 * through the wrapped symbols. A helper thread prepares spill chunks
 * ahead of the recording threads and, in solo mode, keeps the exit
 * snapshot's table up to date while the program runs (F1-F6, before the
 * exit snapshot).
 *
 * Invariants:
 *   R1. g_ready == HT__RT_READY implies g_hdr/g_chunks map a complete spill
 *       file whose magic is set and whose state is RUNNING/EXECED/EXITED.
 *   R2. t_cur >> 32 == 0 (no chunk yet), or its chunk index c (= t_cur >>
 *       32, minus 1) is below g_hdr->max_chunks, was handed out to this
 *       thread by next_chunk and has had its disk blocks allocated
 *       (fallocate) and its bit set in g_chunk_ok; position <=
 *       chunk_records. A reservation takes its position with one unlocked
 *       xadd on t_cur (so a signal handler interrupting the recorder at any
 *       point takes another one): of 1 for a compact record, of 2 for a
 *       wide one (both slots in one go, S7). One that finds no chunk or too
 *       few slots left (position at most chunk_records + 2 per reservation
 *       in progress) swaps in a fresh chunk or undoes its own increment
 *       (ht__rt_refill); the one slot a wide reservation could not use
 *       stays unused (kind 0).
 *   R3. seq is taken (fetch_add) inside ht__rt_record, so an ALLOC recorded
 *       after the real allocator returns and a FREE recorded before the real
 *       free honour spill invariant S3. A moving realloc takes one seq
 *       before the real call (for the release of the old block, recorded as
 *       a FREE flagged HT_EVF_REALLOC) and one after (the REALLOC).
 *   R4. Events that cannot get a slot are counted in overflow_events.
 *   R5. In a forked child, t_cur and t_tid are reset and a new spill is
 *       created before the child runs user code (pthread_atfork child handler).
 *   R6. Solo mode (the seq counter without a locked instruction). While
 *       g_multi == 0 only the solo thread (t_solo == 1: the thread that
 *       created the spill) takes seqs, with an unlocked `xadd` (one
 *       instruction: atomic with respect to its own signal handlers). Any
 *       other thread, before its first seq, makes g_multi non-zero and then
 *       waits until the solo thread is outside its unlocked window: it sets
 *       g_multi, issues membarrier(PRIVATE_EXPEDITED) (a full barrier on
 *       every running thread, so the solo thread either sees g_multi at its
 *       next check or has g_solo_in visibly set), and spins while
 *       g_solo_in != 0. From then on every thread uses `lock xadd`. A thread
 *       started by the wrapped pthread_create makes the switch in its
 *       creator, before it exists. So seqs stay unique and S3 holds in both
 *       modes; a fork child starts solo again (only one thread survives).
 *       Without membarrier the runtime starts in multi mode.
 *   R7. A fresh chunk's slot 0 is its owner slot (S6): ht__rt_refill writes
 *       it (tid, release) before the chunk becomes t_cur with position 1,
 *       so no reservation, not even a signal handler's, can take slot 0,
 *       and every other slot of the chunk is written after it. The record
 *       itself carries no tid.
 *   R8. A seq >= 2^48 (S8) is never written: its event is counted in
 *       overflow_events (R4) instead, so seq fits the 48 bits of w3.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <link.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <linux/futex.h>
#include <linux/membarrier.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <time.h>
#include <unistd.h>

#include "heaptrail/event.h"
#include "heaptrail/rt.h"
#include "heaptrail/spill.h"

#define HT__RT_UNINIT 0
#define HT__RT_INITIALIZING 1
#define HT__RT_READY 2
#define HT__RT_DISABLED 3

#define HT__RT_CHUNK_BYTES \
    ((uint64_t)HT_SPILL_CHUNK_RECORDS * sizeof(struct ht_spill_rec))
#define HT__RT_DEFAULT_MAX (64ull << 30)

static int g_ready;                     /* HT__RT_* (atomic) */
static pid_t g_init_tid;                /* thread running the init */
static struct ht_spill_header *g_hdr;   /* the mapped spill */
static char *g_chunks;                  /* first chunk */
static uint64_t g_map_size;
static int g_fd = -1;
static int g_hooks_done;                /* on_exit/atfork registered */
/* Bit c set: spill chunk c has its disk blocks (R2), so the snapshot may
 * read it. Anonymous map of max_chunks bits made with the spill, which
 * fails with it: it is 1/6,291,456 of the spill's own map, so it can only
 * fail where that one nearly did (no fallback asking the file with
 * SEEK_DATA/SEEK_HOLE: on ext4's unwritten extents that walks the page
 * cache, ~10 % of a churn recording; docs/DECISIONS.md 25). */
static uint64_t *g_chunk_ok;
static uint64_t g_chunk_ok_bytes;
static uint64_t g_snapshots;

/* R2: (chunk index + 1) << 32 | position; 0 = no chunk yet. */
static __thread uint64_t t_cur;
static __thread uint32_t t_tid;

/* R6: solo mode. g_multi: 0 solo, 1 switching, 2 multi (fenced).
 * g_solo_in: non-zero while the solo thread is inside its unlocked window.
 * Separate cache lines: g_solo_in is written per event by the solo
 * thread (also once multi: ht__rt_take_seq), by no other thread after
 * go_multi; g_multi is read by every thread. */
static _Alignas(64) int g_multi = 2;
static _Alignas(64) int g_solo_in;
static __thread int t_solo;   /* 1 on the solo thread */
static __thread int t_fenced; /* 1 once this thread saw g_multi == 2 */

/* Thread stacks the snapshot scans as roots. A thread started by the
 * wrapped pthread_create runs ht__rt_thread_start, which notes its stack
 * range in a slot here before the user's function runs and frees the slot
 * when the thread ends (return, pthread_exit or cancellation: a cleanup
 * handler). Invariants:
 *   T1. state 0 = free, 1 = reserved by a creator (fn/arg set, range not
 *       yet known), 2 = the thread runs and [lo, hi) is its stack as
 *       pthread_getattr_np reports it (guard page excluded), 3 = the
 *       thread is ending (T3).
 *   T2. fn/arg are cleared once the thread copied them, so a stale slot
 *       never roots the user's argument block through this (scanned) BSS.
 *   T3. A stack the snapshot found in state 2 stays mapped until its scan
 *       ends: g_stack_scans counts snapshots inside ht__snap_stacks, and a
 *       thread ending first sets its slot to 3 (leaving), then waits while
 *       g_stack_scans != 0 before freeing it (ht__rt_thread_gone). Both
 *       sides store, then load the other's word, sequentially consistent
 *       (Dekker), so a scan sees 3 or the thread sees the scan. glibc and
 *       the program unmap a stack only after its thread ended, so no scan
 *       faults on a stack unmapped under it (samples/stack_unmap.c).
 * With the table full, further threads run untracked (stacks not
 * scanned); threads the runtime did not start are never scanned. */
#define HT__RT_MAX_THREADS 256
struct ht__rt_thread {
    int state;
    uint32_t tid;
    pthread_t self;
    void *(*fn)(void *);
    void *arg;
    uint64_t lo, hi;
};
static struct ht__rt_thread g_threads[HT__RT_MAX_THREADS];
static int g_stack_scans; /* T3: snapshots scanning stacks (futex word) */

/* ---------------------------------------------------------------- helpers */

static size_t ht__rt_strlen(const char *s) { return strlen(s); }

static void ht__rt_puterr(const char *a, const char *b, const char *c,
                          const char *d, const char *e)
{
    char buf[2048];
    size_t n = 0;
    const char *parts[5] = {a, b, c, d, e};
    for (int i = 0; i < 5; i++) {
        if (!parts[i])
            continue;
        size_t l = ht__rt_strlen(parts[i]);
        if (l > sizeof buf - 2 - n)
            l = sizeof buf - 2 - n;
        memcpy(buf + n, parts[i], l);
        n += l;
    }
    buf[n++] = '\n';
    ssize_t r = write(2, buf, n);
    (void)r;
}

static char *ht__rt_utoa(char *p, uint64_t v)
{
    char tmp[24];
    int n = 0;
    do {
        tmp[n++] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    while (n)
        *p++ = tmp[--n];
    *p = 0;
    return p;
}

static uint64_t ht__rt_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static uint32_t ht__rt_tid(void)
{
    uint32_t t = t_tid;
    if (!t) {
        t = (uint32_t)syscall(SYS_gettid);
        t_tid = t;
    }
    return t;
}

static void ht__rt_init(void);

/* Compare-and-swap on a thread-local word. Only the owning thread and its
 * signal handlers touch t_cur, and a signal arrives between instructions, so
 * on x86-64 a single cmpxchg without the lock prefix is atomic enough and
 * avoids a locked bus cycle per event. Returns 1 if swapped; else *expected
 * receives the current value. */
static inline int ht__rt_cas_local(uint64_t *p, uint64_t *expected,
                                   uint64_t desired)
{
#if defined(__x86_64__)
    uint64_t prev = *expected;
    unsigned char ok;
    __asm__ __volatile__("cmpxchgq %3, %1\n\tsete %0"
                         : "=q"(ok), "+m"(*p), "+a"(prev)
                         : "r"(desired)
                         : "memory", "cc");
    *expected = prev;
    return ok;
#else
    return __atomic_compare_exchange_n(p, expected, desired, 0,
                                       __ATOMIC_RELAXED, __ATOMIC_RELAXED);
#endif
}

/* ------------------------------------------------------------- recording */

static int g_spill_full; /* fallocate said ENOSPC/EDQUOT: stop trying */

/* Reserve a fresh chunk for the calling thread. Returns the new t_cur value
 * (position 0) or 0 when the spill is full (overflow). Faulting the chunk in
 * at once (MADV_POPULATE_WRITE) or with 2 MB folios (MADV_HUGEPAGE on the
 * spill map) was measured: no gain on this thread (the kernel's cost is
 * zeroing the fresh pages either way, and zeroing ahead leaves them cold
 * for the stores; bench/RESULTS.md). The helper thread does it ahead on
 * another CPU (F6); without it, pages fault in as the records reach them. */
static uint64_t ht__rt_new_chunk(void)
{
    struct ht_spill_header *h = g_hdr;
    /* once the disk is full, overflow without a failing syscall per event */
    if (__atomic_load_n(&g_spill_full, __ATOMIC_RELAXED))
        return 0;
    uint64_t c = __atomic_fetch_add(&h->next_chunk, 1, __ATOMIC_RELAXED);
    if (c >= h->max_chunks)
        return 0;
    long r = syscall(SYS_fallocate, g_fd, 0,
                     (off_t)(HT_SPILL_HEADER_SIZE + c * HT__RT_CHUNK_BYTES),
                     (off_t)HT__RT_CHUNK_BYTES);
    if (r != 0 && errno != EOPNOTSUPP) {
        if (errno == ENOSPC || errno == EDQUOT)
            __atomic_store_n(&g_spill_full, 1, __ATOMIC_RELAXED);
        return 0;
    }
    __atomic_fetch_or(&g_chunk_ok[c / 64], 1ull << (c % 64),
                      __ATOMIC_RELEASE);
    return (c + 1) << 32;
}

/* ht__rt_active when not READY: initialise on first use. */
__attribute__((noinline, cold)) static int ht__rt_active_slow(int st)
{
    if (st == HT__RT_DISABLED)
        return 0;
    ht__rt_init();
    return __atomic_load_n(&g_ready, __ATOMIC_ACQUIRE) == HT__RT_READY;
}

/* Whether recording is active, initialising on first use. The recording
 * fast path (this, ht__rt_take_seq, ht__rt_record_at) is inlined into every
 * wrapper: a call with seven arguments and six saved registers per event
 * was ~15 % of ht__rt_record_at's samples. */
static inline __attribute__((always_inline)) int ht__rt_active(void)
{
    int st = __atomic_load_n(&g_ready, __ATOMIC_ACQUIRE);
    if (__builtin_expect(st == HT__RT_READY, 1))
        return 1;
    return ht__rt_active_slow(st);
}

/* Fetch-and-add of n without the lock prefix: atomic with respect to the
 * calling thread's signal handlers only (R2: t_cur; R6: the solo thread's
 * seqs). */
static inline uint64_t ht__rt_xadd_local(uint64_t *p, uint64_t n)
{
#if defined(__x86_64__)
    uint64_t v = n;
    __asm__ __volatile__("xaddq %0, %1" : "+r"(v), "+m"(*p) : : "memory");
    return v;
#else
    return __atomic_fetch_add(p, n, __ATOMIC_SEQ_CST);
#endif
}

/* Leave solo mode (R6); called by a thread other than the solo thread
 * before it takes its first seq. */
static void ht__rt_go_multi(void)
{
    if (__atomic_load_n(&g_multi, __ATOMIC_ACQUIRE) != 2) {
        int z = 0;
        __atomic_compare_exchange_n(&g_multi, &z, 1, 0, __ATOMIC_SEQ_CST,
                                    __ATOMIC_SEQ_CST);
        syscall(SYS_membarrier, MEMBARRIER_CMD_PRIVATE_EXPEDITED, 0, 0);
        while (__atomic_load_n(&g_solo_in, __ATOMIC_ACQUIRE) != 0)
            sched_yield();
        __atomic_store_n(&g_multi, 2, __ATOMIC_RELEASE);
    }
    t_fenced = 1;
}

/* Reserve a seq now for an event recorded later with ht__rt_record_at
 * (UINT64_MAX if recording is off). */
static inline __attribute__((always_inline)) uint64_t ht__rt_take_seq(void)
{
    if (!ht__rt_active())
        return UINT64_MAX;
    if (t_solo) {
        /* R6; prev restores the flag of an interrupted outer call. No test
         * of g_multi before the flag is set: that one is needed anyway,
         * and once multi the solo thread only pays the flag's two stores */
        int prev = __atomic_load_n(&g_solo_in, __ATOMIC_RELAXED);
        __atomic_store_n(&g_solo_in, 1, __ATOMIC_RELAXED);
        __atomic_signal_fence(__ATOMIC_SEQ_CST);
        if (__atomic_load_n(&g_multi, __ATOMIC_RELAXED) == 0) {
            uint64_t s = ht__rt_xadd_local(&g_hdr->seq, 1);
            __atomic_store_n(&g_solo_in, prev, __ATOMIC_RELEASE);
            return s;
        }
        __atomic_store_n(&g_solo_in, prev, __ATOMIC_RELEASE);
    } else if (!t_fenced) {
        ht__rt_go_multi();
    }
    return __atomic_fetch_add(&g_hdr->seq, 1, __ATOMIC_SEQ_CST);
}

/* Make the calling thread the solo thread if membarrier is usable (R6);
 * called by the thread that created the spill, before READY. */
static void ht__rt_solo_start(void)
{
    if (syscall(SYS_membarrier, MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED,
                0, 0) == 0) {
        t_solo = 1;
        t_fenced = 1;
        __atomic_store_n(&g_solo_in, 0, __ATOMIC_RELAXED);
        __atomic_store_n(&g_multi, 0, __ATOMIC_RELEASE);
    } else {
        t_solo = 0;
        __atomic_store_n(&g_multi, 2, __ATOMIC_RELEASE);
    }
}

/* The calling thread needs a chunk: its reservation of n slots took
 * position cur (t_cur is now cur + n), but there was no chunk yet or too
 * few slots were left. Returns 1 to retry the reservation, 0 if the event
 * overflows (R4). */
__attribute__((noinline, cold)) static int ht__rt_refill(uint64_t cur,
                                                         uint64_t n)
{
    uint64_t now = cur + n;
    uint64_t fresh = ht__rt_new_chunk();
    if (fresh == 0) {
        __atomic_fetch_add(&g_hdr->overflow_events, 1, __ATOMIC_RELAXED);
        /* undo the increment, so that overflowing events never carry the
         * position into the chunk index */
        ht__rt_cas_local(&t_cur, &now, cur);
        return 0;
    }
    /* R7: the owner slot first; its other words are the fresh chunk's
     * zeros. If a signal handler replaced t_cur meanwhile, the fresh chunk
     * keeps only its owner slot and we retry with the handler's. */
    struct ht_spill_rec *o =
        (struct ht_spill_rec *)g_chunks + ((fresh >> 32) - 1) *
                                              (uint64_t)HT_SPILL_CHUNK_RECORDS;
    o->w[0] = ht__rt_tid();
    __atomic_store_n(&o->w[3], HT_SPILL_OWNER_W3, __ATOMIC_RELEASE);
    ht__rt_cas_local(&t_cur, &now, fresh | 1);
    return 1;
}

/* ht__rt_record_at's seq is not below 2^48: recording off (UINT64_MAX), or
 * the 48 bits of a slot are spent (R8). */
__attribute__((noinline, cold)) static void ht__rt_seq_spent(uint64_t seq)
{
    if (seq != UINT64_MAX)
        __atomic_fetch_add(&g_hdr->overflow_events, 1, __ATOMIC_RELAXED);
}

/* Reserve n (1 or 2) consecutive slots of the calling thread's chunk
 * (R2). Returns the first one, or NULL if the event overflows (R4): the
 * caller then records nothing. always_inline, so the caller's NULL test
 * folds into the refill branch and the common path keeps the one compare
 * of the position (objdump: __wrap_malloc/__wrap_free unchanged). */
static inline __attribute__((always_inline)) struct ht_spill_rec *
ht__rt_reserve(uint64_t n)
{
    uint64_t cur;
    for (;;) {
        /* one instruction takes the position, so a signal handler that
         * interrupts before or after it takes another one (R2) */
        cur = ht__rt_xadd_local(&t_cur, n);
        if (__builtin_expect((cur >> 32) != 0 &&
                                 (cur & 0xffffffffu) <
                                     HT_SPILL_CHUNK_RECORDS + 1 - n,
                             1))
            break;
        if (!ht__rt_refill(cur, n))
            return NULL;
    }
    struct ht_spill_rec *r =
        (struct ht_spill_rec *)g_chunks +
        ((cur >> 32) - 1) * (uint64_t)HT_SPILL_CHUNK_RECORDS +
        (cur & 0xffffffffu);
    /* a slot of the mapped chunks is never NULL: said to the compiler,
     * the caller's NULL test is left only on the refill path */
    if (!r)
        __builtin_unreachable();
    return r;
}

/* A wide record (spill.h S7): two slots, {c, d} then {a, b, w3}. */
__attribute__((noinline, cold)) static void
ht__rt_record_wide(uint64_t seq, unsigned kind, unsigned flags, uint64_t a,
                   uint64_t b, uint64_t c, uint64_t d)
{
    struct ht_spill_rec *r = ht__rt_reserve(2);
    if (!r)
        return;
    r[0].w[0] = c; /* r[0].w[2..3] and r[1].w[2] stay the fresh zeros */
    r[0].w[1] = d;
    r[1].w[0] = a;
    r[1].w[1] = b;
    __atomic_store_n(&r[1].w[3], ht_spill_w3(seq, flags, kind | HT_SPILL_WIDE),
                     __ATOMIC_RELEASE);
}

/* Write one record with a seq taken earlier by ht__rt_take_seq, which
 * already checked that recording is active (spill.h S3, S4). */
static inline __attribute__((always_inline)) void
ht__rt_record_at(uint64_t seq, unsigned kind, unsigned flags, uint64_t a,
                 uint64_t b, uint64_t c, uint64_t d)
{
    if (__builtin_expect(seq >= HT_SPILL_SEQ_LIMIT, 0)) {
        ht__rt_seq_spent(seq);
        return;
    }
    if (__builtin_expect(!ht_spill_is_compact(a, b, c, d), 0)) {
        ht__rt_record_wide(seq, kind, flags, a, b, c, d);
        return;
    }
    struct ht_spill_rec *r = ht__rt_reserve(1);
    if (__builtin_expect(!r, 0))
        return;
    ht_spill_compact_words(r, a, b, c, d);
    /* seq | flags << 48 | kind << 56: one aligned store (slots are 32 B
     * from a page boundary), released last (S2) */
    __atomic_store_n(&r->w[3], ht_spill_w3(seq, flags, kind),
                     __ATOMIC_RELEASE);
}

/* Record one event; async-signal-safe and reentrant (see design comment). */
static inline __attribute__((always_inline)) void
ht__rt_record(unsigned kind, unsigned flags, uint64_t a, uint64_t b,
              uint64_t c, uint64_t d)
{
    ht__rt_record_at(ht__rt_take_seq(), kind, flags, a, b, c, d);
}

/* ------------------------------------------------------------ spill setup */

struct ht__rt_modctx {
    struct ht_spill_header *h;
};

static int ht__rt_phdr_cb(struct dl_phdr_info *info, size_t size, void *arg)
{
    (void)size;
    struct ht__rt_modctx *m = arg;
    struct ht_spill_header *h = m->h;
    uint32_t i = h->nmodules;
    if (i >= HT_SPILL_MAX_MODULES)
        return 1;
    struct ht_spill_module *mod = &h->modules[i];
    uint64_t lo = UINT64_MAX, hi = 0, dlo = UINT64_MAX, dhi = 0;
    for (int k = 0; k < info->dlpi_phnum; k++) {
        const ElfW(Phdr) *p = &info->dlpi_phdr[k];
        if (p->p_type != PT_LOAD)
            continue;
        uint64_t s = (uint64_t)info->dlpi_addr + p->p_vaddr;
        uint64_t e = s + p->p_memsz;
        if (s < lo)
            lo = s;
        if (e > hi)
            hi = e;
        if (p->p_flags & PF_W) {
            if (s < dlo)
                dlo = s;
            if (e > dhi)
                dhi = e;
        }
    }
    if (hi == 0)
        return 0;
    mod->bias = (uint64_t)info->dlpi_addr;
    mod->lo = lo;
    mod->hi = hi;
    mod->data_lo = dhi ? dlo : 0;
    mod->data_hi = dhi;
    const char *name = info->dlpi_name ? info->dlpi_name : "";
    size_t l = ht__rt_strlen(name);
    if (l >= HT_SPILL_PATH_MAX)
        l = HT_SPILL_PATH_MAX - 1;
    memcpy(mod->path, name, l);
    mod->path[l] = 0;
    __atomic_store_n(&h->nmodules, i + 1, __ATOMIC_RELEASE);
    return 0;
}

/* Parse a decimal uint64; returns 0 on success. */
static int ht__rt_parse_u64(const char *s, uint64_t *out)
{
    uint64_t v = 0;
    *out = 0;
    if (!s || !*s)
        return -1;
    for (; *s; s++) {
        if (*s < '0' || *s > '9')
            return -1;
        uint64_t d = (uint64_t)(*s - '0');
        if (v > (UINT64_MAX - d) / 10)
            return -1;
        v = v * 10 + d;
    }
    *out = v;
    return 0;
}

static void ht__rt_on_exit(int status, void *arg);
static void ht__rt_atfork_child(void);
static void ht__fol_start(void);
static void ht__fol_forget(void);

/* The HEAPTRAIL_* settings, read and validated once by ht__rt_read_env at
 * initialisation (a fork child reuses them; an exec'd image reads its own).
 * A malformed value gets one "heaptrail: invalid ..." line on stderr and
 * the default; it never stops the program or changes its exit status. */
static struct {
    const char *trace;  /* HEAPTRAIL_TRACE, default "heaptrail.db" */
    uint64_t spill_max; /* HEAPTRAIL_SPILL_MAX bytes, default 64 GiB */
    int disable;        /* HEAPTRAIL_DISABLE=1: record nothing */
    int snapshot;       /* HEAPTRAIL_SNAPSHOT: 1 (default) exit snapshot,
                         * 0 none at all (not even ht_rt_snapshot) */
    int spill_thread;   /* HEAPTRAIL_SPILL_THREAD: 1 a helper thread
                         * prepares spill chunks ahead and follows the
                         * spill for the exit snapshot (F1-F7); 0 (default)
                         * none: a second thread costs programs that use
                         * glibc malloc beyond its tcache (DECISIONS 37) */
} g_env;

/* A 0/1 variable; unset, empty or malformed gives def; what ends the
 * error line. */
static int ht__rt_env_bool(const char *name, int def, const char *what)
{
    const char *v = getenv(name);
    if (!v || !*v)
        return def;
    if ((v[0] == '0' || v[0] == '1') && !v[1])
        return v[0] == '1';
    ht__rt_puterr("heaptrail: invalid ", name, "=\"", v, what);
    return def;
}

static void ht__rt_read_env(void)
{
    g_env.disable = ht__rt_env_bool("HEAPTRAIL_DISABLE", 0,
                                    "\" (want 0 or 1), recording stays on");
    g_env.snapshot = ht__rt_env_bool("HEAPTRAIL_SNAPSHOT", 1,
                                     "\" (want 0 or 1), exit snapshot stays on");
    g_env.spill_thread = ht__rt_env_bool(
        "HEAPTRAIL_SPILL_THREAD", 0,
        "\" (want 0 or 1), no helper thread");
    const char *trace = getenv("HEAPTRAIL_TRACE");
    if (trace && (!*trace || ht__rt_strlen(trace) > HT_SPILL_PATH_MAX - 80)) {
        ht__rt_puterr("heaptrail: invalid HEAPTRAIL_TRACE (empty or longer "
                      "than 944 bytes), using \"heaptrail.db\"",
                      NULL, NULL, NULL, NULL);
        trace = NULL;
    }
    /* a copy: the program may change its environment before a fork */
    static char trace_copy[HT_SPILL_PATH_MAX];
    if (trace) {
        memcpy(trace_copy, trace, ht__rt_strlen(trace) + 1);
        g_env.trace = trace_copy;
    } else {
        g_env.trace = "heaptrail.db";
    }
    g_env.spill_max = HT__RT_DEFAULT_MAX;
    const char *ms = getenv("HEAPTRAIL_SPILL_MAX");
    if (ms) {
        uint64_t v;
        if (ht__rt_parse_u64(ms, &v) != 0 || v < HT_SPILL_HEADER_SIZE)
            ht__rt_puterr("heaptrail: invalid HEAPTRAIL_SPILL_MAX=\"", ms,
                          "\" (want bytes >= 1048576), using 64 GiB", NULL, NULL);
        else
            g_env.spill_max = v;
    }
}

/* Create and map a new spill file; on success sets g_hdr etc. and records
 * the ROOT events. parent_pid is 0 or the pid we forked from. Returns 0 on
 * success, -1 if recording must be disabled. */
static int ht__rt_spill_create(int32_t parent_pid)
{
    const char *trace = g_env.trace;
    uint64_t max_chunks =
        (g_env.spill_max - HT_SPILL_HEADER_SIZE) / HT__RT_CHUNK_BYTES;

    char dir[HT_SPILL_PATH_MAX];
    size_t tl = ht__rt_strlen(trace);
    memcpy(dir, trace, tl);
    memcpy(dir + tl, ".spill", 7);
    if (mkdir(dir, 0700) != 0 && errno != EEXIST) {
        ht__rt_puterr("heaptrail: cannot create spill in ", dir, ": ",
                      strerror(errno), "; recording disabled");
        return -1;
    }
    /* Never follow a symlink planted at the spill directory: the spill is
     * created relative to the directory opened without following it. */
    int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (dfd < 0) {
        ht__rt_puterr("heaptrail: cannot use spill directory ", dir, ": ",
                      errno == ELOOP || errno == ENOTDIR
                          ? "not a directory (a symbolic link?)" : strerror(errno),
                      "; recording disabled");
        return -1;
    }
    uint64_t start_ns = ht__rt_now_ns();
    int32_t pid = (int32_t)syscall(SYS_getpid);
    char path[HT_SPILL_PATH_MAX + 64];
    char *p = path;
    memcpy(p, dir, tl + 6);
    p += tl + 6;
    memcpy(p, "/spill-", 7);
    p = ht__rt_utoa(p + 7, (uint64_t)pid);
    *p++ = '-';
    p = ht__rt_utoa(p, start_ns);
    memcpy(p, ".hts", 5);
    int fd = openat(dfd, path + tl + 7, O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW |
                    O_CLOEXEC, 0600);
    close(dfd);
    if (fd < 0) {
        ht__rt_puterr("heaptrail: cannot create spill in ", dir, ": ",
                      strerror(errno), "; recording disabled");
        return -1;
    }
    uint64_t size = HT_SPILL_HEADER_SIZE + max_chunks * HT__RT_CHUNK_BYTES;
    if (ftruncate(fd, (off_t)size) != 0) {
        ht__rt_puterr("heaptrail: cannot size spill in ", dir, ": ",
                      strerror(errno), "; recording disabled");
        close(fd);
        unlink(path);
        return -1;
    }
    void *m = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    uint64_t okb = (max_chunks + 63) / 64 * 8 + 8;
    void *ok = m == MAP_FAILED ? MAP_FAILED
                               : mmap(NULL, okb, PROT_READ | PROT_WRITE,
                                      MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (ok == MAP_FAILED) {
        ht__rt_puterr("heaptrail: cannot map spill in ", dir, ": ",
                      strerror(errno), "; recording disabled");
        if (m != MAP_FAILED)
            munmap(m, size);
        close(fd);
        unlink(path);
        return -1;
    }
    /* The header region itself must never SIGBUS. */
    if (syscall(SYS_fallocate, fd, 0, (off_t)0, (off_t)HT_SPILL_HEADER_SIZE)
            != 0 && errno != EOPNOTSUPP) {
        ht__rt_puterr("heaptrail: cannot allocate spill in ", dir, ": ",
                      strerror(errno), "; recording disabled");
        munmap(ok, okb);
        munmap(m, size);
        close(fd);
        unlink(path);
        return -1;
    }
    struct ht_spill_header *h = m;
    h->version = HT_SPILL_VERSION;
    h->header_size = HT_SPILL_HEADER_SIZE;
    h->rec_size = sizeof(struct ht_spill_rec);
    h->chunk_records = HT_SPILL_CHUNK_RECORDS;
    h->max_chunks = max_chunks;
    h->pid = pid;
    h->ppid = (int32_t)syscall(SYS_getppid);
    h->start_ns = start_ns;
    h->parent_pid = parent_pid;
    ssize_t n = readlink("/proc/self/exe", h->exe, HT_SPILL_PATH_MAX - 1);
    if (n > 0)
        h->exe[n] = 0;
    int cfd = open("/proc/self/cmdline", O_RDONLY | O_CLOEXEC);
    if (cfd >= 0) {
        size_t got = 0;
        while (got < HT_SPILL_ARGV_MAX) {
            ssize_t r = read(cfd, h->argv + got, HT_SPILL_ARGV_MAX - got);
            if (r <= 0)
                break;
            got += (size_t)r;
        }
        h->argv_len = (uint32_t)got;
        close(cfd);
    }
    if (!getcwd(h->cwd, HT_SPILL_PATH_MAX))
        h->cwd[0] = 0;
    struct ht__rt_modctx mc = {h};
    dl_iterate_phdr(ht__rt_phdr_cb, &mc);
    __atomic_store_n(&h->state, HT_SPILL_RUNNING, __ATOMIC_RELEASE);
    __atomic_thread_fence(__ATOMIC_SEQ_CST);
    memcpy(h->magic, HT_SPILL_MAGIC, 8);
    __atomic_thread_fence(__ATOMIC_SEQ_CST);

    if (g_chunk_ok) /* a fork child's copy of the parent's */
        munmap(g_chunk_ok, g_chunk_ok_bytes);
    g_chunk_ok = ok;
    g_chunk_ok_bytes = okb;
    if (g_fd >= 0)
        close(g_fd);
    g_fd = fd;
    g_hdr = h;
    g_chunks = (char *)m + HT_SPILL_HEADER_SIZE;
    g_map_size = size;
    return 0;
}

static void ht__rt_record_roots(void)
{
    struct ht_spill_header *h = g_hdr;
    uint32_t n = __atomic_load_n(&h->nmodules, __ATOMIC_ACQUIRE);
    for (uint32_t i = 0; i < n; i++)
        if (h->modules[i].data_hi)
            ht__rt_record(HT_EV_ROOT, 0, h->modules[i].data_lo,
                          h->modules[i].data_hi - h->modules[i].data_lo, i, 0);
}

/* One-time initialisation (lazily from the first event, or the
 * constructor). Threads that race here wait for the initialising one; the
 * initialising thread itself (e.g. from a signal handler) does not record. */
static void ht__rt_init(void)
{
    int exp = HT__RT_UNINIT;
    if (!__atomic_compare_exchange_n(&g_ready, &exp, HT__RT_INITIALIZING, 0,
                                     __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE)) {
        if (exp == HT__RT_INITIALIZING &&
            __atomic_load_n(&g_init_tid, __ATOMIC_RELAXED) !=
                (pid_t)ht__rt_tid()) {
            while (__atomic_load_n(&g_ready, __ATOMIC_ACQUIRE) ==
                   HT__RT_INITIALIZING)
                sched_yield();
        }
        return;
    }
    __atomic_store_n(&g_init_tid, (pid_t)ht__rt_tid(), __ATOMIC_RELAXED);
    ht__rt_read_env();
    if (g_env.disable) {
        __atomic_store_n(&g_ready, HT__RT_DISABLED, __ATOMIC_RELEASE);
        return;
    }
    if (ht__rt_spill_create(0) != 0) {
        __atomic_store_n(&g_ready, HT__RT_DISABLED, __ATOMIC_RELEASE);
        return;
    }
    if (!g_hooks_done) {
        g_hooks_done = 1;
        on_exit(ht__rt_on_exit, NULL);
        pthread_atfork(NULL, NULL, ht__rt_atfork_child);
    }
    ht__rt_solo_start();
    __atomic_store_n(&g_ready, HT__RT_READY, __ATOMIC_RELEASE);
    ht__rt_record_roots();
    ht__fol_start();
}

/* Fork child: R5, a new spill of our own. */
static void ht__rt_atfork_child(void)
{
    t_tid = 0;
    t_cur = 0;
    t_solo = 0;
    t_fenced = 0;
    g_multi = 2;
    g_solo_in = 0;
    g_spill_full = 0; /* a new spill file */
    g_stack_scans = 0; /* T3: a scanning thread did not survive the fork */
    ht__fol_forget();
    if (__atomic_load_n(&g_ready, __ATOMIC_ACQUIRE) != HT__RT_READY)
        return;
    int32_t parent = g_hdr->pid;
    void *old = g_hdr;
    uint64_t old_size = g_map_size;
    __atomic_store_n(&g_ready, HT__RT_INITIALIZING, __ATOMIC_RELEASE);
    __atomic_store_n(&g_init_tid, (pid_t)ht__rt_tid(), __ATOMIC_RELAXED);
    if (ht__rt_spill_create(parent) != 0) {
        __atomic_store_n(&g_ready, HT__RT_DISABLED, __ATOMIC_RELEASE);
        return;
    }
    munmap(old, old_size);
    ht__rt_solo_start(); /* the only thread of the child (R5, R6) */
    for (int i = 0; i < HT__RT_MAX_THREADS; i++) /* T1: only we survive */
        if (g_threads[i].state != 2 ||
            !pthread_equal(g_threads[i].self, pthread_self()))
            __atomic_store_n(&g_threads[i].state, 0, __ATOMIC_RELEASE);
    __atomic_store_n(&g_ready, HT__RT_READY, __ATOMIC_RELEASE);
    ht__rt_record_roots();
}

/* ---- Exit snapshot (ARCHITECTURE.md decision 4) ----------------------
 * Which blocks are live: per address, the ALLOC/REALLOC/FREE with the
 * highest seq decides (a FREE of an address is ordered before any later
 * allocation of it, S3); only seqs are compared, so chunk order, threads
 * and S4 disorder do not matter. One pass over the spill's records in slot
 * order feeds an mmap'd open-addressing table keyed by address that keeps
 * the latest event per address: time linear in events, memory in distinct
 * addresses. In solo mode (R6) slot order is seq order (checked as it
 * goes; ht__snap_pass), so the table holds the live blocks only. The
 * table outgrows the caches (libyaml: 432 K live blocks, 16 MB), so each
 * event's home slot is prefetched HT__SNAP_AHEAD events before it is
 * probed, overlapping the misses, and home slots keep neighbouring blocks
 * together (ht__snap_home). (Partitioning the events into hash
 * buckets resolved by cache-sized tables was built and measured slower:
 * it writes, faults in and reads back 24 bytes per event, 46 MB for the
 * 1.94 M events of the libyaml bench; docs/DECISIONS.md 25.) Only chunks
 * whose disk blocks were allocated are read (ht__rt_chunk_ok; a hole of a
 * full tmpfs would SIGBUS). Then the live blocks are radix-sorted by
 * address and every module data range, saved register, stack and live
 * block is scanned conservatively, recording one EDGE per word that points
 * into a live block. Scratch memory is mmap'd only (never malloc); stack
 * use is bounded. */
struct ht__snap_ent {
    uint64_t key; /* block address */
    uint64_t a;   /* size */
};

/* One slot of the address table: address (0 = empty slot), seq of its
 * latest event, size or HT__SNAP_DEAD. */
struct ht__snap_slot {
    uint64_t addr, seq, size;
};

#define HT__SNAP_DEAD UINT64_MAX
#define HT__SNAP_HASH 0x9E3779B97F4A7C15ull

/* Scratch memory: MAP_NORESERVE, so only the pages touched count; extra
 * mmap flags (MAP_POPULATE for the address table, which is written all
 * over at once). A populated map of 4 MB or more asks for transparent huge
 * pages (THP is often in madvise mode) before it is populated: the
 * table's probes then miss no TLB (libyaml's pass -8 ms; with THP defrag
 * `madvise` a fault may compact memory first, docs/DECISIONS.md 25). */
static void *ht__snap_map(uint64_t bytes, int flags)
{
    int huge = (flags & MAP_POPULATE) && bytes >= (4u << 20);
    void *p = mmap(NULL, bytes ? bytes : 1, PROT_READ | PROT_WRITE,
                   MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE |
                       (huge ? flags & ~MAP_POPULATE : flags),
                   -1, 0);
    if (p == MAP_FAILED)
        return NULL;
    /* F4: a fork child neither gets nor frees the scratch of a snapshot or
     * of the follower running in the parent */
    madvise(p, bytes ? bytes : 1, MADV_DONTFORK);
    if (huge) {
        madvise(p, bytes, MADV_HUGEPAGE);
        /* failing (before Linux 5.14): the pages fault in as written */
        madvise(p, bytes, MADV_POPULATE_WRITE);
    }
    return p;
}

static void ht__snap_unmap(void *p, uint64_t bytes)
{
    if (p)
        munmap(p, bytes ? bytes : 1);
}

static void ht__snap_sift(struct ht__snap_ent *v, uint64_t i, uint64_t n)
{
    for (;;) {
        uint64_t l = 2 * i + 1, m = i;
        if (l < n && v[l].key > v[m].key)
            m = l;
        if (l + 1 < n && v[l + 1].key > v[m].key)
            m = l + 1;
        if (m == i)
            return;
        struct ht__snap_ent t = v[i];
        v[i] = v[m];
        v[m] = t;
        i = m;
    }
}

/* Non-allocating heapsort by key. */
static void ht__snap_sort(struct ht__snap_ent *v, uint64_t n)
{
    for (uint64_t i = n / 2; i-- > 0;)
        ht__snap_sift(v, i, n);
    for (uint64_t e = n; e > 1; e--) {
        struct ht__snap_ent t = v[0];
        v[0] = v[e - 1];
        v[e - 1] = t;
        ht__snap_sift(v, 0, e - 1);
    }
}

/* Sort v[0..n) by key: an LSD radix sort, a byte a pass, through a
 * scratch copy (passes over a byte that all keys share are skipped: heap
 * addresses differ in 3-5 low bytes), O(n) where the heapsort's sifts cost
 * a cache miss per level (1 M live blocks: 1.2 s of heapsort). Falls back to
 * the heapsort without scratch memory. */
static void ht__snap_sort_keys(struct ht__snap_ent *v, uint64_t n)
{
    uint64_t bytes = n * sizeof *v + 8 * 256 * sizeof(uint64_t);
    char *m = n > 64 ? ht__snap_map(bytes, 0) : NULL;
    if (!m) {
        ht__snap_sort(v, n);
        return;
    }
    uint64_t(*cnt)[256] = (uint64_t(*)[256])(void *)m;
    struct ht__snap_ent *tmp = (struct ht__snap_ent *)(m + 8 * 256 * 8);
    for (uint64_t i = 0; i < n; i++)
        for (unsigned d = 0; d < 8; d++)
            cnt[d][v[i].key >> (8 * d) & 255]++;
    struct ht__snap_ent *src = v, *dst = tmp;
    for (unsigned d = 0; d < 8; d++) {
        if (cnt[d][v[0].key >> (8 * d) & 255] == n)
            continue; /* one value: the order stays */
        uint64_t pos = 0;
        for (unsigned b = 0; b < 256; b++) {
            uint64_t c = cnt[d][b];
            cnt[d][b] = pos;
            pos += c;
        }
        for (uint64_t i = 0; i < n; i++)
            dst[cnt[d][src[i].key >> (8 * d) & 255]++] = src[i];
        struct ht__snap_ent *x = src;
        src = dst;
        dst = x;
    }
    if (src != v)
        memcpy(v, src, n * sizeof *v);
    ht__snap_unmap(m, bytes);
}

/* The address table, in one of two forms chosen per pass:
 *   general: 24-byte slots (struct ht__snap_slot) keeping the latest event
 *            of every address seen, FREEs included (max seq wins);
 *   ordered: 16-byte slots (struct ht__snap_ent: address, size) holding
 *            only the live blocks, a FREE deleting its address (backward
 *            shift: no tombstones). Exact only when the events arrive in
 *            seq order, which ht__snap_pass checks (see there).
 * Linear probing, home slots from ht__snap_home; at most half full. The
 * pass keeps the table in a local that never escapes (ht__snap_grow takes
 * and returns it by value), so its fields stay in registers: through a
 * pointer, every store into a slot (a uint64_t) made the compiler reload
 * them. */
struct ht__snap_tab {
    char *v;
    uint64_t cap;   /* slots, a power of two (0: no memory yet) */
    uint64_t lim;   /* cap / 2: inserting at n == lim doubles first */
    uint64_t n;     /* slots used */
    unsigned shift; /* 64 - log2(cap / 32): ht__snap_home */
};

/* An ordered table's memory released; t empty again. */
static void ht__snap_tab_free(struct ht__snap_tab *t)
{
    ht__snap_unmap(t->v, sizeof(struct ht__snap_ent) * t->cap);
    *t = (struct ht__snap_tab){0};
}

#define HT__SNAP_FIRST_CAP (1u << 16) /* 64 K slots */

/* The home slot of addr (shift: the table's): each 512-byte stretch of
 * the heap gets a window of 32 slots chosen by the top bits of a Fibonacci
 * hash, and within it the block's 16-byte granule, rotated by hash bits
 * (so blocks at one offset of many stretches, e.g. page-aligned ones,
 * spread over the window). Blocks allocated or freed one after another
 * mostly lie near each other, so their slots share cache lines and pages
 * (the libyaml bench's pass: 75 to 36 ms against a hash of the whole
 * address). A stretch holds at most 16 blocks (glibc's minimum chunk is 32
 * bytes), at most half its window. Doubling the table sends window w to 2w
 * or 2w + 1, so a rehash in slot order writes the new table nearly front
 * to back. */
static inline uint64_t ht__snap_home(unsigned shift, uint64_t addr)
{
    uint64_t h = (addr >> 9) * HT__SNAP_HASH;
    return (h >> shift) << 5 | (((addr >> 4) + (h >> 32)) & 31);
}

/* The slot of addr in t's slots of sz bytes, searched from slot i (its
 * home): where it is, or the empty slot ending its probe sequence. */
static inline __attribute__((always_inline)) uint64_t *
ht__snap_probe_at(const struct ht__snap_tab *t, size_t sz, uint64_t addr,
                  uint64_t i)
{
    uint64_t *s;
    while ((s = (uint64_t *)(void *)(t->v + i * sz))[0] != 0 && s[0] != addr)
        i = (i + 1) & (t->cap - 1);
    return s;
}

/* ht__snap_probe_at from addr's home. */
static inline __attribute__((always_inline)) uint64_t *
ht__snap_probe(const struct ht__snap_tab *t, size_t sz, uint64_t addr)
{
    return ht__snap_probe_at(t, sz, addr, ht__snap_home(t->shift, addr));
}

/* Copy the sz-byte slot s to d (sz a constant: plain moves, where a
 * memcpy of unknown size was a `rep movsb`, 18 % of the rehash). */
static inline __attribute__((always_inline)) void
ht__snap_copy(void *d, const void *s, size_t sz)
{
    for (size_t k = 0; k < sz / 8; k++)
        ((uint64_t *)d)[k] = ((const uint64_t *)s)[k];
}

/* Move the entries of t into nt (empty, twice as many slots of sz bytes),
 * in slot order. */
static inline __attribute__((always_inline)) void
ht__snap_rehash(const struct ht__snap_tab *nt, const struct ht__snap_tab *t,
                size_t sz)
{
    for (uint64_t i = 0; i < t->cap; i++) {
        const uint64_t *s = (const uint64_t *)(const void *)(t->v + i * sz);
        if (s[0])
            ht__snap_copy(ht__snap_probe(nt, sz, s[0]), s, sz);
    }
}

/* t doubled (to 64 K slots from none); sz: slot bytes (16 or 24). Without
 * memory, t unchanged (still full: n == lim). */
__attribute__((noinline, cold)) static struct ht__snap_tab
ht__snap_grow(struct ht__snap_tab t, size_t sz)
{
    struct ht__snap_tab nt = {NULL, t.cap ? 2 * t.cap : HT__SNAP_FIRST_CAP, 0,
                              t.n, t.cap ? t.shift - 1 : 64 - 16 + 5};
    nt.lim = nt.cap / 2;
    /* populated at once: every page gets written (rehash, spread inserts),
     * and one populate costs less than a fault per page */
    if (!(nt.v = ht__snap_map(sz * nt.cap, MAP_POPULATE)))
        return t;
    if (sz == 16)
        ht__snap_rehash(&nt, &t, 16);
    else
        ht__snap_rehash(&nt, &t, 24);
    ht__snap_unmap(t.v, sz * t.cap);
    return nt;
}

/* Apply one event (size HT__SNAP_DEAD for a FREE) to t; home: addr's home
 * slot in t as it is (ht__snap_home). ordered: the ordered form (sz 16),
 * else the general one (sz 24). Returns -1 if the table cannot grow. */
static inline __attribute__((always_inline)) int
ht__snap_note_at(struct ht__snap_tab *t, int ordered, uint64_t addr,
                 uint64_t seq, uint64_t size, uint64_t home)
{
    const size_t sz = ordered ? sizeof(struct ht__snap_ent)
                              : sizeof(struct ht__snap_slot);
    if (ordered && size == HT__SNAP_DEAD) {
        if (!t->n)
            return 0;
        uint64_t *s = ht__snap_probe_at(t, sz, addr, home);
        if (s[0] == 0) /* not live: freed twice, or never seen allocated */
            return 0;
        /* backward-shift deletion: move up every later entry of the
         * cluster that may sit at the hole (its home is not in (hole, j]).
         * (Marking it dead instead, one store, kept the freed addresses in
         * the table: mixed's pass, 2 K live blocks among ~30 K freed
         * addresses, went from an L1/L2-sized working set to all of its
         * 1 MB table, +50 % time; bench/RESULTS.md.) */
        uint64_t m = t->cap - 1;
        uint64_t i = (uint64_t)((char *)s - t->v) / sz, j = i;
        for (;;) {
            j = (j + 1) & m;
            uint64_t *e = (uint64_t *)(void *)(t->v + j * sz);
            if (e[0] == 0)
                break;
            uint64_t h = ht__snap_home(t->shift, e[0]);
            if (((j - h) & m) >= ((j - i) & m)) {
                ht__snap_copy(t->v + i * sz, e, sz);
                i = j;
            }
        }
        ((uint64_t *)(void *)(t->v + i * sz))[0] = 0;
        t->n--;
        return 0;
    }
    if (__builtin_expect(t->n >= t->lim, 0)) {
        *t = ht__snap_grow(*t, sz);
        if (t->n >= t->lim)
            return -1;
        home = ht__snap_home(t->shift, addr);
    }
    uint64_t *s = ht__snap_probe_at(t, sz, addr, home);
    if (ordered) {
        t->n += s[0] == 0;
        s[0] = addr;
        s[1] = size;
    } else if (s[0] == 0) {
        s[0] = addr;
        s[1] = seq;
        s[2] = size;
        t->n++;
    } else if (seq > s[1]) {
        s[1] = seq;
        s[2] = size;
    }
    return 0;
}

/* ht__snap_note_at from addr's home. */
static inline __attribute__((always_inline)) int
ht__snap_note(struct ht__snap_tab *t, int ordered, uint64_t addr, uint64_t seq,
              uint64_t size)
{
    return ht__snap_note_at(t, ordered, addr, seq, size,
                            ht__snap_home(t->shift, addr));
}

/* Events in flight: once the table outgrows its first 64 K slots (1.5 MB,
 * about an L2), each event's home slot is prefetched when it enters and
 * applied HT__SNAP_AHEAD events later (in entry order), so the misses
 * overlap instead of each stalling its event. A smaller table is probed at
 * once: the queue would only add work (pure churn has a few thousand
 * addresses). */
#define HT__SNAP_AHEAD 16
struct ht__snap_pipe {
    struct {
        uint64_t addr, seq, size;
        uint64_t home; /* ht__snap_home in the table as it is (computed
                        * once, for the prefetch and the probe) */
    } q[HT__SNAP_AHEAD];
    unsigned head, n;
};

/* Apply the oldest event in flight (p->n > 0) to t; if that grew t, the
 * homes of the others are computed anew. Returns -1 if t cannot grow. */
static inline __attribute__((always_inline)) int
ht__snap_pop(struct ht__snap_tab *t, struct ht__snap_pipe *p, int ordered)
{
    unsigned shift = t->shift;
    if (ht__snap_note_at(t, ordered, p->q[p->head].addr, p->q[p->head].seq,
                         p->q[p->head].size, p->q[p->head].home) != 0)
        return -1;
    p->head = (p->head + 1) % HT__SNAP_AHEAD;
    p->n--;
    if (__builtin_expect(t->shift != shift, 0))
        for (unsigned k = 0; k < p->n; k++) {
            unsigned j = (p->head + k) % HT__SNAP_AHEAD;
            p->q[j].home = ht__snap_home(t->shift, p->q[j].addr);
        }
    return 0;
}

static inline __attribute__((always_inline)) int
ht__snap_push(struct ht__snap_tab *t, struct ht__snap_pipe *p, int ordered,
              uint64_t addr, uint64_t seq, uint64_t size)
{
    if (t->cap <= HT__SNAP_FIRST_CAP) /* the queue is empty: it only fills later */
        return ht__snap_note(t, ordered, addr, seq, size);
    if (p->n == HT__SNAP_AHEAD && ht__snap_pop(t, p, ordered) != 0)
        return -1;
    uint64_t home = ht__snap_home(t->shift, addr);
    __builtin_prefetch(t->v + home * (ordered ? sizeof(struct ht__snap_ent)
                                              : sizeof(struct ht__snap_slot)),
                       1);
    unsigned j = (p->head + p->n) % HT__SNAP_AHEAD;
    p->q[j].addr = addr;
    p->q[j].seq = seq;
    p->q[j].size = size;
    p->q[j].home = home;
    p->n++;
    return 0;
}

/* Whether spill chunk c has its disk blocks (R2: its bit is set before
 * the chunk's first record), i.e. may be read: a hole of a full tmpfs
 * raises SIGBUS through the map. */
static int ht__rt_chunk_ok(uint64_t c)
{
    return __atomic_load_n(&g_chunk_ok[c / 64], __ATOMIC_ACQUIRE) >>
               (c % 64) & 1;
}

_Static_assert(HT_EV_REALLOC == HT_EV_ALLOC + 1 && HT_EV_FREE == HT_EV_ALLOC + 2,
               "ht__snap_pass tests the three kinds as one range");

#define HT__SNAP_NOMEM (-1)
#define HT__SNAP_DISORDER (-2)

/* Runs of kind-0 slots [from, to) of chunk c that the follower met in the
 * chunks it applied (F3): rechecked when it hands its table over. */
struct ht__fol_gap {
    uint64_t c;
    uint32_t from, to;
};
#define HT__FOL_MAX_GAPS 65536u
struct ht__fol_gaps {
    struct ht__fol_gap *v; /* mmap'd at the first gap, MAX_GAPS entries */
    uint64_t n;
    int full; /* a gap did not fit, or no memory: the follower fails */
};

static void ht__fol_gap_add(struct ht__fol_gaps *g, uint64_t c, uint32_t from,
                            uint32_t to);

/* Feed the ALLOC/REALLOC/FREE records of chunks [c0, nch) of the spill
 * into t, in slot order. In the ordered form (ordered = 1) it stops with
 * HT__SNAP_DISORDER at the first of these records whose seq is below its
 * predecessor's (*last: the seq of the last record applied, carried from
 * one call to the next): processing in seq order with deletion on FREE
 * leaves, per address, the effect of its latest event, exactly what the
 * general form keeps, but only while slot order is seq order. That holds
 * in solo mode (R6: one thread took every seq, its chunks are taken in
 * turn and it fills each in order) except where a signal handler recorded
 * between a seq and its slot (S4). gaps (the follower's, else NULL: a
 * constant at each call, so the exit's pass has no such test) receives
 * every run of kind-0 slots but a wide record's first half (F3). Returns
 * 0 or HT__SNAP_NOMEM. */
static inline __attribute__((always_inline)) int
ht__snap_pass(struct ht__snap_tab *t, int ordered, uint64_t c0, uint64_t nch,
              uint64_t *last_seq, struct ht__fol_gaps *gaps)
{
    const struct ht_spill_rec *recs = (const struct ht_spill_rec *)g_chunks;
    const uint64_t cr = g_hdr->chunk_records; /* not reloaded per record */
    struct ht__snap_pipe pipe = {{{0, 0, 0, 0}}, 0, 0};
    uint64_t last = *last_seq;
    for (uint64_t c = c0; c < nch; c++) {
        if (!ht__rt_chunk_ok(c))
            continue;
        const struct ht_spill_rec *r = recs + c * cr;
        uint64_t zfrom = UINT64_MAX; /* gaps: start of the open kind-0 run */
        for (uint64_t i = 0; i < cr; i++, r++) {
            /* 6 KB ahead: the next page is in the TLB before the
             * hardware prefetcher reaches it (-20 % pass time) */
            __builtin_prefetch(r + 192);
            uint64_t w3 = __atomic_load_n(&r->w[3], __ATOMIC_ACQUIRE);
            unsigned kb = ht_spill_kind_byte(w3);
            if (gaps) {
                if (kb == 0) {
                    if (zfrom == UINT64_MAX)
                        zfrom = i;
                    continue;
                }
                if (zfrom != UINT64_MAX) {
                    /* a wide slot's first half is the slot before it */
                    uint64_t to = kb & HT_SPILL_WIDE ? i - 1 : i;
                    if (to > zfrom)
                        ht__fol_gap_add(gaps, c, (uint32_t)zfrom,
                                        (uint32_t)to);
                    zfrom = UINT64_MAX;
                }
            }
            /* ALLOC, REALLOC, FREE: kind bytes 1-3 compact, 0x81-0x83
             * wide, whose a and b are whole words (S7); an owner slot or a
             * wide record's first half is none of them. One compare for
             * the common case. */
            uint64_t mask;
            if (__builtin_expect(kb - HT_EV_ALLOC <= 2u, 1))
                mask = HT_SPILL_LOW48;
            else if (kb - (HT_SPILL_WIDE | HT_EV_ALLOC) <= 2u)
                mask = UINT64_MAX;
            else
                continue;
            unsigned k = kb & 0x7fu;
            uint64_t a = r->w[0] & mask;
            if (a == 0)
                continue;
            uint64_t seq = w3 & HT_SPILL_LOW48;
            if (ordered) {
                if (seq < last)
                    return HT__SNAP_DISORDER;
                last = seq;
            }
            if (ht__snap_push(t, &pipe, ordered, a, seq,
                              k == HT_EV_FREE ? HT__SNAP_DEAD
                                              : r->w[1] & mask) != 0)
                return HT__SNAP_NOMEM;
        }
        if (gaps && zfrom != UINT64_MAX)
            ht__fol_gap_add(gaps, c, (uint32_t)zfrom, (uint32_t)cr);
    }
    while (pipe.n)
        if (ht__snap_pop(t, &pipe, ordered) != 0)
            return HT__SNAP_NOMEM;
    *last_seq = last;
    return 0;
}

/* The live blocks, sorted by key; every byte of them lies in [lo, last]
 * (lo > last: no block has a byte). */
struct ht__snap_live {
    struct ht__snap_ent *v;
    uint64_t n, lo, last;
    uint64_t hint; /* < n: the block ht__snap_find found last */
};

/* Index of the last block of v[lo..hi) with key <= x (lo - 1 if none;
 * v[lo - 1].key <= x is known when lo > 0). */
static uint64_t ht__snap_below(const struct ht__snap_ent *v, uint64_t lo,
                               uint64_t hi, uint64_t x)
{
    while (lo < hi) {
        uint64_t mid = lo + (hi - lo) / 2;
        if (v[mid].key <= x)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo - 1;
}

/* Find the live block containing x, or NULL. Neighbouring words mostly
 * point near each other (a block's fields, a list whose nodes were
 * allocated in turn), so the block found last and its neighbours are
 * tried before a binary search (1 M live list nodes: the scan's share of
 * the recording's profile fell from 25 % to 6 %). */
static const struct ht__snap_ent *ht__snap_find(struct ht__snap_live *l,
                                                uint64_t x)
{
    if (x < l->lo || x > l->last) /* outside every block: most words */
        return NULL;
    const struct ht__snap_ent *v = l->v;
    uint64_t h = l->hint, n = l->n, c;
    if (v[h].key <= x) {
        if (h + 1 == n || x < v[h + 1].key)
            c = h;
        else if (h + 2 == n || x < v[h + 2].key)
            c = h + 1;
        else
            c = ht__snap_below(v, h + 2, n, x);
    } else if (h > 0 && v[h - 1].key <= x) {
        c = h - 1;
    } else {
        c = ht__snap_below(v, 0, h, x);
        if (c == UINT64_MAX)
            return NULL;
    }
    l->hint = c;
    return x - v[c].key < v[c].a ? &v[c] : NULL;
}

static void ht__snap_scan(struct ht__snap_live *l, uint64_t lo,
                          uint64_t hi)
{
    for (uint64_t p = (lo + 7) & ~7ull; p + 8 <= hi; p += 8) {
        uint64_t v = *(const uint64_t *)(uintptr_t)p;
        if (ht__snap_find(l, v))
            ht__rt_record(HT_EV_EDGE, 0, p, v, 0, 0);
    }
}

/* Parse one /proc/self/maps line [q, end): "lo-hi perms ...". Returns 1
 * with *ml, *mh set for a well-formed readable mapping, else 0. */
static int ht__snap_maps_line(const char *q, const char *end, uint64_t *ml,
                              uint64_t *mh)
{
    uint64_t v[2] = {0, 0};
    for (int k = 0; k < 2; k++) {
        int nd = 0;
        for (; q < end && *q != (k ? ' ' : '-'); q++, nd++) {
            unsigned d = (unsigned)(*q >= 'a' ? *q - 'a' + 10 : *q - '0');
            if (d > 15 || nd >= 16)
                return 0;
            v[k] = v[k] << 4 | d;
        }
        if (q == end || nd == 0)
            return 0;
        q++;
    }
    *ml = v[0];
    *mh = v[1];
    return q < end && *q == 'r' && v[0] < v[1];
}

/* The readable mappings of the process, ascending, read once per snapshot
 * (not once per thread stack) from /proc/self/maps into an mmap'd array. */
struct ht__snap_maps {
    uint64_t (*r)[2];
    uint64_t n, cap;
};

static int ht__snap_maps_add(struct ht__snap_maps *m, uint64_t lo, uint64_t hi)
{
    if (m->n == m->cap) {
        uint64_t ncap = m->cap ? 2 * m->cap : 256;
        uint64_t(*nv)[2] = ht__snap_map(ncap * sizeof *nv, 0);
        if (!nv)
            return -1;
        if (m->n)
            memcpy(nv, m->r, m->n * sizeof *nv);
        ht__snap_unmap(m->r, m->cap * sizeof *m->r);
        m->r = nv;
        m->cap = ncap;
    }
    m->r[m->n][0] = lo;
    m->r[m->n][1] = hi;
    m->n++;
    return 0;
}

/* Fill m (empty) from /proc/self/maps, read with a fixed buffer (no
 * malloc); a line longer than it is skipped whole. Out of memory or an
 * unreadable file leaves fewer ranges: less is scanned, nothing wrong. */
static void ht__snap_maps_read(struct ht__snap_maps *m)
{
    int fd = open("/proc/self/maps", O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return;
    char buf[4096];
    size_t len = 0;
    int skip = 0; /* inside an overlong line */
    for (;;) {
        ssize_t r = read(fd, buf + len, sizeof buf - len);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            break;
        len += (size_t)r;
        size_t s = 0;
        char *nl;
        while ((nl = memchr(buf + s, '\n', len - s))) {
            uint64_t ml, mh;
            if (!skip && ht__snap_maps_line(buf + s, nl, &ml, &mh) &&
                ht__snap_maps_add(m, ml, mh) != 0)
                goto done;
            skip = 0;
            s = (size_t)(nl - buf) + 1;
        }
        memmove(buf, buf + s, len - s);
        len -= s;
        if (len == sizeof buf) {
            len = 0;
            skip = 1;
        }
    }
done:
    close(fd);
}

/* Scan [lo, hi) where m says it is mapped readable: a stack the program
 * provided (pthread_attr_setstack) may hold a guard page of its own. */
static void ht__snap_scan_mapped(struct ht__snap_live *l,
                                 const struct ht__snap_maps *m, uint64_t lo,
                                 uint64_t hi)
{
    for (uint64_t i = 0; i < m->n; i++) {
        uint64_t a = m->r[i][0] > lo ? m->r[i][0] : lo;
        uint64_t b = m->r[i][1] < hi ? m->r[i][1] : hi;
        if (a < b)
            ht__snap_scan(l, a, b);
    }
}

extern void *__libc_stack_end; /* top of the main thread's stack (ld.so) */

#define HT__RT_NREGS 11 /* callee-saved registers kept (aarch64: x19-x29) */

/* HT__RT_SAVE_REGS(regs): store the callee-saved registers (which may hold
 * the program's pointers) into regs[]; HT__RT_SP(): where the calling
 * function's stack scan starts: its frame address (saved frame pointer,
 * return address, callers), so neither the snapshot's own frames nor this
 * frame's padding (stale words of returned calls) are read. Elsewhere than
 * x86-64 / aarch64 every callee-saved register is spilled into the frame
 * (__builtin_unwind_init) and the scan starts at its callee's frame. */
#if defined(__x86_64__)
#define HT__RT_SAVE_REGS(regs)                                               \
    __asm__ volatile("movq %%rbx, 0(%0)\n\tmovq %%r12, 8(%0)\n\t"            \
                     "movq %%r13, 16(%0)\n\tmovq %%r14, 24(%0)\n\t"          \
                     "movq %%r15, 32(%0)\n\tmovq %%rbp, 40(%0)"               \
                     : : "r"(regs) : "memory")
#define HT__RT_SP() ((uintptr_t)__builtin_frame_address(0))
#elif defined(__aarch64__)
#define HT__RT_SAVE_REGS(regs)                                               \
    __asm__ volatile("stp x19, x20, [%0]\n\tstp x21, x22, [%0, #16]\n\t"     \
                     "stp x23, x24, [%0, #32]\n\tstp x25, x26, [%0, #48]\n\t" \
                     "stp x27, x28, [%0, #64]\n\tstr x29, [%0, #80]"          \
                     : : "r"(regs) : "memory")
#define HT__RT_SP() ((uintptr_t)__builtin_frame_address(0))
#else
#define HT__RT_SAVE_REGS(regs) __builtin_unwind_init()
#define HT__RT_SP() ht__rt_sp_here()
#endif

#if !defined(__x86_64__) && !defined(__aarch64__)
/* An address just below the caller's stack pointer: the frame of this
 * function, which the caller's next call (ht__rt_snapshot_run) reuses. */
__attribute__((noinline)) static uint64_t ht__rt_sp_here(void)
{
    return (uintptr_t)__builtin_frame_address(0);
}
#endif

/* Stack roots: the calling thread's stack from sp (see
 * ht__rt_snapshot_entry) up, and the whole recorded stack of every other
 * running thread of g_threads (T1; no stack pointer is known for those, so
 * dead frames below it are scanned too, and the thread keeps running while
 * it is read; T3 keeps its stack mapped until the scan ends). */
static void ht__snap_stacks(struct ht__snap_live *l, uint64_t sp)
{
    pthread_t me = pthread_self();
    uint64_t top = 0;
    struct ht__snap_maps maps = {0};
    int maps_read = 0;
    if ((pid_t)ht__rt_tid() == getpid())
        top = (uintptr_t)__libc_stack_end;
    __atomic_fetch_add(&g_stack_scans, 1, __ATOMIC_SEQ_CST); /* T3 */
    for (int i = 0; i < HT__RT_MAX_THREADS; i++) {
        struct ht__rt_thread *t = &g_threads[i];
        if (__atomic_load_n(&t->state, __ATOMIC_SEQ_CST) != 2)
            continue;
        uint64_t lo = t->lo, hi = t->hi;
        uint32_t tid = t->tid;
        if (pthread_equal(t->self, me)) {
            top = hi;
            continue;
        }
        if (!maps_read) {
            ht__snap_maps_read(&maps);
            maps_read = 1;
        }
        ht__rt_record(HT_EV_ROOT, 0, lo, hi - lo, HT_ROOT_STACK, tid);
        ht__snap_scan_mapped(l, &maps, lo, hi);
    }
    if (__atomic_sub_fetch(&g_stack_scans, 1, __ATOMIC_SEQ_CST) == 0)
        syscall(SYS_futex, &g_stack_scans, FUTEX_WAKE_PRIVATE, INT_MAX, NULL,
                NULL, 0);
    ht__snap_unmap(maps.r, maps.cap * sizeof *maps.r);
    if (sp && sp < top) {
        ht__rt_record(HT_EV_ROOT, 0, sp, top - sp, HT_ROOT_STACK,
                      ht__rt_tid());
        ht__snap_scan(l, sp, top);
    }
}

int __real_pthread_create(pthread_t *t, const pthread_attr_t *attr,
                          void *(*fn)(void *), void *arg);

/* ---- Helper thread: spill chunks ahead, snapshot follower -------------
 * Two costs of recording can run on another CPU while the program runs.
 * (1) The kernel's work for each fresh spill page (page-cache folio,
 * zeroing, ext4 block mapping and page_mkwrite: ~30 % of the recording
 * thread's samples on allocation churn) is taken ahead of the recording
 * threads (F6). (2) The exit snapshot's pass over the spill (libyaml
 * bench: ~40 ms at exit, docs/DECISIONS.md 25): in solo mode (R6) the
 * spill's chunks are filled one after another, so the helper applies each
 * chunk to the ordered table once the recording thread has moved on to a
 * later one; at exit the exiting thread takes its table over and applies
 * only the chunks left (the last one or two). Invariants:
 *   F1. g_fol.state: NONE (no helper: none started, fork child, or table
 *       handed over), RUN (following), STOP (exit asks it to hand over),
 *       PARKED (it stopped; g_fol.t/done/last/gaps are the exiting
 *       thread's now), FAILED (no table: not following from the start, or
 *       it gave up and freed its memory: multi mode, disorder, no memory,
 *       a chunk without disk blocks, too many gaps; it keeps preparing
 *       chunks). Only the helper leaves RUN or STOP, but for the exit's
 *       two CAS moves: RUN to STOP, and STOP to FAILED past its wait (F7).
 *   F2. The helper applies chunk c only when next_chunk > c + 1 (the solo
 *       thread took a later chunk), chunks in index order, with the
 *       ordered pass, its own table and *last carried across chunks: the
 *       same work, in the same order, as the exit's pass over those
 *       chunks, provided every slot it read was final.
 *   F3. A slot read with kind byte 0 may still be written: a reservation
 *       a signal handler interrupted (it may then fill the chunk and the
 *       next) writes its slot after the handler returns. So every run of
 *       kind-0 slots (but a wide record's first half, S7) is noted, and
 *       the exit rechecks them: any of them written since means the
 *       helper missed an event, and the exit redoes the whole pass. A
 *       slot whose kind byte was set is final (S2: w3 is released last).
 *   F4. The helper records nothing, calls no wrapped function and runs
 *       with every signal blocked (it never runs the program's handlers);
 *       its memory is MADV_DONTFORK (ht__snap_map), so a fork child (which
 *       has no helper, R5) neither inherits nor frees it.
 *   F5. The helper's table is used only if g_multi is still 0 at the
 *       exit snapshot (after its SNAPSHOT seq), as for the ordered pass.
 *   F6. The helper only prepares memory: it fallocates and faults in
 *       (MADV_POPULATE_WRITE) the HT__FOL_AHEAD chunks from next_chunk on
 *       before a thread takes them. The taker still fallocates its chunk
 *       and sets its g_chunk_ok bit (R2); a chunk prepared but never taken
 *       lies past next_chunk, where no reader looks; a failure (no room:
 *       MADV_POPULATE_WRITE reports it, it never raises SIGBUS) only ends
 *       the preparing, so the takers' fallocate decides overflow as
 *       before.
 *   F7. The exit waits at most HT__FOL_WAIT_NS for the helper to park (a
 *       helper waiting for a CPU on a busy host would hold the exit up
 *       longer than the whole pass takes): past it, it moves STOP to
 *       FAILED by CAS and does the whole pass itself; the helper, finding
 *       FAILED with a table, never hands over: it frees the table and its
 *       gaps and ends. */
#define HT__FOL_NONE 0
#define HT__FOL_RUN 1
#define HT__FOL_STOP 2
#define HT__FOL_PARKED 3
#define HT__FOL_FAILED 4
static struct {
    int state;        /* F1 (futex word) */
    uint64_t applied; /* chunks applied so far (tests: ht__rt_follow_applied) */
    struct ht__snap_tab t;
    uint64_t done, last; /* chunks [0, done) applied; seq of the last event */
    struct ht__fol_gaps gaps;
} g_fol;

static void ht__fol_gap_add(struct ht__fol_gaps *g, uint64_t c, uint32_t from,
                            uint32_t to)
{
    if (!g->v && !g->full &&
        !(g->v = ht__snap_map(HT__FOL_MAX_GAPS * sizeof *g->v, 0)))
        g->full = 1;
    if (g->full || g->n == HT__FOL_MAX_GAPS) {
        g->full = 1;
        return;
    }
    g->v[g->n].c = c;
    g->v[g->n].from = from;
    g->v[g->n].to = to;
    g->n++;
}

static void ht__fol_gaps_free(struct ht__fol_gaps *g)
{
    if (g->v)
        ht__snap_unmap(g->v, HT__FOL_MAX_GAPS * sizeof *g->v);
    *g = (struct ht__fol_gaps){0};
}

/* The follower gives up (F1): its memory freed, state FAILED (also from
 * STOP: the exit then finds no table). */
static void ht__fol_fail(struct ht__snap_tab *t, struct ht__fol_gaps *gaps)
{
    ht__snap_tab_free(t);
    ht__fol_gaps_free(gaps);
    __atomic_store_n(&g_fol.state, HT__FOL_FAILED, __ATOMIC_RELEASE);
    syscall(SYS_futex, &g_fol.state, FUTEX_WAKE_PRIVATE, INT_MAX, NULL, NULL,
            0);
}

/* How long the exit waits for the helper to hand its table over (F7). */
#define HT__FOL_WAIT_NS 2000000u

static uint64_t ht__rt_mono_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* Chunks the helper prepares ahead of next_chunk (F6): 3 MB. */
#define HT__FOL_AHEAD 4

/* Prepare chunks [*pre, n + HT__FOL_AHEAD) ahead of the recording threads
 * (F6): disk blocks, then every page faulted in writable. *pre becomes
 * UINT64_MAX once that fails other than for want of fallocate (an older
 * kernel, a full disk): the threads fault their pages in themselves. */
static void ht__fol_prepare(uint64_t *pre, uint64_t n)
{
    uint64_t want = n + HT__FOL_AHEAD, maxc = g_hdr->max_chunks;
    if (want > maxc)
        want = maxc;
    if (*pre == UINT64_MAX)
        return;
    if (*pre < n)
        *pre = n;
    if (*pre >= want)
        return;
    uint64_t off = *pre * HT__RT_CHUNK_BYTES, len = (want - *pre) *
                                                     HT__RT_CHUNK_BYTES;
    long r = syscall(SYS_fallocate, g_fd, 0,
                     (off_t)(HT_SPILL_HEADER_SIZE + off), (off_t)len);
    if ((r != 0 && errno != EOPNOTSUPP) ||
        madvise(g_chunks + off, len, MADV_POPULATE_WRITE) != 0) {
        *pre = UINT64_MAX;
        return;
    }
    *pre = want;
}

/* The helper thread: prepares chunks ahead (F6) and, while it follows
 * (state RUN), applies the finished ones (F2). Sleeps, with backoff up to
 * 64 ms, while there is nothing to do (the exit wakes it through the
 * state word). It ends when the exit stops it, else with the process. */
static void *ht__fol_main(void *arg)
{
    (void)arg;
    struct ht__snap_tab t = {0};
    struct ht__fol_gaps gaps = {0};
    uint64_t done = 0, last = 0, pre = 0;
    long nap_ms = 1;
    for (;;) {
        int st = __atomic_load_n(&g_fol.state, __ATOMIC_ACQUIRE);
        /* FAILED with a table: the exit gave up waiting for us (F7) */
        if (st == HT__FOL_STOP || (st == HT__FOL_FAILED && t.v))
            break;
        uint64_t n = __atomic_load_n(&g_hdr->next_chunk, __ATOMIC_ACQUIRE);
        if (n > g_hdr->max_chunks)
            n = g_hdr->max_chunks;
        ht__fol_prepare(&pre, n);
        if (st == HT__FOL_RUN &&
            __atomic_load_n(&g_multi, __ATOMIC_ACQUIRE) != 0) {
            ht__fol_fail(&t, &gaps);
        } else if (st == HT__FOL_RUN && done + 1 < n) {
            if (!ht__rt_chunk_ok(done) ||
                ht__snap_pass(&t, 1, done, done + 1, &last, &gaps) != 0 ||
                gaps.full) {
                ht__fol_fail(&t, &gaps);
                continue;
            }
            done++;
            __atomic_store_n(&g_fol.applied, done, __ATOMIC_RELAXED);
            nap_ms = 1;
            continue;
        }
        struct timespec ts = {0, nap_ms * 1000000L};
        syscall(SYS_futex, &g_fol.state, FUTEX_WAIT_PRIVATE, st, &ts, NULL,
                0);
        if (__atomic_load_n(&g_hdr->next_chunk, __ATOMIC_RELAXED) != n)
            nap_ms = 1;
        else if (nap_ms < 64)
            nap_ms *= 2;
    }
    g_fol.t = t;
    g_fol.done = done;
    g_fol.last = last;
    g_fol.gaps = gaps;
    int stop = HT__FOL_STOP;
    if (__atomic_compare_exchange_n(&g_fol.state, &stop, HT__FOL_PARKED, 0,
                                    __ATOMIC_SEQ_CST, __ATOMIC_ACQUIRE))
        syscall(SYS_futex, &g_fol.state, FUTEX_WAKE_PRIVATE, INT_MAX, NULL,
                NULL, 0);
    else { /* the exit gave up waiting (F7), does the pass itself and
            * reads g_fol no more: free what we built */
        ht__fol_fail(&t, &gaps);
        g_fol.t = t;
        g_fol.gaps = gaps;
    }
    return NULL;
}

/* Start the helper (from ht__rt_init) if HEAPTRAIL_SPILL_THREAD=1, unless
 * fewer than two CPUs are usable; it follows the spill (RUN) only with
 * the exit snapshot on and in solo mode, else it only prepares chunks
 * (FAILED from the start: no table). */
static void ht__fol_start(void)
{
    if (!g_env.spill_thread)
        return;
    cpu_set_t cpus;
    if (sched_getaffinity(0, sizeof cpus, &cpus) != 0 || CPU_COUNT(&cpus) < 2)
        return;
    sigset_t all, old;
    sigfillset(&all);
    pthread_attr_t at;
    if (pthread_attr_init(&at) != 0)
        return;
    pthread_attr_setdetachstate(&at, PTHREAD_CREATE_DETACHED);
    pthread_attr_setstacksize(&at, 256 << 10);
    pthread_sigmask(SIG_SETMASK, &all, &old); /* F4: inherited */
    int follow = g_env.snapshot == 1 &&
                 __atomic_load_n(&g_multi, __ATOMIC_ACQUIRE) == 0;
    __atomic_store_n(&g_fol.state, follow ? HT__FOL_RUN : HT__FOL_FAILED,
                     __ATOMIC_RELEASE);
    pthread_t th;
    if (__real_pthread_create(&th, &at, ht__fol_main, NULL) != 0)
        __atomic_store_n(&g_fol.state, HT__FOL_NONE, __ATOMIC_RELEASE);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    pthread_attr_destroy(&at);
}

/* At the exit snapshot: stop the follower and, if use (F5) and it parked
 * with every gap still unwritten (F3), take its table (*t, empty before),
 * the chunks it applied (*done) and its last seq; returns 1 then. Else its
 * memory is freed and 0 returned (the exit's pass starts from chunk 0). */
static int ht__fol_take(int use, struct ht__snap_tab *t, uint64_t *done,
                        uint64_t *last)
{
    /* a vfork child shares our memory, the follower is its parent's */
    if ((int32_t)syscall(SYS_getpid) != g_hdr->pid)
        return 0;
    int st = HT__FOL_RUN;
    if (!__atomic_compare_exchange_n(&g_fol.state, &st, HT__FOL_STOP, 0,
                                     __ATOMIC_SEQ_CST, __ATOMIC_ACQUIRE))
        return 0; /* NONE or FAILED */
    syscall(SYS_futex, &g_fol.state, FUTEX_WAKE_PRIVATE, INT_MAX, NULL, NULL,
            0);
    /* F7: at most HT__FOL_WAIT_NS, then the whole pass here */
    uint64_t t0 = ht__rt_mono_ns();
    while ((st = __atomic_load_n(&g_fol.state, __ATOMIC_ACQUIRE)) ==
           HT__FOL_STOP) {
        uint64_t waited = ht__rt_mono_ns() - t0;
        if (waited >= HT__FOL_WAIT_NS) {
            if (__atomic_compare_exchange_n(&g_fol.state, &st, HT__FOL_FAILED,
                                            0, __ATOMIC_SEQ_CST,
                                            __ATOMIC_ACQUIRE))
                return 0; /* abandoned: the helper frees its table */
            break;
        }
        struct timespec ts = {0, (long)(HT__FOL_WAIT_NS - waited)};
        syscall(SYS_futex, &g_fol.state, FUTEX_WAIT_PRIVATE, HT__FOL_STOP,
                &ts, NULL, 0);
    }
    if (st != HT__FOL_PARKED)
        return 0;
    __atomic_store_n(&g_fol.state, HT__FOL_NONE, __ATOMIC_RELAXED);
    const struct ht_spill_rec *recs = (const struct ht_spill_rec *)g_chunks;
    for (uint64_t k = 0; k < g_fol.gaps.n && use; k++) {
        const struct ht__fol_gap *gp = &g_fol.gaps.v[k];
        const struct ht_spill_rec *r = recs + gp->c * g_hdr->chunk_records;
        for (uint32_t i = gp->from; i < gp->to; i++)
            if (ht_spill_kind_byte(
                    __atomic_load_n(&r[i].w[3], __ATOMIC_ACQUIRE)) != 0) {
                use = 0; /* F3: written since the follower read it */
                break;
            }
    }
    ht__fol_gaps_free(&g_fol.gaps);
    if (!use) {
        ht__snap_tab_free(&g_fol.t);
        return 0;
    }
    *t = g_fol.t;
    *done = g_fol.done;
    *last = g_fol.last;
    g_fol.t = (struct ht__snap_tab){0};
    return 1;
}

/* Fork child (R5): no follower here (F1), and its memory was not
 * inherited (F4). */
static void ht__fol_forget(void)
{
    memset(&g_fol, 0, sizeof g_fol);
}

/* Chunks the follower has applied so far (for tests: a sample waits for
 * it before it exits). */
uint64_t ht__rt_follow_applied(void)
{
    return __atomic_load_n(&g_fol.applied, __ATOMIC_RELAXED);
}

/* Record SNAPSHOT + EDGE events for the current heap (see above): regs
 * (HT__RT_NREGS saved registers) and the calling thread's stack from sp up
 * are roots too. */
__attribute__((noinline)) static void
ht__rt_snapshot_run(const uint64_t *regs, uint64_t sp, int at_exit)
{
    if (__atomic_load_n(&g_ready, __ATOMIC_ACQUIRE) != HT__RT_READY)
        return;
    if (!g_env.snapshot)
        return;
    uint64_t num = __atomic_fetch_add(&g_snapshots, 1, __ATOMIC_RELAXED);
    ht__rt_record(HT_EV_SNAPSHOT, 0, num, 0, 0, 0);
    struct ht_spill_header *h = g_hdr;
    uint64_t nch = __atomic_load_n(&h->next_chunk, __ATOMIC_ACQUIRE);
    if (nch > h->max_chunks)
        nch = h->max_chunks;
    struct ht__snap_tab t = {0};
    struct ht__snap_live l = {0};
    /* solo so far (R6: read after this thread's SNAPSHOT took its seq) */
    int ordered = __atomic_load_n(&g_multi, __ATOMIC_ACQUIRE) == 0;
    uint64_t from = 0, last = 0;
    if (at_exit) /* from, last stay 0 unless it hands a table over */
        ht__fol_take(ordered, &t, &from, &last);
    int rc = ordered ? ht__snap_pass(&t, 1, from, nch, &last, NULL)
                     : HT__SNAP_DISORDER;
    if (rc == HT__SNAP_DISORDER) {
        ht__snap_tab_free(&t);
        ordered = 0;
        last = 0;
        rc = ht__snap_pass(&t, 0, 0, nch, &last, NULL);
    }
    const size_t sz = ordered ? sizeof(struct ht__snap_ent)
                              : sizeof(struct ht__snap_slot);
    const uint64_t tab_bytes = sz * t.cap;
    if (rc != 0 || t.n == 0) /* no memory; nothing a root could point to */
        goto out;
    /* The live blocks (key = addr, a = size), compacted in place in the
     * table's memory (entry j of 16 bytes lands at or before slot j's
     * start), and the range of their bytes, in one pass. */
    l.v = (struct ht__snap_ent *)(void *)t.v;
    l.lo = UINT64_MAX;
    for (uint64_t i = 0; i < t.cap; i++) {
        const uint64_t *s = (const uint64_t *)(void *)(t.v + i * sz);
        uint64_t k = s[0], a = s[ordered ? 1 : 2];
        if (k == 0 || a == HT__SNAP_DEAD)
            continue;
        l.v[l.n].key = k;
        l.v[l.n].a = a;
        l.n++;
        uint64_t e = k + a - 1;
        if (a == 0)
            continue;
        if (e < k) /* wraps */
            e = UINT64_MAX;
        l.lo = k < l.lo ? k : l.lo;
        l.last = e > l.last ? e : l.last;
    }
    if (l.n == 0)
        goto out;
    ht__snap_sort_keys(l.v, l.n);
    uint32_t nmod = __atomic_load_n(&h->nmodules, __ATOMIC_ACQUIRE);
    for (uint32_t i = 0; i < nmod && i < HT_SPILL_MAX_MODULES; i++)
        if (h->modules[i].data_hi > h->modules[i].data_lo)
            ht__snap_scan(&l, h->modules[i].data_lo, h->modules[i].data_hi);
    if (regs) {
        ht__rt_record(HT_EV_ROOT, 0, (uintptr_t)regs, HT__RT_NREGS * 8,
                      HT_ROOT_STACK, ht__rt_tid());
        ht__snap_scan(&l, (uintptr_t)regs, (uintptr_t)regs + HT__RT_NREGS * 8);
    }
    ht__snap_stacks(&l, sp);
    for (uint64_t i = 0; i < l.n; i++)
        ht__snap_scan(&l, l.v[i].key, l.v[i].key + l.v[i].a);
out:
    ht__snap_unmap(t.v, tab_bytes); /* l.v lives there */
}

/* Snapshot with the calling thread's registers and stack (from this frame
 * up) as roots (ht_rt_snapshot). */
__attribute__((noinline)) static void ht__rt_snapshot_entry(void)
{
    uint64_t regs[HT__RT_NREGS] = {0};
    HT__RT_SAVE_REGS(regs);
    ht__rt_snapshot_run(regs, HT__RT_SP(), 0);
}

/* Where the program called exit() (the wrapped one): its callee-saved
 * registers (in __wrap_exit's frame, live until the process ends) and its
 * stack pointer. The exit snapshot scans the exiting thread's stack from
 * there, not from the on_exit handler: the frames of exit() itself hold
 * stale words of the program's returned calls (measured: 4 of the tour's 5
 * leaked names were found in __run_exit_handlers' frame). */
static const uint64_t *g_exit_regs;
static uint64_t g_exit_sp;
static uint32_t g_exit_tid;

static void ht__rt_on_exit(int status, void *arg)
{
    (void)arg;
    if (__atomic_load_n(&g_ready, __ATOMIC_ACQUIRE) != HT__RT_READY)
        return;
    /* on by default (HEAPTRAIL_SNAPSHOT=0 disables): without its edges the
     * replay cannot tell definitely from indirectly lost or reachable
     * blocks. Its pass over the spill costs ~10 % of recording CPU on
     * pure allocation churn (was 15-25 % with a SEEK_DATA/SEEK_HOLE pair
     * per chunk), a few % of `heaptrail run` (bench/RESULTS.md). */
    if (g_env.snapshot == 1) {
        /* exit() called by the program: its stack from the call up; else
         * (return from main, exit from an unwrapped library) no user frame
         * can be told from exit's own, so this thread's stack is left out */
        if (__atomic_load_n(&g_exit_tid, __ATOMIC_ACQUIRE) == ht__rt_tid())
            ht__rt_snapshot_run(g_exit_regs, g_exit_sp, 1);
        else
            ht__rt_snapshot_run(NULL, 0, 1);
    }
    ht__rt_record(HT_EV_EXIT, 0, (uint64_t)(int64_t)status, 0, 0, 0);
    struct ht_spill_header *h = g_hdr;
    h->exit_status = status;
    h->end_ns = ht__rt_now_ns();
    __atomic_store_n(&h->state, HT_SPILL_EXITED, __ATOMIC_RELEASE);
}

__attribute__((constructor(101))) static void ht__rt_ctor(void)
{
    if (__atomic_load_n(&g_ready, __ATOMIC_ACQUIRE) == HT__RT_UNINIT)
        ht__rt_init();
}

/* Check invariants R1 and R2 for the calling thread; returns 1 if they
 * hold (or recording is not active), 0 otherwise. For tests/debugging. */
int ht__rt_is_valid(void)
{
    if (__atomic_load_n(&g_ready, __ATOMIC_ACQUIRE) != HT__RT_READY)
        return 1;
    const struct ht_spill_header *h = g_hdr;
    if (!h || memcmp(h->magic, HT_SPILL_MAGIC, 8) != 0 ||
        h->version != HT_SPILL_VERSION ||
        h->rec_size != sizeof(struct ht_spill_rec))
        return 0;
    uint32_t st = __atomic_load_n(&h->state, __ATOMIC_ACQUIRE);
    if (st < HT_SPILL_RUNNING || st > HT_SPILL_EXECED)
        return 0;
    uint64_t cur = __atomic_load_n(&t_cur, __ATOMIC_RELAXED);
    if (cur == 0)
        return 1;
    uint64_t c = (cur >> 32) - 1;
    return c < h->max_chunks &&
           c < __atomic_load_n(&h->next_chunk, __ATOMIC_RELAXED) &&
           ht__rt_chunk_ok(c) &&
           (cur & 0xffffffffu) <= HT_SPILL_CHUNK_RECORDS;
}

/* ------------------------------------------------------ allocator wraps */

#define HT__PC ((uint64_t)(uintptr_t)__builtin_return_address(0))

void *__real_malloc(size_t n);
void *__real_calloc(size_t n, size_t m);
void *__real_realloc(void *p, size_t n);
void *__real_reallocarray(void *p, size_t n, size_t m);
void __real_free(void *p);
void *__real_aligned_alloc(size_t al, size_t n);
int __real_posix_memalign(void **out, size_t al, size_t n);
void *__real_memalign(size_t al, size_t n);
void *__real_valloc(size_t n);
void *__real_pvalloc(size_t n);

/* Linker wrap of malloc: allocate, then record ALLOC. */
void *__wrap_malloc(size_t n)
{
    void *p = __real_malloc(n);
    if (p)
        ht__rt_record(HT_EV_ALLOC, 0, (uintptr_t)p, n, 0, HT__PC);
    return p;
}

/* Linker wrap of calloc. */
void *__wrap_calloc(size_t n, size_t m)
{
    void *p = __real_calloc(n, m);
    if (p)
        ht__rt_record(HT_EV_ALLOC, 0, (uintptr_t)p, (uint64_t)n * m, 0,
                      HT__PC);
    return p;
}

/* Record a realloc whose real call took place between seq0 (taken before
 * it) and now. A block that moved was released during the call, so its
 * release is recorded as a FREE flagged HT_EVF_REALLOC at seq0 (before any
 * other thread can be handed the old address, S3) and the REALLOC itself
 * after the call (after any other thread released the new address). */
static void *ht__rt_realloc_common(uint64_t seq0, void *old, void *p,
                                   size_t n, uint64_t pc)
{
    if (!old) {
        if (p)
            ht__rt_record(HT_EV_ALLOC, 0, (uintptr_t)p, n, 0, pc);
        return p;
    }
    if (p && p != old)
        ht__rt_record_at(seq0, HT_EV_FREE, HT_EVF_REALLOC, (uintptr_t)old, 0,
                         0, pc);
    /* p == NULL: failed, old block unchanged (event.h). */
    ht__rt_record(HT_EV_REALLOC, 0, (uintptr_t)p, n, (uintptr_t)old, pc);
    return p;
}

/* Linker wrap of realloc: realloc(NULL,n) = ALLOC, realloc(p,0) = FREE. */
void *__wrap_realloc(void *old, size_t n)
{
    if (old && n == 0) {
        /* Take the FREE seq before the block is released (S3). */
        ht__rt_record(HT_EV_FREE, 0, (uintptr_t)old, 0, 0, HT__PC);
        return __real_realloc(old, 0);
    }
    uint64_t seq0 = old ? ht__rt_take_seq() : UINT64_MAX;
    void *p = __real_realloc(old, n);
    return ht__rt_realloc_common(seq0, old, p, n, HT__PC);
}

/* Linker wrap of reallocarray. */
void *__wrap_reallocarray(void *old, size_t n, size_t m)
{
    uint64_t total;
    if (old && (n == 0 || m == 0)) {
        ht__rt_record(HT_EV_FREE, 0, (uintptr_t)old, 0, 0, HT__PC);
        return __real_reallocarray(old, n, m);
    }
    uint64_t seq0 = old ? ht__rt_take_seq() : UINT64_MAX;
    void *p = __real_reallocarray(old, n, m);
    if (__builtin_mul_overflow((uint64_t)n, (uint64_t)m, &total))
        total = 0;
    return ht__rt_realloc_common(seq0, old, p, (size_t)total, HT__PC);
}

/* Linker wrap of free: FREE takes its seq before the real free (S3). */
void __wrap_free(void *p)
{
    if (!p)
        return;
    ht__rt_record(HT_EV_FREE, 0, (uintptr_t)p, 0, 0, HT__PC);
    __real_free(p);
}

/* Linker wrap of strdup: one ALLOC with the strdup caller's pc. */
char *__wrap_strdup(const char *s)
{
    size_t n = strlen(s) + 1;
    char *p = __real_malloc(n);
    if (!p)
        return NULL;
    memcpy(p, s, n);
    ht__rt_record(HT_EV_ALLOC, 0, (uintptr_t)p, n, 0, HT__PC);
    return p;
}

/* Linker wrap of strndup. */
char *__wrap_strndup(const char *s, size_t max)
{
    size_t n = strnlen(s, max);
    char *p = __real_malloc(n + 1);
    if (!p)
        return NULL;
    memcpy(p, s, n);
    p[n] = 0;
    ht__rt_record(HT_EV_ALLOC, 0, (uintptr_t)p, n + 1, 0, HT__PC);
    return p;
}

/* Linker wrap of aligned_alloc. */
void *__wrap_aligned_alloc(size_t al, size_t n)
{
    void *p = __real_aligned_alloc(al, n);
    if (p)
        ht__rt_record(HT_EV_ALLOC, 0, (uintptr_t)p, n, al, HT__PC);
    return p;
}

/* Linker wrap of posix_memalign. */
int __wrap_posix_memalign(void **out, size_t al, size_t n)
{
    int r = __real_posix_memalign(out, al, n);
    if (r == 0 && *out)
        ht__rt_record(HT_EV_ALLOC, 0, (uintptr_t)*out, n, al, HT__PC);
    return r;
}

/* Linker wrap of memalign. */
void *__wrap_memalign(size_t al, size_t n)
{
    void *p = __real_memalign(al, n);
    if (p)
        ht__rt_record(HT_EV_ALLOC, 0, (uintptr_t)p, n, al, HT__PC);
    return p;
}

/* Linker wrap of valloc (page aligned). */
void *__wrap_valloc(size_t n)
{
    void *p = __real_valloc(n);
    if (p)
        ht__rt_record(HT_EV_ALLOC, 0, (uintptr_t)p, n,
                      (uint64_t)sysconf(_SC_PAGESIZE), HT__PC);
    return p;
}

/* Linker wrap of pvalloc (page aligned, size rounded up to pages). */
void *__wrap_pvalloc(size_t n)
{
    void *p = __real_pvalloc(n);
    if (p)
        ht__rt_record(HT_EV_ALLOC, 0, (uintptr_t)p, n,
                      (uint64_t)sysconf(_SC_PAGESIZE), HT__PC);
    return p;
}

/* ---------------------------------------------------------- thread wrap */

int __real_pthread_create(pthread_t *t, const pthread_attr_t *attr,
                          void *(*fn)(void *), void *arg);

static void ht__rt_thread_gone(void *arg)
{
    struct ht__rt_thread *t = arg;
    __atomic_store_n(&t->state, 3, __ATOMIC_SEQ_CST); /* T3: leaving */
    int n;
    while ((n = __atomic_load_n(&g_stack_scans, __ATOMIC_SEQ_CST)) != 0)
        syscall(SYS_futex, &g_stack_scans, FUTEX_WAIT_PRIVATE, n, NULL, NULL,
                0);
    __atomic_store_n(&t->state, 0, __ATOMIC_RELEASE);
}

/* Start of every thread the wrapped pthread_create makes: note the stack
 * range for the snapshot (T1), run the user's function, free the slot. */
static void *ht__rt_thread_start(void *arg)
{
    struct ht__rt_thread *t = arg;
    void *(*fn)(void *) = t->fn;
    void *a = t->arg;
    t->fn = NULL; /* T2 */
    t->arg = NULL;
    pthread_attr_t at;
    if (pthread_getattr_np(pthread_self(), &at) == 0) {
        void *base;
        size_t sz;
        if (pthread_attr_getstack(&at, &base, &sz) == 0) {
            t->lo = (uintptr_t)base;
            t->hi = (uintptr_t)base + sz;
        }
        pthread_attr_destroy(&at);
    }
    t->tid = ht__rt_tid();
    t->self = pthread_self();
    if (t->hi > t->lo)
        __atomic_store_n(&t->state, 2, __ATOMIC_RELEASE);
    void *volatile ret = NULL;
    pthread_cleanup_push(ht__rt_thread_gone, t);
    ret = fn(a);
    pthread_cleanup_pop(1);
    return ret;
}

/* Linker wrap of pthread_create: leave solo mode (R6) before the new thread
 * exists, so its first seq never races with an unlocked one; start it
 * through ht__rt_thread_start when a g_threads slot is free. */
int __wrap_pthread_create(pthread_t *t, const pthread_attr_t *attr,
                          void *(*fn)(void *), void *arg)
{
    if (__atomic_load_n(&g_multi, __ATOMIC_ACQUIRE) != 2) {
        if (t_solo)
            __atomic_store_n(&g_multi, 2, __ATOMIC_SEQ_CST);
        else
            ht__rt_go_multi();
    }
    struct ht__rt_thread *s = NULL;
    for (int i = 0; i < HT__RT_MAX_THREADS && !s; i++) {
        int z = 0;
        if (__atomic_compare_exchange_n(&g_threads[i].state, &z, 1, 0,
                                        __ATOMIC_ACQ_REL, __ATOMIC_RELAXED))
            s = &g_threads[i];
    }
    if (!s)
        return __real_pthread_create(t, attr, fn, arg);
    s->fn = fn;
    s->arg = arg;
    s->lo = s->hi = 0;
    s->tid = 0;
    int rc = __real_pthread_create(t, attr, ht__rt_thread_start, s);
    if (rc != 0) {
        s->fn = NULL;
        s->arg = NULL;
        __atomic_store_n(&s->state, 0, __ATOMIC_RELEASE);
    }
    return rc;
}

/* ------------------------------------------------------------ exit wrap */

void __real_exit(int status) __attribute__((noreturn));

/* Linker wrap of exit: note where the program called it (g_exit_*) for the
 * exit snapshot's stack roots; this frame stays live while exit runs. */
__attribute__((noinline, noreturn)) void __wrap_exit(int status)
{
    uint64_t regs[HT__RT_NREGS] = {0};
    HT__RT_SAVE_REGS(regs);
    g_exit_regs = regs;
    g_exit_sp = HT__RT_SP();
    __atomic_store_n(&g_exit_tid, ht__rt_tid(), __ATOMIC_RELEASE);
    __real_exit(status);
}

/* ----------------------------------------------------------- exec wraps */

int __real_execve(const char *path, char *const argv[], char *const envp[]);
int __real_execv(const char *path, char *const argv[]);
int __real_execvp(const char *file, char *const argv[]);
int __real_execvpe(const char *file, char *const argv[], char *const envp[]);
int __real_fexecve(int fd, char *const argv[], char *const envp[]);

/* Set the spill state around an exec; a vfork child (which shares our
 * memory but has another pid) must not touch the parent's spill. */
static void ht__rt_set_state(uint32_t st)
{
    if (__atomic_load_n(&g_ready, __ATOMIC_ACQUIRE) == HT__RT_READY &&
        (int32_t)syscall(SYS_getpid) == g_hdr->pid)
        __atomic_store_n(&g_hdr->state, st, __ATOMIC_RELEASE);
}

/* Linker wrap of execve: state EXECED across the call (S5). */
int __wrap_execve(const char *path, char *const argv[], char *const envp[])
{
    ht__rt_set_state(HT_SPILL_EXECED);
    int r = __real_execve(path, argv, envp);
    int e = errno;
    ht__rt_set_state(HT_SPILL_RUNNING);
    errno = e;
    return r;
}

/* Linker wrap of execv. */
int __wrap_execv(const char *path, char *const argv[])
{
    ht__rt_set_state(HT_SPILL_EXECED);
    int r = __real_execv(path, argv);
    int e = errno;
    ht__rt_set_state(HT_SPILL_RUNNING);
    errno = e;
    return r;
}

/* Linker wrap of execvp. */
int __wrap_execvp(const char *file, char *const argv[])
{
    ht__rt_set_state(HT_SPILL_EXECED);
    int r = __real_execvp(file, argv);
    int e = errno;
    ht__rt_set_state(HT_SPILL_RUNNING);
    errno = e;
    return r;
}

/* Linker wrap of execvpe. */
int __wrap_execvpe(const char *file, char *const argv[], char *const envp[])
{
    ht__rt_set_state(HT_SPILL_EXECED);
    int r = __real_execvpe(file, argv, envp);
    int e = errno;
    ht__rt_set_state(HT_SPILL_RUNNING);
    errno = e;
    return r;
}

/* Linker wrap of fexecve. */
int __wrap_fexecve(int fd, char *const argv[], char *const envp[])
{
    ht__rt_set_state(HT_SPILL_EXECED);
    int r = __real_fexecve(fd, argv, envp);
    int e = errno;
    ht__rt_set_state(HT_SPILL_RUNNING);
    errno = e;
    return r;
}

/* Collect execl-style variadic arguments onto the stack (no malloc). */
#define HT__RT_COLLECT(first, ap, argvname, extra)                           \
    size_t argc_ = 1;                                                         \
    va_start(ap, first);                                                      \
    while (va_arg(ap, char *))                                                \
        argc_++;                                                              \
    va_end(ap);                                                               \
    char *argvname[argc_ + 1];                                                \
    va_start(ap, first);                                                      \
    argvname[0] = (char *)(first);                                            \
    for (size_t i_ = 1; i_ <= argc_; i_++)                                    \
        argvname[i_] = va_arg(ap, char *);                                    \
    extra;                                                                    \
    va_end(ap)

/* Linker wrap of execl. */
int __wrap_execl(const char *path, const char *arg, ...)
{
    va_list ap;
    HT__RT_COLLECT(arg, ap, av, (void)0);
    return __wrap_execv(path, av);
}

/* Linker wrap of execlp. */
int __wrap_execlp(const char *file, const char *arg, ...)
{
    va_list ap;
    HT__RT_COLLECT(arg, ap, av, (void)0);
    return __wrap_execvp(file, av);
}

/* Linker wrap of execle: the environment follows the terminating NULL. */
int __wrap_execle(const char *path, const char *arg, ...)
{
    va_list ap;
    char *const *envp = NULL;
    HT__RT_COLLECT(arg, ap, av, envp = va_arg(ap, char *const *));
    return __wrap_execve(path, av, envp);
}

/* --------------------------------------------------- rt.h entry points */

/* Pointer store *slot = new_value (old value old_value). */
void ht_rt_store(uint64_t site, void *slot, const void *new_value,
                 const void *old_value)
{
    ht__rt_record(HT_EV_STORE, HT_EVF_SITE, (uintptr_t)slot,
                  (uintptr_t)new_value, (uintptr_t)old_value, site);
}

/* Configured refcount increment. */
void ht_rt_incref(uint64_t site, const void *obj)
{
    ht__rt_record(HT_EV_INCREF, HT_EVF_SITE, (uintptr_t)obj, 0, 0, site);
}

/* Configured refcount decrement. */
void ht_rt_decref(uint64_t site, const void *obj)
{
    ht__rt_record(HT_EV_DECREF, HT_EVF_SITE, (uintptr_t)obj, 0, 0, site);
}

/* Instrumented function entry. */
void ht_rt_fn_enter(uint64_t site, const void *arg0)
{
    ht__rt_record(HT_EV_FN_ENTER, HT_EVF_SITE, site, (uintptr_t)arg0, 0,
                  site);
}

/* Instrumented function exit. */
void ht_rt_fn_exit(uint64_t site)
{
    ht__rt_record(HT_EV_FN_EXIT, HT_EVF_SITE, site, 0, 0, site);
}

/* Allocation through a user-named allocator. */
void *ht_rt_alloc_note(uint64_t site, void *ptr, uint64_t size)
{
    if (ptr)
        ht__rt_record(HT_EV_ALLOC, HT_EVF_SITE, (uintptr_t)ptr, size, 0,
                      site);
    return ptr;
}

/* Release through a user-named deallocator. */
void ht_rt_free_note(uint64_t site, const void *ptr)
{
    if (ptr)
        ht__rt_record(HT_EV_FREE, HT_EVF_SITE, (uintptr_t)ptr, 0, 0, site);
}

/* On-demand snapshot: SNAPSHOT marker + conservative EDGE events of the
 * live heap (disabled by HEAPTRAIL_SNAPSHOT=0). */
void ht_rt_snapshot(void)
{
    int saved = errno; /* the program's errno survives the scan's syscalls */
    ht__rt_snapshot_entry();
    errno = saved;
}
