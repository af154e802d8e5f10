/*
 * The replay's object table: live objects by address, plus a page index
 * ((addr >> 12) -> the blocks starting on or covering that page) so the
 * object containing a slot is found in O(1): two count-leading-zeros over
 * the page's bitmap of block starts, then one byaddr probe.
 *
 * Design invariants (ht__objtab_is_valid):
 *  1. byaddr holds exactly the held objects, keyed by their address, plus
 *     HT__FREED_MARK values at freed addresses where no object is held (the
 *     engine's freed-address set: a free is one probe, a later allocation
 *     there reuses the slot);
 *  2. unless t->unpaged (then pages is empty): every page overlapped by
 *     [addr, obj_end) of an object of at most BIG_SIZE bytes lists it: the
 *     page it starts on has the bit of its offset set (struct
 *     ht__pagebits), each later page has it in cov (sorted by address, no
 *     duplicates); a page entry is non-empty, its sum bits match its
 *     non-zero words, and it lists only held objects (a set bit is a held
 *     object's start; a cov object starts before the page and ends after
 *     its start); the entries on t->pagefree are all zero (bits, ncov);
 *  3. n equals the number of held objects;
 *  4. big holds exactly the held objects larger than BIG_SIZE, sorted by
 *     address (paged or not); they are in no page entry;
 *  5. byaddr and pages are valid maps (ht__map_is_valid): linear probing
 *     from a Fibonacci hash with key and value in one 16-byte slot, load
 *     below 1/2, every key reached from its home slot without crossing an
 *     empty one (deletion shifts the cluster back: no tombstones, so the
 *     only non-live keys are the engine's freed marks of invariant 1).
 *  6. unless t->unpaged: every held object's [addr, obj_end) lies in
 *     [lo, hi), so ht__objtab_find answers NULL outside without a probe
 *     (most slots a C program stores into are on its stack);
 * Per event the replay's ALLOC/FREE costs one probe; a probe that finds
 * its key has the value in the same cache line, and the engine prefetches
 * that line, then the object, events ahead (ht__objtab_prefetch_*).
 * Memory is proportional to live objects (plus one cover entry per page
 * spanned, at most BIG_SIZE / 4 KiB per object) plus 536 bytes per page
 * at the peak number of pages holding blocks at once. Any size is held: a
 * block that wraps the address space ends at 2^64 (obj_end), and a block
 * of 2^60 bytes costs one entry of big, not 2^48 page entries.
 */
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "replay_int.h"

#define PAGE_SHIFT 12
#define PAGE_MASK ((UINT64_C(1) << PAGE_SHIFT) - 1)
/* Largest block indexed by page (256 pages); a larger one (a real program's
 * big buffer, or a corrupt trace's 2^60 bytes) goes to the sorted array big,
 * searched when the page index has no block containing an address. */
#define BIG_SIZE HT__OBJ_BIG

/* A page's entry: which byte offsets of the page start a paged block (a
 * two-level bitmap: bit k of w[i] is offset 64 i + k, bit i of sum says
 * w[i] != 0), so the block start at or below an offset is two count-leading-
 * zeros away and adding or removing a block sets or clears a bit - no
 * sorted array to shift (that memmove was most of a store trace's index
 * upkeep: ~100 small blocks share a page). The blocks that start on an
 * earlier page and overlap this one (few: one, unless blocks overlap) are
 * the sorted array cov. An emptied entry (all bits clear, no cov) goes to
 * the table's free list as it is (cov array kept): reused without clearing
 * 512 bytes or allocating. */
struct ht__pagebits {
    uint64_t sum;
    uint32_t ncov, ccov;
    struct ht__obj **cov; /* by address; ccov slots, NULL when ccov is 0 */
    struct ht__pagebits *next_free; /* on t->pagefree */
    uint64_t w[64];
};

/* The largest offset <= off that starts a block on b's page, or -1. */
static int pb_prev(const struct ht__pagebits *b, unsigned off)
{
    unsigned wi = off >> 6;
    uint64_t m = b->w[wi] & (~UINT64_C(0) >> (63 - (off & 63)));
    if (m)
        return (int)(wi * 64 + 63 - (unsigned)__builtin_clzll(m));
    uint64_t s = b->sum & ((UINT64_C(1) << wi) - 1);
    if (!s)
        return -1;
    wi = 63 - (unsigned)__builtin_clzll(s);
    return (int)(wi * 64 + 63 - (unsigned)__builtin_clzll(b->w[wi]));
}

/* Slots of chunk c handed out so far (the last chunk's used, else all). */
static size_t slab_n(const struct ht__objslab *s, size_t c)
{
    return c + 1 == s->nchunks ? s->used : HT__SLAB_SLOTS;
}

/* Zeroed memory for a slab chunk or a map's slots: malloc's below
 * HUGE_BYTES; from HUGE_BYTES on (a multiple of it), its own mapping,
 * 2 MiB-aligned, in transparent huge pages where the kernel has them (THP
 * is often in madvise mode): one fault per 2 MiB instead of 512 (libyaml,
 * 432 K objects live at its peak: 32 K page faults, 0.10 s of system
 * time), and the random probes of a free miss no TLB. big_free(p, bytes)
 * with the same bytes releases it. */
#define HUGE_BYTES ((size_t)2 << 20)
static void *big_alloc(size_t bytes)
{
    if (bytes < HUGE_BYTES)
        return calloc(1, bytes);
    /* map one huge page more and cut to the aligned part (an anonymous
     * mapping is zeroed) */
    char *p = mmap(NULL, bytes + HUGE_BYTES, PROT_READ | PROT_WRITE,
                   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED)
        return NULL;
    size_t head = (HUGE_BYTES - (uintptr_t)p % HUGE_BYTES) % HUGE_BYTES;
    if (head)
        munmap(p, head);
    munmap(p + head + bytes, HUGE_BYTES - head);
    p += head;
#ifdef MADV_HUGEPAGE
    (void)madvise(p, bytes, MADV_HUGEPAGE); /* a hint: may fail, harmless */
#endif
    return p;
}

static void big_free(void *p, size_t bytes)
{
    if (!p)
        return;
    if (bytes < HUGE_BYTES)
        free(p);
    else
        munmap(p, bytes);
}

static ht_err map_grow(struct ht__map *m)
{
    size_t ncap = m->cap ? m->cap * 2 : 64;
    struct ht__slot *ns = big_alloc(ncap * sizeof *ns);
    if (!ns)
        return HT_ENOMEM;
    struct ht__map nm = {ns, ncap, m->n, m->cap ? m->shift - 1 : 64 - 6};
    for (size_t i = 0; i < m->cap; i++) {
        if (!m->s[i].key)
            continue;
        size_t j = ht__map_home(&nm, m->s[i].key);
        while (ns[j].key)
            j = (j + 1) & (ncap - 1);
        ns[j] = m->s[i];
    }
    big_free(m->s, m->cap * sizeof *m->s);
    *m = nm;
    return HT_OK;
}

/* "Grow, then place": *slot receives key's slot, or the empty slot where
 * key goes, after growing the map if one more key would pass load 1/2
 * (a full slot stays valid: the caller fills an empty one at once, or
 * leaves it empty). HT_ENOMEM leaves the map as it was. */
static inline ht_err map_place(struct ht__map *m, uint64_t key, size_t *slot)
{
    ht_err e;
    if ((m->n + 1) * 2 >= m->cap && (e = map_grow(m)) != HT_OK)
        return e;
    *slot = ht__map_slot(m, key);
    return HT_OK;
}

/* Insert or replace key -> val. HT_ENOMEM (map unchanged). */
ht_err ht__map_put(struct ht__map *m, uint64_t key, uint64_t val)
{
    size_t j;
    ht_err e = map_place(m, key, &j);
    if (e)
        return e;
    m->n += !m->s[j].key;
    m->s[j] = (struct ht__slot){key, val};
    return HT_OK;
}

/* 1 and *val if key is present, else 0. */
int ht__map_get(const struct ht__map *m, uint64_t key, uint64_t *val)
{
    if (!m->cap)
        return 0;
    size_t j = ht__map_slot(m, key);
    if (!m->s[j].key)
        return 0;
    if (val)
        *val = m->s[j].val;
    return 1;
}

/* Empty slot j (backward-shift deletion: no tombstones, so a probe never
 * walks past a deleted key and the load is the live keys only). */
void ht__map_del_at(struct ht__map *m, size_t j)
{
    size_t mask = m->cap - 1, i = j;
    for (;;) {
        j = (j + 1) & mask;
        if (!m->s[j].key)
            break;
        size_t h = ht__map_home(m, m->s[j].key);
        /* move j back to i if its home h is not cyclically in (i, j] */
        if ((i <= j) ? (h <= i || h > j) : (h <= i && h > j)) {
            m->s[i] = m->s[j];
            i = j;
        }
    }
    m->s[i].key = 0;
    m->n--;
}

/* Remove key; 1 if it was present. */
int ht__map_del(struct ht__map *m, uint64_t key)
{
    if (!m->cap)
        return 0;
    size_t j = ht__map_slot(m, key);
    if (!m->s[j].key)
        return 0;
    ht__map_del_at(m, j);
    return 1;
}

/* 1 if the map's invariants hold: cap 0 or a power of two >= 64 with
 * shift = 64 - log2(cap); n counts the keys and n < cap / 2; each key is
 * unique and reached from its home slot without crossing an empty slot (what
 * backward-shift deletion keeps true). O(cap * probe length). */
int ht__map_is_valid(const struct ht__map *m)
{
    if (!m->cap)
        return !m->n && !m->s;
    if (m->cap < 64 || (m->cap & (m->cap - 1)) ||
        ((size_t)1 << (64 - m->shift)) != m->cap || m->n * 2 >= m->cap)
        return 0;
    size_t n = 0, mask = m->cap - 1;
    for (size_t i = 0; i < m->cap; i++) {
        if (!m->s[i].key)
            continue;
        n++;
        for (size_t j = ht__map_home(m, m->s[i].key); j != i; j = (j + 1) & mask)
            if (!m->s[j].key || m->s[j].key == m->s[i].key)
                return 0;
    }
    return n == m->n;
}

/* Free the map's arrays. */
void ht__map_fini(struct ht__map *m)
{
    big_free(m->s, m->cap * sizeof *m->s);
    memset(m, 0, sizeof *m);
}


static uint64_t obj_end(const struct ht__obj *o)
{
    uint64_t sz = o->size ? o->size : 1;
    return o->addr + sz < o->addr ? UINT64_MAX : o->addr + sz;
}

/* invariant 6 for o */
static void widen(struct ht__objtab *t, const struct ht__obj *o)
{
    uint64_t end = obj_end(o);
    t->lo = o->addr < t->lo ? o->addr : t->lo;
    t->hi = end > t->hi ? end : t->hi;
}

/* first index in v[0..n), sorted by address, with addr >= a (a page's
 * cov, or big) */
static size_t objs_lower(struct ht__obj *const *v, size_t n, uint64_t a)
{
    size_t lo = 0, hi = n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (v[mid]->addr < a)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

/* first index in b's cov with addr >= addr */
static uint32_t cov_lower(const struct ht__pagebits *b, uint64_t addr)
{
    return (uint32_t)objs_lower(b->cov, b->ncov, addr);
}

/* Take o off page (its start bit on its first page, else its cov entry);
 * an entry left empty leaves the map for the free list. */
static void page_del(struct ht__objtab *t, uint64_t page, struct ht__obj *o)
{
    if (!t->pages.cap)
        return;
    size_t j = ht__map_slot(&t->pages, page + 1);
    if (!t->pages.s[j].key)
        return;
    struct ht__pagebits *b =
        (struct ht__pagebits *)(uintptr_t)t->pages.s[j].val;
    if (o->addr >> PAGE_SHIFT == page) {
        unsigned off = (unsigned)(o->addr & PAGE_MASK);
        b->w[off >> 6] &= ~(UINT64_C(1) << (off & 63));
        if (!b->w[off >> 6])
            b->sum &= ~(UINT64_C(1) << (off >> 6));
    } else {
        uint32_t i = cov_lower(b, o->addr);
        if (i < b->ncov && b->cov[i] == o) {
            memmove(&b->cov[i], &b->cov[i + 1],
                    (b->ncov - i - 1) * sizeof *b->cov);
            b->ncov--;
        }
    }
    if (!b->sum && !b->ncov) {
        ht__map_del_at(&t->pages, j); /* b keeps its cov array for reuse */
        b->next_free = t->pagefree;
        t->pagefree = b;
    }
}

/* List o on page. HT_ENOMEM: o is not listed there, but an entry created
 * for it may stay in the map, empty, until the caller's rollback
 * (page_del, or pages_fini) takes it out. */
static ht_err page_add(struct ht__objtab *t, uint64_t page, struct ht__obj *o)
{
    struct ht__map *m = &t->pages;
    size_t j;
    ht_err e = map_place(m, page + 1, &j); /* one probe finds or places it */
    if (e)
        return e;
    struct ht__pagebits *b;
    if (m->s[j].key) {
        b = (struct ht__pagebits *)(uintptr_t)m->s[j].val;
    } else {
        if ((b = t->pagefree) != NULL)
            t->pagefree = b->next_free;
        else if (!(b = calloc(1, sizeof *b)))
            return HT_ENOMEM;
        m->s[j] = (struct ht__slot){page + 1, (uint64_t)(uintptr_t)b};
        m->n++;
    }
    if (o->addr >> PAGE_SHIFT == page) {
        unsigned off = (unsigned)(o->addr & PAGE_MASK);
        b->w[off >> 6] |= UINT64_C(1) << (off & 63);
        b->sum |= UINT64_C(1) << (off >> 6);
        return HT_OK;
    }
    if (b->ncov == b->ccov) {
        uint32_t nc = b->ccov ? b->ccov * 2 : 2;
        struct ht__obj **nv = realloc(b->cov, nc * sizeof *nv);
        if (!nv)
            return HT_ENOMEM;
        b->cov = nv;
        b->ccov = nc;
    }
    uint32_t i = cov_lower(b, o->addr);
    memmove(&b->cov[i + 1], &b->cov[i], (b->ncov - i) * sizeof *b->cov);
    b->cov[i] = o;
    b->ncov++;
    return HT_OK;
}

/* first index in big with addr >= a */
static size_t big_lower(const struct ht__objtab *t, uint64_t a)
{
    return objs_lower(t->big, t->nbig, a);
}

/* Room for one more pointer in *a (n used of *cap; the first array has
 * first entries, then doubling). HT_ENOMEM leaves *a and *cap as they were. */
static ht_err ptrs_reserve(struct ht__obj ***a, size_t n, size_t *cap,
                           size_t first)
{
    if (n < *cap)
        return HT_OK;
    size_t nc = *cap ? *cap * 2 : first;
    struct ht__obj **na = realloc(*a, nc * sizeof *na);
    if (!na)
        return HT_ENOMEM;
    *a = na;
    *cap = nc;
    return HT_OK;
}

static ht_err big_add(struct ht__objtab *t, struct ht__obj *o)
{
    if (ptrs_reserve(&t->big, t->nbig, &t->cbig, 8))
        return HT_ENOMEM;
    size_t i = big_lower(t, o->addr);
    memmove(&t->big[i + 1], &t->big[i], (t->nbig - i) * sizeof *t->big);
    t->big[i] = o;
    t->nbig++;
    return HT_OK;
}

static void big_del(struct ht__objtab *t, const struct ht__obj *o)
{
    size_t i = big_lower(t, o->addr);
    if (i < t->nbig && t->big[i] == o) {
        memmove(&t->big[i], &t->big[i + 1], (t->nbig - i - 1) * sizeof *t->big);
        t->nbig--;
    }
}

/* ht__objtab_insert when its inline path does not apply (replay_int.h). */
ht_err ht__objtab_insert_any(struct ht__objtab *t, struct ht__obj *o)
{
    if (!o->addr)
        return HT_EINVAL;
    /* one probe: an empty slot or the freed mark of this address */
    size_t j;
    ht_err e = map_place(&t->byaddr, o->addr, &j);
    if (e)
        return e;
    if (!ht__objtab_hold(t, &t->byaddr.s[j], o))
        return HT_EINVAL;
    /* o->held is cleared on every failure path below (o leaves byaddr) */
    if (o->size > BIG_SIZE) {
        if ((e = big_add(t, o)) != HT_OK) {
            ht__map_del(&t->byaddr, o->addr); /* its freed mark goes too */
            o->held = 0;
            return e;
        }
        t->n++;
        widen(t, o);
        return HT_OK;
    }
    if (t->unpaged) {
        t->n++;
        return HT_OK;
    }
    uint64_t p0 = o->addr >> PAGE_SHIFT, p1 = (obj_end(o) - 1) >> PAGE_SHIFT;
    for (uint64_t p = p0; p <= p1; p++) {
        if ((e = page_add(t, p, o)) != HT_OK) {
            for (uint64_t q = p0; q <= p; q++)
                page_del(t, q, o);
            ht__map_del(&t->byaddr, o->addr); /* its freed mark goes too */
            o->held = 0;
            return e;
        }
    }
    t->n++;
    widen(t, o);
    return HT_OK;
}

/* The object whose [addr, addr+max(size,1)) contains a, or NULL. */
struct ht__obj *ht__objtab_find(const struct ht__objtab *t, uint64_t a)
{
    uint64_t v64;
    if (t->unpaged)
        return ht__objtab_get(t, a);
    if (a < t->lo || a >= t->hi) /* invariant 6 (a == 0 too) */
        return NULL;
    if (ht__map_get(&t->pages, (a >> PAGE_SHIFT) + 1, &v64)) {
        /* the paged block with the greatest start <= a: the last start on
         * a's page at or below a, else the last block covering the page */
        const struct ht__pagebits *b =
            (const struct ht__pagebits *)(uintptr_t)v64;
        int k = pb_prev(b, (unsigned)(a & PAGE_MASK));
        const struct ht__obj *o =
            k >= 0    ? ht__objtab_get(t, (a & ~PAGE_MASK) | (unsigned)k)
            : b->ncov ? b->cov[b->ncov - 1]
                      : NULL;
        if (o && a < obj_end(o))
            return (struct ht__obj *)(uintptr_t)o;
    }
    if (!t->nbig)
        return NULL;
    size_t k = a == UINT64_MAX ? t->nbig : big_lower(t, a + 1);
    return k && a < obj_end(t->big[k - 1]) ? t->big[k - 1] : NULL;
}

/* The index part of a detach (replay_int.h): o leaves big or its pages. */
void ht__objtab_unindex(struct ht__objtab *t, struct ht__obj *o)
{
    if (o->size > BIG_SIZE) {
        big_del(t, o);
    } else if (!t->unpaged) {
        uint64_t p0 = o->addr >> PAGE_SHIFT, p1 = (obj_end(o) - 1) >> PAGE_SHIFT;
        for (uint64_t p = p0; p <= p1; p++)
            page_del(t, p, o);
    }
}

/* Mark addr freed unless a block is live there; HT_ENOMEM. */
ht_err ht__objtab_mark_freed(struct ht__objtab *t, uint64_t addr)
{
    if (!addr)
        return HT_OK;
    size_t j; /* one probe: a live block, a mark, or where the mark goes */
    ht_err e = map_place(&t->byaddr, addr, &j);
    if (e)
        return e;
    struct ht__slot *sl = &t->byaddr.s[j];
    if (!sl->key) {
        *sl = (struct ht__slot){addr, HT__FREED_MARK};
        t->byaddr.n++;
    }
    return HT_OK;
}

/* Whether addr holds a freed mark (freed, no block live there). */
int ht__objtab_was_freed(const struct ht__objtab *t, uint64_t addr)
{
    uint64_t v;
    return ht__map_get(&t->byaddr, addr, &v) && v == HT__FREED_MARK;
}

/* Free the page index. */
static void pages_fini(struct ht__objtab *t)
{
    for (size_t i = 0; i < t->pages.cap; i++) {
        if (t->pages.s[i].key) {
            struct ht__pagebits *b =
                (struct ht__pagebits *)(uintptr_t)t->pages.s[i].val;
            free(b->cov);
            free(b);
        }
    }
    ht__map_fini(&t->pages);
    while (t->pagefree) {
        struct ht__pagebits *b = t->pagefree;
        t->pagefree = b->next_free;
        free(b->cov);
        free(b);
    }
}

/* List o on its pages (building the index); HT_ENOMEM. */
static ht_err index_obj(struct ht__objtab *t, struct ht__obj *o)
{
    uint64_t p0 = o->addr >> PAGE_SHIFT, p1 = (obj_end(o) - 1) >> PAGE_SHIFT;
    for (uint64_t p = p0; p <= p1 && o->size <= BIG_SIZE; p++)
        if (page_add(t, p, o) != HT_OK)
            return HT_ENOMEM;
    return HT_OK;
}

/* Page every held object, walking the slab's dense slots (see
 * replay_int.h). */
ht_err ht__objtab_index_slab(struct ht__objtab *t, const struct ht__objslab *s)
{
    if (!t->unpaged)
        return HT_OK;
    t->lo = UINT64_MAX;
    t->hi = 0;
    for (size_t c = 0; c < s->nchunks; c++) {
        size_t n = slab_n(s, c);
        for (size_t i = 0; i < n; i++) {
            struct ht__obj *o = &s->chunks[c][i];
            if (!o->held)
                continue;
            if (index_obj(t, o) != HT_OK) {
                pages_fini(t); /* drop the partial index */
                return HT_ENOMEM;
            }
            widen(t, o);
        }
    }
    t->unpaged = 0;
    return HT_OK;
}

/* Visit every held object. */
void ht__objtab_each(const struct ht__objtab *t,
                     void (*fn)(void *ctx, struct ht__obj *o), void *ctx)
{
    /* stops at the n-th: a table emptied by the end of a run still has
     * the freed marks of every address (libyaml: 16 MB of slots, 262 K
     * cache misses for nothing) */
    size_t left = t->n;
    for (size_t i = 0; left && i < t->byaddr.cap; i++) {
        struct ht__obj *o = ht__slot_obj(&t->byaddr.s[i]);
        if (o) {
            left--;
            fn(ctx, o);
        }
    }
}

/* Free the index, not the objects; see replay_int.h. */
void ht__objtab_fini_index(struct ht__objtab *t)
{
    pages_fini(t);
    ht__map_fini(&t->byaddr);
    free(t->big);
    t->big = NULL;
    t->nbig = t->cbig = 0;
    t->n = 0;
}

/* Check invariants 1-4 and 6 of the design comment; 1 if they hold. */
int ht__objtab_is_valid(const struct ht__objtab *t)
{
    if (!ht__map_is_valid(&t->byaddr) || !ht__map_is_valid(&t->pages))
        return 0;
    size_t nheld = 0;
    for (size_t i = 0; i < t->byaddr.cap; i++)
        nheld += ht__slot_obj(&t->byaddr.s[i]) != NULL;
    if (nheld != t->n)
        return 0;
    size_t nbig = 0;
    for (size_t k = 0; k < t->nbig; k++) {
        if (t->big[k]->size <= BIG_SIZE ||
            ht__objtab_get(t, t->big[k]->addr) != t->big[k] ||
            (k && t->big[k - 1]->addr >= t->big[k]->addr))
            return 0;
    }
    for (size_t i = 0; i < t->byaddr.cap; i++) {
        struct ht__obj *o = ht__slot_obj(&t->byaddr.s[i]);
        if (!o)
            continue;
        if (o->addr != t->byaddr.s[i].key || !o->held ||
            (!t->unpaged && (o->addr < t->lo || obj_end(o) > t->hi)))
            return 0;
        if (o->size > BIG_SIZE) {
            nbig++;
            continue;
        }
        if (t->unpaged) {
            if (t->pages.n)
                return 0;
            continue;
        }
        uint64_t p0 = o->addr >> PAGE_SHIFT, p1 = (obj_end(o) - 1) >> PAGE_SHIFT;
        for (uint64_t p = p0; p <= p1; p++) {
            uint64_t v64;
            if (!ht__map_get(&t->pages, p + 1, &v64))
                return 0;
            const struct ht__pagebits *pb =
                (const struct ht__pagebits *)(uintptr_t)v64;
            unsigned off = (unsigned)(o->addr & PAGE_MASK);
            if (p == p0 ? !((pb->w[off >> 6] >> (off & 63)) & 1)
                        : (cov_lower(pb, o->addr) >= pb->ncov ||
                           pb->cov[cov_lower(pb, o->addr)] != o))
                return 0;
        }
    }
    for (size_t i = 0; i < t->pages.cap; i++) {
        if (!t->pages.s[i].key)
            continue;
        uint64_t base = (t->pages.s[i].key - 1) << PAGE_SHIFT;
        const struct ht__pagebits *pb =
            (const struct ht__pagebits *)(uintptr_t)t->pages.s[i].val;
        if ((!pb->sum && !pb->ncov) || pb->ncov > pb->ccov)
            return 0;
        for (unsigned w = 0; w < 64; w++) {
            if (!pb->w[w] != !((pb->sum >> w) & 1))
                return 0;
            for (unsigned k = 0; k < 64; k++) {
                const struct ht__obj *o =
                    (pb->w[w] >> k) & 1 ? ht__objtab_get(t, base | (w * 64 + k))
                                        : NULL;
                if ((pb->w[w] >> k) & 1 && (!o || o->size > BIG_SIZE))
                    return 0;
            }
        }
        for (uint32_t k = 0; k < pb->ncov; k++) {
            const struct ht__obj *o = pb->cov[k];
            if (ht__objtab_get(t, o->addr) != o || o->size > BIG_SIZE ||
                o->addr >= base || obj_end(o) <= base ||
                (k && pb->cov[k - 1]->addr >= o->addr))
                return 0;
        }
    }
    for (const struct ht__pagebits *pb = t->pagefree; pb; pb = pb->next_free) {
        if (pb->sum || pb->ncov || (!pb->cov != !pb->ccov))
            return 0;
        for (unsigned w = 0; w < 64; w++)
            if (pb->w[w])
                return 0;
    }
    return nbig == t->nbig;
}

/* Set or replace the edge at off. */
ht_err ht__obj_set_edge(struct ht__obj *o, uint64_t off, uint64_t val,
                        uint64_t seq, uint64_t site, uint64_t *old)
{
    *old = 0;
    for (uint32_t i = 0; i < o->nedges; i++) {
        if (o->edges[i].off == off) {
            *old = o->edges[i].val;
            if (!val) {
                o->edges[i] = o->edges[--o->nedges];
                return HT_OK;
            }
            o->edges[i] = (struct ht__edge){off, val, seq, site};
            return HT_OK;
        }
    }
    if (!val)
        return HT_OK;
    if (o->nedges == o->cedges) {
        uint32_t nc = o->cedges ? o->cedges * 2 : 2;
        struct ht__edge *ne = realloc(o->edges, nc * sizeof *ne);
        if (!ne)
            return HT_ENOMEM;
        o->edges = ne;
        o->cedges = nc;
    }
    o->edges[o->nedges++] = (struct ht__edge){off, val, seq, site};
    return HT_OK;
}

/* Drop edges whose slot no longer lies inside the object. */
void ht__obj_truncate(struct ht__obj *o, uint64_t size)
{
    for (uint32_t i = 0; i < o->nedges;) {
        if (o->edges[i].off >= size)
            o->edges[i] = o->edges[--o->nedges];
        else
            i++;
    }
}

/* ---- object slab: see replay_int.h for ownership and invariants ---- */

_Static_assert(sizeof(struct ht__obj) % 64 == 0,
               "slab slots are whole cache lines");

/* A slab chunk: 2 MiB (one huge page, big_alloc, so 2 MiB-aligned: the
 * 64-byte alignment of invariant 1 holds) of 128-byte objects. */
#define CHUNK_BYTES (HT__SLAB_SLOTS * sizeof(struct ht__obj))
_Static_assert(CHUNK_BYTES % HUGE_BYTES == 0, "a slab chunk is huge pages");

struct ht__obj *ht__objslab_grow(struct ht__objslab *s)
{
    if (ptrs_reserve(&s->chunks, s->nchunks, &s->cchunks, 16))
        return NULL;
    struct ht__obj *c = big_alloc(CHUNK_BYTES);
    if (!c)
        return NULL;
    s->chunks[s->nchunks++] = c;
    s->used = 1;
    return c;
}

void ht__objslab_each_held(const struct ht__objslab *s,
                           void (*fn)(void *ctx, struct ht__obj *o), void *ctx)
{
    for (size_t c = 0; c < s->nchunks; c++) {
        size_t n = slab_n(s, c);
        for (size_t i = 0; i < n; i++)
            if (s->chunks[c][i].held)
                fn(ctx, &s->chunks[c][i]);
    }
}

void ht__objslab_trim(struct ht__objslab *s, size_t held)
{
    size_t keep = 0, last_used = HT__SLAB_SLOTS;
    s->free = NULL;
    for (size_t c = 0; c < s->nchunks; c++) {
        struct ht__obj *ch = s->chunks[c];
        size_t n = slab_n(s, c), nheld = 0;
        /* once all held slots are found, the chunks left hold none: freed
         * unread (a run that freed its blocks: libyaml's 55 MB of slots,
         * 423 K cache misses, skipped) */
        for (size_t i = 0; held && i < n; i++)
            nheld += ch[i].held;
        held -= nheld;
        if (!nheld) {
            big_free(ch, CHUNK_BYTES); /* no slot in use: no edges to free */
            continue;
        }
        /* the free list again, in descending address order per chunk so
         * that the next slots handed out ascend */
        for (size_t i = n; i-- > 0;)
            if (!ch[i].held) {
                ch[i].addr = (uint64_t)(uintptr_t)s->free;
                s->free = &ch[i];
            }
        if (c + 1 == s->nchunks)
            last_used = s->used;
        s->chunks[keep++] = ch;
    }
    s->nchunks = keep;
    s->used = keep ? last_used : 0;
}

void ht__objslab_fini(struct ht__objslab *s)
{
    for (size_t c = 0; c < s->nchunks; c++) {
        size_t n = slab_n(s, c);
        for (size_t i = 0; i < n; i++)
            if (s->chunks[c][i].edges)
                free(s->chunks[c][i].edges);
        big_free(s->chunks[c], CHUNK_BYTES);
    }
    free(s->chunks);
    memset(s, 0, sizeof *s);
}

/* 1 if every free-list slot lies in a handed-out part of a chunk and has
 * no edges (invariants 1-2), with no cycle. O(chunks * free slots). */
int ht__objslab_is_valid(const struct ht__objslab *s)
{
    if (s->nchunks > s->cchunks || (s->nchunks && s->used > HT__SLAB_SLOTS) ||
        (!s->nchunks && (s->used || s->free)))
        return 0;
    size_t total = s->nchunks ? (s->nchunks - 1) * HT__SLAB_SLOTS + s->used : 0;
    size_t k = 0;
    for (const struct ht__obj *o = s->free; o;
         o = (const struct ht__obj *)(uintptr_t)o->addr) {
        if (++k > total || o->edges || o->held || ((uintptr_t)o & 63))
            return 0;
        int in = 0;
        for (size_t c = 0; c < s->nchunks && !in; c++) {
            size_t n = slab_n(s, c);
            in = o >= s->chunks[c] && o < s->chunks[c] + n;
        }
        if (!in)
            return 0;
    }
    return 1;
}
