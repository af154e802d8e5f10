/* Exit-snapshot sample with many addresses (tests/runtime/test_snapshot.c):
 * 60000 blocks allocated, two of three freed, some of the rest moved by a
 * realloc; the live ones are chained (word 0 points to the next) and held
 * by g_live[]. A second thread allocates 64 blocks that the main thread
 * frees: their FREEs (main's chunk) come before their ALLOCs (the thread's
 * later chunk) in spill order, so only "latest seq wins" finds them dead.
 * With the argument "solo" no thread is started, so the runtime stays in
 * solo mode (rt.c R6) and the snapshot takes its ordered pass. With
 * "disorder", solo too, but the sample's last two events (ALLOC and FREE
 * of one block, kept in g_stale) swap slots in its own spill (S4 disorder,
 * as a signal handler recording between a seq and its slot leaves it):
 * the ordered pass must give up at the ALLOC's slot and the general pass
 * find the block dead; taken in slot order it would be live (an edge from
 * g_stale). "follow": solo, and before it returns the sample waits (up to
 * 10 s) until the runtime's helper thread (rt.c F1-F6) has applied
 * every chunk but the current one, so the exit takes the follower's table
 * over. "gap": solo, and the ALLOC slot of one block kept live (all[3]) is
 * emptied (kind byte 0) until the follower has applied its chunk, then
 * restored, as a reservation interrupted by a signal handler is written
 * late (F3): the exit must notice and redo the pass, else that block
 * would be missing (no edge to it). Both need HEAPTRAIL_SPILL_THREAD=1
 * (off by default: without it they wait the 10 s out) and print "followed
 * <n>" (chunks the follower had applied; 0 on one CPU, where no follower
 * runs). All modes
 * also reuse freed addresses (some freed again), free blocks by
 * realloc(p, 0), and free pointers the recorder never saw allocated
 * (asprintf's, allocated inside libc) and NULL.
 * Freed addresses that no live block covers are kept in g_stale[]: the
 * snapshot must record no edge from there. The bookkeeping of every
 * address lives in an mmap'd area, which the snapshot does not scan.
 * Output: "live <&g_live> <K>", "stale <&g_stale> <M>", "moved <n>",
 * "tfreed <n>" (freed thread blocks in g_stale), then "block <addr>" per
 * live block in chain order. stdout has a static buffer (no malloc). */
#define _GNU_SOURCE
#include <pthread.h>
#include <sched.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <sys/mman.h>
#include <unistd.h>

#include "heaptrail/spill.h"

#define N 60000
#define NT 64
#define NU 100 /* frees of unknown pointers */

void *g_live[N];
uintptr_t g_stale[2 * N + NT + NU];
static char g_obuf[1 << 20];

struct range {
    uintptr_t lo, hi;
};

static int cmp_range(const void *a, const void *b)
{
    const struct range *x = a, *y = b;
    return x->lo < y->lo ? -1 : x->lo > y->lo;
}

/* Whether addr lies in one of the sorted ranges r[0..n). */
static int covered(const struct range *r, size_t n, uintptr_t addr)
{
    size_t lo = 0, hi = n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (r[mid].lo <= addr)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo > 0 && addr < r[lo - 1].hi;
}

static void *g_tblocks[NT];

uint64_t ht__rt_follow_applied(void); /* rt.c, for tests */

/* Wait up to 10 s until the follower applied at least n chunks; returns
 * how many it applied. */
static uint64_t wait_follower(uint64_t n)
{
    cpu_set_t cpus;
    if (sched_getaffinity(0, sizeof cpus, &cpus) != 0 || CPU_COUNT(&cpus) < 2)
        return 0;
    for (int i = 0; i < 10000 && ht__rt_follow_applied() < n; i++)
        usleep(1000);
    return ht__rt_follow_applied();
}

/* The header of this process's spill, found in /proc/self/maps (no malloc:
 * a block allocated here could reuse the swapped one's address), or NULL. */
static struct ht_spill_header *own_spill(void)
{
    static char maps[1 << 16];
    int fd = open("/proc/self/maps", O_RDONLY);
    if (fd < 0)
        return NULL;
    size_t n = 0;
    ssize_t k;
    while (n < sizeof maps - 1 &&
           (k = read(fd, maps + n, sizeof maps - 1 - n)) > 0)
        n += (size_t)k;
    close(fd);
    maps[n] = 0;
    char *l = strstr(maps, ".spill/spill-"); /* its line: "start-end ..." */
    if (!l)
        return NULL;
    while (l > maps && l[-1] != '\n')
        l--;
    return (struct ht_spill_header *)(uintptr_t)strtoull(l, NULL, 16);
}

/* The ALLOC slot of x (a compact record), or NULL. */
static struct ht_spill_rec *alloc_slot(uintptr_t x)
{
    struct ht_spill_header *h = own_spill();
    if (!h)
        return NULL;
    struct ht_spill_rec *r =
        (struct ht_spill_rec *)(void *)((char *)h + h->header_size);
    size_t n = (size_t)h->next_chunk * h->chunk_records;
    for (size_t i = 0; i < n; i++)
        if (ht_spill_kind_byte(r[i].w[3]) == HT_EV_ALLOC &&
            (r[i].w[0] & HT_SPILL_LOW48) == x)
            return &r[i];
    return NULL;
}

/* Swap the slots of the ALLOC and the FREE of x (compact records, adjacent:
 * the last events the sample recorded). Returns 0, or -1 if not found. */
static int swap_last_pair(uintptr_t x)
{
    struct ht_spill_header *h = own_spill();
    if (!h)
        return -1;
    struct ht_spill_rec *r =
        (struct ht_spill_rec *)(void *)((char *)h + h->header_size);
    size_t n = (size_t)h->next_chunk * h->chunk_records;
    for (size_t i = n; i-- > 1;) {
        struct ht_spill_rec *f = &r[i], *a = &r[i - 1];
        if (ht_spill_kind_byte(f->w[3]) == HT_EV_FREE &&
            (f->w[0] & HT_SPILL_LOW48) == x &&
            ht_spill_kind_byte(a->w[3]) == HT_EV_ALLOC &&
            (a->w[0] & HT_SPILL_LOW48) == x) {
            struct ht_spill_rec t = *a;
            *a = *f;
            *f = t;
            return 0;
        }
    }
    return -1;
}

static void *thread_alloc(void *arg)
{
    (void)arg;
    for (int i = 0; i < NT; i++) {
        g_tblocks[i] = malloc(200);
        memset(g_tblocks[i], 0, 200);
    }
    return NULL;
}

int main(int argc, char **argv)
{
    int disorder = argc > 1 && !strcmp(argv[1], "disorder");
    int follow = argc > 1 && !strcmp(argv[1], "follow");
    int gap = argc > 1 && !strcmp(argv[1], "gap");
    int solo = disorder || follow || gap ||
               (argc > 1 && !strcmp(argv[1], "solo"));
    setvbuf(stdout, g_obuf, _IOFBF, sizeof g_obuf);
    /* bookkeeping outside every scanned range */
    size_t bk = sizeof(uintptr_t) * (2 * N + NT + NU) + sizeof(struct range) * N;
    uintptr_t *freed = mmap(NULL, bk, PROT_READ | PROT_WRITE,
                            MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (freed == MAP_FAILED)
        return 1;
    struct range *live = (struct range *)(freed + 2 * N + NT + NU);
    size_t nfreed = 0, nlive = 0, moved = 0, tfreed = 0;
    void **all = mmap(NULL, sizeof(void *) * N, PROT_READ | PROT_WRITE,
                      MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (all == MAP_FAILED)
        return 1;
    /* first: libc's own blocks for the thread predate every freed
     * address below */
    pthread_t t;
    if (!solo && (pthread_create(&t, NULL, thread_alloc, NULL) != 0 ||
                  pthread_join(t, NULL) != 0))
        return 1;
    for (int i = 0; i < NT && !solo; i++) {
        freed[nfreed++] = (uintptr_t)g_tblocks[i];
        free(g_tblocks[i]);
        g_tblocks[i] = NULL;
    }
    struct ht_spill_rec *hidden = NULL;
    uint64_t hidden_w3 = 0;
    for (int i = 0; i < N; i++) {
        all[i] = malloc(24);
        memset(all[i], 0, 24);
        if (gap && i == 3) { /* kept live: 3 % 3 == 0, never moved */
            if (!(hidden = alloc_slot((uintptr_t)all[i])))
                return 1;
            hidden_w3 = hidden->w[3];
            __atomic_store_n(&hidden->w[3], 0, __ATOMIC_RELEASE);
        }
    }
    uint64_t followed = 0;
    if (gap) {
        /* the hidden slot's chunk: complete once N ALLOCs followed it */
        struct ht_spill_header *h = own_spill();
        uint64_t c = (uint64_t)((char *)hidden - ((char *)h + h->header_size)) /
                     (sizeof *hidden * h->chunk_records);
        followed = wait_follower(c + 1);
        __atomic_store_n(&hidden->w[3], hidden_w3, __ATOMIC_RELEASE);
    }
    for (int i = 0; i < N; i++)
        if (i % 3 != 0) {
            freed[nfreed++] = (uintptr_t)all[i];
            free(all[i]);
            all[i] = NULL;
        }
    /* freed addresses reused (malloc hands them out again), half of
     * them freed again */
    for (int i = 1; i < N; i += 6) {
        all[i] = malloc(24);
        memset(all[i], 0, 24);
        if (i % 12 == 1) {
            freed[nfreed++] = (uintptr_t)all[i];
            free(all[i]);
            all[i] = NULL;
        }
    }
    /* freed by realloc(p, 0) (a FREE) */
    volatile size_t zero = 0;
    for (int i = 21; i < N; i += 42) {
        freed[nfreed++] = (uintptr_t)all[i];
        all[i] = realloc(all[i], zero);
        if (all[i])
            return 1;
    }
    /* blocks the recorder never saw allocated, and NULL */
    for (int i = 0; i < NU; i++) {
        char *s;
        if (asprintf(&s, "unknown %d", i) < 0)
            return 1;
        freed[nfreed++] = (uintptr_t)s;
        free(s);
    }
    free(NULL);
    for (int i = 0; i < N; i += 3)
        if (i % 15 == 0 && all[i]) {
            uintptr_t old = (uintptr_t)all[i];
            all[i] = realloc(all[i], 4096);
            if ((uintptr_t)all[i] != old) {
                freed[nfreed++] = old;
                moved++;
            }
        }
    for (int i = 0; i < N; i++)
        if (all[i]) {
            g_live[nlive] = all[i];
            live[nlive].lo = (uintptr_t)all[i];
            live[nlive].hi = (uintptr_t)all[i] + (i % 15 == 0 ? 4096 : 24);
            nlive++;
        }
    for (size_t i = 0; i + 1 < nlive; i++)
        *(void **)g_live[i] = g_live[i + 1];
    printf("live %p %zu\n", (void *)g_live, nlive);
    for (size_t i = 0; i < nlive; i++)
        printf("block %p\n", g_live[i]);
    if (disorder) {
        /* 40 bytes: no block of that size is allocated after it. A pair
         * a chunk's end splits cannot be swapped; the next pair fits */
        for (int try = 0;; try++) {
            void *x = malloc(40);
            uintptr_t xa = (uintptr_t)x;
            free(x);
            if (swap_last_pair(xa) == 0) {
                freed[nfreed++] = xa;
                break;
            }
            if (try)
                return 1;
        }
    }
    qsort(live, nlive, sizeof *live, cmp_range);
    size_t nstale = 0;
    for (size_t i = 0; i < nfreed; i++)
        if (!covered(live, nlive, freed[i])) {
            g_stale[nstale++] = freed[i];
            tfreed += !solo && i < NT;
        }
    printf("stale %p %zu\nmoved %zu\ntfreed %zu\n", (void *)g_stale, nstale,
           moved, tfreed);
    if (follow) {
        struct ht_spill_header *h = own_spill();
        uint64_t nch = h ? __atomic_load_n(&h->next_chunk, __ATOMIC_ACQUIRE) : 0;
        followed = wait_follower(nch > 0 ? nch - 1 : 0);
    }
    if (follow || gap)
        printf("followed %llu\n", (unsigned long long)followed);
    fflush(stdout);
    return 0;
}
