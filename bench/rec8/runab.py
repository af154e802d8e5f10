#!/usr/bin/env python3
# (h-rec8) heaptrail run A/B: bmN/rlN native, bmA/rlA main runtime, bmB/rlB this branch (bench/rec7/mk.sh), all in /tmp/rec8
# runab.py ROUNDS PROG_ARGS... : alternating native / A / B `heaptrail run` (main's heaptrail), wall + children CPU medians
import os, sys, time, subprocess, statistics, shutil, glob
H='/var/cache/heaptrail-bench/ht-build-fccd799/bin/heaptrail'
rounds=int(sys.argv[1]); kind=sys.argv[2]; args=sys.argv[3:]
bins={'libyaml':('./rlN','./rlA','./rlB'),'micro':('./bmN','./bmA','./bmB')}[kind]
specs=[('N',[bins[0]]+args),('A',[H,'run','-o','/tmp/rec8/r.db','--',bins[1]]+args),('B',[H,'run','-o','/tmp/rec8/r.db','--',bins[2]]+args)]
res={n:[] for n,_ in specs}
for r in range(rounds):
    order=specs if r%2==0 else specs[::-1]
    for n,cmd in order:
        for p in glob.glob('/tmp/rec8/r.db*'):
            shutil.rmtree(p) if os.path.isdir(p) else os.unlink(p)
        t0=time.time(); p=subprocess.Popen(cmd,stdout=subprocess.DEVNULL); _,st,ru=os.wait4(p.pid,0); w=time.time()-t0
        assert st==0,(cmd,st)
        res[n].append((w,ru.ru_utime+ru.ru_stime))
for n,_ in specs:
    v=res[n]; print("%s wall %.4f cpu %.4f (walls %s)"%(n,statistics.median(x[0] for x in v),statistics.median(x[1] for x in v),' '.join('%.3f'%x[0] for x in v)))
a=res['A'];b=res['B'];N=res['N']
print("paired B/A-1 wall %+.1f%% cpu %+.1f%%; ratio to native A %.2fx B %.2fx"%(100*statistics.median(y[0]/x[0]-1 for x,y in zip(a,b)),100*statistics.median(y[1]/x[1]-1 for x,y in zip(a,b)),statistics.median(x[0] for x in a)/statistics.median(x[0] for x in N),statistics.median(x[0] for x in b)/statistics.median(x[0] for x in N)))
print("load",open('/proc/loadavg').read().split()[:3])
