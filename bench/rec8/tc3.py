#!/usr/bin/env python3
# (h-rec8) tc3.py ROUNDS MODE bm|rl ARGS: alternating At / Ct (addtc.py runtimes); MODE rec (HEAPTRAIL_TRACE), nosnap (+HEAPTRAIL_SNAPSHOT=0), run (heaptrail run of main);
# medians of main-thread CPU, process CPU (ms, printed by the runtime at exit) and wall
import os, sys, subprocess, statistics, shutil, glob, time
H='/var/cache/heaptrail-bench/ht-build-fccd799/bin/heaptrail'
R=int(sys.argv[1]); mode=sys.argv[2]; k=sys.argv[3]; args=sys.argv[4:]
res={'At':[],'Ct':[]}
for r in range(R):
    for v in (['At','Ct'] if r%2==0 else ['Ct','At']):
        for p in glob.glob('/tmp/rec8/r.db*'):
            shutil.rmtree(p) if os.path.isdir(p) else os.unlink(p)
        env=dict(os.environ)
        cmd=['./'+k+v]+args
        if mode=='run': cmd=[H,'run','-o','/tmp/rec8/r.db','--']+cmd
        else: env['HEAPTRAIL_TRACE']='/tmp/rec8/r.db'
        if mode=='nosnap': env['HEAPTRAIL_SNAPSHOT']='0'
        t0=time.time(); o=subprocess.run(cmd,env=env,stdout=subprocess.DEVNULL,stderr=subprocess.PIPE,text=True); w=time.time()-t0
        tc=[l.split() for l in o.stderr.splitlines() if l.startswith('TC ')][0]
        res[v].append((int(tc[1])/1000,int(tc[2])/1000,w*1000))
for v in res:
    x=res[v]; m=lambda i: statistics.median(e[i] for e in x)
    print('%s %s %s: main thread %.1f ms, process %.1f ms, wall %.1f ms'%(mode,k,v,m(0),m(1),m(2)))
print('load',open('/proc/loadavg').read().split()[:3])
