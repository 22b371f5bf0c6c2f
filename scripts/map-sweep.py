#!/usr/bin/python3
"""Random QEMU images against qemu-img map: each seed makes a backing
chain of 1 to 3 layers (a raw file at the bottom now and then) with the
real qemu-img and qemu-io -- random cluster sizes (512 B .. 2 MiB),
extended_l2, refcount widths, compression types, virtual sizes (aligned
or not), preallocation -- then random writes, zero writes (with and
without -u), discards, compressed writes, internal snapshots, resizes
and persistent bitmaps, and compares

  qcow2dump --map -f json          with qemu-img map --output=json
  qcow2dump --map (text)           with qemu-img map, where it prints text
  ... --start-offset/--max-length  with the same window of qemu-img map
  qcow2dump -x --map -f json       with qemu-nbd -B's dirty ranges cut by
                                   the map (when the seed added bitmaps;
                                   with --backing-chain when every layer
                                   holds the bitmap)

as tests/integration/mapcases.py does for its fixed cases.

  map-sweep.py [--qcow2dump CMD] [--seed N] [--count K] [--jobs J]
               [--keep DIR] [--tap] [--bad-runs FILE] [--qemu-only] [-v]

Seeds N .. N+K-1 (default 1, 200).  A seed that mismatches is printed
with its differences, and its images are kept (in DIR, default a new
directory under $TMPDIR) with replay.sh, the QEMU commands that made
them; rerun one seed with --seed N --count 1.  --tap prints "ok -" /
"not ok -" per seed, for tests/integration/map.sh.  --qemu-only checks
only the QEMU side (that the L2 tables' compressed clusters are qemu-img
map's data ranges without an offset, that the bitmaps record).  Exit 1
when a seed mismatched.
"""
import io
import json
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
import mapcases  # noqa: E402

K = 1 << 10
M = 1 << 20


class Steps:
    """runs the QEMU commands of a seed, logging them to replay.sh; a
    command QEMU refuses is logged as refused and the seed goes on (the
    same seed always makes the same refusals)"""

    def __init__(self, d):
        self.d = d
        self.log = open(os.path.join(d, "replay.sh"), "w")
        self.log.write("#!/bin/sh\n# the QEMU commands of this seed, run in this directory\nset -x\n")
        self.refused = 0

    def run(self, cmd, cwd=None):
        cwd = cwd or self.d
        rel = os.path.relpath(cwd, self.d)
        line = " ".join(shlex.quote(c) for c in cmd)
        self.log.write((line if rel == "." else "(cd %s && %s)" % (shlex.quote(rel), line)) + "\n")
        r = subprocess.run(cmd, cwd=cwd, capture_output=True)
        out = r.stdout.decode("utf-8", "replace")
        if r.returncode != 0 or (cmd[0] == "qemu-io" and
                                 any(w in out for w in ("failed", "error", "Error"))):
            self.refused += 1
            err = r.stderr.decode("utf-8", "replace").strip()
            msg = (err or out.strip()).replace("\n", " | ")
            self.log.write("# refused (exit %d): %s\n" % (r.returncode, msg[:300]))
            return False
        return True

    def close(self):
        self.log.close()


def rand_size(rng):
    kind = rng.random()
    if kind < 0.15:
        return rng.randint(1, 300 * K)                 # tiny, unaligned
    if kind < 0.5:
        return rng.randint(1, 8 * M)                   # unaligned
    if kind < 0.9:
        return rng.randint(1, 128) * 64 * K            # cluster-ish aligned
    return rng.choice([16, 32, 64]) * M


def rand_range(rng, size, cluster, maxlen=None):
    """a random (offset, length) inside a disk of SIZE bytes"""
    maxlen = maxlen or max(1, min(size, rng.choice([cluster, 4 * cluster, 256 * K, 2 * M])))
    a = rng.random()
    unit = cluster if a < 0.4 else 512 if a < 0.75 else 1
    slots = max(1, size // unit)
    off = rng.randrange(slots) * unit
    n = max(1, rng.randint(1, max(1, maxlen // unit))) * unit
    if off >= size:
        off = max(0, size - 1)
    n = min(n, size - off)
    return off, max(1, n)


def virtual_size(steps, image, fmt="qcow2"):
    r = subprocess.run(["qemu-img", "info", "-f", fmt, "--output=json", image],
                       cwd=steps.d, capture_output=True)
    return json.loads(r.stdout)["virtual-size"]


def qcow2_ops(rng, steps, image, cluster, nops, top, bitmaps, allow_resize):
    """NOPS random operations on IMAGE; in the TOP layer, bitmaps too"""
    batch = []
    size = virtual_size(steps, image)
    pat = rng.randint(1, 255)

    def flush():
        if batch:
            cmd = ["qemu-io", "-f", "qcow2", image]
            for c in batch:
                cmd += ["-c", c]
            steps.run(cmd)
            del batch[:]

    for _ in range(nops):
        op = rng.random()
        if size == 0:
            break
        if op < 0.35:
            off, n = rand_range(rng, size, cluster)
            batch.append("write -P %d %d %d" % (pat, off, n))
            pat = pat % 255 + 1
        elif op < 0.5:
            off, n = rand_range(rng, size, cluster)
            batch.append("write -z %s%d %d" % ("-u " if rng.random() < 0.5 else "", off, n))
        elif op < 0.62:
            off, n = rand_range(rng, size, cluster)
            batch.append("discard %d %d" % (off, n))
        elif op < 0.74:
            nclu = (size + cluster - 1) // cluster
            c0 = rng.randrange(nclu)
            c1 = min(nclu, c0 + rng.randint(1, 4))
            n = min(c1 * cluster, size) - c0 * cluster
            batch.append("write -c -P %d %d %d" % (pat, c0 * cluster, n))
            pat = pat % 255 + 1
        elif op < 0.8:
            flush()
            steps.run(["qemu-img", "snapshot", "-c", "s%d" % rng.randint(0, 99), image])
        elif op < 0.86 and allow_resize:
            flush()
            if rng.random() < 0.6:
                new = (size + rng.randint(1, 4 * M) + 511) // 512 * 512
                steps.run(["qemu-img", "resize", "-f", "qcow2", image, str(new)])
            else:
                new = rng.randint(1, max(1, size // 512)) * 512
                steps.run(["qemu-img", "resize", "-f", "qcow2", "--shrink", image, str(new)])
            size = virtual_size(steps, image)
        elif op < 0.95 and top:
            flush()
            name = "b%d" % len(bitmaps)
            g = 1 << rng.randint(9, 21)
            args = ["qemu-img", "bitmap", "--add", "-g", str(g), "-f", "qcow2"]
            if rng.random() < 0.15:
                args.append("--disable")
            if steps.run(args + [image, name]):
                bitmaps.append(name)
        else:
            off, n = rand_range(rng, size, cluster)
            batch.append("write -P %d %d %d" % (pat, off, n))
    flush()


def make_seed(seed, d):
    """builds seed SEED's chain in D; returns the case (mapcases' shape)
    and a one-line description"""
    rng = random.Random(seed)
    steps = Steps(d)
    nlayers = rng.choice([1, 1, 1, 2, 2, 3])
    raw_bottom = nlayers > 1 and rng.random() < 0.3
    chain_bitmap = nlayers > 1 and not raw_bottom and rng.random() < 0.4
    layers = []      # bottom first: (name, fmt)
    desc = []
    bitmaps = []
    for i in range(nlayers):
        top = i == nlayers - 1
        if i == 0 and raw_bottom:
            name, size = "l0.raw", rand_size(rng)
            with open(os.path.join(d, name), "wb") as f:
                f.truncate(size)
            steps.log.write("truncate -s %d %s\n" % (size, name))
            cmd = ["qemu-io", "-f", "raw", name]
            for _ in range(rng.randint(0, 5)):
                off, n = rand_range(rng, size, 4096)
                cmd += ["-c", "write -P %d %d %d" % (rng.randint(1, 255), off, n)]
            steps.run(cmd)
            layers.append((name, "raw"))
            desc.append("raw %d" % size)
            continue
        cbits = rng.choice([9, 12, 14, 15, 16, 16, 16, 17, 19, 21])
        cluster = 1 << cbits
        ext = cbits >= 14 and rng.random() < 0.35
        rbits = rng.choice([1, 2, 4, 8, 16, 16, 16, 32, 64])
        ctype = rng.choice(["zlib", "zstd"])
        size = rand_size(rng)
        prealloc = "off"
        # QEMU preallocates over a backing file only with extended_l2
        if size <= 8 * M and rng.random() < 0.15 and (ext or not layers):
            prealloc = rng.choice(["metadata", "falloc", "full"])
        opts = "cluster_size=%d,extended_l2=%s,refcount_bits=%d,compression_type=%s,preallocation=%s" % (
            cluster, "on" if ext else "off", rbits, ctype, prealloc)
        name = "l%d.qcow2" % i
        cmd = ["qemu-img", "create", "-q", "-f", "qcow2", "-o", opts]
        if layers:
            cmd += ["-b", layers[-1][0], "-F", layers[-1][1]]
            if rng.random() < 0.25 or chain_bitmap:
                size = None       # the backing file's size
        cmd += [name] + ([str(size)] if size is not None else [])
        if not steps.run(cmd):
            raise mapcases.BuildError("seed %d: qemu-img create refused %s" % (seed, opts))
        layers.append((name, "qcow2"))
        desc.append("%s c=%d%s rb=%d %s %s%s" % (name, cluster, " ext" if ext else "", rbits, ctype,
                                                 virtual_size(steps, name),
                                                 "" if prealloc == "off" else " pre=" + prealloc))
        if chain_bitmap:
            steps.run(["qemu-img", "bitmap", "--add", "-f", "qcow2", name, "ck"])
        # QEMU merges only bitmaps of one size: with ck in every layer,
        # every layer keeps the size of the bottom one
        qcow2_ops(rng, steps, name, cluster, rng.randint(0, 14), top, bitmaps,
                  allow_resize=not chain_bitmap)
    steps.close()
    top_name = layers[-1][0]
    # read from the seed's directory, or from its parent (the file names
    # of qemu-img's text then carry the directory)
    lowers = [n for n, _ in reversed(layers[:-1])]
    if rng.random() < 0.3:
        sub = os.path.basename(d)
        cwd, image = os.path.dirname(d), os.path.join(sub, top_name)
        lay = [(os.path.join(sub, n), f) for n, f in reversed(layers)]
        lowers = [os.path.join(sub, n) for n in lowers]
    else:
        cwd, image, lay = d, top_name, list(reversed(layers))
    size = virtual_size(steps, os.path.join(d, top_name))
    windows = []
    for _ in range(2):
        w = rng.random()
        if w < 0.2:
            windows.append((size + rng.randint(0, 3 * M), None))
        elif w < 0.5:
            windows.append((rng.randint(0, max(0, size - 1)), None))
        else:
            windows.append((rng.randint(0, max(0, size - 1)), rng.randint(0, 2 * M)))
    c = mapcases.mk("seed %d" % seed, cwd, image, layers=lay, windows=windows,
                    bitmaps=(["ck"] if chain_bitmap else []) + bitmaps,
                    chain_bitmaps=lowers if chain_bitmap else None, chain_names=["ck"],
                    text_optional=True)
    return c, "; ".join(desc) + (" bitmaps %s" % c["bitmaps"] if c["bitmaps"] else "") + (
        " (%d QEMU steps refused)" % steps.refused if steps.refused else "")


def one_seed(args):
    seed, qcmd, root, bad_runs, qemu_only = args
    d = os.path.join(root, "seed-%d" % seed)
    os.makedirs(d)
    out = io.StringIO()
    res = mapcases.Results(bad_runs, out)
    desc = ""
    try:
        c, desc = make_seed(seed, d)
        mapcases.check_qemu_side(res, c)
        if not qemu_only:
            mapcases.run_case(res, qcmd, c)
    except mapcases.BuildError as e:
        res.bad("seed %d: QEMU built its images" % seed, e)
    except Exception as e:  # a bug of the sweep itself: say so, keep going
        res.bad("seed %d: the sweep failed: %r" % (seed, e))
    kept = None
    if res.n_bad:
        kept = d
    else:
        shutil.rmtree(d, ignore_errors=True)
    return seed, res.n_ok, res.n_bad, desc, out.getvalue(), kept


def main():
    import argparse
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--qcow2dump", default=os.environ.get(
        "QCOW2DUMP", os.path.join(TOP, "build", "qcow2dump")))
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--count", type=int, default=200)
    ap.add_argument("--jobs", type=int, default=os.cpu_count() or 1)
    ap.add_argument("--keep", default=None)
    ap.add_argument("--tap", action="store_true")
    ap.add_argument("--bad-runs", default=None)
    ap.add_argument("--qemu-only", action="store_true")
    ap.add_argument("-v", "--verbose", action="store_true")
    a = ap.parse_args()
    root = a.keep or tempfile.mkdtemp(prefix="map-sweep.", dir=os.environ.get("TMPDIR"))
    os.makedirs(root, exist_ok=True)
    qcmd = a.qcow2dump.split()
    jobs = [(s, qcmd, root, a.bad_runs, a.qemu_only) for s in range(a.seed, a.seed + a.count)]
    bad_seeds = []
    checks = 0
    with ProcessPoolExecutor(max_workers=max(1, a.jobs)) as ex:
        for seed, n_ok, n_bad, desc, text, kept in ex.map(one_seed, jobs):
            checks += n_ok + n_bad
            if n_bad:
                bad_seeds.append(seed)
                head = "seed %d: %d of %d checks mismatch [%s]; images kept in %s" % (
                    seed, n_bad, n_ok + n_bad, desc, kept)
                print(("not ok - " if a.tap else "") + head)
                for line in text.splitlines():
                    if not line.startswith("ok - "):
                        print("    " + line)
            else:
                line = "seed %d: %d checks [%s]" % (seed, n_ok, desc)
                if a.tap:
                    print("ok - " + line)
                elif a.verbose:
                    print(line)

            sys.stdout.flush()
    print("# map-sweep: seeds %d..%d, %d checks, %d seeds mismatched%s" % (
        a.seed, a.seed + a.count - 1, checks, len(bad_seeds),
        (": " + " ".join(map(str, bad_seeds)) +
         " (replay one: %s --seed N --count 1)" % sys.argv[0]) if bad_seeds else ""))
    if not bad_seeds and not a.keep:
        shutil.rmtree(root, ignore_errors=True)
    return 1 if bad_seeds else 0


if __name__ == "__main__":
    sys.exit(main())
