/*
 * heaptrail runtime recorder: the calls instrumented code makes.
 *
 * libheaptrail_rt is linked into instrumented programs. It depends on
 * neither SQLite nor libclang, never calls a wrapped allocator itself, and
 * every entry point is async-signal-safe. Allocations are recorded by the
 * linker wraps (-Wl,--wrap=malloc,...) with the caller's return address; the
 * calls below are inserted by the analyzer's source rewriting with exact
 * site ids (see analyzer/).
 *
 * Environment (read once at start):
 *   HEAPTRAIL_TRACE   trace database path (default "heaptrail.db"); the
 *                     spill goes to "<trace>.spill/".
 *   HEAPTRAIL_SPILL_MAX  spill capacity in bytes (default 64 GiB, sparse).
 *   HEAPTRAIL_DISABLE=1  record nothing.
 *   HEAPTRAIL_SNAPSHOT  1 (default): at exit, scan live blocks, data
 *                     segments and thread stacks conservatively and record
 *                     the pointer edges found as EDGE events (memcheck-style
 *                     leak classes without instrumented stores); 0: no exit
 *                     snapshot, and ht_rt_snapshot records nothing.
 *                     Stack roots (ROOT events, c = HT_ROOT_STACK): the
 *                     exiting thread's callee-saved registers and stack from
 *                     where the program called exit() (not scanned after a
 *                     return from main: no user frame is live then), and
 *                     the whole stack of every other still-running thread
 *                     started through the wrapped pthread_create (up to 256
 *                     at once; racy reads, clipped to mapped memory).
 *   HEAPTRAIL_SPILL_THREAD  1: one extra thread (signals
 *                     blocked; it records nothing) prepares the spill's
 *                     next chunks (disk blocks, pages faulted in) ahead of
 *                     the program and, while the program has one thread,
 *                     keeps the exit snapshot's live-block table up to
 *                     date, so the exit only applies the last chunks; not
 *                     started with one usable CPU. 0 (default): no such
 *                     thread (with one, glibc's malloc takes its locks
 *                     beyond the tcache: DECISIONS 37; and a program that
 *                     must stay single-threaded, as unshare(CLONE_NEWUSER)
 *                     requires, needs 0).
 *   A malformed value gets one "heaptrail: invalid ..." line on stderr and
 *   the default (0/1 variables: unset or empty = default).
 */
#ifndef HEAPTRAIL_RT_H
#define HEAPTRAIL_RT_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* A pointer store `*slot = new_value` that replaced old_value. */
void ht_rt_store(uint64_t site, void *slot, const void *new_value,
                 const void *old_value);
/* A configured refcount operation on obj. */
void ht_rt_incref(uint64_t site, const void *obj);
void ht_rt_decref(uint64_t site, const void *obj);
/* Entry and exit of an instrumented function; arg0 = first pointer argument
 * or NULL. */
void ht_rt_fn_enter(uint64_t site, const void *arg0);
void ht_rt_fn_exit(uint64_t site);
/* Allocation through a user-named allocator (--alloc-fn): record an ALLOC /
 * FREE with an exact site id. Returns ptr unchanged. */
void *ht_rt_alloc_note(uint64_t site, void *ptr, uint64_t size);
void ht_rt_free_note(uint64_t site, const void *ptr);
/* Record a snapshot of the live heap's pointer edges now (also done at
 * exit); the caller's registers and stack from this call up, and the other
 * recorded threads' stacks, are roots. */
void ht_rt_snapshot(void);

#ifdef __cplusplus
}
#endif

#endif
