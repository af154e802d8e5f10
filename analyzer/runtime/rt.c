/*
 * libheaptrail_rt: the recorder linked into instrumented programs.
 *
 * Design. Every event becomes one struct ht_rec in a MAP_SHARED spill file
 * (include/heaptrail/spill.h). Each thread owns the chunk it is filling; its
 * position is one TLS uint64 (chunk index + 1) << 32 | next slot, advanced
 * with a CAS so that a signal handler interrupting the recorder at any point
 * takes a different slot and still records its events. The recorder never
 * calls a wrapped function (no malloc, no stdio): only raw syscalls and libc
 * functions that do not allocate through the wrapped symbols.
 *
 * Invariants:
 *   R1. g_ready == HT__RT_READY implies g_hdr/g_chunks map a complete spill
 *       file whose magic is set and whose state is RUNNING/EXECED/EXITED.
 *   R2. t_cur == 0, or its chunk index c (= t_cur >> 32, minus 1) is below
 *       g_hdr->max_chunks, was handed out to this thread by next_chunk and
 *       has had its disk blocks allocated (fallocate); position <= chunk_records.
 *   R3. seq is taken (fetch_add) inside ht__rt_record, so an ALLOC recorded
 *       after the real allocator returns and a FREE recorded before the real
 *       free honour spill invariant S3. A moving realloc takes one seq
 *       before the real call (for the release of the old block, recorded as
 *       a FREE flagged HT_EVF_REALLOC) and one after (the REALLOC).
 *   R4. Events that cannot get a slot are counted in overflow_events.
 *   R5. In a forked child, t_cur and t_tid are reset and a new spill is
 *       created before the child runs user code (pthread_atfork child handler).
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <link.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
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
    ((uint64_t)HT_SPILL_CHUNK_RECORDS * sizeof(struct ht_rec))
#define HT__RT_DEFAULT_MAX (64ull << 30)

static int g_ready;                     /* HT__RT_* (atomic) */
static pid_t g_init_tid;                /* thread running the init */
static struct ht_spill_header *g_hdr;   /* the mapped spill */
static char *g_chunks;                  /* first chunk */
static uint64_t g_map_size;
static int g_fd = -1;
static int g_hooks_done;                /* on_exit/atfork registered */
static uint64_t g_snapshots;

/* R2: (chunk index + 1) << 32 | position; 0 = no chunk yet. */
static __thread uint64_t t_cur;
static __thread uint32_t t_tid;

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
 * (position 0) or 0 when the spill is full (overflow). */
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
    return (c + 1) << 32;
}

/* Whether recording is active, initialising on first use. */
static int ht__rt_active(void)
{
    int st = __atomic_load_n(&g_ready, __ATOMIC_ACQUIRE);
    if (st != HT__RT_READY) {
        if (st == HT__RT_DISABLED)
            return 0;
        ht__rt_init();
        if (__atomic_load_n(&g_ready, __ATOMIC_ACQUIRE) != HT__RT_READY)
            return 0;
    }
    return 1;
}

/* Reserve a seq now for an event recorded later with ht__rt_record_at
 * (UINT64_MAX if recording is off). */
static uint64_t ht__rt_take_seq(void)
{
    if (!ht__rt_active())
        return UINT64_MAX;
    return __atomic_fetch_add(&g_hdr->seq, 1, __ATOMIC_SEQ_CST);
}

static void ht__rt_record_at(uint64_t seq, unsigned kind, unsigned flags,
                             uint64_t a, uint64_t b, uint64_t c, uint64_t d);

/* Record one event; async-signal-safe and reentrant (see design comment). */
static void ht__rt_record(unsigned kind, unsigned flags, uint64_t a,
                          uint64_t b, uint64_t c, uint64_t d)
{
    ht__rt_record_at(ht__rt_take_seq(), kind, flags, a, b, c, d);
}

/* Write one record with a seq taken earlier by ht__rt_take_seq, which
 * already checked that recording is active (spill.h S3, S4). */
static void ht__rt_record_at(uint64_t seq, unsigned kind, unsigned flags,
                             uint64_t a, uint64_t b, uint64_t c, uint64_t d)
{
    if (seq == UINT64_MAX)
        return;
    struct ht_spill_header *h = g_hdr;
    uint64_t cur, next, slot;
    for (;;) {
        cur = __atomic_load_n(&t_cur, __ATOMIC_RELAXED);
        if (cur == 0 || (cur & 0xffffffffu) >= HT_SPILL_CHUNK_RECORDS) {
            uint64_t fresh = ht__rt_new_chunk();
            if (fresh == 0) {
                __atomic_fetch_add(&h->overflow_events, 1, __ATOMIC_RELAXED);
                return;
            }
            /* If a signal handler replaced t_cur meanwhile, the fresh chunk
             * stays unused (all kind == 0) and we retry with the handler's. */
            ht__rt_cas_local(&t_cur, &cur, fresh);
            continue;
        }
        next = cur + 1;
        if (ht__rt_cas_local(&t_cur, &cur, next))
            break;
    }
    slot = ((cur >> 32) - 1) * HT_SPILL_CHUNK_RECORDS + (cur & 0xffffffffu);
    struct ht_rec *r = (struct ht_rec *)g_chunks + slot;
    r->seq = seq;
    r->a = a;
    r->b = b;
    r->c = c;
    r->d = d;
    r->tid = ht__rt_tid();
    r->flags = (uint16_t)flags;
    r->reserved = 0;
    __atomic_store_n(&r->kind, (uint8_t)kind, __ATOMIC_RELEASE);
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

/* Create and map a new spill file; on success sets g_hdr etc. and records
 * the ROOT events. parent_pid is 0 or the pid we forked from. Returns 0 on
 * success, -1 if recording must be disabled. */
static int ht__rt_spill_create(int32_t parent_pid)
{
    const char *trace = getenv("HEAPTRAIL_TRACE");
    if (trace && (!*trace || ht__rt_strlen(trace) > HT_SPILL_PATH_MAX - 80)) {
        ht__rt_puterr("heaptrail: invalid HEAPTRAIL_TRACE, using "
                      "\"heaptrail.db\"", NULL, NULL, NULL, NULL);
        trace = NULL;
    }
    if (!trace)
        trace = "heaptrail.db";
    uint64_t maxb = HT__RT_DEFAULT_MAX;
    const char *ms = getenv("HEAPTRAIL_SPILL_MAX");
    if (ms) {
        uint64_t v;
        if (ht__rt_parse_u64(ms, &v) != 0 || v < HT_SPILL_HEADER_SIZE)
            ht__rt_puterr("heaptrail: invalid HEAPTRAIL_SPILL_MAX \"", ms,
                          "\" (want bytes >= 1048576), using 64 GiB", NULL, NULL);
        else
            maxb = v;
    }
    uint64_t max_chunks = (maxb - HT_SPILL_HEADER_SIZE) / HT__RT_CHUNK_BYTES;

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
    if (m == MAP_FAILED) {
        ht__rt_puterr("heaptrail: cannot map spill in ", dir, ": ",
                      strerror(errno), "; recording disabled");
        close(fd);
        unlink(path);
        return -1;
    }
    /* The header region itself must never SIGBUS. */
    if (syscall(SYS_fallocate, fd, 0, (off_t)0, (off_t)HT_SPILL_HEADER_SIZE)
            != 0 && errno != EOPNOTSUPP) {
        ht__rt_puterr("heaptrail: cannot allocate spill in ", dir, ": ",
                      strerror(errno), "; recording disabled");
        munmap(m, size);
        close(fd);
        unlink(path);
        return -1;
    }
    struct ht_spill_header *h = m;
    h->version = HT_SPILL_VERSION;
    h->header_size = HT_SPILL_HEADER_SIZE;
    h->rec_size = sizeof(struct ht_rec);
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
    const char *dis = getenv("HEAPTRAIL_DISABLE");
    if (dis && !(dis[0] == '0' && !dis[1]) && !(dis[0] == '1' && !dis[1]) &&
        dis[0])
        ht__rt_puterr("heaptrail: invalid HEAPTRAIL_DISABLE \"", dis,
                      "\" (want 0 or 1), recording enabled", NULL, NULL);
    if (dis && dis[0] == '1' && !dis[1]) {
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
    __atomic_store_n(&g_ready, HT__RT_READY, __ATOMIC_RELEASE);
    ht__rt_record_roots();
}

/* Fork child: R5, a new spill of our own. */
static void ht__rt_atfork_child(void)
{
    t_tid = 0;
    t_cur = 0;
    g_spill_full = 0; /* a new spill file */
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
    __atomic_store_n(&g_ready, HT__RT_READY, __ATOMIC_RELEASE);
    ht__rt_record_roots();
}

/* ---- Exit snapshot (ARCHITECTURE.md decision 4) ----------------------
 * Replays the spill's ALLOC/REALLOC/FREE records in seq order into an
 * mmap'd addr->size hash, then scans every live block and every module
 * data range conservatively, recording one EDGE per word that points into
 * a live block. Scratch memory is mmap'd only (never malloc). */
struct ht__snap_ent {
    uint64_t key; /* seq while replaying, block address when scanning */
    uint64_t a, c;
    uint32_t kind, flags;
};

static void *ht__snap_map(uint64_t bytes)
{
    void *p = mmap(NULL, bytes ? bytes : 1, PROT_READ | PROT_WRITE,
                   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    return p == MAP_FAILED ? NULL : p;
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

#define HT__SNAP_DEAD UINT64_MAX

/* Slot of addr in the hash (keys never removed; dead = size DEAD). */
static uint64_t *ht__snap_slot(uint64_t *tab, uint64_t mask, uint64_t addr)
{
    uint64_t i = (addr * 0x9E3779B97F4A7C15ull >> 17) & mask;
    while (tab[2 * i] != 0 && tab[2 * i] != addr)
        i = (i + 1) & mask;
    return &tab[2 * i];
}

/* Find the live block containing v in sorted live[0..n), or NULL. */
static const struct ht__snap_ent *ht__snap_find(const struct ht__snap_ent *live,
                                                uint64_t n, uint64_t v)
{
    uint64_t lo = 0, hi = n;
    while (lo < hi) {
        uint64_t mid = lo + (hi - lo) / 2;
        if (live[mid].key <= v)
            lo = mid + 1;
        else
            hi = mid;
    }
    if (lo == 0)
        return NULL;
    const struct ht__snap_ent *b = &live[lo - 1];
    return v - b->key < b->a ? b : NULL;
}

static void ht__snap_scan(const struct ht__snap_ent *live, uint64_t n,
                          uint64_t lo, uint64_t hi)
{
    for (uint64_t p = (lo + 7) & ~7ull; p + 8 <= hi; p += 8) {
        uint64_t v = *(const uint64_t *)(uintptr_t)p;
        if (v && ht__snap_find(live, n, v))
            ht__rt_record(HT_EV_EDGE, 0, p, v, 0, 0);
    }
}

/* Record SNAPSHOT + EDGE events for the current heap (see above). */
static void ht__rt_snapshot_run(void)
{
    if (__atomic_load_n(&g_ready, __ATOMIC_ACQUIRE) != HT__RT_READY)
        return;
    const char *env = getenv("HEAPTRAIL_SNAPSHOT");
    if (env && strcmp(env, "0") == 0)
        return;
    uint64_t num = __atomic_fetch_add(&g_snapshots, 1, __ATOMIC_RELAXED);
    ht__rt_record(HT_EV_SNAPSHOT, 0, num, 0, 0, 0);
    struct ht_spill_header *h = g_hdr;
    uint64_t nch = __atomic_load_n(&h->next_chunk, __ATOMIC_ACQUIRE);
    if (nch > h->max_chunks)
        nch = h->max_chunks;
    const struct ht_rec *recs = (const struct ht_rec *)g_chunks;
    uint64_t total = nch * h->chunk_records, nev = 0;
    for (uint64_t i = 0; i < total; i++) {
        unsigned k = __atomic_load_n(&recs[i].kind, __ATOMIC_ACQUIRE);
        nev += k == HT_EV_ALLOC || k == HT_EV_REALLOC || k == HT_EV_FREE;
    }
    uint64_t cap = 16;
    while (cap < 2 * nev + 2)
        cap <<= 1;
    uint64_t ev_bytes = (nev + 1) * sizeof(struct ht__snap_ent);
    uint64_t tab_bytes = cap * 2 * sizeof(uint64_t);
    struct ht__snap_ent *ev = ht__snap_map(ev_bytes);
    uint64_t *tab = ht__snap_map(tab_bytes);
    if (!ev || !tab)
        goto out;
    uint64_t m = 0;
    for (uint64_t i = 0; i < total && m < nev; i++) {
        const struct ht_rec *r = &recs[i];
        unsigned k = __atomic_load_n(&r->kind, __ATOMIC_ACQUIRE);
        if (k != HT_EV_ALLOC && k != HT_EV_REALLOC && k != HT_EV_FREE)
            continue;
        ev[m].key = r->seq;
        ev[m].a = r->a;
        ev[m].c = k == HT_EV_FREE ? 0 : r->b;
        ev[m].kind = k;
        ev[m].flags = r->flags;
        m++;
    }
    ht__snap_sort(ev, m);
    uint64_t mask = cap - 1;
    for (uint64_t i = 0; i < m; i++) {
        if (ev[i].a == 0)
            continue;
        uint64_t *s = ht__snap_slot(tab, mask, ev[i].a);
        if (ev[i].kind == HT_EV_FREE) {
            if (s[0] == ev[i].a)
                s[1] = HT__SNAP_DEAD;
        } else {
            s[0] = ev[i].a;
            s[1] = ev[i].c;
        }
    }
    /* Reuse ev as the sorted array of live blocks (key=addr, a=size). */
    uint64_t nl = 0;
    for (uint64_t i = 0; i < cap; i++)
        if (tab[2 * i] && tab[2 * i + 1] != HT__SNAP_DEAD) {
            ev[nl].key = tab[2 * i];
            ev[nl].a = tab[2 * i + 1];
            nl++;
        }
    ht__snap_sort(ev, nl);
    uint32_t nmod = __atomic_load_n(&h->nmodules, __ATOMIC_ACQUIRE);
    for (uint32_t i = 0; i < nmod && i < HT_SPILL_MAX_MODULES; i++)
        if (h->modules[i].data_hi > h->modules[i].data_lo)
            ht__snap_scan(ev, nl, h->modules[i].data_lo,
                          h->modules[i].data_hi);
    for (uint64_t i = 0; i < nl; i++)
        ht__snap_scan(ev, nl, ev[i].key, ev[i].key + ev[i].a);
out:
    if (ev)
        munmap(ev, ev_bytes);
    if (tab)
        munmap(tab, tab_bytes);
}

static void ht__rt_on_exit(int status, void *arg)
{
    (void)arg;
    if (__atomic_load_n(&g_ready, __ATOMIC_ACQUIRE) != HT__RT_READY)
        return;
    const char *snap = getenv("HEAPTRAIL_SNAPSHOT");
    /* opt-in: the scan re-sorts every recorded event (3.3 s extra on a
     * 20 M-event run); on by default once it merges chunk streams instead */
    if (snap && strcmp(snap, "1") == 0)
        ht__rt_snapshot_run();
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
        h->version != HT_SPILL_VERSION || h->rec_size != sizeof(struct ht_rec))
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
    ht__rt_snapshot_run();
}
