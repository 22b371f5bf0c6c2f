#!/usr/bin/python3
"""Random QEMU histories against qemu-img check: each seed creates an
image with the real qemu-img (random cluster size 512 B .. 2 MiB,
refcount_bits 1 .. 64, compat 0.10 or 1.1, extended_l2, lazy_refcounts),
then runs a random sequence of qemu-io writes, zero writes (with and
without -u), discards and compressed writes, internal snapshots created,
applied and deleted, persistent bitmaps added, merged, disabled and
removed, resizes (grow and shrink), qemu-img amend (compat, refcount_bits,
lazy_refcounts) and qemu-img convert -c, and asserts

  qemu-img check is clean (exit 0), and
  qcow2dump -c is too: exit 0, no error-level problem, and its eight
  totals equal qemu-img check --output=json's (a key QEMU leaves out is
  0), its text ending with qemu-img check's human block

(tests/integration/refcases.py's compare(), the same assertions as its
fixed cases).

  check-sweep.py --seeds N [--start S] [--qcow2dump PATH] [--jobs J]
                 [--keep DIR] [--bad-runs FILE] [--qemu-only] [-v]

Seeds S .. S+N-1 (S default 1).  One line per seed, "PASS seed N: ..." or
"FAIL seed N: ...".  A failed seed's image is kept (in DIR, default a new
directory under $TMPDIR) with replay.sh, the QEMU commands that made it,
in order; rerun one seed with --start N --seeds 1.  A command QEMU
refuses (a snapshot with refcount_bits=1, an amend to 0.10 of an image
with bitmaps...) is logged in replay.sh as refused and the seed goes on:
the same seed makes the same refusals.  A step that runs past 10 s is
killed and counts as refused (QEMU 7.2's qemu-img amend -o
refcount_bits=16 from 1, 2 or 4 bits never ends on some images).  After
a refused step QEMU's verdict is recorded, not required to be clean (a
snapshot refused with refcount_bits=1 leaves leaks); the totals, exit
status and problems are compared all the same.  --qemu-only asserts only that
qemu-img check is clean.  Exit 1 when a seed failed.
"""
import os
import random
import shlex
import shutil
import subprocess
import sys
import tempfile
from concurrent.futures import ProcessPoolExecutor

TOP = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(TOP, "tests", "integration"))
sys.dont_write_bytecode = True      # no __pycache__ in the source tree
import refcases  # noqa: E402

K = 1 << 10
M = 1 << 20
IMAGE = "i.qcow2"
STEP_TIMEOUT = 10


class Steps:
    """runs a seed's QEMU commands, each logged to replay.sh"""

    def __init__(self, d):
        self.d = d
        self.log = open(os.path.join(d, "replay.sh"), "w")
        self.log.write("#!/bin/sh\n# the QEMU commands of this seed, in this directory\nset -x\n")
        self.refused = 0
        self.timed_out = 0
        self.done = 0

    def run(self, cmd):
        self.log.write(" ".join(shlex.quote(c) for c in cmd) + "\n")
        self.log.flush()
        try:
            r = subprocess.run(cmd, cwd=self.d, capture_output=True, timeout=STEP_TIMEOUT)
        except subprocess.TimeoutExpired:
            # QEMU 7.2's qemu-img amend -o refcount_bits=16 from 1, 2 or 4
            # bits never ends on some images: killed, the image as it left it
            self.refused += 1
            self.timed_out += 1
            self.log.write("# killed after %d s: QEMU did not finish\n" % STEP_TIMEOUT)
            return False
        out = r.stdout.decode("utf-8", "replace")
        if r.returncode != 0 or (cmd[0] == "qemu-io" and
                                 any(w in out for w in ("failed", "error", "Error"))):
            self.refused += 1
            msg = (r.stderr.decode("utf-8", "replace").strip() or out.strip())
            self.log.write("# refused (exit %d): %s\n" % (r.returncode, msg.replace("\n", " | ")[:300]))
            return False
        self.done += 1
        return True

    def close(self):
        self.log.close()


def info(d):
    import json
    r = subprocess.run(["qemu-img", "info", "-f", "qcow2", "--output=json", IMAGE],
                       cwd=d, capture_output=True)
    return json.loads(r.stdout)


def rand_range(rng, size, cluster):
    unit = rng.choice([cluster, cluster, 512, 4096, 1])
    unit = min(unit, size)
    off = rng.randrange(max(1, size // unit)) * unit
    n = rng.randint(1, max(1, rng.choice([1, 2, 4, 16, 64]) * max(cluster, 4096) // unit)) * unit
    return off, max(1, min(n, size - off))


class Seed:
    def __init__(self, seed, d):
        self.rng = random.Random(seed)
        self.steps = Steps(d)
        self.d = d
        self.desc = []
        self.snapshots = []
        self.bitmaps = []
        self.pat = 1

    def create(self):
        rng = self.rng
        cbits = rng.choice([9, 10, 12, 14, 16, 16, 16, 17, 19, 21])
        self.cluster = 1 << cbits
        compat = "0.10" if rng.random() < 0.2 else "1.1"
        opts = {"cluster_size": self.cluster, "compat": compat}
        if compat == "1.1":
            opts["refcount_bits"] = rng.choice([1, 2, 4, 8, 16, 16, 16, 32, 64])
            if cbits >= 14 and rng.random() < 0.3:
                opts["extended_l2"] = "on"
            if rng.random() < 0.2:
                opts["lazy_refcounts"] = "on"
            if rng.random() < 0.3:
                opts["compression_type"] = rng.choice(["zlib", "zstd"])
        size = rng.choice([rng.randint(1, 16 * M), rng.randint(1, 64) * M,
                           rng.randint(1, 4096) * 512])
        if cbits <= 10:     # small clusters, big tables: kept quick
            size = min(size, 8 * M)
        o = ",".join("%s=%s" % kv for kv in opts.items())
        if not self.steps.run(["qemu-img", "create", "-q", "-f", "qcow2", "-o", o,
                               IMAGE, str(size)]):
            raise refcases.BuildError("qemu-img create refused -o %s %d" % (o, size))
        self.desc.append("create %s %d" % (o, size))

    def size(self):
        return info(self.d)["virtual-size"]

    def io_batch(self):
        rng = self.rng
        size = self.size()
        if size == 0:
            return
        cmds = []
        for _ in range(rng.randint(1, 6)):
            op = rng.random()
            off, n = rand_range(rng, size, self.cluster)
            if op < 0.45:
                cmds.append("write -P %d %d %d" % (self.pat, off, n))
                self.pat = self.pat % 255 + 1
            elif op < 0.6:
                cmds.append("write -z %s%d %d" % ("-u " if rng.random() < 0.5 else "", off, n))
            elif op < 0.75:
                cmds.append("discard %d %d" % (off, n))
            else:
                # a compressed write: whole clusters (the last may end the disk)
                nclu = (size + self.cluster - 1) // self.cluster
                c0 = rng.randrange(nclu)
                c1 = min(nclu, c0 + rng.randint(1, 3))
                cmds.append("write -c -P %d %d %d" % (
                    self.pat, c0 * self.cluster, min(c1 * self.cluster, size) - c0 * self.cluster))
                self.pat = self.pat % 255 + 1
        cmd = ["qemu-io", "-f", "qcow2", IMAGE]
        for c in cmds:
            cmd += ["-c", c]
        self.steps.run(cmd)

    def snapshot(self):
        rng = self.rng
        r = rng.random()
        if r < 0.55 or not self.snapshots:
            name = "s%d" % rng.randint(0, 999)
            if self.steps.run(["qemu-img", "snapshot", "-c", name, IMAGE]):
                self.snapshots.append(name)
        elif r < 0.8:
            self.steps.run(["qemu-img", "snapshot", "-a", rng.choice(self.snapshots), IMAGE])
        else:
            name = rng.choice(self.snapshots)
            if self.steps.run(["qemu-img", "snapshot", "-d", name, IMAGE]):
                self.snapshots.remove(name)

    def bitmap(self):
        rng = self.rng
        r = rng.random()
        base = ["qemu-img", "bitmap", "-f", "qcow2"]
        if r < 0.5 or not self.bitmaps:
            name = "b%d" % rng.randint(0, 999)
            args = ["--add", "-g", str(1 << rng.randint(9, 22))]
            if rng.random() < 0.2:
                args.append("--disable")
            if self.steps.run(base + args + [IMAGE, name]):
                self.bitmaps.append(name)
        elif r < 0.7 and len(self.bitmaps) > 1:
            a, b = rng.sample(self.bitmaps, 2)
            self.steps.run(base + ["--merge", a, IMAGE, b])
        elif r < 0.85:
            self.steps.run(base + [rng.choice(["--disable", "--enable", "--clear"]),
                                   IMAGE, rng.choice(self.bitmaps)])
        else:
            name = rng.choice(self.bitmaps)
            if self.steps.run(base + ["--remove", IMAGE, name]):
                self.bitmaps.remove(name)

    def resize(self):
        rng = self.rng
        size = self.size()
        if rng.random() < 0.6:
            new = (size + rng.randint(1, 8 * M) + 511) // 512 * 512
            self.steps.run(["qemu-img", "resize", "-f", "qcow2", IMAGE, str(new)])
        else:
            new = rng.randint(1, max(1, size // 512)) * 512
            self.steps.run(["qemu-img", "resize", "-f", "qcow2", "--shrink", IMAGE, str(new)])

    def amend(self):
        rng = self.rng
        o = rng.choice(["compat=0.10", "compat=1.1", "refcount_bits=%d" % rng.choice([1, 2, 8, 16, 64]),
                        "lazy_refcounts=%s" % rng.choice(["on", "off"])])
        self.steps.run(["qemu-img", "amend", "-f", "qcow2", "-o", o, IMAGE])

    def convert(self):
        rng = self.rng
        args = ["qemu-img", "convert", "-f", "qcow2", "-O", "qcow2"]
        if rng.random() < 0.8:
            args.append("-c")
        if self.bitmaps and rng.random() < 0.5:
            args.append("--bitmaps")
            keep = True
        else:
            keep = False
        cbits = rng.choice([9, 12, 16, 16, 18, 21])
        if cbits == 9 and self.size() > 8 * M:
            cbits = 12
        o = "cluster_size=%d" % (1 << cbits)
        if rng.random() < 0.3:
            o += ",refcount_bits=%d" % rng.choice([1, 4, 16, 64])
        if cbits >= 14 and rng.random() < 0.3:
            o += ",extended_l2=on"
        if self.steps.run(args + ["-o", o, IMAGE, "new.qcow2"]):
            self.steps.run(["mv", "new.qcow2", IMAGE])
            self.cluster = 1 << cbits
            self.snapshots = []
            if not keep:
                self.bitmaps = []
            self.desc.append("convert %s" % o)
        else:
            self.steps.run(["rm", "-f", "new.qcow2"])

    def history(self):
        self.create()
        rng = self.rng
        ops = [(0.45, self.io_batch), (0.6, self.snapshot), (0.75, self.bitmap),
               (0.85, self.resize), (0.93, self.amend), (1.0, self.convert)]
        for _ in range(rng.randint(3, 14)):
            r = rng.random()
            for p, fn in ops:
                if r < p:
                    fn()
                    break
        # the last step writes, so that the image ends with data
        self.io_batch()
        self.steps.close()


def one_seed(args):
    seed, qcmd, root, bad_runs, qemu_only = args
    d = os.path.join(root, "seed-%d" % seed)
    shutil.rmtree(d, ignore_errors=True)
    os.makedirs(d)
    s = Seed(seed, d)
    try:
        s.history()
        desc = "; ".join(s.desc) + " (%d steps, %d refused%s)" % (
            s.steps.done, s.steps.refused,
            ", %d killed" % s.steps.timed_out if s.steps.timed_out else "")
        if qemu_only:
            st, j, _, err = refcases.qemu_check(d, IMAGE)
            want = refcases.qemu_totals(j)
            diffs = []
        else:
            diffs, st, want, got = refcases.compare(qcmd, d, IMAGE, bad_runs)
        cls = refcases.CLASSES.get(st, ("exit %d" % st,))[0]
        # a step QEMU refused half way may leave leaks (a snapshot with
        # refcount_bits=1 does): then QEMU's class is only recorded
        if st != 0 and not s.steps.refused:
            diffs.insert(0, "qemu-img check says %s, not clean" % cls)
        detail = "qemu %s {%s}" % (cls, refcases.short_totals(want))
    except refcases.BuildError as e:
        desc, diffs, detail = "; ".join(s.desc), ["QEMU did not build it: %s" % e], ""
    except Exception as e:  # a bug of the sweep itself: say so, go on
        desc, diffs, detail = "; ".join(s.desc), ["the sweep failed: %r" % e], ""
    if diffs:
        return seed, False, "FAIL seed %d: %s; %s [%s]; kept in %s (replay.sh; rerun: " \
            "scripts/check-sweep.py --start %d --seeds 1)" % (
                seed, "; ".join(diffs), detail, desc, d, seed)
    shutil.rmtree(d, ignore_errors=True)
    return seed, True, "PASS seed %d: %s [%s]" % (seed, detail, desc)


def main():
    import argparse
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--seeds", type=int, required=True)
    ap.add_argument("--start", type=int, default=1)
    ap.add_argument("--qcow2dump", default=os.environ.get(
        "QCOW2DUMP", os.path.join(TOP, "build", "qcow2dump")))
    ap.add_argument("--jobs", type=int, default=os.cpu_count() or 1)
    ap.add_argument("--keep", default=None)
    ap.add_argument("--bad-runs", default=None)
    ap.add_argument("--qemu-only", action="store_true")
    ap.add_argument("-v", "--verbose", action="store_true")
    a = ap.parse_args()
    root = a.keep or tempfile.mkdtemp(prefix="check-sweep.", dir=os.environ.get("TMPDIR"))
    os.makedirs(root, exist_ok=True)
    qcmd = a.qcow2dump.split()
    jobs = [(s, qcmd, root, a.bad_runs, a.qemu_only) for s in range(a.start, a.start + a.seeds)]
    bad = []
    with ProcessPoolExecutor(max_workers=max(1, a.jobs)) as ex:
        for seed, ok, line in ex.map(one_seed, jobs):
            if not ok:
                bad.append(seed)
            print(line)
            sys.stdout.flush()
    print("# check-sweep: seeds %d..%d, %d failed%s" % (
        a.start, a.start + a.seeds - 1, len(bad),
        (": " + " ".join(map(str, bad))) if bad else ""))
    if not bad and not a.keep:
        shutil.rmtree(root, ignore_errors=True)
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
