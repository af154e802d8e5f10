# sum_ingest.py ig.txt: medians and paired B/A of ingest.sh's timed rounds.
import sys, statistics as st, collections, re
d = collections.defaultdict(list); loads = []
for l in open(sys.argv[1]):
    if l.startswith('#'):
        loads.append(float(re.search(r'load average: ([\d.]+)', l).group(1))); continue
    if not l.startswith('ingest-'): continue
    n, r, *v = l.split(); d[n].append(tuple(map(float, v)))
print('load1 %.2f-%.2f, %d rounds' % (min(loads), max(loads), len(loads)))
for k, v in sorted(d.items()): print('%-18s wall %.3f user %.3f sys %.3f' % (k, *[st.median(x[i] for x in v) for i in range(3)]))
for w in ('small', 'threads'):
    a, b = d['ingest-%s-A' % w], d['ingest-%s-B' % w]
    print(w, 'paired median B/A-1 wall %+.1f%%' % (100 * st.median(y[0] / x[0] - 1 for x, y in zip(a, b))))
