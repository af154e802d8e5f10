# summarize.py out.txt: medians of wall/user/sys/minflt per (name, snap), paired median A-B, load range.
import sys, statistics as st, collections, re
d = collections.defaultdict(list); loads = []
for l in open(sys.argv[1]):
    if l.startswith('#'):
        m = re.search(r'load average: ([\d.]+)', l); loads.append(float(m.group(1))); continue
    n, s, r, *v = l.split(); d[(n, s)].append((int(r), *map(float, v)))
print('load1 min/med/max %.2f %.2f %.2f over %d rounds' % (min(loads), st.median(loads), max(loads), len(loads)))
print('%-14s %4s %3s %7s %7s %7s %8s' % ('prog', 'snap', 'n', 'wall', 'user', 'sys', 'minflt'))
for k, v in sorted(d.items()):
    print('%-14s %4s %3d' % (k[0], k[1], len(v)), *['%7.3f' % st.median(x[i] for x in v) for i in (1, 2, 3)], '%8d' % st.median(x[4] for x in v))
for w in ('micro', 'yaml'):
    for s in ('0', '1'):
        a = {x[0]: x for x in d[(w + '-A', s)]}; b = {x[0]: x for x in d[(w + '-B', s)]}
        rs = sorted(set(a) & set(b))
        diff = [st.median(a[r][i] - b[r][i] for r in rs) for i in (1, 2, 3)]
        rel = st.median((b[r][1] - a[r][1]) / a[r][1] for r in rs)
        print('%s snap=%s paired median A-B wall/user/sys: %.4f %.4f %.4f  (B/A-1 wall %+.1f%%)' % (w, s, *diff, 100 * rel))
