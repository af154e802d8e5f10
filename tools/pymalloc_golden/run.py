#!/usr/bin/env python3
"""Generate pymalloc golden fixtures from real CPython builds (see README.md).

usage: run.py OUTDIR PYTHON [PYTHON...]
Run with any Python 3; each target interpreter is started as a subprocess.
"""
import os, subprocess, sys, tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
# (file suffix, seed, operations, checkpoint interval, phase length)
# ops == 0 is the scripted tie scenario (golden_ops.h: ht_golden_script)
SCENARIOS = [('', 1, 200000, 25000, 20000), ('-big', 2, 400000, 25000, 100000),
             ('-tie', 0, 0, 1, 1)]

CHILD = r'''
import ctypes, sys, sysconfig
so = sys.argv[1]
lib = ctypes.PyDLL(so)
lib.ht_golden_run.restype = ctypes.c_long
lib.ht_golden_run.argtypes = [ctypes.c_char_p, ctypes.c_size_t, ctypes.c_uint64,
                              ctypes.c_long, ctypes.c_long, ctypes.c_long, ctypes.c_uint]
pool = 16384 if sys.version_info >= (3, 10) else 4096
buf = ctypes.create_string_buffer(1 << 22)
seed, nops, every, phase = map(int, sys.argv[2:6])
n = lib.ht_golden_run(buf, len(buf), seed, nops, every, phase, pool)
assert n > 0, n
sys.stdout.write(buf.raw[:n].decode())
'''

def run(py, outdir):
    ver = subprocess.check_output([py, '-c', 'import sys;print("%d.%d"%sys.version_info[:2]);print(sys.version.split()[0])'], text=True).split()
    inc = subprocess.check_output([py, '-c', 'import sysconfig;print(sysconfig.get_paths()["include"])'], text=True).strip()
    with tempfile.TemporaryDirectory() as td:
        so = os.path.join(td, 'golden.so')
        subprocess.check_call(['gcc', '-O1', '-shared', '-fPIC', '-I' + inc, '-I' + HERE,
                               os.path.join(HERE, 'golden.c'), '-o', so])
        for suffix, seed, nops, every, phase in SCENARIOS:
            out = subprocess.check_output(
                [py, '-S', '-E', '-c', CHILD, so, str(seed), str(nops), str(every), str(phase)],
                text=True, env=dict(os.environ, PYTHONMALLOC='pymalloc'))
            path = os.path.join(outdir, 'cpython-%s%s.txt' % (ver[0], suffix))
            with open(path, 'w') as f:
                f.write('# CPython %s, tools/pymalloc_golden/run.py\n' % ver[1])
                f.write('profile %s seed %d ops %d every %d phase %d\n'
                        % (ver[0], seed, nops, every, phase))
                f.write(out)
            print(path)

if __name__ == '__main__':
    for py in sys.argv[2:]:
        run(py, sys.argv[1])
