#!/usr/bin/env python3
# (h-rec7) ab.py ROUNDS NAME=ENV~VAL,...:CMD ...: alternating runs, wait4 rusage medians; paired B/A if names A and B
# ab.py ROUNDS name=ENV:cmd ... : alternate commands, wait4 rusage, medians
# AB_SCRATCH (default /tmp/rec7): r.db* there is removed before each run
import os, sys, time, subprocess, statistics, shutil, glob
rounds = int(sys.argv[1]); specs = sys.argv[2:]
scratch = os.environ.get('AB_SCRATCH', '/tmp/rec7')
res = {s: [] for s in specs}
for r in range(rounds):
    order = specs if r % 2 == 0 else specs[::-1]
    for s in order:
        name, rest = s.split('=', 1)
        envs, cmd = rest.split(':', 1)
        env = dict(os.environ)
        for kv in envs.split(','):
            if kv:
                k, v = kv.split('~'); env[k] = v
        for p in glob.glob(scratch + '/r.db*'):
            shutil.rmtree(p) if os.path.isdir(p) else os.unlink(p)
        t0 = time.time()
        pid = subprocess.Popen(cmd.split(), env=env, stdout=subprocess.DEVNULL).pid
        _, st, ru = os.wait4(pid, 0)
        w = time.time() - t0
        res[s].append((w, ru.ru_utime, ru.ru_stime, ru.ru_minflt))
for s in specs:
    v = res[s]
    med = lambda i: statistics.median(x[i] for x in v)
    print("%-10s wall %.4f user %.4f sys %.4f cpu %.4f minflt %d" % (s.split('=')[0], med(0), med(1), med(2), statistics.median(x[1]+x[2] for x in v), med(3)))
names=[x.split('=')[0] for x in specs]
if 'A' in names and 'B' in names:
    a=res[specs[names.index('A')]]; b=res[specs[names.index('B')]]
    pr=sorted((y[1]+y[2])/(x[1]+x[2])-1 for x,y in zip(a,b)); pw=sorted(y[0]/x[0]-1 for x,y in zip(a,b))
    print("paired median B/A-1: cpu %+.1f%% wall %+.1f%%" % (100*statistics.median(pr), 100*statistics.median(pw)))
print("load", open('/proc/loadavg').read().split()[:3])
