# run_cmd.py ROUNDS: `heaptrail run -o x.db -- bench_micro small 1500000` (record + live ingest, default exit
# snapshot): A = main 91239de's heaptrail + micro-A, B = this branch's + micro-B, and the native program;
# alternating order; medians of wall and of the children's user+sys CPU, and the paired median B/A.
import os, sys, time, shutil, subprocess, statistics as st, collections
os.chdir('/tmp/spill32')
H = {'A': '/var/cache/heaptrail-bench/ht-build-91239de/bin/heaptrail', 'B': '/work/wt/spill32/build/bin/heaptrail'}
NAT = '/var/cache/heaptrail-bench/build/micro-native/bench_micro'
def clean():
    shutil.rmtree('r.db.spill', ignore_errors=True)
    for f in ('r.db', 'r.db-wal', 'r.db-shm'):
        if os.path.exists(f): os.remove(f)
def run(cmd):
    clean()
    t = time.perf_counter()
    p = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, stdin=subprocess.DEVNULL)
    _, status, ru = os.wait4(p.pid, 0)
    w = time.perf_counter() - t
    assert status == 0, (cmd, status)
    clean()
    return (w, ru.ru_utime + ru.ru_stime)
d = collections.defaultdict(list); loads = []
for r in range(int(sys.argv[1])):
    loads.append(os.getloadavg()[0])
    for v in (['A', 'B'] if r % 2 == 0 else ['B', 'A']):
        d[v].append(run([H[v], 'run', '-o', 'r.db', '--', './micro-' + v, 'small', '1500000']))
    d['native'].append(run([NAT, 'small', '1500000']))
print('load1 min/med/max %.2f %.2f %.2f, %d rounds' % (min(loads), st.median(loads), max(loads), len(loads)))
for k, v in d.items():
    print('%-7s wall %.4f cpu %.4f' % (k, st.median(x[0] for x in v), st.median(x[1] for x in v)))
print('paired median B/A-1 wall %+.1f%%, B/native %.2fx, A/native %.2fx' % (
    100 * st.median(b[0] / a[0] - 1 for a, b in zip(d['A'], d['B'])),
    st.median(b[0] / n[0] for b, n in zip(d['B'], d['native'])),
    st.median(a[0] / n[0] for a, n in zip(d['A'], d['native']))))
