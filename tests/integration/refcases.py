#!/usr/bin/python3
"""qcow2dump -c's refcount rebuild held to QEMU 7.2's qemu-img check.

Each case is an image made by the real qemu-img and qemu-io (several
cluster sizes, refcount widths, compat levels, extended L2, compressed
data, internal snapshots, persistent bitmaps), then, for most, edited at
the byte level (an L2 entry made unaligned, a refcount set to 0, ...).
Then

  qemu-img check --output=json -f qcow2 IMAGE    (and its text output)
  qcow2dump -c -f json IMAGE                      (and -c, text)

and, as doc/contract (issue 20) says:
  (a) the eight totals equal QEMU's (its keys spelled with '-', a key QEMU
      leaves out is 0); "totals" is null when QEMU printed no JSON
  (b) the class agrees: qemu-img check exits 0 or 3 -> qcow2dump -c 0;
      2 or 1 -> 1
  (c) corrupt (QEMU 2) or check failed (QEMU 1): at least one error-level
      problem; leaks only (QEMU 3): at least one warning and no error;
      clean (QEMU 0): no error
  (d) the text output ends with qemu-img check's standard output (its
      human block), where QEMU printed one
and each case also states what QEMU must say of it (clean, leaks,
corrupt, failed, or "any" for the ones only recorded), so that an edit
that missed its target is a failure of the case, not a silent pass.

  refcases.py run QCOW2DUMP DIR [--only NAME,...] [--bad-runs FILE] [--jobs N]
                [--keep]
      builds every case in DIR and prints one line per case:
      "PASS NAME detail" or "FAIL NAME detail"; exit 1 on any FAIL.  A
      failed case's directory DIR/NAME is kept (every case's with --keep)
  refcases.py qemu DIR [--only NAME,...] [--keep]
      builds the cases and prints QEMU's verdict and totals on each (no
      qcow2dump run); FAIL when QEMU's class is not the case's
  refcases.py list
      the names of the cases

Written from the QCOW2 specification (docs/qcow2-format.md); shares no
code with src/.  scripts/check-sweep.py uses the helpers below.
"""
import csv
import io
import json
import os
import random
import shutil
import struct
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor

K = 1 << 10
M = 1 << 20
TOTALS = ("corruptions", "leaks", "check_errors", "image_end_offset",
          "total_clusters", "allocated_clusters", "fragmented_clusters",
          "compressed_clusters")
# qemu-img check's exit status -> (class, qcow2dump -c's exit status)
CLASSES = {0: ("clean", 0), 3: ("leaks", 0), 2: ("corrupt", 1), 1: ("failed", 1)}


class BuildError(Exception):
    """a qemu-img or qemu-io step that should have worked did not"""


def sh(cmd, cwd, ok=(0,)):
    r = subprocess.run(cmd, cwd=cwd, capture_output=True)
    if ok is not None and r.returncode not in ok:
        raise BuildError("%s: exit %d: %s" % (
            " ".join(cmd), r.returncode,
            r.stderr.decode("utf-8", "replace").strip()[:300]))
    return r


def Q(cwd, *args):
    return sh(["qemu-img"] + list(args), cwd)


def IO(cwd, image, *cmds):
    cmd = ["qemu-io", "-f", "qcow2", image]
    for c in cmds:
        cmd += ["-c", c]
    r = sh(cmd, cwd)
    out = r.stdout.decode("utf-8", "replace")
    # qemu-io reports a failed command on standard output, exit 0
    for bad in ("failed", "error", "Error", "not supported", "Invalid"):
        if bad in out:
            raise BuildError("qemu-io %s %s: %s" % (image, cmds, out.strip()[:300]))
    return r


def create(cwd, image, size, **opts):
    o = ",".join("%s=%s" % (k, v) for k, v in opts.items())
    Q(cwd, "create", "-q", "-f", "qcow2", *(["-o", o] if o else []), image, str(size))


# ---- the image, read and edited from the spec ----

L1_OFFSET = 0x00fffffffffffe00
L1_RESERVED = 0x7f000000000001fe
L2_OFFSET = 0x00fffffffffffe00
L2_RESERVED = 0x3f000000000001fe
COPIED = 1 << 63
COMPRESSED = 1 << 62
ZERO = 1
BITMAPS_EXT = 0x23852875


class Img:
    """an image file's metadata, as the spec lays it out; every offset an
    edit needs, found by reading, never guessed"""

    def __init__(self, path):
        self.path = path
        with open(path, "rb") as f:
            self.data = f.read()
        d = self.data
        (magic, self.version, self.backing_offset, self.backing_size,
         self.cluster_bits, self.size, self.crypt, self.l1_size,
         self.l1_offset, self.rt_offset, self.rt_clusters, self.nb_snapshots,
         self.snapshots_offset) = struct.unpack_from(">IIQIIQIIQQIIQ", d, 0)
        if magic != 0x514649fb:
            raise BuildError("%s: not qcow2" % path)
        self.cs = 1 << self.cluster_bits
        if self.version >= 3:
            self.incompat, self.compat, self.autoclear = struct.unpack_from(">QQQ", d, 72)
            self.refcount_order, self.header_length = struct.unpack_from(">II", d, 96)
        else:
            self.incompat = self.compat = self.autoclear = 0
            self.refcount_order, self.header_length = 4, 72
        self.rbits = 1 << self.refcount_order
        self.extended = bool(self.incompat & (1 << 4))
        self.l2_entry = 16 if self.extended else 8
        self.rt = [self.u64(self.rt_offset + 8 * i)
                   for i in range(self.rt_clusters * self.cs // 8)]

    def u64(self, off):
        return struct.unpack_from(">Q", self.data, off)[0]

    def u32(self, off):
        return struct.unpack_from(">I", self.data, off)[0]

    # -- guest data --
    def l1(self, l1_offset=None, l1_size=None):
        """[(file offset of the entry, entry)]"""
        o = self.l1_offset if l1_offset is None else l1_offset
        n = self.l1_size if l1_size is None else l1_size
        return [(o + 8 * i, self.u64(o + 8 * i)) for i in range(n)]

    def l2_tables(self, l1_offset=None, l1_size=None):
        return [e & L1_OFFSET for _, e in self.l1(l1_offset, l1_size) if e & L1_OFFSET]

    def l2(self, table):
        """[(file offset of the entry, entry, subcluster bitmap or None)]"""
        out = []
        for i in range(self.cs // self.l2_entry):
            p = table + i * self.l2_entry
            out.append((p, self.u64(p), self.u64(p + 8) if self.extended else None))
        return out

    def data_entries(self, l1_offset=None, l1_size=None):
        """the standard (not compressed) entries with a host offset"""
        return [(p, e, b) for t in self.l2_tables(l1_offset, l1_size)
                for p, e, b in self.l2(t) if not e & COMPRESSED and e & L2_OFFSET]

    def compressed_entries(self):
        return [(p, e, b) for t in self.l2_tables() for p, e, b in self.l2(t)
                if e & COMPRESSED]

    # -- refcounts --
    def _refcount_slot(self, off):
        per_block = self.cs * 8 // self.rbits
        idx = off >> self.cluster_bits
        block = self.rt[idx // per_block] & ~0x1ff
        if not block:
            raise BuildError("%s: no refcount block covers %#x" % (self.path, off))
        bit = (idx % per_block) * self.rbits
        return block, bit

    def refcount(self, off):
        block, bit = self._refcount_slot(off)
        if self.rbits >= 8:
            n = self.rbits // 8
            return int.from_bytes(self.data[block + bit // 8:block + bit // 8 + n], "big")
        # narrower than a byte: the first entry in the byte's low bits
        return (self.data[block + bit // 8] >> (bit % 8)) & ((1 << self.rbits) - 1)

    def set_refcount(self, off, value):
        block, bit = self._refcount_slot(off)
        if self.rbits >= 8:
            n = self.rbits // 8
            self.poke(block + bit // 8, value.to_bytes(n, "big"))
        else:
            mask = ((1 << self.rbits) - 1) << (bit % 8)
            b = self.data[block + bit // 8]
            b = (b & ~mask) | ((value << (bit % 8)) & mask)
            self.poke(block + bit // 8, bytes([b]))

    def refblocks(self):
        """[(refcount table index, block offset)]"""
        return [(i, e & ~0x1ff) for i, e in enumerate(self.rt) if e]

    # -- snapshots --
    def snapshots(self):
        """[dict(entry=file offset, l1_offset, l1_size)]"""
        out, p = [], self.snapshots_offset
        for _ in range(self.nb_snapshots):
            l1o, l1n, idl, nml = struct.unpack_from(">QIHH", self.data, p)
            extra = self.u32(p + 36)
            out.append({"entry": p, "l1_offset": l1o, "l1_size": l1n})
            p += (40 + extra + idl + nml + 7) // 8 * 8
        return out

    # -- bitmaps --
    def extensions(self):
        """[(offset of the extension's header, magic, length)]"""
        out, p = [], self.header_length
        end = self.cs if not self.backing_offset else min(self.cs, self.backing_offset)
        while p + 8 <= end:
            magic, n = struct.unpack_from(">II", self.data, p)
            if magic == 0:
                break
            out.append((p, magic, n))
            p += 8 + (n + 7) // 8 * 8
        return out

    def bitmaps(self):
        """[dict(entry, name, table_offset, table_size)], the directory's"""
        for p, magic, _ in self.extensions():
            if magic != BITMAPS_EXT:
                continue
            nb, _, dsize, doff = struct.unpack_from(">IIQQ", self.data, p + 8)
            out, q = [], doff
            for _ in range(nb):
                toff, tsize, flags, _, _, nsize, esize = struct.unpack_from(
                    ">QIIBBHI", self.data, q)
                name = self.data[q + 24 + esize:q + 24 + esize + nsize].decode()
                out.append({"entry": q, "name": name, "table_offset": toff,
                            "table_size": tsize, "dir_offset": doff, "dir_size": dsize})
                q += (24 + esize + nsize + 7) // 8 * 8
            return out
        return []

    # -- edits --
    def poke(self, off, raw):
        with open(self.path, "r+b") as f:
            f.seek(off)
            f.write(raw)
        self.data = self.data[:off] + raw + self.data[off + len(raw):]

    def put64(self, off, value):
        self.poke(off, struct.pack(">Q", value))


# ---- QEMU's verdict and qcow2dump's ----

def qemu_check(cwd, image, target=None):
    """(status, JSON dict or None, stdout text, stderr text) of qemu-img
    check; the text run is separate (the human block, for (d)).  TARGET:
    the arguments that name the image to QEMU, when not -f qcow2 IMAGE"""
    target = target or ["-f", "qcow2", image]
    r = sh(["qemu-img", "check", "--output=json"] + target, cwd, ok=None)
    try:
        j = json.loads(r.stdout)
    except ValueError:
        j = None
    t = sh(["qemu-img", "check"] + target, cwd, ok=None)
    return (r.returncode, j, t.stdout.decode("utf-8", "replace"),
            (r.stderr + t.stderr).decode("utf-8", "replace"))


def qemu_totals(j):
    return None if j is None else {k: j.get(k.replace("_", "-"), 0) for k in TOTALS}


def run_qdump(qcmd, cwd, args, bad_runs=None):
    for tries in range(20):
        try:
            r = subprocess.run(qcmd + args, cwd=cwd, capture_output=True, timeout=120)
            break
        except OSError:     # the binary being rebuilt under us
            if tries == 19:
                raise
            time.sleep(0.5)
    if r.returncode not in (0, 1, 2, 64) and bad_runs:
        with open(bad_runs, "a") as f:
            f.write("status %d: qcow2dump %s\n" % (r.returncode, " ".join(args)))
    return r.returncode, r.stdout.decode("utf-8", "replace"), r.stderr.decode("utf-8", "replace")


def short_totals(t):
    if t is None:
        return "null"
    return " ".join("%s=%s" % (k, t.get(k)) for k in TOTALS)


def compare(qcmd, cwd, image, bad_runs=None, text=True, target=None):
    """(differences [] when none, QEMU's status, QEMU's totals, ours):
    assertions (a) to (d) of the module's doc"""
    st, j, qtext, qerr = qemu_check(cwd, image, target)
    want = qemu_totals(j)
    diffs = []
    if st not in CLASSES:
        return ["qemu-img check exited %d: %s" % (st, qerr.strip()[:200])], st, want, None
    cls, want_status = CLASSES[st]
    ost, out, err = run_qdump(qcmd, cwd, ["-c", "-f", "json", image], bad_runs)
    try:
        doc = json.loads(out)
    except ValueError:
        return ["qcow2dump -c -f json exited %d, not one JSON document: %s" % (
            ost, (out + err).strip()[:200])], st, want, None
    if not isinstance(doc, dict) or "totals" not in doc:
        return ["qcow2dump -c -f json has no \"totals\" (exit %d)" % ost], st, want, None
    got = doc["totals"]
    # (a)
    if want is None:
        if got is not None:
            diffs.append("totals: QEMU printed no JSON (%s), ours %s" % (
                qerr.strip().splitlines()[-1][:120] if qerr.strip() else "exit %d" % st,
                short_totals(got)))
    elif not isinstance(got, dict):
        diffs.append("totals: qemu {%s}, ours %r" % (short_totals(want), got))
    else:
        wrong = ["%s qemu %s ours %s" % (k, want[k], got.get(k)) for k in TOTALS
                 if got.get(k) != want[k] or type(got.get(k)) is not int]
        if wrong:
            diffs.append("totals: " + "; ".join(wrong))
    # (b): an image QEMU cannot open may be one qcow2dump cannot decode
    # either (a directory or table the file cuts short): exit 2, as the
    # interface documents it, with a decoding problem saying what
    decoded_stop = ost == 2 and want_status == 1 and cls == "failed" and any(
        p.get("code") in ("truncated", "io") for p in (doc.get("problems") or []))
    if ost != want_status and not decoded_stop:
        diffs.append("exit %d, want %d (qemu-img check exits %d: %s)" % (
            ost, want_status, st, cls))
    # (c)
    probs = doc.get("problems") or []
    errors = [p for p in probs if p.get("severity") == "error"]
    warnings = [p for p in probs if p.get("severity") == "warning"]
    if cls in ("corrupt", "failed") and not errors:
        diffs.append("%s, but no error-level problem (%d warnings)" % (cls, len(warnings)))
    if cls == "leaks" and (errors or not warnings):
        diffs.append("leaks only, but %d errors and %d warnings%s" % (
            len(errors), len(warnings),
            " (%s)" % ",".join(sorted({p.get("code", "?") for p in errors})) if errors else ""))
    if cls == "clean" and errors:
        diffs.append("clean, but errors: %s" % ",".join(
            sorted({p.get("code", "?") for p in errors})))
    # (d)
    if text and qtext:
        tst, tout, _ = run_qdump(qcmd, cwd, ["-c", image], bad_runs)
        if not tout.endswith(qtext):
            tail = tout.splitlines()[-len(qtext.splitlines()):]
            diffs.append("text: qemu's block %r, our last lines %r" % (
                qtext.strip().splitlines(), tail))
        if tst != ost:
            diffs.append("text: exit %d, json exit %d" % (tst, ost))
    # (e) CSV: every row carries the JSON's totals (empty cells where null)
    cst, cout, _ = run_qdump(qcmd, cwd, ["-c", "-f", "csv", image], bad_runs)
    rows = list(csv.reader(io.StringIO(cout, newline="")))
    if cst != ost:
        diffs.append("csv: exit %d, json exit %d" % (cst, ost))
    elif rows:
        head = rows[0]
        for row in rows[1:]:
            cells = dict(zip(head, row))
            for k in TOTALS:
                v = got.get(k) if isinstance(got, dict) else None
                if cells.get(k) != ("" if v is None else str(v)):
                    diffs.append("csv: %s is %r, json %r" % (k, cells.get(k), v))
                    break
    return diffs, st, want, got


# ---- the cases ----

CASES = []


def case(expect, name=None):
    """registers a builder fn(d) -> image path (in d); EXPECT: the class
    QEMU must give it ("clean", "leaks", "corrupt", "failed"), or "any"
    (recorded only)"""
    def reg(fn):
        CASES.append((name or fn.__name__.replace("_", "-"), expect, fn))
        return fn
    return reg


def pattern_writes(d, image, cs, size):
    """writes over a few spots: whole clusters, partial ones, at the end"""
    cmds = ["write -P 1 0 %d" % (2 * cs), "write -P 2 %d 512" % (5 * cs + 512),
            "write -P 3 %d %d" % (size - cs, cs)]
    if size > 64 * cs:
        cmds.append("write -P 4 %d %d" % (40 * cs, 3 * cs))
    IO(d, image, *cmds)


def sound(name, size=8 * M, writes=True, **opts):
    def build(d):
        create(d, "i.qcow2", size, **opts)
        if writes:
            cs = int(opts.get("cluster_size", 64 * K))
            pattern_writes(d, "i.qcow2", cs, size)
        return "i.qcow2"
    build.__name__ = name
    case("clean", name)(build)


sound("sound-c64k")
sound("sound-empty", writes=False)
sound("sound-c512", size=1 * M, cluster_size=512)
sound("sound-c4k-rb1", cluster_size=4096, refcount_bits=1)
sound("sound-c2m", size=64 * M, cluster_size=2 * M)
sound("sound-c2m-rb64", size=64 * M, cluster_size=2 * M, refcount_bits=64)
sound("sound-rb64", refcount_bits=64)
sound("sound-rb8-c16k", cluster_size=16 * K, refcount_bits=8)
sound("sound-compat010", compat="0.10")
sound("sound-compat010-c512", size=1 * M, compat="0.10", cluster_size=512)
sound("sound-extl2", extended_l2="on")
sound("sound-extl2-c2m-rb1", size=64 * M, extended_l2="on", cluster_size=2 * M,
      refcount_bits=1)
sound("sound-prealloc-metadata", size=4 * M, preallocation="metadata")


@case("clean")
def sound_extl2_subclusters(d):
    create(d, "i.qcow2", 8 * M, extended_l2="on", cluster_size=128 * K)
    IO(d, "i.qcow2", "write -P 1 4k 4k", "write -z 64k 8k", "write -P 2 1M 200k",
       "discard 1M 4k", "write -z -u 2M 256k")
    return "i.qcow2"


@case("clean")
def sound_zero_discard(d):
    create(d, "i.qcow2", 8 * M)
    IO(d, "i.qcow2", "write -P 1 0 1M", "write -z 64k 128k", "write -z -u 512k 64k",
       "discard 768k 128k", "write -P 2 6M 64k")
    return "i.qcow2"


def compressed_image(d, name="i.qcow2", size=4 * M, **opts):
    """qemu-img convert -c of a raw file with some compressible and some
    random clusters"""
    with open(os.path.join(d, "src.raw"), "wb") as f:
        f.truncate(size)
        f.seek(0)
        f.write(b"compress me " * (300 * K // 12))
        f.seek(size // 2)
        f.write(random.Random(size).randbytes(200 * K))
        f.seek(size - 70 * K)
        f.write(b"\x5a" * 70 * K)
    o = ",".join("%s=%s" % (k, v) for k, v in opts.items())
    Q(d, "convert", "-c", "-f", "raw", "-O", "qcow2", *(["-o", o] if o else []),
      "src.raw", name)
    return name


@case("clean")
def sound_compressed(d):
    return compressed_image(d)


@case("clean")
def sound_compressed_c512_zstd(d):
    return compressed_image(d, size=1 * M, cluster_size=512, compression_type="zstd")


@case("clean")
def sound_compressed_c2m(d):
    return compressed_image(d, size=8 * M, cluster_size=2 * M)


@case("clean")
def sound_compressed_extl2_rb1(d):
    return compressed_image(d, extended_l2="on", refcount_bits=1)


@case("clean")
def sound_compressed_compat010(d):
    return compressed_image(d, compat="0.10")


def snapshot_image(d, name="i.qcow2", **opts):
    create(d, name, 8 * M, **opts)
    IO(d, name, "write -P 1 0 256k", "write -P 2 3M 64k")
    Q(d, "snapshot", "-c", "one", name)
    IO(d, name, "write -P 3 64k 64k", "write -P 4 5M 128k")
    Q(d, "snapshot", "-c", "two", name)
    IO(d, name, "write -P 5 0 64k", "discard 3M 64k")
    return name


@case("clean")
def sound_snapshots(d):
    return snapshot_image(d)


@case("clean")
def sound_snapshots_deleted(d):
    snapshot_image(d)
    Q(d, "snapshot", "-d", "one", "i.qcow2")
    Q(d, "snapshot", "-a", "two", "i.qcow2")
    return "i.qcow2"


@case("clean")
def sound_snapshots_compat010_c4k(d):
    return snapshot_image(d, compat="0.10", cluster_size=4096)


@case("clean")
def sound_snapshots_extl2_rb64(d):
    return snapshot_image(d, extended_l2="on", refcount_bits=64)


@case("clean")
def sound_snapshots_compressed(d):
    compressed_image(d)
    Q(d, "snapshot", "-c", "s", "i.qcow2")
    IO(d, "i.qcow2", "write -P 9 0 64k")
    return "i.qcow2"


def bitmap_image(d, name="i.qcow2", size=8 * M, **opts):
    create(d, name, size, **opts)
    Q(d, "bitmap", "--add", "-f", "qcow2", name, "a")
    Q(d, "bitmap", "--add", "-g", "4096", "-f", "qcow2", name, "fine")
    IO(d, name, "write -P 1 0 200k", "write -P 2 %d 64k" % (size // 2))
    Q(d, "bitmap", "--add", "--disable", "-f", "qcow2", name, "frozen")
    return name


@case("clean")
def sound_bitmaps(d):
    return bitmap_image(d)


@case("clean")
def sound_bitmaps_c512(d):
    return bitmap_image(d, size=2 * M, cluster_size=512)


@case("clean")
def sound_bitmaps_c2m_rb1(d):
    return bitmap_image(d, size=64 * M, cluster_size=2 * M, refcount_bits=1)


@case("clean")
def sound_everything(d):
    """compressed data, extended L2, bitmaps and snapshots in one image"""
    compressed_image(d, extended_l2="on", cluster_size=32 * K)
    Q(d, "bitmap", "--add", "-f", "qcow2", "i.qcow2", "b")
    IO(d, "i.qcow2", "write -P 1 1M 100k")
    Q(d, "snapshot", "-c", "s1", "i.qcow2")
    IO(d, "i.qcow2", "write -P 2 0 64k", "write -c -P 3 3M 64k")
    Q(d, "bitmap", "--add", "-g", "1M", "-f", "qcow2", "i.qcow2", "c")
    Q(d, "snapshot", "-c", "s2", "i.qcow2")
    return "i.qcow2"


@case("clean")
def sound_backing(d):
    create(d, "base.qcow2", 8 * M)
    IO(d, "base.qcow2", "write -P 1 0 1M")
    Q(d, "create", "-q", "-f", "qcow2", "-b", "base.qcow2", "-F", "qcow2", "i.qcow2", "8M")
    IO(d, "i.qcow2", "write -P 2 512k 64k")
    return "i.qcow2"


@case("any")
def sound_data_file(d):
    create(d, "i.qcow2", 8 * M, data_file="i.raw")
    IO(d, "i.qcow2", "write -P 1 0 1M", "write -z 2M 64k")
    return "i.qcow2"


LUKS_TARGET = ["--object", "secret,id=s0,data=pw", "--image-opts",
               "driver=qcow2,file.filename=i.qcow2,encrypt.key-secret=s0"]


@case("clean")
def sound_luks(d):
    """the crypto header counted; qemu-img check -f qcow2 refuses to open
    the image without its key, so QEMU is asked with it (TARGETS)"""
    for _ in range(3):
        r = sh(["qemu-img", "create", "-q", "-f", "qcow2", "--object", "secret,id=s0,data=pw",
                "-o", "encrypt.format=luks,encrypt.key-secret=s0,encrypt.iter-time=10",
                "i.qcow2", "8M"], d, ok=None)
        if r.returncode == 0:
            break
    else:
        raise BuildError("qemu-img create luks: %s" % r.stderr.decode()[:200])
    sh(["qemu-io"] + LUKS_TARGET + ["-c", "write -P 1 0 128k"], d)
    return "i.qcow2"


@case("leaks")
def luks_leak(d):
    sound_luks(d)
    img = Img(os.path.join(d, "i.qcow2"))
    p, e, _ = first_data(img, 1)
    img.put64(p, 0)
    return "i.qcow2"


# how QEMU is to open a case's image, when not -f qcow2 IMAGE
TARGETS = {"sound-luks": LUKS_TARGET, "luks-leak": LUKS_TARGET}


@case("clean")
def sound_prealloc_falloc_rb4(d):
    create(d, "i.qcow2", 3 * M, preallocation="falloc", refcount_bits=4, cluster_size=16 * K)
    return "i.qcow2"


@case("clean")
def sound_amended_rb_snapshots(d):
    snapshot_image(d)
    Q(d, "amend", "-f", "qcow2", "-o", "refcount_bits=4", "i.qcow2")
    return "i.qcow2"


@case("clean")
def sound_resized(d):
    create(d, "i.qcow2", 4 * M)
    IO(d, "i.qcow2", "write -P 1 0 4M")
    Q(d, "resize", "-f", "qcow2", "--shrink", "i.qcow2", "1M")
    Q(d, "resize", "-f", "qcow2", "i.qcow2", "300M")
    IO(d, "i.qcow2", "write -P 2 299M 64k")
    return "i.qcow2"


@case("clean")
def sound_amended_compat010(d):
    create(d, "i.qcow2", 8 * M)
    IO(d, "i.qcow2", "write -P 1 0 1M", "write -z 2M 64k")
    Q(d, "snapshot", "-c", "s", "i.qcow2")
    IO(d, "i.qcow2", "write -P 2 0 64k")
    Q(d, "amend", "-f", "qcow2", "-o", "compat=0.10", "i.qcow2")
    return "i.qcow2"


@case("clean")
def sound_amended_rb(d):
    create(d, "i.qcow2", 8 * M)
    IO(d, "i.qcow2", "write -P 1 0 1M")
    Q(d, "amend", "-f", "qcow2", "-o", "refcount_bits=2", "i.qcow2")
    return "i.qcow2"


# -- edits: each starts from an image QEMU made --

def base(d, **opts):
    """an image with a few data clusters in two L2 tables' reach"""
    cs = int(opts.get("cluster_size", 64 * K))
    create(d, "i.qcow2", 8 * M, **opts)
    IO(d, "i.qcow2", "write -P 1 0 %d" % (4 * cs), "write -P 2 %d %d" % (6 * M, cs))
    return Img(os.path.join(d, "i.qcow2"))


def first_data(img, n=0):
    return img.data_entries()[n]


@case("corrupt")
def l2_unaligned(d):
    img = base(d)
    p, e, _ = first_data(img)
    img.put64(p, e | 0x200)
    return "i.qcow2"


@case("corrupt")
def l2_unaligned_c4k_rb1(d):
    img = base(d, cluster_size=4096, refcount_bits=1)
    p, e, _ = first_data(img, 1)
    img.put64(p, e + 0x200)
    return "i.qcow2"


@case("any")
def l2_beyond_eof(d):
    img = base(d)
    p, e, _ = first_data(img)
    img.put64(p, COPIED | ((len(img.data) + 10 * img.cs) & L2_OFFSET))
    return "i.qcow2"


@case("any")
def l2_beyond_eof_far(d):
    img = base(d)
    p, e, _ = first_data(img)
    img.put64(p, COPIED | (1 << 50))
    return "i.qcow2"


@case("corrupt")
def l1_reserved_bit(d):
    img = base(d)
    p, e = img.l1()[0]
    img.put64(p, e | 0x2)
    return "i.qcow2"


@case("corrupt")
def l1_reserved_high_bit(d):
    img = base(d, refcount_bits=1)
    p, e = img.l1()[0]
    img.put64(p, e | (1 << 58))
    return "i.qcow2"


@case("corrupt")
def l2_reserved_bit(d):
    img = base(d)
    p, e, _ = first_data(img)
    img.put64(p, e | 0x4)
    return "i.qcow2"


@case("corrupt")
def l2_reserved_high_bit_extl2(d):
    img = base(d, extended_l2="on")
    p, e, _ = first_data(img)
    img.put64(p, e | (1 << 57))
    return "i.qcow2"


@case("leaks")
def l2_cleared(d):
    img = base(d)
    p, e, _ = first_data(img, 2)
    img.put64(p, 0)
    return "i.qcow2"


@case("leaks")
def l2_cleared_c2m_rb64(d):
    img = base(d, cluster_size=2 * M, refcount_bits=64)
    p, e, _ = first_data(img, 1)
    img.put64(p, 0)
    return "i.qcow2"


def refcount_case(value, **opts):
    def build(d):
        img = base(d, **opts)
        p, e, _ = first_data(img)
        img.set_refcount(e & L2_OFFSET, value)
        return "i.qcow2"
    return build


for _v in (0, 2, 3):
    case("corrupt", "data-refcount-%d" % _v)(refcount_case(_v))
case("corrupt", "data-refcount-0-rb1")(refcount_case(0, refcount_bits=1))
case("corrupt", "data-refcount-3-rb2-c512")(refcount_case(3, refcount_bits=2, cluster_size=512))
case("corrupt", "data-refcount-2-rb64-compat010")(refcount_case(2, refcount_bits=64))
case("corrupt", "data-refcount-0-compat010")(refcount_case(0, compat="0.10"))


@case("corrupt")
def two_l2_entries_one_cluster(d):
    img = base(d)
    (p0, e0, _), (p1, _, _) = first_data(img, 0), first_data(img, 1)
    img.put64(p1, e0)
    return "i.qcow2"


@case("corrupt")
def two_l2_entries_one_cluster_extl2(d):
    img = base(d, extended_l2="on", cluster_size=16 * K)
    (p0, e0, b0), (p1, _, _) = first_data(img, 0), first_data(img, 3)
    img.put64(p1, e0)
    img.put64(p1 + 8, b0)
    return "i.qcow2"


@case("corrupt")
def copied_cleared(d):
    img = base(d)
    p, e, _ = first_data(img)
    img.put64(p, e & ~COPIED)
    return "i.qcow2"


@case("corrupt")
def copied_cleared_l1(d):
    img = base(d)
    p, e = img.l1()[0]
    img.put64(p, e & ~COPIED)
    return "i.qcow2"


@case("corrupt")
def copied_set_on_shared(d):
    snapshot_image(d)
    img = Img(os.path.join(d, "i.qcow2"))
    shared = [(p, e) for p, e, _ in img.data_entries()
              if not e & COPIED and img.refcount(e & L2_OFFSET) > 1]
    if not shared:
        raise BuildError("no shared cluster in the active table")
    img.put64(shared[0][0], shared[0][1] | COPIED)
    return "i.qcow2"


@case("corrupt")
def copied_set_on_shared_l1(d):
    create(d, "i.qcow2", 8 * M)
    IO(d, "i.qcow2", "write -P 1 0 64k")
    Q(d, "snapshot", "-c", "s", "i.qcow2")
    img = Img(os.path.join(d, "i.qcow2"))
    p, e = img.l1()[0]
    if e & COPIED:
        raise BuildError("L1 entry 0 is COPIED after a snapshot")
    img.put64(p, e | COPIED)
    return "i.qcow2"


@case("corrupt")
def l1_points_at_refcount_block(d):
    img = base(d)
    p, e = img.l1()[0]
    img.put64(p, COPIED | img.refblocks()[0][1])
    return "i.qcow2"


@case("any")
def truncated_no_bitmaps(d):
    img = base(d)
    # the last data cluster (written last: the highest) cut off
    last = max(e & L2_OFFSET for _, e, _ in img.data_entries())
    os.truncate(img.path, last)
    return "i.qcow2"


@case("any")
def truncated_in_l2_table(d):
    """the file ends in the middle of the last L2 table"""
    img = base(d, cluster_size=4096)
    t = max(img.l2_tables())
    os.truncate(img.path, t + 8 * 3 + 4)
    return "i.qcow2"


@case("any")
def truncated_at_l1(d):
    """the file ends where the L1 table begins: QEMU reads the table as
    zeroes and counts no refcount of a cluster past the end"""
    img = base(d, cluster_size=4096)
    os.truncate(img.path, img.l1_offset)
    return "i.qcow2"


@case("any")
def truncated_in_l1_entry(d):
    """the file ends 4 bytes into the L1 table: its first entry reads
    back as COPIED alone (the rest zeroes)"""
    img = base(d, cluster_size=4096)
    os.truncate(img.path, img.l1_offset + 4)
    return "i.qcow2"


@case("any")
def truncated_with_bitmaps(d):
    bitmap_image(d)
    img = Img(os.path.join(d, "i.qcow2"))
    last = max(e & L2_OFFSET for _, e, _ in img.data_entries())
    os.truncate(img.path, last)
    return "i.qcow2"


@case("any")
def l1_entry_copied_only(d):
    """an L1 entry of COPIED and no offset: not 0, so QEMU walks the
    header cluster as an L2 table"""
    img = base(d)
    p, e = img.l1()[0]
    img.put64(p, COPIED)
    return "i.qcow2"


@case("any")
def l1_beyond_eof(d):
    img = base(d)
    p, e = img.l1()[0]
    img.put64(p, COPIED | ((len(img.data) + 4 * img.cs) // img.cs * img.cs))
    return "i.qcow2"


@case("any")
def l2_entry_copied_only(d):
    img = base(d)
    t = img.l2_tables()[0]
    free = [p for p, e, _ in img.l2(t) if e == 0]
    img.put64(free[0], COPIED)
    return "i.qcow2"


@case("any")
def l2_zero_plain_copied(d):
    img = base(d)
    t = img.l2_tables()[0]
    free = [p for p, e, _ in img.l2(t) if e == 0]
    img.put64(free[0], COPIED | ZERO)
    return "i.qcow2"


@case("any")
def l2_zero_flag_compat010(d):
    """bit 0 (reads as zeroes) is reserved in a version 2 image"""
    img = base(d, compat="0.10")
    p, e, _ = first_data(img)
    img.put64(p, e | ZERO)
    return "i.qcow2"


@case("any")
def snapshot_l1_reserved_bit(d):
    snapshot_image(d)
    img = Img(os.path.join(d, "i.qcow2"))
    sn = img.snapshots()[0]
    p, e = img.l1(sn["l1_offset"], sn["l1_size"])[0]
    img.put64(p, e | 0x2)
    return "i.qcow2"


@case("any")
def snapshot_l1_beyond_eof(d):
    snapshot_image(d)
    img = Img(os.path.join(d, "i.qcow2"))
    sn = img.snapshots()[1]
    p, e = img.l1(sn["l1_offset"], sn["l1_size"])[0]
    img.put64(p, (len(img.data) + 8 * img.cs) // img.cs * img.cs)
    return "i.qcow2"


@case("any")
def snapshot_l2_copied(d):
    """COPIED set in an L2 table only a snapshot reaches (QEMU checks
    COPIED on the active tables alone)"""
    snapshot_image(d)
    img = Img(os.path.join(d, "i.qcow2"))
    active = set(img.l2_tables())
    for sn in img.snapshots():
        for t in img.l2_tables(sn["l1_offset"], sn["l1_size"]):
            if t in active:
                continue
            for p, e, _ in img.l2(t):
                if e & L2_OFFSET:
                    img.put64(p, e | COPIED)
                    return "i.qcow2"
    raise BuildError("no L2 table of a snapshot alone")


@case("any")
def refcount_table_duplicate_entry(d):
    """two refcount table entries name one refcount block"""
    img = base(d)
    i, blk = img.refblocks()[0]
    img.put64(img.rt_offset + 8 * (i + 1), blk)
    return "i.qcow2"


@case("any")
def refcount_table_entry_into_l1(d):
    img = base(d)
    img.put64(img.rt_offset + 8, img.l1_offset)
    return "i.qcow2"


@case("leaks")
def refcount_1_on_free_cluster(d):
    """a refcount on a cluster inside the file no structure uses"""
    img = base(d)
    with open(img.path, "ab") as f:
        f.write(bytes(3 * img.cs))
    img = Img(img.path)
    img.set_refcount(len(img.data) - 2 * img.cs, 1)
    return "i.qcow2"


@case("any")
def refcount_past_eof(d):
    """a refcount on a cluster past the end of the file"""
    img = base(d, cluster_size=4096)
    img.set_refcount(len(img.data) + 3 * img.cs, 1)
    return "i.qcow2"


@case("leaks")
def l1_zeroed(d):
    img = base(d)
    img.poke(img.l1_offset, bytes(8 * img.l1_size))
    return "i.qcow2"


@case("leaks")
def l1_zeroed_snapshots(d):
    snapshot_image(d)
    img = Img(os.path.join(d, "i.qcow2"))
    img.poke(img.l1_offset, bytes(8 * img.l1_size))
    return "i.qcow2"


def stale_bitmaps(d, **opts):
    bitmap_image(d, **opts)
    img = Img(os.path.join(d, "i.qcow2"))
    if not img.autoclear & 1:
        raise BuildError("the autoclear bitmaps bit is not set")
    img.put64(88, img.autoclear & ~1)
    return "i.qcow2"


case("leaks", "stale-bitmaps")(stale_bitmaps)
case("leaks", "stale-bitmaps-c512")(lambda d: stale_bitmaps(d, size=2 * M, cluster_size=512))


def zero_refcount_of(what, **opts):
    def build(d):
        if what in ("snapshot-table", "snapshot-l1"):
            snapshot_image(d, **opts)
            img = Img(os.path.join(d, "i.qcow2"))
        else:
            img = base(d, **opts)
        off = {"header": lambda: 0,
               "l1": lambda: img.l1_offset,
               "refcount-table": lambda: img.rt_offset,
               "refcount-block": lambda: img.refblocks()[0][1],
               "snapshot-table": lambda: img.snapshots_offset,
               "snapshot-l1": lambda: img.snapshots()[0]["l1_offset"],
               "l2": lambda: img.l2_tables()[0]}[what]()
        img.set_refcount(off, 0)
        return "i.qcow2"
    return build


for _w in ("header", "l1", "refcount-table", "refcount-block", "snapshot-table",
           "snapshot-l1", "l2"):
    case("corrupt", "refcount-0-" + _w)(zero_refcount_of(_w))
case("corrupt", "refcount-0-refcount-block-rb1")(zero_refcount_of("refcount-block", refcount_bits=1))
case("corrupt", "refcount-0-snapshot-l1-c512")(zero_refcount_of("snapshot-l1", cluster_size=512))


def bitmap_table_into(target):
    def build(d):
        bitmap_image(d)
        img = Img(os.path.join(d, "i.qcow2"))
        b = img.bitmaps()[0]
        dest = {"l2": img.l2_tables()[0],
                "data": first_data(img)[1] & L2_OFFSET}[target]
        img.put64(b["table_offset"], dest)
        return "i.qcow2"
    return build


case("corrupt", "bitmap-table-into-l2")(bitmap_table_into("l2"))
case("corrupt", "bitmap-table-into-data")(bitmap_table_into("data"))


@case("failed")
def bitmap_table_unaligned(d):
    """QEMU refuses to open it: "Could not read bitmap_table", no JSON"""
    bitmap_image(d)
    img = Img(os.path.join(d, "i.qcow2"))
    b = img.bitmaps()[1]
    img.put64(b["table_offset"], (img.u64(b["table_offset"]) & L2_OFFSET) | 0x200)
    return "i.qcow2"


@case("corrupt")
def compressed_copied(d):
    img = Img(os.path.join(d, compressed_image(d)))
    p, e, _ = img.compressed_entries()[0]
    img.put64(p, e | COPIED)
    return "i.qcow2"


@case("corrupt")
def compressed_copied_c512(d):
    img = Img(os.path.join(d, compressed_image(d, size=1 * M, cluster_size=512)))
    p, e, _ = img.compressed_entries()[-1]
    img.put64(p, e | COPIED)
    return "i.qcow2"


@case("any")
def compressed_refcount_0(d):
    img = Img(os.path.join(d, compressed_image(d)))
    p, e, _ = img.compressed_entries()[0]
    x = 62 - (img.cluster_bits - 8)
    img.set_refcount(e & ((1 << x) - 1), 0)
    return "i.qcow2"


@case("any")
def extl2_alloc_and_zero(d):
    img = base(d, extended_l2="on")
    p, e, b = first_data(img)
    img.put64(p + 8, b | (b << 32) | 1 | (1 << 32))
    return "i.qcow2"


@case("any")
def extl2_bitmap_on_unallocated(d):
    img = base(d, extended_l2="on")
    t = img.l2_tables()[0]
    free = [p for p, e, b in img.l2(t) if e == 0 and b == 0]
    img.put64(free[0] + 8, 0x3)
    return "i.qcow2"


def rt_entry(how, **opts):
    def build(d):
        img = base(d, **opts)
        i, blk = img.refblocks()[0]
        v = {"reserved": blk | 0x1,
             "unaligned": blk + img.cs // 2 if img.cs > 512 else blk + 0x100,
             "beyond-eof": (len(img.data) + 100 * img.cs) // img.cs * img.cs}[how]
        img.put64(img.rt_offset + 8 * i, v)
        return "i.qcow2"
    return build


for _h in ("reserved", "unaligned", "beyond-eof"):
    case("any", "refcount-table-" + _h)(rt_entry(_h))
case("any", "refcount-table-beyond-eof-c512")(rt_entry("beyond-eof", cluster_size=512))


@case("corrupt")
def refcount_overflow_rb1(d):
    img = base(d, refcount_bits=1)
    (p0, e0, _), (p1, _, _) = first_data(img, 0), first_data(img, 1)
    img.put64(p1, e0 & ~COPIED)
    img.put64(p0, e0 & ~COPIED)
    return "i.qcow2"


@case("corrupt")
def refcount_overflow_rb1_copied(d):
    img = base(d, refcount_bits=1)
    (p0, e0, _), (p1, _, _) = first_data(img, 0), first_data(img, 1)
    img.put64(p1, e0)
    return "i.qcow2"


def killed_writer(d, how):
    create(d, "i.qcow2", 8 * M, lazy_refcounts="on")
    IO(d, "i.qcow2", "write -P 1 0 64k")
    cmd = ["qemu-io", "-f", "qcow2", "i.qcow2", "-c", "write -P 2 1M 1M",
           "-c", "write -P 3 4M 64k"]
    if how == "abort":
        cmd += ["-c", "flush", "-c", "abort"]
        import resource

        def nocore():
            resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
        subprocess.run(cmd, cwd=d, capture_output=True, preexec_fn=nocore)
    else:
        # (qemu-io's sleep is in milliseconds)
        cmd += ["-c", "flush", "-c", "sleep 60000"]
        p = subprocess.Popen(cmd, cwd=d, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        # qemu-io's reports are buffered in a pipe: the dirty bit on disk
        # tells that the writes began; the flush is given a moment more
        path = os.path.join(d, "i.qcow2")
        for _ in range(400):
            with open(path, "rb") as f:
                f.seek(72)
                if struct.unpack(">Q", f.read(8))[0] & 1:
                    break
            if p.poll() is not None:
                break
            time.sleep(0.01)
        time.sleep(0.3)
        p.kill()
        p.wait()
    img = Img(os.path.join(d, "i.qcow2"))
    if not img.incompat & 1:
        raise BuildError("the dirty bit is not set after the writer was killed")
    return "i.qcow2"


case("any", "lazy-refcounts-killed")(lambda d: killed_writer(d, "kill"))
case("any", "lazy-refcounts-abort")(lambda d: killed_writer(d, "abort"))


@case("any")
def amend_compat010_copied_on_shared(d):
    """COPIED set on a cluster a snapshot shares, then amend to 0.10"""
    copied_set_on_shared(d)
    r = sh(["qemu-img", "amend", "-f", "qcow2", "-o", "compat=0.10", "i.qcow2"], d, ok=None)
    with open(os.path.join(d, "amend.out"), "wb") as f:
        f.write(r.stdout + r.stderr + b"exit %d\n" % r.returncode)
    return "i.qcow2"


# ---- running them ----

def build_one(root, name, fn):
    d = os.path.join(root, name)
    os.makedirs(d)
    try:
        return d, fn(d), None
    except (BuildError, IndexError, OSError) as e:
        return d, None, e


def main(argv):
    if not argv or argv[0] not in ("run", "qemu", "list"):
        print(__doc__, file=sys.stderr)
        return 64
    if argv[0] == "list":
        for name, expect, _ in CASES:
            print(name, expect)
        return 0
    args = list(argv[1:])

    def opt(flag, default=None):
        if flag in args:
            i = args.index(flag)
            v = args[i + 1]
            del args[i:i + 2]
            return v
        return default
    only = opt("--only")
    only = set(only.split(",")) if only else None
    bad_runs = opt("--bad-runs")
    jobs = int(opt("--jobs", os.cpu_count() or 1))
    keep = "--keep" in args
    if keep:
        args.remove("--keep")
    if argv[0] == "run":
        qcmd, root = args[0].split(), os.path.abspath(args[1])
    else:
        qcmd, root = None, os.path.abspath(args[0])
    os.makedirs(root, exist_ok=True)
    cases = [c for c in CASES if not only or c[0] in only]
    if only and len(cases) != len(only):
        print("unknown case: %s" % ",".join(only - {c[0] for c in cases}), file=sys.stderr)
        return 64

    def one(c):
        name, expect, fn = c
        d, image, err = build_one(root, name, fn)
        if err is not None:
            return "FAIL %s QEMU did not build it: %s" % (name, err)
        problems = []
        if qcmd:
            diffs, st, want, got = compare(qcmd, d, image, bad_runs, target=TARGETS.get(name))
        else:
            st, j, _, qerr = qemu_check(d, image, TARGETS.get(name))
            diffs, want = [], qemu_totals(j)
        cls = CLASSES.get(st, ("exit %d" % st,))[0]
        if expect != "any" and cls != expect:
            problems.append("QEMU says %s, the case means %s" % (cls, expect))
        problems += diffs
        detail = "qemu %s {%s}" % (cls, short_totals(want))
        if problems:
            return "FAIL %s %s; %s" % (name, detail, "; ".join(problems))
        if not keep:
            shutil.rmtree(d, ignore_errors=True)
        return "PASS %s %s" % (name, detail)

    n_fail = 0
    with ThreadPoolExecutor(max_workers=max(1, jobs)) as ex:
        for line in ex.map(one, cases):
            n_fail += line.startswith("FAIL")
            print(line)
            sys.stdout.flush()
    print("# refcases: %d cases, %d failed" % (len(cases), n_fail))
    return 1 if n_fail else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
