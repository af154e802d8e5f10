# (h-rec7) timed.py SRC DST: a copy of rt.c whose exit handler prints "snapus <thread CPU us of the exit snapshot>" to stderr
import sys
src,dst=sys.argv[1],sys.argv[2]
s=open(src).read()
old="""        if (__atomic_load_n(&g_exit_tid, __ATOMIC_ACQUIRE) == ht__rt_tid())"""
new="""        struct timespec t0_, t1_;
        clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t0_);
        if (__atomic_load_n(&g_exit_tid, __ATOMIC_ACQUIRE) == ht__rt_tid())"""
assert old in s; s=s.replace(old,new)
old="""            ht__rt_snapshot_run(NULL, 0);
    }"""
new="""            ht__rt_snapshot_run(NULL, 0);
        clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t1_);
        char b_[32];
        *ht__rt_utoa(b_, (uint64_t)((t1_.tv_sec - t0_.tv_sec) * 1000000000ll + t1_.tv_nsec - t0_.tv_nsec) / 1000) = 0;
        ht__rt_puterr("snapus ", b_, NULL, NULL, NULL);
    }"""
assert old in s; s=s.replace(old,new)
open(dst,'w').write(s)
