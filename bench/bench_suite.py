#!/usr/bin/env python3
"""heaptrail benchmark suite against the peers (issue 6); run it as bench/run.

For every workload (micro benchmarks from bench/bench_micro.c and real
third-party programs built from Debian source packages) the suite measures,
side by side in one run (the tools interleaved within each repetition so that
load changes hit them alike):

  native      the program built with gcc -O2 -g
  ht-alloc    `heaptrail run -o T.db -- prog`, prog built by heaptrail-cc with
              HEAPTRAIL_NO_REWRITE=1 (allocation wraps only); the wall time
              is record + ingest, i.e. until T.db holds the run
  ht-store    the same with prog built by heaptrail-cc instrumenting (pointer
              stores; refcount calls where the workload has a refcount API)
  heaptrack   `heaptrack -o F prog` on the native build (record only)
  memcheck    `valgrind --tool=memcheck --leak-check=full prog` (native build)
  asan        prog built with clang -O2 -g -fsanitize=address, LeakSanitizer on

and reports median wall times and ratios to native; then, once per workload,
trace bytes per event, ingest events/s (`heaptrail ingest` of a recorded
spill), and a leak run: HEAPTRAIL_SNAPSHOT=1 heaptrail run of the ht-store
build, `heaptrail replay` under /usr/bin/time -v (replay events/s, peak RSS)
and the leak_summary view next to memcheck's and LeakSanitizer's totals
(parsed from the last timed memcheck/asan runs).

Output: bench/results-latest.md (and with --append-results a section
appended to bench/RESULTS.md).  Only the standard library is used.
"""
import argparse
import datetime
import glob
import hashlib
import os
import random
import re
import shutil
import sqlite3
import statistics
import subprocess
import sys
import time

SRC = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
MODES = ["native", "ht-alloc", "ht-store", "heaptrack", "memcheck", "asan"]
REFCOUNT_OPTS = "--refcount-inc=node_incref --refcount-dec=node_decref"

# (name, argv after the binary for full / quick, what it is)
MICRO = [
    ("small", 1500000, 100000, "small-object churn: malloc/free pairs 8..128 B, random lifetimes"),
    ("mixed", 1000000, 50000, "mixed sizes 16 B..256 KiB, first 64 B written, random lifetimes"),
    ("realloc", 4000000, 100000, "256 string builders grown by realloc x1.5"),
    ("graph", 3000000, 100000, "refcounted node graph: pointer stores + node_incref/decref"),
    ("threads", 800000, 50000, "4 threads of mixed churn, 1/16 of frees cross-thread"),
    ("leaky", 200000, 10000, "small churn + leaks on purpose (1100 definite, 900 indirect, 50 lost 2-block cycles)"),
]


def log(msg):
    print("bench: " + msg, file=sys.stderr, flush=True)


def sh(cmd, cwd=None, env=None, quiet=True):
    """Run a build/setup command; raise with its output on failure."""
    r = subprocess.run(cmd, cwd=cwd, env=env, stdout=subprocess.PIPE,
                       stderr=subprocess.STDOUT, text=True,
                       shell=isinstance(cmd, str))
    if r.returncode != 0:
        sys.stderr.write(r.stdout[-4000:])
        raise SystemExit("bench: command failed (%d): %s" % (r.returncode, cmd))
    if not quiet:
        sys.stderr.write(r.stdout)
    return r.stdout


# ---------------------------------------------------------------- setup

def build_heaptrail(cache):
    key = hashlib.sha1(SRC.encode()).hexdigest()[:8]
    b = os.path.join(cache, "ht-build-" + key)
    if not os.path.exists(os.path.join(b, "CMakeCache.txt")):
        sh(["cmake", "-S", SRC, "-B", b, "-DCMAKE_BUILD_TYPE=RelWithDebInfo"])
    log("building heaptrail in " + b)
    sh(["cmake", "--build", b, "-j2", "--target", "heaptrail", "heaptrail-cc",
        "heaptrail_rt"])
    return b


def ensure_deb_src():
    """Add a deb-src entry mirroring the first deb entry if none exists."""
    files = glob.glob("/etc/apt/sources.list") + \
        glob.glob("/etc/apt/sources.list.d/*.list") + \
        glob.glob("/etc/apt/sources.list.d/*.sources")
    for f in files:
        with open(f, errors="replace") as fh:
            for line in fh:
                if re.match(r"\s*(deb-src\b|Types:.*\bdeb-src\b)", line):
                    return
    deb822 = "/etc/apt/sources.list.d/debian.sources"
    if os.path.exists(deb822):
        stanza = open(deb822).read().split("\n\n")[0]
        stanza = re.sub(r"(?m)^Types:.*$", "Types: deb-src", stanza)
        out = "/etc/apt/sources.list.d/heaptrail-bench-src.sources"
        text = "# added by heaptrail bench/run (apt-get source)\n" + stanza + "\n"
    else:
        lines = [l.replace("deb ", "deb-src ", 1) for l in
                 open("/etc/apt/sources.list").read().splitlines()
                 if l.startswith("deb ")]
        out = "/etc/apt/sources.list.d/heaptrail-bench-src.list"
        text = "# added by heaptrail bench/run (apt-get source)\n" + "\n".join(lines) + "\n"
    log("adding deb-src entries: " + out)
    with open(out, "w") as fh:
        fh.write(text)
    sh(["apt-get", "update", "-qq"])


def debian_source(cache, pkg):
    """Directory of the unpacked (patched) Debian source of pkg."""
    d = os.path.join(cache, "src")
    os.makedirs(d, exist_ok=True)
    dsc = sorted(glob.glob(os.path.join(d, pkg + "_*.dsc")))
    if not dsc:
        ensure_deb_src()
        log("apt-get source " + pkg)
        sh(["apt-get", "source", "--download-only", "-qq", pkg], cwd=d)
        dsc = sorted(glob.glob(os.path.join(d, pkg + "_*.dsc")))
    out = os.path.join(d, "x-" + os.path.basename(dsc[-1])[:-4])
    if not os.path.isdir(out):
        sh(["dpkg-source", "-x", dsc[-1], out])
    return out


class Variant:
    """How one of the four builds is compiled."""

    def __init__(self, name, ht_build):
        self.name = name
        cc_wrap = os.path.join(ht_build, "bin", "heaptrail-cc")
        self.env = dict(os.environ)
        for k in ("HEAPTRAIL_NO_REWRITE", "HEAPTRAIL_OPTS"):
            self.env.pop(k, None)
        self.cflags = "-O2 -g"
        self.ldflags = ""
        if name == "native":
            self.cc = "gcc"
        elif name in ("ht-alloc", "ht-store"):
            self.cc = cc_wrap
            self.env["HEAPTRAIL_REAL_CC"] = "gcc"
            if name == "ht-alloc":
                self.env["HEAPTRAIL_NO_REWRITE"] = "1"
        elif name == "asan":
            self.cc = "clang"
            self.cflags = "-O2 -g -fsanitize=address -fno-omit-frame-pointer"
            self.ldflags = "-fsanitize=address"
        self.env["CC"] = self.cc


BUILD_VARIANTS = ["native", "ht-alloc", "ht-store", "asan"]


def up_to_date(binary, v, inputs):
    """True if binary is newer than its inputs and, for the heaptrail-cc
    variants, than heaptrail-cc and the recorder it links in."""
    if not os.path.exists(binary):
        return False
    deps = list(inputs)
    if v.name.startswith("ht-"):
        hb = os.path.dirname(os.path.dirname(v.cc))
        deps += [v.cc, os.path.join(hb, "lib", "libheaptrail_rt.a")]
    t = os.path.getmtime(binary)
    return all(os.path.getmtime(d) < t for d in deps if os.path.exists(d))


def build_micro(cache, v):
    d = os.path.join(cache, "build", "micro-" + v.name)
    os.makedirs(d, exist_ok=True)
    src = os.path.join(SRC, "bench", "bench_micro.c")
    if up_to_date(os.path.join(d, "bench_micro"), v, [src, __file__]):
        return os.path.join(d, "bench_micro")
    env = dict(v.env)
    if v.name == "ht-store":
        env["HEAPTRAIL_OPTS"] = REFCOUNT_OPTS
    # separate compile and link steps (heaptrail-cc instruments -c steps)
    sh([v.cc] + v.cflags.split() + ["-Wall", "-c", src,
                                     "-o", os.path.join(d, "bench_micro.o")], env=env)
    sh([v.cc] + v.ldflags.split() + ["-o", os.path.join(d, "bench_micro"),
                                     os.path.join(d, "bench_micro.o"), "-lpthread"], env=env)
    return os.path.join(d, "bench_micro")


def fresh_tree(cache, prog, v, binary, src):
    """Build dir of prog's variant v, and whether its binary is up to date;
    if not, the dir is made afresh as a copy of src (None: empty)."""
    d = os.path.join(cache, "build", prog + "-" + v.name)
    if up_to_date(os.path.join(d, binary), v, [__file__]):
        return d, True
    shutil.rmtree(d, ignore_errors=True)
    if src:
        shutil.copytree(src, d)
    return d, False


def build_bzip2(cache, v, src):
    d, done = fresh_tree(cache, "bzip2", v, "bzip2", src)
    if not done:
        sh(["make", "-j2", "CC=" + v.cc,
            "CFLAGS=" + v.cflags + " -D_FILE_OFFSET_BITS=64",
            "LDFLAGS=" + v.ldflags, "bzip2"], cwd=d, env=v.env)
    return os.path.join(d, "bzip2")


def build_libyaml(cache, v, src):
    d, done = fresh_tree(cache, "libyaml", v, "run-loader", None)
    if not done:
        sh(["cmake", "-S", src, "-B", d, "-DCMAKE_BUILD_TYPE=None",
            "-DCMAKE_C_COMPILER=" + v.cc, "-DCMAKE_C_FLAGS=" + v.cflags,
            "-DCMAKE_EXE_LINKER_FLAGS=" + v.ldflags, "-DBUILD_SHARED_LIBS=OFF"],
           env=v.env)
        sh(["cmake", "--build", d, "-j2", "--target", "run-loader"], env=v.env)
    return os.path.join(d, "run-loader")


def build_zlib(cache, v, src):
    d, done = fresh_tree(cache, "zlib", v, "minigzip", src)
    if not done:
        env = dict(v.env, CFLAGS=v.cflags, LDFLAGS=v.ldflags)
        sh(["./configure", "--static"], cwd=d, env=env)
        sh(["make", "-j2", "minigzip"], cwd=d, env=env)
    return os.path.join(d, "minigzip")


def make_inputs(cache, quick, srcdirs):
    d = os.path.join(cache, "inputs")
    os.makedirs(d, exist_ok=True)
    # YAML: a sequence of mappings with nested flow/block collections
    items = 400 if quick else 8000
    yml = os.path.join(d, "big-%d.yaml" % items)
    if not os.path.exists(yml):
        r = random.Random(1)
        with open(yml, "w") as fh:
            for i in range(items):
                tags = ", ".join("t%d" % r.randrange(100) for _ in range(5))
                fh.write('- id: %d\n  name: "item-%d-%d"\n  tags: [%s]\n'
                         '  attrs:\n    a: %.6f\n    b: [1, 2, {x: %d, y: text}]\n'
                         '    note: |\n      line one of %d\n      line two\n'
                         % (i, i, r.randrange(10 ** 6), tags, r.random(), i, i))
    # compressor input: the C sources of the fetched packages, repeated
    size = (256 << 10) if quick else (3 << 20)
    corpus = os.path.join(d, "corpus-%d.txt" % size)
    if not os.path.exists(corpus):
        parts = []
        for s in srcdirs:
            for f in sorted(glob.glob(os.path.join(s, "**", "*.[ch]"), recursive=True)):
                parts.append(open(f, "rb").read())
        blob = b"".join(parts)
        with open(corpus, "wb") as fh:
            n = 0
            while n < size:
                chunk = blob[: size - n]
                fh.write(chunk)
                n += len(chunk)
    # many files for minigzip: every C source/header of the fetched packages
    files = sorted(f for s in srcdirs for f in glob.glob(
        os.path.join(s, "**", "*.[ch]"), recursive=True))
    return yml, corpus, files[:20] if quick else files


# ---------------------------------------------------------------- running

class Workload:
    def __init__(self, name, desc, bins, args, stdin=None, kind="micro"):
        self.name, self.desc, self.bins, self.args = name, desc, bins, args
        self.stdin, self.kind = stdin, kind
        self.prepare = lambda: None  # untimed setup before every run
        self.times = {m: [] for m in MODES}
        self.status = {m: "" for m in MODES}
        self.stderr = {}
        self.info = {}


def clean_env():
    env = dict(os.environ)
    for k in list(env):
        if k.startswith("HEAPTRAIL_") or k in ("ASAN_OPTIONS", "LSAN_OPTIONS"):
            del env[k]
    return env


def rm_trace(db):
    for p in (db, db + "-wal", db + "-shm", db + "-journal"):
        if os.path.exists(p):
            os.remove(p)
    shutil.rmtree(db + ".spill", ignore_errors=True)


def timed(argv, env, stdin_path, errfile, cwd, prepare=lambda: None):
    """Wall seconds and exit status of one run; stdout discarded."""
    prepare()
    fin = open(stdin_path, "rb") if stdin_path else subprocess.DEVNULL
    with open(errfile, "wb") as ferr:
        t0 = time.perf_counter()
        r = subprocess.run(argv, env=env, stdin=fin, stdout=subprocess.DEVNULL,
                           stderr=ferr, cwd=cwd)
        t1 = time.perf_counter()
    if stdin_path:
        fin.close()
    return t1 - t0, r.returncode


def mode_argv(mode, w, ht, scratch):
    b = w.bins
    if mode == "native":
        return [b["native"]] + w.args
    if mode in ("ht-alloc", "ht-store"):
        db = os.path.join(scratch, mode + ".db")
        rm_trace(db)
        return [ht, "run", "-o", db, "--", b[mode]] + w.args
    if mode == "heaptrack":
        for f in glob.glob(os.path.join(scratch, "heaptrack.*")):
            os.remove(f)
        return ["heaptrack", "-o", os.path.join(scratch, "heaptrack.out"),
                b["native"]] + w.args
    if mode == "memcheck":
        return ["valgrind", "--tool=memcheck", "--leak-check=full",
                b["native"]] + w.args
    if mode == "asan":
        return [b["asan"]] + w.args
    raise ValueError(mode)


def run_timings(w, ht, scratch, reps, modes):
    env = clean_env()
    env_asan = dict(env, ASAN_OPTIONS="detect_leaks=1", LSAN_OPTIONS="exitcode=0")
    for rep in range(reps):
        for mode in modes:
            argv = mode_argv(mode, w, ht, scratch)
            errf = os.path.join(scratch, mode + ".stderr")
            t, rc = timed(argv, env_asan if mode == "asan" else env, w.stdin,
                          errf, scratch, w.prepare)
            w.times[mode].append(t)
            if rc != 0:
                w.status[mode] = "exit %d" % rc
                log("%s %s: exit status %d (see %s)" % (w.name, mode, rc, errf))
            w.stderr[mode] = open(errf, errors="replace").read()
        log("%s rep %d/%d: %s" % (w.name, rep + 1, reps, " ".join(
            "%s=%.3f" % (m, w.times[m][-1]) for m in modes)))


def trace_stats(db):
    c = sqlite3.connect("file:%s?mode=ro" % db, uri=True)
    ev, chunkb = c.execute("SELECT sum(nevents), sum(length(data)) FROM chunks").fetchone()
    c.close()
    return (ev or 0), (chunkb or 0), os.path.getsize(db)


def leak_totals_heaptrail(ht, db):
    # through `heaptrail sql`: the objects view reads the objects_freed
    # virtual table, which a plain SQLite connection does not have
    r = subprocess.run([ht, "sql", db, "SELECT category, sum(blocks), sum(bytes)"
                        " FROM leak_summary GROUP BY category"],
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    if r.returncode != 0:
        log("heaptrail sql on %s failed: %s" % (db, r.stderr.strip()))
        return None
    d = {}
    for line in r.stdout.splitlines():
        k, b, n = line.split("|")
        d[k] = (int(b or 0), int(n or 0))
    # heaptrail has a third lost class: members of unreachable cycles
    return d.get("definite", (0, 0)), d.get("indirect", (0, 0)), d.get("cycle", (0, 0))


def num(s):
    return int(s.replace(",", ""))


def leak_totals_memcheck(text):
    if "LEAK SUMMARY" not in text:
        if "All heap blocks were freed" in text:
            return (0, 0), (0, 0)
        return None
    res = []
    for what in ("definitely", "indirectly"):
        m = re.search(what + r" lost: ([\d,]+) bytes in ([\d,]+) blocks", text)
        res.append((num(m.group(2)), num(m.group(1))) if m else (0, 0))
    return tuple(res)


def leak_totals_lsan(text):
    res = []
    for what in ("Direct", "Indirect"):
        blocks = nbytes = 0
        for m in re.finditer(what + r" leak of (\d+) byte\(s\) in (\d+) object", text):
            nbytes += int(m.group(1))
            blocks += int(m.group(2))
        res.append((blocks, nbytes))
    return tuple(res)


def replay_measure(w, ht, db, scratch, env):
    """(events, wall s, CPU s, peak RSS KiB) of one `heaptrail replay` of db."""
    ev = trace_stats(db)[0]
    tv = os.path.join(scratch, "replay.time")
    t0 = time.perf_counter()
    r = subprocess.run(["/usr/bin/time", "-v", "-o", tv, ht, "replay", db], env=env,
                       stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    t1 = time.perf_counter()
    if r.returncode != 0:
        log("%s: heaptrail replay of %s failed: %s" % (w.name, db, r.stderr.strip()))
        return None
    tt = open(tv).read()
    rss = int(re.search(r"Maximum resident set size \(kbytes\): (\d+)", tt).group(1))
    cpu = sum(float(re.search(k + r" time \(seconds\): ([0-9.]+)", tt).group(1))
              for k in ("User", "System"))
    return (ev, t1 - t0, cpu, rss)


def aux_measurements(w, ht, scratch, aux_reps):
    env = clean_env()
    # trace size per event: the traces of the last timed runs
    for mode in ("ht-alloc", "ht-store"):
        db = os.path.join(scratch, mode + ".db")
        if w.times[mode] and os.path.exists(db):
            w.info[mode + ".trace"] = trace_stats(db)
    # ingest speed: record alone into a spill, then time `heaptrail ingest`
    ing, rec = [], []
    db = os.path.join(scratch, "ing.db")
    for _ in range(aux_reps):
        rm_trace(db)
        t, rc = timed([w.bins["ht-store"]] + w.args, dict(env, HEAPTRAIL_TRACE=db),
                      w.stdin, os.path.join(scratch, "rec.stderr"), scratch, w.prepare)
        rec.append(t)
        t, rc = timed([ht, "ingest", db], env, None,
                      os.path.join(scratch, "ingest.stderr"), scratch)
        ing.append(t)
    ev = trace_stats(db)[0]
    w.info["ingest"] = (ev, statistics.median(ing), statistics.median(rec))
    # leak run: exit snapshot, ingest, replay
    db = os.path.join(scratch, "leak.db")
    rm_trace(db)
    t, rc = timed([ht, "run", "-o", db, "--", w.bins["ht-store"]] + w.args,
                  dict(env, HEAPTRAIL_SNAPSHOT="1"), w.stdin,
                  os.path.join(scratch, "leakrun.stderr"), scratch, w.prepare)
    w.info["snap_run"] = t
    w.info["replay"] = replay_measure(w, ht, db, scratch, env)
    if w.info["replay"]:
        w.info["leak.heaptrail"] = leak_totals_heaptrail(ht, db)
    # the alloc/free trace of the last timed ht-alloc run (issue 4's target)
    db = os.path.join(scratch, "ht-alloc.db")
    if w.times["ht-alloc"] and os.path.exists(db):
        w.info["replay_alloc"] = replay_measure(w, ht, db, scratch, env)
    w.info["leak.memcheck"] = leak_totals_memcheck(w.stderr.get("memcheck", ""))
    w.info["leak.lsan"] = leak_totals_lsan(w.stderr["asan"]) if "asan" in w.stderr else None


# ---------------------------------------------------------------- report

def fmt_s(v):
    return "%.3f" % v if v < 10 else "%.1f" % v


def fmt_rate(v):
    return "%.2f M" % (v / 1e6)


def fmt_leak(t):
    if t is None:
        return "n/a"
    s = "; ".join("%d / %s B" % (b, format(n, ",")) for b, n in t[:2])
    if len(t) > 2 and t[2][0]:
        s += "; cycle %d / %s B" % (t[2][0], format(t[2][1], ","))
    return s


def lost_total(t):
    return None if t is None else (sum(b for b, _ in t), sum(n for _, n in t))


def med(w, m):
    """Median wall time of tool m, None if not run or if it failed."""
    return statistics.median(w.times[m]) if w.times.get(m) and not w.status[m] else None


def targets(ws):
    """The issue's targets, checked against this run's figures."""
    big = 1000000  # rate targets only on traces large enough to amortise startup
    rows = []

    def check(name, items, ok):
        if not items:
            rows.append("| %s | not measured | - |" % name)
            return
        good = all(ok(v) for _, v in items)
        rows.append("| %s | %s | %s |" % (name, ", ".join(
            "%s %s" % (n, v if isinstance(v, str) else "%.2f" % v) for n, v in items),
            "met" if good else "**missed**"))

    real = [w for w in ws if w.kind == "real"]
    ratio = lambda w, m: med(w, m) / med(w, "native") if med(w, m) and med(w, "native") else None
    check("real programs, ht-alloc <= 1.5x native",
          [(w.name, ratio(w, "ht-alloc")) for w in real if ratio(w, "ht-alloc")], lambda v: v <= 1.5)
    check("real programs, ht-alloc below heaptrack (ht-alloc / heaptrack)",
          [(w.name, med(w, "ht-alloc") / med(w, "heaptrack")) for w in real
           if med(w, "ht-alloc") and med(w, "heaptrack")], lambda v: v < 1)
    check("real programs, ht-store at or below asan (ht-store / asan)",
          [(w.name, med(w, "ht-store") / med(w, "asan")) for w in real
           if med(w, "ht-store") and med(w, "asan")], lambda v: v <= 1)
    check("pure churn (small), ht-alloc <= 3x native",
          [(w.name, ratio(w, "ht-alloc")) for w in ws if w.name == "small" and ratio(w, "ht-alloc")],
          lambda v: v <= 3)
    bpe = []
    for w in ws:
        for m in ("ht-alloc", "ht-store"):
            t = w.info.get(m + ".trace")
            if t and t[0] >= 10000:
                bpe.append(("%s/%s" % (w.name, m), t[2] / t[0]))
    check("trace <= 6 B/event (file bytes; traces >= 10k events)", bpe, lambda v: v <= 6)
    check("ingest >= 20 M events/s (M/s; traces >= 1 M events)",
          [(w.name, w.info["ingest"][0] / w.info["ingest"][1] / 1e6) for w in ws
           if w.info.get("ingest") and w.info["ingest"][0] >= big], lambda v: v >= 20)
    for key, what in (("replay_alloc", "alloc/free trace"), ("replay", "leak run with stores")):
        check("replay >= 10 M events/s, %s (M/s of CPU time; traces >= 1 M events)" % what,
              [(w.name, w.info[key][0] / w.info[key][2] / 1e6) for w in ws
               if w.info.get(key) and w.info[key][0] >= big and w.info[key][2] > 0],
              lambda v: v >= 10)
    check("replay peak RSS (MiB; the < 200 MiB target is for a 100 M-event trace "
          "with a small live set, not run here)",
          [(w.name, w.info["replay"][3] / 1024) for w in ws if w.info.get("replay")],
          lambda v: v < 200)
    return ["## Targets of issue 6 against this run\n", "| target | figures | verdict |",
            "|---|---|---|"] + rows + [""]


def report(ws, modes, args, load_before, load_after, started, elapsed, ht_build):
    L = []
    L.append("# heaptrail benchmark suite: latest results\n")
    L.append("Generated by `%s` on %s UTC (%.0f s). Load (`uptime`) before: `%s`; after: `%s`. "
             "%d CPUs. Median of %d runs per cell; the tools run interleaved within each "
             "repetition. heaptrail build: %s.\n"
             % (" ".join(["bench/run"] + sys.argv[1:]), started, elapsed, load_before,
                load_after, os.cpu_count(), args.reps, ht_build))
    L.append("## Wall time (median s) and ratio to native\n")
    L.append("ht-alloc/ht-store = `heaptrail run` (record + ingest) of the heaptrail-cc "
             "build without/with store and refcount instrumentation; heaptrack records "
             "only; memcheck with --leak-check=full; asan = clang -fsanitize=address "
             "with LeakSanitizer (its own build, so its ratio includes clang vs gcc).\n")
    L.append("| workload | " + " | ".join(modes) + " |")
    L.append("|---" * (len(modes) + 1) + "|")
    for w in ws:
        nat = statistics.median(w.times["native"]) if w.times.get("native") else None
        cells = []
        for m in modes:
            if not w.times[m]:
                cells.append("-")
                continue
            v = statistics.median(w.times[m])
            c = fmt_s(v) if m == "native" or not nat else "%s (x%.2f)" % (fmt_s(v), v / nat)
            if w.status[m]:
                c += " [%s]" % w.status[m]
            cells.append(c)
        L.append("| %s | %s |" % (w.name, " | ".join(cells)))
    L.append("")
    L.append("## Trace, ingest and replay\n")
    L.append("B/ev = trace.db file bytes per recorded event (chunk bytes per event in "
             "brackets). record s / ingest s = the ht-store build run alone with "
             "HEAPTRAIL_TRACE (recording into the spill, no ingest), then `heaptrail ingest` "
             "of that spill (median of the aux repetitions); ingest ev/s from the latter "
             "(includes opening the trace and symbolising the sites). Replay = "
             "`heaptrail replay` (one run, wall / CPU = user + sys seconds, peak RSS from "
             "`/usr/bin/time -v`) of the ht-alloc run's trace (alloc/free) and of the leak "
             "run's trace (ht-store build, HEAPTRAIL_SNAPSHOT=1).\n")
    L.append("| workload | events ht-alloc | B/ev | events ht-store | B/ev | record s | "
             "ingest s | ingest ev/s | replay alloc/free: s wall / CPU, ev/s CPU | "
             "replay leak run: events | s wall / CPU | ev/s CPU | peak RSS |")
    L.append("|---" * 13 + "|")
    for w in ws:
        row = [w.name]
        for m in ("ht-alloc", "ht-store"):
            t = w.info.get(m + ".trace")
            if t and t[0]:
                row += [format(t[0], ","), "%.2f [%.2f]" % (t[2] / t[0], t[1] / t[0])]
            else:
                row += ["-", "-"]
        ig = w.info.get("ingest")
        if ig and ig[1] > 0:
            row += [fmt_s(ig[2]), fmt_s(ig[1]), fmt_rate(ig[0] / ig[1])]
        else:
            row += ["-", "-", "-"]
        ra = w.info.get("replay_alloc")
        # (CPU under /usr/bin/time's 10 ms resolution: no rate)
        if ra:
            row += ["%s / %s, %s" % (fmt_s(ra[1]), fmt_s(ra[2]),
                                     fmt_rate(ra[0] / ra[2]) if ra[2] > 0 else "-")]
        else:
            row += ["-"]
        rp = w.info.get("replay")
        if rp:
            row += [format(rp[0], ","), "%s / %s" % (fmt_s(rp[1]), fmt_s(rp[2])),
                    fmt_rate(rp[0] / rp[2]) if rp[2] > 0 else "-",
                    "%.1f MiB" % (rp[3] / 1024)]
        else:
            row += ["-", "-", "-", "-"]
        L.append("| " + " | ".join(row) + " |")
    L.append("")
    L.append("## Leak totals: definitely lost blocks / bytes; indirectly lost blocks / bytes\n")
    L.append("heaptrail: `leak_summary` (definite, indirect, and cycle: members of "
             "unreachable cycles) after `heaptrail replay` of the leak run; memcheck: LEAK "
             "SUMMARY of the last timed memcheck run; LeakSanitizer: sum of its "
             "Direct/Indirect leak records of the last timed asan run. agree: `yes` if the "
             "classes match, `totals only` if only the lost totals (all classes) match. "
             "`leaky` expects definite 1100 / 54,400 B, indirect 900 / 28,800 B and 50 lost "
             "2-block rings (100 / 3,200 B).\n")
    L.append("| workload | heaptrail | memcheck | LeakSanitizer | agree | leak run wall s |")
    L.append("|---|---|---|---|---|---|")
    for w in ws:
        h = w.info.get("leak.heaptrail")
        mc = w.info.get("leak.memcheck")
        ls = w.info.get("leak.lsan")
        tot = [lost_total(x) for x in (h, mc, ls)]
        same = h is not None and h[:2] == mc == ls and h[2] == (0, 0)
        agree = ("yes" if same else "totals only") \
            if h is not None and tot[0] == tot[1] == tot[2] else "NO"
        if mc is None or ls is None:
            agree = "-"
        sr = w.info.get("snap_run")
        L.append("| %s | %s | %s | %s | %s | %s |" % (
            w.name, fmt_leak(h), fmt_leak(mc), fmt_leak(ls), agree,
            fmt_s(sr) if sr else "-"))
    L.append("")
    L += targets(ws)
    L.append("## Workloads\n")
    for w in ws:
        shown = [os.path.basename(a) if os.path.isabs(a) else a for a in w.args]
        if len(shown) > 6:
            shown = shown[:4] + ["... (%d arguments)" % len(shown)]
        L.append("- **%s** (`%s %s`%s): %s" % (
            w.name, os.path.basename(w.bins["native"]), " ".join(shown),
            " < " + os.path.basename(w.stdin) if w.stdin else "", w.desc))
    L.append("")
    L.append("## Raw samples (s)\n")
    for w in ws:
        L.append("- %s: " % w.name + "; ".join(
            "%s %s" % (m, " ".join("%.3f" % x for x in w.times[m])) for m in modes))
    L.append("")
    return "\n".join(L)


def uptime():
    return subprocess.run(["uptime"], stdout=subprocess.PIPE, text=True).stdout.strip()


def main():
    ap = argparse.ArgumentParser(prog="bench/run", description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true",
                    help="smoke test: 1 repetition, small inputs")
    ap.add_argument("--reps", type=int, default=None, help="repetitions (default 5; 1 with --quick)")
    ap.add_argument("--aux-reps", type=int, default=None,
                    help="repetitions of the ingest measurement (default 3; 1 with --quick)")
    ap.add_argument("--only", default="", help="comma-separated workload names")
    ap.add_argument("--modes", default=",".join(MODES), help="comma-separated tools to run")
    ap.add_argument("--cache", default="/var/cache/heaptrail-bench",
                    help="sources, builds, inputs and scratch traces")
    ap.add_argument("--out", default=os.path.join(SRC, "bench", "results-latest.md"))
    ap.add_argument("--append-results", action="store_true",
                    help="also append the tables to bench/RESULTS.md")
    args = ap.parse_args()
    if args.reps is None:
        args.reps = 1 if args.quick else 5
    if args.aux_reps is None:
        args.aux_reps = 1 if args.quick else 3
    modes = [m for m in args.modes.split(",") if m]
    for m in modes:
        if m not in MODES:
            ap.error("unknown mode %s (known: %s)" % (m, ",".join(MODES)))
    if "native" not in modes:
        modes.insert(0, "native")
    only = set(x for x in args.only.split(",") if x)

    started = datetime.datetime.utcnow().strftime("%Y-%m-%d %H:%M")
    t_start = time.time()
    load_before = uptime()
    os.makedirs(args.cache, exist_ok=True)
    ht_build = build_heaptrail(args.cache)
    ht = os.path.join(ht_build, "bin", "heaptrail")
    variants = [Variant(n, ht_build) for n in BUILD_VARIANTS]

    ws = []
    want = lambda n: not only or n in only
    micro_bins = None
    for name, nfull, nquick, desc in MICRO:
        if not want(name):
            continue
        if micro_bins is None:
            log("building bench_micro (4 builds, unless up to date)")
            micro_bins = {v.name: build_micro(args.cache, v) for v in variants}
        ws.append(Workload(name, desc, micro_bins,
                           [name, str(nquick if args.quick else nfull)]))
    srcs = {}
    if want("libyaml") or want("bzip2") or want("zlib"):
        for pkg in ("libyaml", "bzip2", "zlib"):
            srcs[pkg] = debian_source(args.cache, pkg)
        yml, corpus, files = make_inputs(args.cache, args.quick, list(srcs.values()))
    if want("libyaml"):
        log("building libyaml run-loader (4 builds, unless up to date)")
        bins = {v.name: build_libyaml(args.cache, v, srcs["libyaml"]) for v in variants}
        ws.append(Workload("libyaml", "Debian libyaml 0.2.5 tests/run-loader: loads a "
                           "generated YAML file (%d KiB) into a document tree"
                           % (os.path.getsize(yml) >> 10), bins, [yml], kind="real"))
    if want("bzip2"):
        log("building bzip2 (4 builds, unless up to date)")
        bins = {v.name: build_bzip2(args.cache, v, srcs["bzip2"]) for v in variants}
        ws.append(Workload("bzip2", "Debian bzip2 1.0.8: `bzip2 -9 -c` of %d KiB of C "
                           "source text" % (os.path.getsize(corpus) >> 10), bins,
                           ["-9", "-c", corpus], kind="real"))
    if want("zlib"):
        log("building zlib minigzip (4 builds, unless up to date)")
        bins = {v.name: build_zlib(args.cache, v, srcs["zlib"]) for v in variants}
        # minigzip FILE... replaces each FILE by FILE.gz (its -c takes one
        # file only), so every run gets a fresh copy of the files (untimed)
        work = os.path.join(args.cache, "scratch", "zlib-work")
        names = ["%04d.c" % i for i in range(len(files))]

        def fresh_copy(files=files, work=work, names=names):
            shutil.rmtree(work, ignore_errors=True)
            os.makedirs(work)
            for f, n in zip(files, names):
                shutil.copyfile(f, os.path.join(work, n))
        w = Workload("zlib", "Debian zlib 1.2.13: `minigzip -9` of %d C source files "
                     "(%d KiB, the packages' sources; per file a gzFile, deflate state "
                     "and buffers; each file replaced by its .gz)"
                     % (len(files), sum(os.path.getsize(f) for f in files) >> 10),
                     # relative to the scratch dir (the cwd of every run): heaptrack
                     # 1.4 aborts on a command line longer than its 4 KiB line buffer
                     bins, ["-9"] + [os.path.join("zlib-work", n) for n in names],
                     kind="real")
        w.prepare = fresh_copy
        ws.append(w)
    if not ws:
        ap.error("no workload selected")

    scratch = os.path.join(args.cache, "scratch")
    os.makedirs(scratch, exist_ok=True)
    for w in ws:
        log("workload %s" % w.name)
        run_timings(w, ht, scratch, args.reps, modes)
        aux_measurements(w, ht, scratch, args.aux_reps)
    load_after = uptime()
    text = report(ws, modes, args, load_before, load_after, started,
                  time.time() - t_start, ht_build)
    with open(args.out, "w") as fh:
        fh.write(text)
    log("wrote " + args.out)
    if args.append_results:
        with open(os.path.join(SRC, "bench", "RESULTS.md"), "a") as fh:
            fh.write("\n## Benchmark suite run of %s UTC (bench/run)\n\n" % started)
            # one level deeper: the run is a section of RESULTS.md
            fh.write(text.split("\n", 2)[2].replace("\n## ", "\n### "))
    print(text)


if __name__ == "__main__":
    main()
