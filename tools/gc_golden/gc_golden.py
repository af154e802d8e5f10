"""Golden outputs of CPython's cyclic GC for heaptrail's collector model.

Run with each interpreter (3.8+), stdout is the fixture:
    python3.X tools/gc_golden/gc_golden.py > tests/replay/fixtures/gc/3.X.txt
Line format (one fact per line, parsed by tests/replay/test_gcmodel.c):
    version <major.minor.micro>
    threshold <t0> <t1> <t2>              default gc.get_threshold()
    outcome <case> <value of gc.collect(gen)>      (design doc section 4.3)
    sched_threshold 50 3 3                 (section 4.5)
    sched_long_lived <len(gc.get_objects(2)) right after the first full collection>
    sched_count_start <c0> <c1> <c2>       gc.get_count() just before the loop
    sched_allocs 2000
    sched_coll <i> <generation> <count0> <count1> <count2> <collected> <uncollectable>
        one per collection; counts are gc.get_count() in the "start" callback
    sched_end_count <c0> <c1> <c2>
    sched_stats <gen> <collections> <collected> <uncollectable>   deltas over the loop
"""
import gc
import sys


def outcomes():
    gc.disable()
    res = []

    def case(name, build, gen=2):
        gc.collect()
        build()
        res.append((name, gc.collect(gen)))

    def self_list():
        l = []
        l.append(l)

    def two_lists():
        a = []
        b = [a]
        a.append(b)

    def list_tuple():
        l = []
        t = (l,)
        l.append(t)

    def dict_self():
        d = {}
        d['me'] = d

    case('self_list', self_list)
    case('two_lists', two_lists)
    case('list_tuple', list_tuple)
    case('dict_self', dict_self)
    # cross-generation cycle: a is in gen 2 before the cycle is closed
    gc.collect()
    a = []
    gc.collect()
    b = [a]
    a.append(b)
    del a, b
    res.append(('cross_gen_collect0', gc.collect(0)))
    res.append(('cross_gen_collect1', gc.collect(1)))
    res.append(('cross_gen_collect2', gc.collect(2)))
    gc.enable()
    return res


N = 2000
MAXC = 200
s_gen = [0] * MAXC
s_c0 = [0] * MAXC
s_c1 = [0] * MAXC
s_c2 = [0] * MAXC
s_col = [0] * MAXC
s_unc = [0] * MAXC
s_n = [0, 0]   # [starts, stops]


def cb(phase, info):
    if phase == 'start':
        i = s_n[0]
        c = gc.get_count()
        s_c0[i] = c[0]
        s_c1[i] = c[1]
        s_c2[i] = c[2]
        s_gen[i] = info['generation']
        s_n[0] = i + 1
    else:
        i = s_n[1]
        s_col[i] = info['collected']
        s_unc[i] = info['uncollectable']
        s_n[1] = i + 1


def main():
    out = sys.stdout.write
    v = sys.version_info
    out('version %d.%d.%d\n' % (v[0], v[1], v[2]))
    out('threshold %d %d %d\n' % gc.get_threshold())
    for name, val in outcomes():
        out('outcome %s %d\n' % (name, val))
    keep = [None] * N
    gc.set_threshold(50, 3, 3)
    gc.collect()
    long_lived = len(gc.get_objects(2))
    stats0 = gc.get_stats()
    gc.callbacks.append(cb)
    count_start = gc.get_count()
    for i in range(N):
        keep[i] = []
    gc.callbacks.remove(cb)
    end = gc.get_count()
    stats1 = gc.get_stats()
    out('sched_threshold 50 3 3\n')
    out('sched_long_lived %d\n' % long_lived)
    out('sched_count_start %d %d %d\n' % count_start)
    out('sched_allocs %d\n' % N)
    for i in range(s_n[0]):
        out('sched_coll %d %d %d %d %d %d %d\n' % (i, s_gen[i], s_c0[i], s_c1[i],
                                                 s_c2[i], s_col[i], s_unc[i]))
    out('sched_end_count %d %d %d\n' % end)
    for g in range(3):
        out('sched_stats %d %d %d %d\n' % (
            g, stats1[g]['collections'] - stats0[g]['collections'],
            stats1[g]['collected'] - stats0[g]['collected'],
            stats1[g]['uncollectable'] - stats0[g]['uncollectable']))
    out('sched_sequence %s\n' % ''.join(str(s_gen[i]) for i in range(s_n[0])))


main()
