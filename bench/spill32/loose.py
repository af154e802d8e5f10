# loose.py A.txt B.txt: (1) address-shift compare: every field equal, except address-like numbers
# (>= 2^40) which must differ by one constant per 'region' (heap/data: < 0x7f0000000000, mmap/stack: above);
# (2) --threads: per-thread event sequences (kind,size,pc,addr relative to the thread's first address),
# compared as a sorted list (thread interleaving and arena placement differ run to run).
import sys
def rows(p):
    return [l.rstrip('\n').split('|') for l in open(p)]
a, b = rows(sys.argv[1]), rows(sys.argv[2])
assert len(a) == len(b), (len(a), len(b))
if '--threads' in sys.argv:
    def seqs(rs):
        t = {}
        for f in rs:
            t.setdefault(f[2], []).append(f)
        out = []
        for tid, fs in t.items():
            base = None
            s = []
            for f in fs:
                ad = int(f[3]) if f[3] else 0
                if base is None and ad: base = ad
                s.append((f[1], f[4], f[9], (ad - base) if ad and ad >> 40 else ad))
            out.append(s)
        return sorted(out)
    sa, sb = seqs(a), seqs(b)
    print('threads', len(sa), len(sb), 'per-thread sequences identical' if sa == sb else 'DIFFER')
    sys.exit(0 if sa == sb else 1)
delta = {}
bad = 0
for x, y in zip(a, b):
    for i, (u, v) in enumerate(zip(x, y)):
        if u == v: continue
        try: iu, iv = int(u), int(v)
        except ValueError: bad += 1; continue
        if iu >> 40 == 0: bad += 1; continue
        reg = iu >= 0x7f0000000000
        d = delta.setdefault(reg, iv - iu)
        if iv - iu != d: bad += 1
print('rows', len(a), 'deltas', delta, 'mismatches', bad)
sys.exit(1 if bad else 0)
