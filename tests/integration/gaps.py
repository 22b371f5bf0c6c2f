#!/usr/bin/python3
"""Helpers for gaps.sh, written from the QCOW2 specification and QEMU's
lock protocol; they share nothing with src/.

  gaps.py lock READY BYTE... IMAGE
      holds shared OFD locks (F_OFD_SETLK, F_RDLCK, as QEMU takes them)
      on each BYTE of IMAGE, writes READY once they are held, then waits
      to be killed.
  gaps.py exts IMAGE MAGIC=HEX... [backing=HEX]
      rewrites the header extension area: each MAGIC's data replaced (or
      added before the end marker), the backing file name replaced; the
      backing name is moved after the area and the header updated.
  gaps.py feature IMAGE TYPE BIT NAMEHEX
      the first feature name table entry of TYPE becomes the entry of
      (TYPE, BIT), named by the bytes NAMEHEX (at most 46).
  gaps.py refcount IMAGE OFFSET VALUE
      sets the refcount of the cluster holding OFFSET, at any
      refcount_bits (1 to 64; below 8 bits the low bits of a byte first,
      as QEMU lays them out).
  gaps.py refcount-range IMAGE OFFSET LENGTH VALUE
      the same for every cluster of [OFFSET, OFFSET + LENGTH).
  gaps.py bitmap-clusters IMAGE
      the offset of every cluster of the bitmap directory, of each
      bitmap's table and of each data cluster its table names, sorted.
  gaps.py refblocks IMAGE OFFSET...
      the refcount block index of the cluster holding each OFFSET.
  gaps.py qemu-refs
      reads qemu-img check's text on stdin; prints "zero OFFSET" for each
      "ERROR cluster N refcount=0 reference=R" and "excess OFFSET REFCOUNT"
      for each leaked cluster, OFFSET in bytes (CLUSTER_SIZE from the
      environment), sorted.
  gaps.py snaps IMAGE COUNT [l1o=N] [l1s=N] [id=FMT] [name=FMT]
      writes a table of COUNT copies of the first snapshot entry at the
      next cluster of the file (ids and names from FMT % (i + 1), "" for
      empty; default i + 1 and s<i + 1>), and points the header at it.
  gaps.py retable IMAGE INDEX:KEY=HEX...
      rewrites the snapshot table in place, entry INDEX's id or name
      (KEY id or name) replaced by the bytes HEX (empty for none); a
      table that grows is written at the next cluster of the file
      instead, and the header pointed at it.
  gaps.py fill IMAGE OFFSET EXTRA
      writes a snapshot table at OFFSET whose entries end exactly
      64 MiB + EXTRA bytes after OFFSET (names of zero bytes, left as
      holes), refcount 1 for its clusters, the header pointed at it;
      prints the number of entries.
  gaps.py jhex FILE DOC PATH...
      the string at PATH (keys and indexes separated by '/') of the
      DOC-th JSON document of FILE, read by Python's json, as hex bytes
      (its UTF-8 encoding; a missing key prints "missing").
  gaps.py chex FILE ROW COL
      the cell at ROW (0: the header; or NAME=VALUE: the first row whose
      column NAME holds VALUE) and column COL of a CSV file, read by
      Python's csv module, as hex bytes; ROW "all": the cell of every
      row but the header, one a line.
"""
import csv
import fcntl
import io
import json
import os
import signal
import struct
import sys

# the snapshot entry's fixed part and the JSON stream reader, as the
# snapshot tests have them
from snapshots import FIXED, documents


def header(data):
    h = {}
    h["version"] = struct.unpack_from(">I", data, 4)[0]
    h["backing_offset"], h["backing_size"] = struct.unpack_from(">QI", data, 8)
    h["cluster_bits"] = struct.unpack_from(">I", data, 20)[0]
    h["reftable"] = struct.unpack_from(">Q", data, 48)[0]
    h["order"] = struct.unpack_from(">I", data, 96)[0] if h["version"] >= 3 else 4
    h["length"] = struct.unpack_from(">I", data, 100)[0] if h["version"] >= 3 else 72
    return h


def cmd_lock(ready, *args):
    *bytes_, path = args
    fd = os.open(path, os.O_RDONLY)
    for b in bytes_:
        # struct flock: l_type, l_whence, l_start, l_len, l_pid (0 for OFD)
        fl = struct.pack("hh4xqqi4x", fcntl.F_RDLCK, os.SEEK_SET, int(b), 1, 0)
        fcntl.fcntl(fd, fcntl.F_OFD_SETLK, fl)
    with open(ready, "w") as f:
        f.write("held\n")
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    while True:
        signal.pause()


def extensions(data, h):
    cs = 1 << h["cluster_bits"]
    end = h["backing_offset"] if h["backing_offset"] else cs
    pos, out = h["length"], []
    while pos + 8 <= end:
        magic, length = struct.unpack_from(">II", data, pos)
        if magic == 0:
            break
        out.append([magic, bytes(data[pos + 8:pos + 8 + length])])
        pos += 8 + (length + 7) // 8 * 8
    return out


def cmd_exts(path, *edits):
    with open(path, "r+b") as f:
        data = f.read()
        h = header(data)
        exts = extensions(data, h)
        backing = data[h["backing_offset"]:h["backing_offset"] + h["backing_size"]] \
            if h["backing_offset"] else None
        for e in edits:
            k, v = e.split("=", 1)
            if k == "backing":
                backing = bytes.fromhex(v)
                continue
            magic = int(k, 0)
            for x in exts:
                if x[0] == magic:
                    x[1] = bytes.fromhex(v)
                    break
            else:
                exts.append([magic, bytes.fromhex(v)])
        area = b""
        for magic, d in exts:
            area += struct.pack(">II", magic, len(d)) + d + bytes(-len(d) % 8)
        area += bytes(8)
        pos = h["length"] + len(area)
        if pos + len(backing or b"") > 1 << h["cluster_bits"]:
            sys.exit("gaps.py: the extensions do not fit in the first cluster")
        f.seek(h["length"])
        f.write(area)
        if backing is not None:
            f.write(backing)
            f.seek(8)
            f.write(struct.pack(">QI", pos, len(backing)))


def cmd_feature(path, ftype, bit, namehex):
    name = bytes.fromhex(namehex)
    if len(name) > 46:
        sys.exit("gaps.py: a feature name has 46 bytes at most")
    with open(path, "r+b") as f:
        data = f.read()
        h = header(data)
        pos = h["length"]
        while True:
            magic, length = struct.unpack_from(">II", data, pos)
            if magic == 0:
                sys.exit("gaps.py: no feature name table")
            if magic == 0x6803f857:
                break
            pos += 8 + (length + 7) // 8 * 8
        for k in range(length // 48):
            at = pos + 8 + 48 * k
            if data[at] == int(ftype):
                f.seek(at)
                f.write(bytes([int(ftype), int(bit)]) + name + bytes(46 - len(name)))
                return
        sys.exit("gaps.py: no feature of type %s" % ftype)


def refcount_slot(f, h, offset):
    """(byte offset of the refcount's first byte, width in bits, shift)"""
    bits, width = h["cluster_bits"], 1 << h["order"]
    per_block = (1 << bits) * 8 // width
    cluster = offset >> bits
    f.seek(h["reftable"] + 8 * (cluster // per_block))
    block = struct.unpack(">Q", f.read(8))[0] & ~0x1ff
    if not block:
        sys.exit("gaps.py: no refcount block for 0x%x" % offset)
    index = cluster % per_block
    return block + index * width // 8, width, index * width % 8


def set_refcount(f, h, offset, value):
    at, width, shift = refcount_slot(f, h, offset)
    if width >= 8:
        f.seek(at)
        f.write(value.to_bytes(width // 8, "big"))
        return
    if value >> width:
        sys.exit("gaps.py: %d does not fit in %d bits" % (value, width))
    f.seek(at)
    byte = f.read(1)[0]
    mask = ((1 << width) - 1) << shift
    f.seek(at)
    f.write(bytes([byte & ~mask | value << shift]))


def cmd_refcount(path, offset, value):
    with open(path, "r+b") as f:
        h = header(f.read(112))
        set_refcount(f, h, int(offset, 0), int(value, 0))


def cmd_refcount_range(path, offset, length, value):
    with open(path, "r+b") as f:
        h = header(f.read(112))
        cs = 1 << h["cluster_bits"]
        off, end = int(offset, 0), int(offset, 0) + int(length, 0)
        for c in range(off // cs * cs, end, cs):
            set_refcount(f, h, c, int(value, 0))


def cmd_bitmap_clusters(path):
    data = open(path, "rb").read()
    h = header(data)
    cs = 1 << h["cluster_bits"]
    ext = [d for magic, d in extensions(data, h) if magic == 0x23852875][-1]
    nb, _, dsize, doff = struct.unpack(">IIQQ", ext[:24])
    out = set(range(doff // cs * cs, doff + dsize, cs))
    pos = doff
    for _ in range(nb):
        toff, tsize, _, _, _, nsize, esize = struct.unpack_from(">QIIBBHI", data, pos)
        out.update(range(toff // cs * cs, toff + 8 * tsize, cs))
        for k in range(tsize):
            e = struct.unpack_from(">Q", data, toff + 8 * k)[0] & 0x00fffffffffffe00
            if e:
                out.add(e)
        pos += (24 + esize + nsize + 7) // 8 * 8
    for o in sorted(out):
        print(o)


def cmd_refblocks(path, *offsets):
    with open(path, "rb") as f:
        h = header(f.read(112))
    per_block = (1 << h["cluster_bits"]) * 8 >> h["order"]
    for o in offsets:
        print((int(o) >> h["cluster_bits"]) // per_block)


def cmd_qemu_refs():
    cs = int(os.environ["CLUSTER_SIZE"])
    out = []
    for line in sys.stdin:
        w = line.split()
        if line.startswith("ERROR cluster ") and "refcount=0" in line:
            out.append("zero %d" % (int(w[2]) * cs))
        elif line.startswith("Leaked cluster "):
            out.append("excess %d %s" % (int(w[2]) * cs, w[3].split("=")[1]))
    for o in sorted(out, key=lambda s: (int(s.split()[1]), s)):
        print(o)


def cmd_snaps(path, count, *kv):
    opts = dict(item.split("=", 1) for item in kv)
    with open(path, "r+b") as f:
        data = f.read()
        nb, off = struct.unpack_from(">IQ", data, 60)
        l1o, l1s, ids, ns, ds, dn, clk, vms, xs = FIXED.unpack_from(data, off)
        extra = data[off + 40:off + 40 + xs]
        if "l1o" in opts:
            l1o = int(opts["l1o"], 0)
        if "l1s" in opts:
            l1s = int(opts["l1s"], 0)
        cs = 1 << struct.unpack_from(">I", data, 20)[0]
        base = (len(data) + cs - 1) // cs * cs
        out = bytearray()
        for i in range(int(count)):
            out += bytes(-len(out) % 8)
            sid = (opts.get("id", "%d") % (i + 1) if "%" in opts.get("id", "%d")
                   else opts["id"]).encode()
            name = (opts.get("name", "s%d") % (i + 1) if "%" in opts.get("name", "s%d")
                    else opts["name"]).encode()
            out += FIXED.pack(l1o, l1s, len(sid), len(name), ds, dn, clk, vms,
                              len(extra)) + extra + sid + name
        f.seek(base)
        f.write(out)
        f.seek(60)
        f.write(struct.pack(">IQ", int(count), base))


def cmd_retable(path, *edits):
    with open(path, "r+b") as f:
        data = f.read()
        nb, off = struct.unpack_from(">IQ", data, 60)
        entries, pos = [], off
        for _ in range(nb):
            pos = (pos + 7) & ~7
            fixed = list(FIXED.unpack_from(data, pos))
            xs, ids, ns = fixed[8], fixed[2], fixed[3]
            p = pos + FIXED.size
            entries.append([fixed, data[p:p + xs], data[p + xs:p + xs + ids],
                            data[p + xs + ids:p + xs + ids + ns]])
            pos = p + xs + ids + ns
        old_end = pos
        for e in edits:
            i, kv = e.split(":", 1)
            k, v = kv.split("=", 1)
            entries[int(i)][{"id": 2, "name": 3}[k]] = bytes.fromhex(v)
        out = bytearray()
        for fixed, extra, sid, name in entries:
            out += bytes(-len(out) % 8)
            fixed[2], fixed[3] = len(sid), len(name)
            out += FIXED.pack(*fixed) + extra + sid + name
        if off + len(out) > old_end:
            cs = 1 << struct.unpack_from(">I", data, 20)[0]
            off = (len(data) + cs - 1) // cs * cs
            f.seek(64)
            f.write(struct.pack(">Q", off))
        f.seek(off)
        f.write(out)


def cmd_fill(path, offset, extra_bytes):
    """Entries of 40 + 24 bytes, an id, and a name of up to 65535 zero
    bytes; the last name sized so that the table ends at exactly
    offset + 64 MiB + extra."""
    base, want = int(offset, 0), (64 << 20) + int(extra_bytes)
    entries, pos = [], 0
    while True:
        pos = (pos + 7) & ~7
        sid = b"%d" % (len(entries) + 1)
        fixed = 40 + 24 + len(sid)
        if want - pos - fixed <= 65535:
            name = want - pos - fixed
            if name < 8:
                sys.exit("gaps.py: the last name would be too short")
            entries.append((pos, sid, name))
            pos += fixed + name
            break
        entries.append((pos, sid, 65535))
        pos += fixed + 65535
    assert pos == want
    with open(path, "r+b") as f:
        h = header(f.read(112))
        for k, (at, sid, name) in enumerate(entries):
            f.seek(base + at)
            # vm_state_size_large 0, disk_size 0, icount -1; the name's
            # first bytes tell the entries apart
            f.write(FIXED.pack(0, 0, len(sid), name, 0, 0, 0, 0, 24) +
                    struct.pack(">QQq", 0, 0, -1) + sid + b"n%06d" % k)
        f.truncate(max(base + want, os.path.getsize(path)))
        f.seek(60)
        f.write(struct.pack(">IQ", len(entries), base))
        cs = 1 << h["cluster_bits"]
        for c in range(base // cs * cs, base + want, cs):
            set_refcount(f, h, c, 1)
    print(len(entries))


def cmd_jhex(path, doc, *paths):
    d = documents(path)[int(doc)]
    for p in paths:
        v = d
        for k in p.strip("/").split("/"):
            if isinstance(v, list):
                v = v[int(k)]
            elif k in v:
                v = v[k]
            else:
                v = None
                break
        print("missing" if v is None else v.encode("utf-8").hex())


def cmd_chex(path, row, col):
    text = open(path, "rb").read().decode("utf-8", "surrogateescape")
    rows = list(csv.reader(io.StringIO(text, newline=""), strict=True))
    if row == "all":
        for r in rows[1:]:
            print(r[int(col)].encode("utf-8", "surrogateescape").hex())
        return
    if "=" in row:
        name, value = row.split("=", 1)
        k = rows[0].index(name)
        row = [i for i, r in enumerate(rows) if i and r[k] == value][0]
    print(rows[int(row)][int(col)].encode("utf-8", "surrogateescape").hex())


if __name__ == "__main__":
    cmd = sys.argv[1].replace("-", "_")
    globals()["cmd_" + cmd](*sys.argv[2:])
