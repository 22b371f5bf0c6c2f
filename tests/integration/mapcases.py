#!/usr/bin/python3
"""Images for --map, made by the real qemu-img and qemu-io, each held to
QEMU 7.2's own map of it (qemu-img map, JSON and text) and, for -x --map,
to the dirty ranges qemu-nbd -B exports intersected with that map.

  mapcases.py run QCOW2DUMP DIR [--only NAME,...] [--bad-runs FILE]
      builds every case in DIR (a fresh directory) and prints one line
      "ok - DESC" or "not ok - DESC" per assertion, the details of a
      failure indented under it
  mapcases.py qemu DIR [--only NAME,...]
      builds the cases and checks only the QEMU side: that each image is
      what its case meant to build (no qcow2dump run)
  mapcases.py list
      the names of the cases

What qcow2dump must print is derived from QEMU alone:
  --map -f json     the entries of qemu-img map --output=json, key for key,
                    plus "compressed": true exactly where the entry's layer
                    has compressed clusters (read from that layer's L2
                    tables here, and checked against how the case built it)
  --map (text)      qemu-img map's standard output byte for byte, for the
                    images without compressed or encrypted data
  -x --map -f json  each bitmap's dirty ranges as qemu-nbd -B exports them
                    (merged over the chain with qemu-img bitmap --merge for
                    --backing-chain), cut at the boundaries of qemu-img
                    map's entries, each piece with its entry's flags and
                    offset (the entry's offset plus the piece's distance
                    from the entry's start)

scripts/map-sweep.py reuses the helpers below for random images.
"""
import json
import os
import shutil
import socket
import struct
import subprocess
import sys
import tempfile
import time

PASSPHRASE = "map-test-passphrase"
QEMU_KEYS = ("start", "length", "depth", "present", "zero", "data", "offset")
FLAGS = ("depth", "present", "zero", "data", "compressed")


class BuildError(Exception):
    """A qemu-img or qemu-io step that should have worked did not."""


def sh(cmd, cwd, ok=(0,)):
    r = subprocess.run(cmd, cwd=cwd, capture_output=True)
    if r.returncode not in ok:
        raise BuildError("%s (in %s): exit %d: %s" % (
            " ".join(cmd), cwd, r.returncode,
            r.stderr.decode("utf-8", "replace").strip()[:400]))
    return r


def Q(cwd, *args):
    """qemu-img ARGS in CWD; a failure is a BuildError"""
    return sh(["qemu-img"] + list(args), cwd)


def IO(cwd, image, *cmds, fmt="qcow2", image_opts=None):
    """qemu-io -c CMD... on IMAGE (or on --image-opts IMAGE_OPTS)"""
    cmd = ["qemu-io"]
    if image_opts is not None:
        cmd += ["--object", "secret,id=sec0,data=" + PASSPHRASE,
                "--image-opts", image_opts]
    else:
        cmd += ["-f", fmt, image]
    for c in cmds:
        cmd += ["-c", c]
    r = sh(cmd, cwd)
    # qemu-io reports a failed command on stdout and still exits 0
    out = r.stdout.decode("utf-8", "replace")
    for bad in ("failed", "error", "Error", "not supported", "Invalid"):
        if bad in out:
            raise BuildError("qemu-io %s %s: %s" % (image, cmds, out.strip()[:400]))
    return r


def luks_opts(image):
    return "driver=qcow2,file.filename=%s,encrypt.key-secret=sec0" % image


def create_luks(cwd, image, size, extra=""):
    """QEMU times PBKDF2 and on a loaded machine may fail to: three tries"""
    err = None
    for _ in range(3):
        try:
            return Q(cwd, "create", "-q", "-f", "qcow2", "--object",
                     "secret,id=sec0,data=" + PASSPHRASE, "-o",
                     "encrypt.format=luks,encrypt.key-secret=sec0,"
                     "encrypt.iter-time=10" + extra, image, str(size))
        except BuildError as e:
            err = e
    raise err


# ---- QEMU's answers ----

def window_args(start, length):
    a = []
    if start is not None:
        a.append("--start-offset=%d" % start)
    if length is not None:
        a.append("--max-length=%d" % length)
    return a


def qemu_target(case):
    if case.get("luks"):
        return ["--object", "secret,id=sec0,data=" + PASSPHRASE,
                "--image-opts", luks_opts(case["image"])]
    return [case["image"]]


def qemu_map(case, start=None, length=None, text=False):
    """(status, stdout bytes, stderr bytes) of qemu-img map"""
    cmd = ["qemu-img", "map"] + ([] if text else ["--output=json"]) + \
        window_args(start, length) + qemu_target(case)
    r = subprocess.run(cmd, cwd=case["cwd"], capture_output=True)
    return r.returncode, r.stdout, r.stderr


def qemu_map_json(case, start=None, length=None):
    st, out, err = qemu_map(case, start, length)
    if st != 0:
        raise BuildError("qemu-img map %s: exit %d: %s" % (
            case["image"], st, err.decode("utf-8", "replace").strip()))
    return json.loads(out)


def merge_ranges(ranges):
    out = []
    for s, l in sorted(ranges):
        if l <= 0:
            continue
        if out and out[-1][0] + out[-1][1] >= s:
            end = max(out[-1][0] + out[-1][1], s + l)
            out[-1] = (out[-1][0], end - out[-1][0])
        else:
            out.append((s, l))
    return out


def nbd_dirty(cwd, image, bitmap):
    """The ranges bitmap BITMAP of IMAGE marks dirty as qemu-nbd -B exports
    them (qemu-img map over NBD with x-dirty-bitmap: "data": false is a
    dirty range), neighbours merged: [(start, length)]"""
    sockdir = tempfile.mkdtemp(prefix="mapnbd.")
    sock = os.path.join(sockdir, "s")
    nbd = subprocess.Popen(["qemu-nbd", "-r", "-k", sock, "-f", "qcow2",
                            "-B", bitmap, image], cwd=cwd,
                           stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        for _ in range(500):
            if os.path.exists(sock):
                break
            if nbd.poll() is not None:
                raise BuildError("qemu-nbd -B %s %s: exit %d: %s" % (
                    bitmap, image, nbd.returncode,
                    nbd.stderr.read().decode("utf-8", "replace").strip()))
            time.sleep(0.01)
        else:
            raise BuildError("qemu-nbd -B %s %s: no socket" % (bitmap, image))
        # the socket exists from bind(), before qemu-nbd listens: a
        # refused connection is tried again
        for tries in range(50):
            try:
                r = sh(["qemu-img", "map", "--output=json", "--image-opts",
                        "driver=nbd,server.type=unix,server.path=%s,"
                        "x-dirty-bitmap=qemu:dirty-bitmap:%s" % (sock, bitmap)], cwd)
                break
            except BuildError:
                if tries == 49 or nbd.poll() is not None:
                    raise
                time.sleep(0.02)
        m = json.loads(r.stdout)
    finally:
        nbd.kill()
        nbd.wait()
        nbd.stderr.close()
        shutil.rmtree(sockdir, ignore_errors=True)
    return merge_ranges([(e["start"], e["length"]) for e in m if not e["data"]])


def bitmap_granularity(cwd, image, bitmap):
    info = json.loads(Q(cwd, "info", "-U", "--output=json", image).stdout)
    gran = [b["granularity"] for b in info["format-specific"]["data"].get("bitmaps", [])
            if b["name"] == bitmap]
    if not gran:
        raise BuildError("%s has no bitmap %s" % (image, bitmap))
    return info["virtual-size"], gran[0]


def merged_dirty(cwd, top, bitmap, lowers):
    """BITMAP merged over TOP and the LOWER layers (all holding it, all of
    one size, as QEMU merges only bitmaps of one size): a new image of
    TOP's size with a bitmap of the finest granularity among the layers'
    (so that QEMU's merge rounds nothing out: the union, as qcow2dump
    --backing-chain gives it), into which qemu-img bitmap --merge merges
    each layer's bitmap, exported as nbd_dirty.  (Not merged into a copy
    of TOP: reading TOP's data would fill the page cache over its
    unwritten extents, which changes what qemu-img map says of them.)"""
    size, _ = bitmap_granularity(cwd, top, bitmap)
    gran = min(bitmap_granularity(cwd, layer, bitmap)[1] for layer in [top] + list(lowers))
    tmpdir = tempfile.mkdtemp(prefix="mapmerge.")
    tmp = os.path.join(tmpdir, "merged.qcow2")
    try:
        Q(cwd, "create", "-q", "-f", "qcow2", tmp, str(size))
        Q(cwd, "bitmap", "--add", "-g", str(gran), "-f", "qcow2", tmp, bitmap)
        for layer in [top] + list(lowers):
            Q(cwd, "bitmap", "--merge", bitmap, "-b", os.path.abspath(os.path.join(cwd, layer)),
              "-F", "qcow2", "-f", "qcow2", tmp, bitmap)
        return nbd_dirty(cwd, tmp, bitmap)
    finally:
        shutil.rmtree(tmpdir, ignore_errors=True)


# ---- the compressed clusters, read from a layer's L2 tables ----

def layer_compressed(path, fmt="qcow2"):
    """The guest ranges [(start, length)] whose clusters in the active L1
    table of the qcow2 image PATH are compressed (bit 62 of the L2 entry;
    an extended L2 entry's first 8 bytes)"""
    if fmt != "qcow2":
        return []
    out = []
    with open(path, "rb", buffering=0) as f:
        # no readahead: pages read ahead over the image's unwritten
        # extents would change what SEEK_DATA, and so qemu-img map, says
        # of them (see check_json_map)
        os.posix_fadvise(f.fileno(), 0, 0, os.POSIX_FADV_RANDOM)
        h = f.read(104)
        if h[:4] != b"QFI\xfb":
            raise BuildError("%s: not a qcow2 image" % path)
        version, = struct.unpack(">I", h[4:8])
        cbits, = struct.unpack(">I", h[20:24])
        size, = struct.unpack(">Q", h[24:32])
        l1_size, = struct.unpack(">I", h[36:40])
        l1_off, = struct.unpack(">Q", h[40:48])
        incompat = struct.unpack(">Q", h[72:80])[0] if version >= 3 else 0
        esz = 16 if incompat & 16 else 8
        cs = 1 << cbits
        per_l2 = cs // esz
        f.seek(l1_off)
        l1 = struct.unpack(">%dQ" % l1_size, f.read(8 * l1_size))
        for i, e in enumerate(l1):
            l2_off = e & 0x00fffffffffffe00
            if not l2_off:
                continue
            f.seek(l2_off)
            l2 = f.read(cs)
            for j in range(per_l2):
                ent, = struct.unpack(">Q", l2[j * esz:j * esz + 8])
                if ent & (1 << 62):
                    g = (i * per_l2 + j) * cs
                    if g < size:
                        out.append((g, min(cs, size - g)))
    return merge_ranges(out)


def prealloc_heuristic(path):
    """QEMU 7.2's qcow2_detect_metadata_preallocation, as observed: with
    real = the file's allocated bytes (st_blocks * 512) in whole clusters
    and threshold = max(real * 10 / 9, real + 2), the image is taken for
    metadata-preallocated when at least THRESHOLD of the clusters below
    the file's end (its length rounded up to 512, then to clusters) have
    a refcount above 0.  Then QEMU asks the file (SEEK_DATA/SEEK_HOLE)
    under every normal data cluster, and a hole there reads as zeroes.
    Returns (refcounted clusters, threshold)."""
    with open(path, "rb", buffering=0) as f:
        os.posix_fadvise(f.fileno(), 0, 0, os.POSIX_FADV_RANDOM)
        h = f.read(104)
        version, = struct.unpack(">I", h[4:8])
        cbits, = struct.unpack(">I", h[20:24])
        rt_off, = struct.unpack(">Q", h[48:56])
        rt_clusters, = struct.unpack(">I", h[56:60])
        order = struct.unpack(">I", h[96:100])[0] if version >= 3 else 4
        cs = 1 << cbits
        st = os.fstat(f.fileno())
        real = st.st_blocks * 512 // cs
        threshold = max(real * 10 // 9, real + 2)
        end = ((st.st_size + 511) // 512 * 512 + cs - 1) // cs
        per_block = cs * 8 >> order
        f.seek(rt_off)
        rt = struct.unpack(">%dQ" % (rt_clusters * cs // 8), f.read(rt_clusters * cs))
        count = 0
        blocks = {}
        for i in range(end):
            b = rt[i // per_block] & 0x00fffffffffffe00 if i // per_block < len(rt) else 0
            if not b:
                continue
            if b not in blocks:
                f.seek(b)
                blocks[b] = f.read(cs)
            bits = 1 << order
            k = i % per_block
            if bits >= 8:
                v = int.from_bytes(blocks[b][k * bits // 8:(k + 1) * bits // 8], "big")
            else:
                v = (blocks[b][k * bits // 8] >> (k * bits % 8)) & ((1 << bits) - 1)
            count += v != 0
        return count, threshold


def covered(ranges, s, l):
    """how many bytes of [s, s+l) RANGES cover"""
    n = 0
    for rs, rl in ranges:
        lo, hi = max(s, rs), min(s + l, rs + rl)
        if hi > lo:
            n += hi - lo
    return n


def compressed_of(case, entry):
    """True/False: the entry's range is compressed in its layer; None: part
    of it is and part is not (the map should never give such an entry)"""
    d = entry["depth"]
    if d >= len(case["layers"]):
        return False
    path, fmt = case["layers"][d]
    key = (path, fmt)
    cache = case.setdefault("_compressed", {})
    if key not in cache:
        cache[key] = layer_compressed(os.path.join(case["cwd"], path), fmt)
    n = covered(cache[key], entry["start"], entry["length"])
    if n == 0:
        return False
    if n == entry["length"]:
        return True
    return None


# ---- qcow2dump ----

class Results:
    def __init__(self, bad_runs=None, out=sys.stdout):
        self.n_ok = 0
        self.n_bad = 0
        self.bad_runs = bad_runs
        self.out = out

    def ok(self, desc):
        self.n_ok += 1
        print("ok - " + desc, file=self.out)

    def bad(self, desc, *details):
        self.n_bad += 1
        print("not ok - " + desc, file=self.out)
        for d in details:
            for line in str(d).splitlines()[:12]:
                print("    " + line, file=self.out)

    def check(self, cond, desc, *details):
        if cond:
            self.ok(desc)
        else:
            self.bad(desc, *details)
        return cond


def qdump(res, qcmd, cwd, *args):
    """(status, stdout bytes, stderr bytes) of qcow2dump ARGS; a status
    qcow2dump never gives by itself (a crash, a sanitizer's 99) is noted
    in the bad-runs file, as lib.sh's qdump does"""
    for tries in range(20):
        try:
            r = subprocess.run(qcmd + list(args), cwd=cwd, capture_output=True)
            break
        except OSError:     # the binary being rebuilt under us: wait for it
            if tries == 19:
                raise
            time.sleep(0.5)
    if r.returncode not in (0, 1, 2, 64) and res is not None and res.bad_runs:
        with open(res.bad_runs, "a") as f:
            f.write("status %d: qcow2dump %s\n" % (r.returncode, " ".join(args)))
    return r.returncode, r.stdout, r.stderr


CHANGED = ("qemu-img map asked again after qcow2dump gives qcow2dump's answer: "
           "qcow2dump's own reads changed what SEEK_DATA says of unwritten extents "
           "(readahead fills the page cache over them)")


def short(e):
    return json.dumps(e, separators=(",", ":"), sort_keys=False)


def compare_entries(case, want, got):
    """the differences of qcow2dump's map entries GOT from qemu-img map's
    WANT, as lines ([] when equal); compressed checked against the layer"""
    diffs = []
    if not isinstance(got, list):
        return ["map is not a list: %r" % (got,)]
    for i in range(max(len(want), len(got))):
        w = want[i] if i < len(want) else None
        g = got[i] if i < len(got) else None
        if w is None or g is None or not isinstance(g, dict):
            diffs.append("entry %d: qemu %s, ours %s" % (
                i, short(w) if w else "none", short(g) if g is not None else "none"))
            continue
        wk = set(w)
        gk = set(g) - {"compressed"}
        wrong = [k for k in wk if k not in g or g[k] != w[k] or
                 type(g[k]) != type(w[k])]
        if wrong or gk - wk:
            diffs.append("entry %d: qemu %s, ours %s" % (i, short(w), short(g)))
            continue
        c = compressed_of(case, w)
        if "compressed" not in g or g["compressed"] is not c:
            diffs.append("entry %d: compressed %s, the layer's L2 says %s: ours %s"
                         % (i, g.get("compressed", "missing"),
                            "mixed" if c is None else c, short(g)))
    return diffs


def check_json_map(res, qcmd, case, start=None, length=None, label=""):
    name = case["name"] + label
    wargs = window_args(start, length)
    try:
        want = qemu_map_json(case, start, length)
    except BuildError as e:
        res.bad("%s: qemu-img map" % name, e)
        return
    st, out, err = qdump(res, qcmd, case["cwd"], "--map", "-f", "json", *(wargs + [case["image"]]))
    if not res.check(st == 0, "%s: --map -f json exits 0" % name,
                     "status %d: %s" % (st, err.decode("utf-8", "replace").strip()[:300])):
        return
    try:
        doc = json.loads(out)
    except ValueError as e:
        res.bad("%s: --map -f json is one JSON document" % name, e, out[:300])
        return
    keys = set(doc) if isinstance(doc, dict) else set()
    res.check(isinstance(doc, dict) and doc.get("image") == case["image"] and
              isinstance(doc.get("locked"), bool) and "map" in doc and
              keys <= {"image", "locked", "map", "backing_chain", "problems"} and
              ("problems" not in doc or (isinstance(doc["problems"], list) and doc["problems"])),
              "%s: document shape (image, locked, map, backing_chain, problems only when "
              "some)" % name,
              "keys %s image %r locked %r problems %r" % (
                  sorted(keys), doc.get("image") if isinstance(doc, dict) else None,
                  doc.get("locked") if isinstance(doc, dict) else None,
                  doc.get("problems") if isinstance(doc, dict) else None))
    # backing_chain (qcow2dump's own key): the layers the depths name
    if isinstance(doc, dict) and "backing_chain" in doc:
        bc = doc["backing_chain"]
        want_bc = [[i, fmt] for i, (_, fmt) in enumerate(case["layers"])]
        got_bc = [[l.get("backing_depth"), l.get("format")] for l in bc] \
            if isinstance(bc, list) and all(isinstance(l, dict) for l in bc) else bc
        res.check(got_bc == want_bc, "%s: backing_chain names the %d layers, "
                  "depth and format" % (name, len(want_bc)),
                  "want %s, got %s" % (want_bc, json.dumps(bc)[:400]))
    if isinstance(doc, dict) and "problems" in doc and not case.get("problems_ok"):
        res.bad("%s: no problems on an image QEMU made" % name,
                json.dumps(doc["problems"])[:600])
    got = doc.get("map") if isinstance(doc, dict) else None
    diffs = compare_entries(case, want, got)
    if diffs:
        # qemu-img map's answer can change under it: where QEMU takes the
        # image for metadata-preallocated, it asks the host file system
        # for holes (SEEK_DATA), and ext4 reports an unwritten extent as
        # a hole only until pages over it are in the page cache -- which
        # any read of the file near it brings, by readahead (8 MiB here).
        # Asked again after qcow2dump: when that answer is ours, say so:
        # qcow2dump's own reads most likely changed what it then saw.
        # Still a mismatch: QEMU's answer on the image as it was is the
        # first.
        again = qemu_map_json(case, start, length)
        if again != want:
            diffs.insert(0, CHANGED if not compare_entries(case, again, got) else
                         "(qemu-img map asked again after qcow2dump gives a third answer)")
    res.check(not diffs, "%s: --map -f json%s equals qemu-img map (%d entries)" % (
        name, "".join(" " + a for a in wargs), len(want)), *(diffs[:6] + (
            ["... %d more differing entries" % (len(diffs) - 6)] if len(diffs) > 6 else [])))


def check_text_map(res, qcmd, case, start=None, length=None, label=""):
    name = case["name"] + label
    wargs = window_args(start, length)
    qst, qout, qerr = qemu_map(case, start, length, text=True)
    if qst != 0 and case.get("text_optional") and b"compressed clusters" in qerr:
        return      # qemu-img has no text for it: nothing to compare
    if qst != 0:
        res.bad("%s: qemu-img map%s (text) exits 0" % (name, "".join(" " + a for a in wargs)),
                qerr.decode("utf-8", "replace"))
        return
    st, out, err = qdump(res, qcmd, case["cwd"], "--map", *(wargs + [case["image"]]))
    changed = []
    if st == 0 and out != qout:       # see check_json_map
        _, qout2, _ = qemu_map(case, start, length, text=True)
        if qout2 != qout:
            changed = [CHANGED if qout2 == out else "(qemu-img map asked again "
                       "after qcow2dump gives a third answer)"]
    res.check(st == 0 and out == qout,
              "%s: --map%s (text) equals qemu-img map byte for byte" % (
                  name, "".join(" " + a for a in wargs)), *changed,
              "status %d %s" % (st, err.decode("utf-8", "replace").strip()[:200]),
              "qemu-img:", qout.decode("utf-8", "replace"),
              "qcow2dump:", out.decode("utf-8", "replace"))


def expected_pieces(case, dirty, entries):
    pieces = []
    for s, l in dirty:
        for e in entries:
            lo = max(s, e["start"])
            hi = min(s + l, e["start"] + e["length"])
            if hi <= lo:
                continue
            p = {"start": lo, "length": hi - lo, "depth": e["depth"],
                 "present": e["present"], "zero": e["zero"], "data": e["data"],
                 "compressed": compressed_of(case, e)}
            if "offset" in e:
                p["offset"] = e["offset"] + lo - e["start"]
            pieces.append(p)
    return pieces


def x_map_diffs(case, b, g, dirty, entries):
    """the differences of bitmap B's piece list G (its JSON object) from
    DIRTY cut by ENTRIES, as lines; and the number of pieces wanted"""
    want = expected_pieces(case, dirty, entries)
    gp = g.get("extents")
    diffs = []
    if not isinstance(gp, list):
        diffs.append("extents: %r" % (gp,))
    else:
        for i in range(max(len(want), len(gp))):
            w = want[i] if i < len(want) else None
            x = gp[i] if i < len(gp) else None
            if w != x:
                diffs.append("piece %d: want %s, ours %s" % (
                    i, short(w) if w else "none", short(x) if x is not None else "none"))
    dirty_bytes = sum(p["length"] for p in want)
    data_bytes = sum(p["length"] for p in want if p["data"] and not p["zero"])
    zero_bytes = sum(p["length"] for p in want if p["zero"])
    sums = (g.get("dirty_bytes"), g.get("data_bytes"), g.get("zero_bytes"))
    if sums != (dirty_bytes, data_bytes, zero_bytes):
        diffs.append("dirty/data/zero bytes: want %d/%d/%d, ours %s/%s/%s" % (
            (dirty_bytes, data_bytes, zero_bytes) + sums))
    if data_bytes + zero_bytes != dirty_bytes:
        diffs.append("QEMU side: a dirty piece neither data nor zero "
                     "(data_bytes + zero_bytes != dirty_bytes)")
    return diffs, len(want)


def check_x_map(res, qcmd, case, bitmaps, chain_lowers=None):
    """-x --map (with --backing-chain when CHAIN_LOWERS, the lower layers
    holding the bitmaps) against qemu-nbd's dirty ranges and qemu-img map"""
    name = case["name"] + (" --backing-chain" if chain_lowers is not None else "")
    try:
        dirty = {}
        for b in bitmaps:
            if chain_lowers is not None:
                dirty[b] = merged_dirty(case["cwd"], case["image"], b, chain_lowers)
            else:
                dirty[b] = nbd_dirty(case["cwd"], case["image"], b)
        entries = qemu_map_json(case)
    except BuildError as e:
        res.bad("%s: QEMU's dirty ranges and map" % name, e)
        return
    args = ["-x", "--map", "-f", "json"] + (
        ["--backing-chain"] if chain_lowers is not None else []) + [case["image"]]
    st, out, err = qdump(res, qcmd, case["cwd"], *args)
    # -x exits 1 when a bitmap shown is not usable (a disabled one, say)
    if not res.check(st in (0, 1), "%s: -x --map -f json exits 0 or 1" % name,
                     "status %d: %s" % (st, err.decode("utf-8", "replace").strip()[:300])):
        return
    try:
        doc = json.loads(out)
        got = {b["name"]: b for b in doc["bitmaps"]}
    except (ValueError, KeyError, TypeError) as e:
        res.bad("%s: -x --map -f json has a bitmaps list" % name, e, out[:300])
        return
    unusable = sorted(n for n, b in got.items() if b.get("usable") is not True)
    res.check((st == 1) == bool(unusable), "%s: -x --map exits 1 exactly when a bitmap "
              "is not usable (status %d, not usable: %s)" % (name, st, unusable or "none"),
              err.decode("utf-8", "replace").strip()[:300])
    if chain_lowers is None:
        res.check(sorted(got) == sorted(bitmaps), "%s: -x --map lists the bitmaps %s" % (
            name, ",".join(bitmaps)), "got %s" % sorted(got))
    else:
        res.check(set(bitmaps) <= set(got), "%s: -x --map lists the bitmaps %s" % (
            name, ",".join(bitmaps)), "got %s" % sorted(got))
    again = None
    for b in bitmaps:
        diffs, n = x_map_diffs(case, b, got.get(b, {}), dirty[b], entries)
        if diffs:       # the map may have changed under us: see check_json_map
            if again is None:
                again = qemu_map_json(case)
            if again != entries:
                d2, _ = x_map_diffs(case, b, got.get(b, {}), dirty[b], again)
                diffs.insert(0, CHANGED if not d2 else "(qemu-img map asked again "
                             "after qcow2dump gives a third answer)")
        res.check(not diffs, "%s: -x --map bitmap %s: %d pieces of %d dirty ranges, "
                  "as qemu-nbd -B and qemu-img map give them" % (name, b, n, len(dirty[b])),
                  *(diffs[:6] + (["... %d more" % (len(diffs) - 6)] if len(diffs) > 6 else [])))


# ---- the cases ----

M = 1 << 20
K = 1 << 10
CASES = []


def case(fn):
    CASES.append(fn)
    return fn


def mk(name, cwd, image, layers=None, text=True, windows=(), bitmaps=(),
       chain_bitmaps=None, **kw):
    c = {"name": name, "cwd": cwd, "image": image,
         "layers": layers or [(image, "qcow2")], "text": text,
         "windows": list(windows), "bitmaps": list(bitmaps),
         "chain_bitmaps": chain_bitmaps}
    c.update(kw)
    return c


STD_WINDOWS = [(100, None), (100, 1000), (1000, None), (None, 1000), (0, 0)]


def past_end(size):
    return [(size, None), (size + 12345, None), (size - 1, None), (size - 100, 1000)]


@case
def unallocated(d):
    Q(d, "create", "-q", "-f", "qcow2", "empty.qcow2", str(8 * M))
    return [mk("unallocated", d, "empty.qcow2",
               windows=STD_WINDOWS + past_end(8 * M),
               qemu_expect=lambda m: len(m) == 1 and not m[0]["present"])]


@case
def writes(d):
    Q(d, "create", "-q", "-f", "qcow2", "writes.qcow2", str(16 * M))
    IO(d, "writes.qcow2", "write -P 1 0 4k", "write -P 2 100k 200k",
       "write -P 3 1M 1", "write -P 4 3M 64k", "write -P 5 %d 512" % (16 * M - 512),
       "write -P 6 5M 1M", "write -P 7 5M 64k")
    return [mk("writes", d, "writes.qcow2",
               windows=STD_WINDOWS + past_end(16 * M) +
               [(65536, 70000), (3 * M + 5, 10), (100 * K + 1, 3 * M), (5 * M - 1, 2)],
               qemu_expect=lambda m: sum(e["data"] for e in m) >= 4),
            # the same image named other ways: absolute, ./, from above
            mk("writes (absolute path)", d, os.path.join(d, "writes.qcow2"),
               layers=[("writes.qcow2", "qcow2")]),
            mk("writes (./ path)", d, "./writes.qcow2", layers=[("writes.qcow2", "qcow2")]),
            mk("writes (from the parent directory)", os.path.dirname(d),
               os.path.join(os.path.basename(d), "writes.qcow2"))]


@case
def zero_writes(d):
    Q(d, "create", "-q", "-f", "qcow2", "zero.qcow2", str(4 * M))
    IO(d, "zero.qcow2", "write -P 1 0 256k",
       "write -z 0 64k",          # allocated: zero, keeps its cluster
       "write -z -u 64k 64k",     # allocated, may unmap: zero, no cluster
       "write -z 1M 64k",         # unallocated: zero
       "write -z -u 2M 128k",
       "write -z 200k 10k",       # part of an allocated cluster: zeroes written
       "write -z 3M 1000",        # part of an unallocated one: the cluster zero
       "write -P 2 3500k 64k", "write -z -u 3500k 4k")
    return [mk("zero-writes", d, "zero.qcow2", windows=[(100, 1000), (200 * K, 10 * K)],
               qemu_expect=lambda m: any(e["zero"] and e["present"] and "offset" in e for e in m)
               and any(e["zero"] and e["present"] and "offset" not in e for e in m))]


@case
def discards(d):
    Q(d, "create", "-q", "-f", "qcow2", "discard.qcow2", str(4 * M))
    IO(d, "discard.qcow2", "write -P 1 0 1M", "discard 0 64k", "discard 100k 64k",
       "discard 2M 64k", "discard 512k 512k", "write -P 3 3M 64k", "discard 3M 4k")
    # a backing file under it: a discard there is a zero cluster over data
    Q(d, "create", "-q", "-f", "qcow2", "-b", "discard.qcow2", "-F", "qcow2",
      "discard-top.qcow2")
    IO(d, "discard-top.qcow2", "write -P 4 0 128k", "discard 64k 64k", "discard 3M 64k",
       "discard 1M 1M")
    return [mk("discards", d, "discard.qcow2"),
            mk("discards over a backing file", d, "discard-top.qcow2",
               layers=[("discard-top.qcow2", "qcow2"), ("discard.qcow2", "qcow2")])]


def compressible_source(d, name, cluster):
    """a raw file: compressible patterns, a cluster of random bytes, zeroes;
    returns (path, the ranges convert -c must compress)"""
    import random
    rnd = random.Random(7)
    size = 2 * M
    buf = bytearray(size)
    want = []
    for s, l in ((0, 192 * K), (520 * K, 4 * K), (1 * M + 3 * cluster, cluster)):
        buf[s:s + l] = bytes([0x5a]) * l
        start = s // cluster * cluster
        want.append((start, (s + l + cluster - 1) // cluster * cluster - start))
    r0 = 1536 * K  # random bytes: not compressible, stored as they are
    buf[r0:r0 + cluster] = bytes(rnd.getrandbits(8) for _ in range(cluster))
    with open(os.path.join(d, name), "wb") as f:
        f.write(buf)
    return name, merge_ranges(want), (r0, cluster)


@case
def compressed(d):
    out = []
    for ctype, cl in (("zlib", 64 * K), ("zstd", 64 * K), ("zlib", 4 * K)):
        src, want, rnd = compressible_source(d, "src-%s-%d.raw" % (ctype, cl), cl)
        img = "comp-%s-%d.qcow2" % (ctype, cl)
        Q(d, "convert", "-c", "-f", "raw", "-O", "qcow2", "-o",
          "compression_type=%s,cluster_size=%d" % (ctype, cl), src, img)
        got = layer_compressed(os.path.join(d, img))
        out.append(mk("convert -c %s, %d-byte clusters" % (ctype, cl), d, img, text=False,
                      windows=[(100, 1000), (64 * K - 1, 2), (rnd[0] - 10, 100)] if cl == 64 * K else [],
                      qemu_expect=lambda m, got=got, want=want: got == want,
                      qemu_expect_what="the L2 tables have compressed exactly the "
                      "clusters with pattern data %s (found %s)" % (want, got)))
    # qemu-io write -c, in an image with normal clusters beside, then a
    # write into a compressed cluster (which makes it a normal one)
    Q(d, "create", "-q", "-f", "qcow2", "-o", "compression_type=zstd", "wc.qcow2", str(2 * M))
    IO(d, "wc.qcow2", "write -c -P 1 0 128k", "write -P 2 128k 64k", "write -c -P 3 256k 64k",
       "write -c -P 4 320k 64k", "write -P 5 330k 1k", "write -z 512k 64k",
       "write -c -P 6 1M 64k", "write -z 1M 64k", "write -c -P 7 1536k 64k", "discard 1536k 64k")
    want = [(0, 128 * K), (256 * K, 64 * K)]
    got = layer_compressed(os.path.join(d, "wc.qcow2"))
    out.append(mk("qemu-io write -c", d, "wc.qcow2", text=False,
                  qemu_expect=lambda m: got == want,
                  qemu_expect_what="compressed %s, found %s" % (want, got)))
    return out


@case
def extended_l2(d):
    out = []
    for cl in (64 * K, 32 * K):
        img = "ext%d.qcow2" % (cl // K)
        Q(d, "create", "-q", "-f", "qcow2", "-o", "extended_l2=on,cluster_size=%d" % cl,
          img, str(2 * M))
        sc = cl // 32
        IO(d, img, "write -P 1 0 %d" % sc, "write -P 2 %d %d" % (3 * sc, 2 * sc),
           "write -z %d %d" % (cl, 2 * sc),              # zero subclusters, no cluster
           "write -P 3 %d %d" % (2 * cl, cl),
           "write -z %d %d" % (2 * cl + sc, sc),          # zero subcluster in a cluster
           "discard %d %d" % (2 * cl + 5 * sc, 2 * sc),   # part of a cluster
           "write -z -u %d %d" % (2 * cl + 9 * sc, sc),
           "discard %d %d" % (4 * cl, cl),               # unallocated
           "write -P 4 %d %d" % (5 * cl, cl), "discard %d %d" % (5 * cl, cl),
           "write -P 5 %d 100" % (6 * cl + 7 * sc + 3),
           "write -c -P 6 %d %d" % (8 * cl, 2 * cl),
           "write -P 7 %d %d" % (1 * M, 3 * sc))
        out.append(mk("extended_l2, %d-byte clusters" % cl, d, img, text=False,
                      windows=[(100, 1000), (sc - 1, 2), (3 * sc + 7, sc)],
                      qemu_expect=lambda m: any(not e["present"] and "offset" in e for e in m),
                      qemu_expect_what="an unallocated subcluster of an allocated cluster"))
        img2 = "ext%d-nc.qcow2" % (cl // K)   # the same but compressed: text too
        Q(d, "create", "-q", "-f", "qcow2", "-o", "extended_l2=on,cluster_size=%d" % cl,
          img2, str(1 * M))
        IO(d, img2, "write -P 1 0 %d" % sc, "write -P 2 %d %d" % (3 * sc, 2 * sc),
           "write -z %d %d" % (cl, 2 * sc), "write -P 3 %d %d" % (2 * cl, cl),
           "write -z %d %d" % (2 * cl + sc, sc), "write -P 5 %d 100" % (6 * cl + 7 * sc + 3))
        out.append(mk("extended_l2 without compression, %d-byte clusters" % cl, d, img2,
                      windows=[(100, 1000), (3 * sc + 7, sc)]))
    return out


@case
def preallocation(d):
    out = []
    for mode in ("metadata", "falloc", "full"):
        img = "pre-%s.qcow2" % mode
        Q(d, "create", "-q", "-f", "qcow2", "-o", "preallocation=" + mode, img, str(3 * M))
        out.append(mk("preallocation=" + mode, d, img, windows=[(100, 1000)]))
    Q(d, "create", "-q", "-f", "qcow2", "-o", "preallocation=metadata", "pre-w.qcow2", str(4 * M))
    IO(d, "pre-w.qcow2", "write -P 1 0 4k", "write -P 2 1M 64k", "write -P 3 %d 1000" % (2 * M + 512),
       "write -z 3M 64k", "discard %d 64k" % (3 * M + 64 * K), "write -P 4 %d 8k" % (3 * M + 200 * K))
    out.append(mk("preallocation=metadata, then writes", d, "pre-w.qcow2",
                  windows=[(100, 1000), (4096 - 10, 20), (2 * M, 8 * K)]))
    Q(d, "create", "-q", "-f", "qcow2", "-o", "preallocation=metadata,cluster_size=4k",
      "pre-4k.qcow2", str(1 * M))
    IO(d, "pre-4k.qcow2", "write -P 1 8k 4k", "write -P 1 100k 1")
    out.append(mk("preallocation=metadata, 4 KiB clusters, then writes", d, "pre-4k.qcow2"))
    return out


@case
def prealloc_threshold(d):
    # map-sweep.py's seed 173: QEMU takes it for metadata-preallocated
    # with exactly as many refcounted clusters as its threshold (on ext4
    # with 4 KiB blocks), and so splits data clusters at the file's holes
    Q(d, "create", "-q", "-f", "qcow2", "-o", "cluster_size=128k,refcount_bits=64,"
      "compression_type=zstd", "edge.qcow2", "4128768")
    IO(d, "edge.qcow2", "write -P 1 1835008 131072", "write -z -u 318976 2560",
       "write -P 2 1572864 917504", "write -P 3 2359296 131072", "discard 334336 134656",
       "write -P 4 1122304 428032", "write -P 5 2931771 142671")
    Q(d, "resize", "-f", "qcow2", "edge.qcow2", "5933056")
    IO(d, "edge.qcow2", "write -c -P 6 4063232 262144", "write -z 5917696 15360",
       "write -z 1400832 134656")
    count, threshold = prealloc_heuristic(os.path.join(d, "edge.qcow2"))
    return [mk("metadata-preallocation heuristic at its threshold (%d refcounted "
               "clusters, threshold %d)" % (count, threshold), d, "edge.qcow2", text=False,
               windows=[(1048576, 600000)],
               qemu_expect=lambda m: any(e["data"] and e["zero"] for e in m),
               qemu_expect_what="data clusters over the file's holes read as zeroes")]


@case
def cluster_sizes(d):
    Q(d, "create", "-q", "-f", "qcow2", "-o", "cluster_size=512", "c512.qcow2", str(1 * M))
    IO(d, "c512.qcow2", "write -P 1 0 1k", "write -P 2 1000 100", "write -P 3 64k 10k",
       "write -z 66k 1k", "discard 70k 1k", "write -z 200k 512", "write -P 4 %d 512" % (M - 512))
    Q(d, "create", "-q", "-f", "qcow2", "-o", "cluster_size=2M", "c2m.qcow2", str(16 * M))
    IO(d, "c2m.qcow2", "write -P 1 3M 1M", "write -P 2 5M 4k", "write -z 8M 2M",
       "write -P 3 10M 2M", "discard 10M 2M", "write -P 4 %d 100" % (16 * M - 100))
    return [mk("512-byte clusters", d, "c512.qcow2", windows=[(100, 1000), (1000, 100), (511, 2)]),
            mk("2 MiB clusters", d, "c2m.qcow2", windows=[(100, 1000), (3 * M - 1, 2 * M)])]


@case
def refcount_widths(d):
    out = []
    for bits in (1, 64):
        img = "rc%d.qcow2" % bits
        Q(d, "create", "-q", "-f", "qcow2", "-o", "refcount_bits=%d" % bits, img, str(4 * M))
        IO(d, img, "write -P 1 0 64k", "write -P 2 1M 300k", "write -z 2M 64k", "discard 1M 64k")
        out.append(mk("refcount_bits=%d" % bits, d, img))
    return out


@case
def snapshots(d):
    Q(d, "create", "-q", "-f", "qcow2", "snap.qcow2", str(4 * M))
    IO(d, "snap.qcow2", "write -P 1 0 64k", "write -P 2 1M 128k")
    Q(d, "snapshot", "-c", "s1", "snap.qcow2")
    IO(d, "snap.qcow2", "write -P 3 32k 64k", "write -z 1M 64k", "write -P 4 2M 4k")
    Q(d, "snapshot", "-c", "s2", "snap.qcow2")
    IO(d, "snap.qcow2", "discard 0 64k", "write -P 5 3M 64k", "discard 1088k 64k")
    return [mk("internal snapshots, then writes", d, "snap.qcow2", windows=[(100, 1000)])]


@case
def data_file(d):
    out = []
    for raw in ("on", "off"):
        img = "df-%s.qcow2" % raw
        # QEMU resolves a relative data-file name against its working
        # directory: made and read from the image's directory
        Q(d, "create", "-q", "-f", "qcow2", "-o",
          "data_file=df-%s.raw,data_file_raw=%s" % (raw, raw), img, str(2 * M))
        IO(d, img, "write -P 1 0 4k", "write -z 128k 64k", "write -P 2 1M 64k",
           "discard 1M 64k", "write -P 3 1536k 100k", "write -z -u 1900k 64k")
        out.append(mk("data file, data_file_raw=%s" % raw, d, img,
                      windows=[(100, 1000), (1536 * K + 5, 3000)]))
    sub = os.path.join(d, "dfabs")
    os.mkdir(sub)
    Q(d, "create", "-q", "-f", "qcow2", "-o",
      "data_file=%s,data_file_raw=on" % os.path.join(sub, "abs.raw"),
      os.path.join(sub, "abs.qcow2"), str(1 * M))
    IO(d, os.path.join(sub, "abs.qcow2"), "write -P 1 64k 64k")
    out.append(mk("data file named by an absolute path, image read from elsewhere", d,
                  "dfabs/abs.qcow2"))
    return out


@case
def luks(d):
    create_luks(d, "luks.qcow2", 2 * M)
    IO(d, "luks.qcow2", "write -P 1 0 4k", "write -z 128k 64k", "write -P 2 512k 64k",
       "discard 512k 64k", "write -P 3 1M 200k", image_opts=luks_opts("luks.qcow2"))
    return [mk("LUKS-encrypted", d, "luks.qcow2", text=False, luks=True, windows=[(100, 1000)],
               qemu_expect=lambda m: any(e["data"] and "offset" not in e for e in m))]


@case
def odd_sizes(d):
    out = []
    for size in (1000, 65537, M + 512, 3 * M + 1000):
        img = "odd%d.qcow2" % size
        Q(d, "create", "-q", "-f", "qcow2", img, str(size))
        vs = json.loads(Q(d, "info", "--output=json", img).stdout)["virtual-size"]
        cmds = ["write -P 1 0 512", "write -P 2 %d 512" % (vs - 512)]
        if vs > 128 * K:
            cmds.append("write -z 64k 64k")
        IO(d, img, *cmds)
        out.append(mk("virtual size %d" % size, d, img,
                      windows=[(100, 1000)] + past_end(vs)))
    return out


@case
def resized(d):
    Q(d, "create", "-q", "-f", "qcow2", "grow.qcow2", str(1 * M))
    IO(d, "grow.qcow2", "write -P 1 0 64k", "write -P 2 960k 64k")
    Q(d, "resize", "grow.qcow2", str(3 * M + 512))
    IO(d, "grow.qcow2", "write -P 3 %d 100" % (2 * M + 100))
    Q(d, "create", "-q", "-f", "qcow2", "shrink.qcow2", str(4 * M))
    IO(d, "shrink.qcow2", "write -P 1 0 4M", "write -z 512k 64k")
    Q(d, "resize", "--shrink", "shrink.qcow2", str(M + 512))
    return [mk("resized bigger", d, "grow.qcow2", windows=past_end(3 * M + 512)),
            mk("resized smaller (--shrink)", d, "shrink.qcow2", windows=past_end(M + 512))]


@case
def chains(d):
    # lib/base.qcow2 (4 KiB clusters, 6 MiB) <- lib/mid.qcow2 (512 B
    # clusters, 2 MiB: shorter than both) <- vm/top.qcow2 (64 KiB, 4 MiB),
    # relative names across directories, read from a third
    for sub in ("lib", "vm", "elsewhere"):
        os.makedirs(os.path.join(d, sub), exist_ok=True)
    lib = os.path.join(d, "lib")
    Q(lib, "create", "-q", "-f", "qcow2", "-o", "cluster_size=4k", "base.qcow2", str(6 * M))
    IO(lib, "base.qcow2", "write -P 1 0 1M", "write -P 2 %d 64k" % (5 * M), "write -z 1M 4k")
    Q(lib, "create", "-q", "-f", "qcow2", "-o", "cluster_size=512", "-b", "base.qcow2",
      "-F", "qcow2", "mid.qcow2", str(2 * M))
    IO(lib, "mid.qcow2", "write -P 3 4k 1k", "write -z 16k 8k", "discard 64k 4k",
       "write -P 4 %d 512" % (2 * M - 512))
    vm = os.path.join(d, "vm")
    Q(vm, "create", "-q", "-f", "qcow2", "-b", "../lib/mid.qcow2", "-F", "qcow2",
      "top.qcow2", str(4 * M))
    IO(vm, "top.qcow2", "write -P 5 128k 64k", "write -z 256k 64k", "write -P 6 3M 4k")
    layers = [("../vm/top.qcow2", "qcow2"), ("../lib/mid.qcow2", "qcow2"),
              ("../lib/base.qcow2", "qcow2")]
    out = [mk("chain of 3, clusters 64k/512/4k, sizes 4M/2M/6M", os.path.join(d, "elsewhere"),
              "../vm/top.qcow2", layers=layers,
              windows=[(100, 1000), (2 * M - 100, 1000), (4 * K + 1000, 100)])]
    # a fourth layer over it, shorter than its backing file
    Q(vm, "create", "-q", "-f", "qcow2", "-o", "cluster_size=16k", "-b", "top.qcow2",
      "-F", "qcow2", "over.qcow2", str(3 * M))
    IO(vm, "over.qcow2", "write -P 7 4k 4k")
    out.append(mk("chain of 4, the top shorter than its backing file", vm, "over.qcow2",
                  layers=[("over.qcow2", "qcow2"), ("top.qcow2", "qcow2"),
                          ("../lib/mid.qcow2", "qcow2"), ("../lib/base.qcow2", "qcow2")]))
    # compressed clusters below the top
    Q(lib, "create", "-q", "-f", "qcow2", "cbase.qcow2", str(2 * M))
    IO(lib, "cbase.qcow2", "write -c -P 1 0 256k", "write -P 2 1M 64k")
    Q(lib, "create", "-q", "-f", "qcow2", "-b", "cbase.qcow2", "-F", "qcow2", "cmid.qcow2")
    IO(lib, "cmid.qcow2", "write -c -P 3 512k 128k", "write -P 4 64k 4k")
    Q(lib, "create", "-q", "-f", "qcow2", "-b", "cmid.qcow2", "-F", "qcow2", "ctop.qcow2")
    IO(lib, "ctop.qcow2", "write -P 5 1536k 64k")
    out.append(mk("chain of 3 with compressed clusters below the top", d, "lib/ctop.qcow2",
                  layers=[("lib/ctop.qcow2", "qcow2"), ("lib/cmid.qcow2", "qcow2"),
                          ("lib/cbase.qcow2", "qcow2")], text=False,
                  windows=[(100, 1000), (600 * K, 100 * K)],
                  qemu_expect=lambda m: any(e["depth"] == 2 and e["data"] and "offset" not in e
                                            for e in m)))
    return out


@case
def raw_backing(d):
    with open(os.path.join(d, "bottom.raw"), "wb") as f:
        f.truncate(5 * M)
    IO(d, "bottom.raw", "write -P 1 1M 8k", "write -P 2 3M 1000", "write -P 3 4M 64k",
       "write -P 4 %d 512" % (5 * M - 512), fmt="raw")
    Q(d, "create", "-q", "-f", "qcow2", "-o", "cluster_size=4k", "-b", "bottom.raw",
      "-F", "raw", "rmid.qcow2", str(4 * M))
    IO(d, "rmid.qcow2", "write -P 5 0 4k", "write -z 1M 4k", "discard 3M 4k")
    Q(d, "create", "-q", "-f", "qcow2", "-b", "rmid.qcow2", "-F", "qcow2", "rtop.qcow2", str(6 * M))
    IO(d, "rtop.qcow2", "write -P 6 64k 64k")
    Q(d, "create", "-q", "-f", "qcow2", "-b", "bottom.raw", "-F", "raw", "rone.qcow2")
    IO(d, "rone.qcow2", "write -P 7 0 64k", "write -z %d 64k" % (4 * M))
    return [mk("raw backing file at the bottom of 3 layers", d, "rtop.qcow2",
               layers=[("rtop.qcow2", "qcow2"), ("rmid.qcow2", "qcow2"), ("bottom.raw", "raw")],
               windows=[(100, 1000), (M + 100, 10000), (3 * M - 5, 2000)],
               qemu_expect=lambda m: any(e["depth"] == 2 and e["data"] for e in m)),
            mk("raw backing file under one layer", d, "rone.qcow2",
               layers=[("rone.qcow2", "qcow2"), ("bottom.raw", "raw")])]


@case
def bitmaps(d):
    Q(d, "create", "-q", "-f", "qcow2", "bm.qcow2", str(8 * M))
    IO(d, "bm.qcow2", "write -P 1 0 1M", "write -P 9 6M 64k")      # before any bitmap
    Q(d, "bitmap", "--add", "bm.qcow2", "b0")
    Q(d, "bitmap", "--add", "-g", "4k", "bm.qcow2", "fine")
    IO(d, "bm.qcow2", "write -P 2 100k 200k", "write -z 512k 128k",  # zero inside data
       "discard 768k 64k", "write -P 3 2M 1M", "write -z -u 2304k 64k", "discard 2560k 128k",
       "write -z 4M 64k", "write -c -P 4 5M 128k", "write -P 5 %d 4k" % (8 * M - 4096))
    Q(d, "bitmap", "--add", "-g", "1M", "bm.qcow2", "coarse")
    IO(d, "bm.qcow2", "write -P 6 %d 10" % (7 * M + 3))
    # the chain: every layer holds ck, with writes of its own
    Q(d, "create", "-q", "-f", "qcow2", "-o", "cluster_size=4k", "ckbase.qcow2", str(4 * M))
    Q(d, "bitmap", "--add", "ckbase.qcow2", "ck")
    IO(d, "ckbase.qcow2", "write -P 1 0 64k", "write -P 2 1M 256k", "write -z 2M 64k")
    Q(d, "create", "-q", "-f", "qcow2", "-b", "ckbase.qcow2", "-F", "qcow2", "ckmid.qcow2")
    Q(d, "bitmap", "--add", "-g", "16k", "ckmid.qcow2", "ck")
    IO(d, "ckmid.qcow2", "write -P 3 32k 64k", "discard 1M 64k", "write -c -P 4 3M 64k")
    # (QEMU merges only bitmaps of one size: the layers are all 4 MiB)
    Q(d, "create", "-q", "-f", "qcow2", "-o", "cluster_size=16k", "-b", "ckmid.qcow2",
      "-F", "qcow2", "cktop.qcow2", str(4 * M))
    Q(d, "bitmap", "--add", "-g", "64k", "cktop.qcow2", "ck")
    IO(d, "cktop.qcow2", "write -P 5 1100k 16k", "write -z 2M 16k", "write -P 6 %d 4k" % (4 * M - 8 * K))
    return [mk("bitmaps", d, "bm.qcow2", text=False, bitmaps=["b0", "fine", "coarse"],
               qemu_expect_bitmaps={"b0": (64 * K, 8 * M - 64 * K),
                                    "fine": (100 * K, 8 * M - 100 * K)}),
            mk("bitmap ck in every layer of a chain", d, "cktop.qcow2", text=False,
               layers=[("cktop.qcow2", "qcow2"), ("ckmid.qcow2", "qcow2"),
                       ("ckbase.qcow2", "qcow2")],
               bitmaps=["ck"], chain_bitmaps=["ckmid.qcow2", "ckbase.qcow2"])]


# ---- running them ----

def build(root, only=None):
    """[(case fn name, [cases] or BuildError)]"""
    out = []
    for fn in CASES:
        if only and fn.__name__ not in only:
            continue
        d = os.path.join(root, fn.__name__)
        os.makedirs(d)
        try:
            out.append((fn.__name__, fn(d)))
        except BuildError as e:
            out.append((fn.__name__, e))
    return out


def check_qemu_side(res, c):
    """that the image is what the case meant to build, by QEMU's map"""
    try:
        m = qemu_map_json(c)
    except BuildError as e:
        res.bad("%s: qemu-img map reads it" % c["name"], e)
        return False
    good = True
    if "qemu_expect" in c:
        good &= res.check(c["qemu_expect"](m), "%s: QEMU built what the case means (%s)" % (
            c["name"], c.get("qemu_expect_what", "by its map")), json.dumps(m)[:600])
    # outside encryption, a data range without an offset is a compressed
    # one: the L2 tables and QEMU's map agree on them
    if not c.get("luks"):
        bad = []
        for e in m:
            comp = compressed_of(c, e)
            if comp is None or comp != (e["data"] and "offset" not in e):
                bad.append("%s: the L2 tables say compressed=%s" % (short(e), comp))
        good &= res.check(not bad, "%s: the compressed ranges of the L2 tables are "
                          "qemu-img map's data ranges without an offset" % c["name"], *bad[:4])
    if c["text"] and not c.get("text_optional"):
        st, out, err = qemu_map(c, text=True)
        good &= res.check(st == 0, "%s: qemu-img map prints text for it" % c["name"],
                          err.decode("utf-8", "replace"))
    for b, (s, l) in c.get("qemu_expect_bitmaps", {}).items():
        try:
            dirty = nbd_dirty(c["cwd"], c["image"], b)
        except BuildError as e:
            res.bad("%s: qemu-nbd -B %s" % (c["name"], b), e)
            continue
        good &= res.check(dirty and dirty[0][0] == s and
                          dirty[-1][0] + dirty[-1][1] == s + l,
                          "%s: bitmap %s records the writes after it was added "
                          "(first dirty byte %d, last %d)" % (c["name"], b, s, s + l - 1),
                          "dirty %s" % dirty)
    return good


def run_case(res, qcmd, c):
    check_json_map(res, qcmd, c)
    for s, l in c["windows"]:
        check_json_map(res, qcmd, c, s, l)
    if c["text"]:
        check_text_map(res, qcmd, c)
        for s, l in c["windows"]:
            check_text_map(res, qcmd, c, s, l)
    if c["bitmaps"]:
        check_x_map(res, qcmd, c, c["bitmaps"])
    if c["chain_bitmaps"] is not None:
        check_x_map(res, qcmd, c, c.get("chain_names", c["bitmaps"]), c["chain_bitmaps"])


def main(argv):
    if not argv or argv[0] not in ("run", "qemu", "list"):
        print(__doc__, file=sys.stderr)
        return 64
    if argv[0] == "list":
        for fn in CASES:
            print(fn.__name__)
        return 0
    args = argv[1:]
    only = None
    bad_runs = None
    if "--only" in args:
        i = args.index("--only")
        only = set(args[i + 1].split(","))
        del args[i:i + 2]
    if "--bad-runs" in args:
        i = args.index("--bad-runs")
        bad_runs = args[i + 1]
        del args[i:i + 2]
    if argv[0] == "run":
        qcmd, root = args[0].split(), os.path.abspath(args[1])
    else:
        qcmd, root = None, os.path.abspath(args[0])
    res = Results(bad_runs)
    for fname, cases in build(root, only):
        if isinstance(cases, BuildError):
            res.bad("%s: QEMU built the images" % fname, cases)
            continue
        for c in cases:
            check_qemu_side(res, c)
            if qcmd:
                run_case(res, qcmd, c)
    print("# mapcases: %d ok, %d not ok" % (res.n_ok, res.n_bad))
    return 1 if res.n_bad else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
