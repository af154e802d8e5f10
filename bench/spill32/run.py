# run.py ROUNDS: recording-only A/B (DECISIONS 32), alternating A/B order per round, wall (perf_counter) and
# rusage user/sys/minflt per run; prints medians, paired medians A-B, and load. Binaries as in run.sh.
import os, sys, time, shutil, subprocess, statistics as st, collections
os.chdir('/tmp/spill32')
B = '/var/cache/heaptrail-bench/build'; Y = '/var/cache/heaptrail-bench/inputs/big-8000.yaml'
def clean():
    shutil.rmtree('x.db.spill', ignore_errors=True)
    if os.path.exists('x.db'): os.remove('x.db')
def run(cmd, snap):
    clean()
    env = None if snap is None else dict(os.environ, HEAPTRAIL_TRACE=os.getcwd() + '/x.db', HEAPTRAIL_SNAPSHOT=snap)
    t = time.perf_counter()
    p = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stdin=subprocess.DEVNULL)
    _, status, ru = os.wait4(p.pid, 0)
    w = time.perf_counter() - t
    assert status == 0, (cmd, status)
    clean()
    return (w, ru.ru_utime, ru.ru_stime, ru.ru_minflt)
progs = {'micro': (['small', '1500000'], B + '/micro-native/bench_micro'), 'yaml': ([Y], B + '/libyaml-native/run-loader')}
d = collections.defaultdict(list); loads = []
for r in range(int(sys.argv[1])):
    loads.append(os.getloadavg()[0])
    order = ['A', 'B'] if r % 2 == 0 else ['B', 'A']
    for w, (args, nat) in progs.items():
        for snap in ('0', '1'):
            for v in order:
                d[(w, v, snap)].append(run(['./%s-%s' % (w, v)] + args, snap))
        d[(w, 'native', '-')].append(run([nat] + args, None))
print('load1 min/med/max %.2f %.2f %.2f, %d rounds' % (min(loads), st.median(loads), max(loads), len(loads)))
print('%-7s %-6s %4s %8s %8s %8s %8s' % ('prog', 'build', 'snap', 'wall', 'user', 'sys', 'minflt'))
for k, v in sorted(d.items()):
    print('%-7s %-6s %4s' % k, *['%8.4f' % st.median(x[i] for x in v) for i in range(3)], '%8d' % st.median(x[3] for x in v))
for w in progs:
    for snap in ('0', '1'):
        a, b = d[(w, 'A', snap)], d[(w, 'B', snap)]
        diff = [st.median(x[i] - y[i] for x, y in zip(a, b)) for i in range(3)]
        rel = st.median(y[0] / x[0] - 1 for x, y in zip(a, b))
        print('%s snap=%s paired median A-B wall/user/sys %.4f %.4f %.4f; median B/A-1 wall %+.1f%%' % (w, snap, *diff, 100 * rel))
