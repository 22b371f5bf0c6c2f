#!/usr/bin/python3
"""Snapshot table helpers for snapshots.sh.

  snapshots.py entry IMG OFFSET KEY=VALUE...
      rewrites the snapshot table entry at OFFSET with the fields given
      (l1o, l1s, id, name, idhex, namehex, date_sec, date_nsec, vmclock,
      vmstate, extra (its size: the bytes kept, cut or zero-filled),
      large, disk, icount, extrahex); a longer entry overwrites what
      follows it, so only the last entry may grow.  Prints its new end.
  snapshots.py table IMG OFFSET COUNT NAME_SIZE
      writes COUNT entries at OFFSET (extra data 24 bytes, ids 1..COUNT,
      names of NAME_SIZE zero bytes, not written: the file stays sparse)
      and points the header at them.
  snapshots.py clone IMG COUNT
      appends a table of COUNT copies of the first entry, ids 1..COUNT
      and names s1..sCOUNT, at the next cluster of the file, and points
      the header at it.
  snapshots.py compare QEMU_INFO_JSON OURS_JSON
      every field qemu-img info --output=json shows of each snapshot
      equals what qcow2dump -s -f json decoded.
  snapshots.py text-vs-json TEXT JSON / csv-vs-json CSV JSON
      qcow2dump -s in text or CSV says what its JSON says.
  snapshots.py sweep QCOW2DUMP IMG LO HI STEP
      cuts the file at every STEP-th byte of [LO, HI] and flips every
      8 * STEP-th byte (test_snapshot.c flips each byte in-process, in
      every format); each image goes through one of -s, -s -f json,
      -s -f csv and -c in turn, which must end within 10 s with exit 0,
      1 or 2, located errors and parseable JSON.
Exits 1 with a message on the first difference.
"""
import csv
import io
import json
import os
import struct
import subprocess
import sys
import tempfile

FIXED = struct.Struct(">QIHHIIQII")
KNOWN = [("large", 0), ("disk", 8), ("icount", 16)]


def fail(msg):
    print("snapshots.py: " + msg, file=sys.stderr)
    sys.exit(1)


def header(data):
    nb, off = struct.unpack_from(">IQ", data, 60)
    return nb, off


def read_entry(data, off):
    l1o, l1s, ids, ns, ds, dn, clk, vms, xs = FIXED.unpack_from(data, off)
    p = off + FIXED.size
    extra = bytes(data[p:p + xs])
    sid = bytes(data[p + xs:p + xs + ids])
    name = bytes(data[p + xs + ids:p + xs + ids + ns])
    return dict(l1o=l1o, l1s=l1s, date_sec=ds, date_nsec=dn, vmclock=clk,
                vmstate=vms, extra=extra, id=sid, name=name)


def pack_entry(e):
    return FIXED.pack(e["l1o"], e["l1s"], len(e["id"]), len(e["name"]),
                      e["date_sec"], e["date_nsec"], e["vmclock"],
                      e["vmstate"], len(e["extra"])) + e["extra"] + e["id"] + e["name"]


def cmd_entry(path, off, *kv):
    off = int(off, 0)
    with open(path, "r+b") as f:
        data = f.read()
        e = read_entry(data, off)
        extra = bytearray(e["extra"])
        for item in kv:
            k, v = item.split("=", 1)
            if k in ("id", "name"):
                e[k] = v.encode()
            elif k in ("idhex", "namehex"):
                e[k[:-3]] = bytes.fromhex(v)
            elif k == "extra":
                n = int(v, 0)
                extra = extra[:n] + bytes(max(0, n - len(extra)))
            elif k == "extrahex":
                extra = bytearray(bytes.fromhex(v))
            elif k in dict(KNOWN):
                at = dict(KNOWN)[k]
                if len(extra) < at + 8:
                    extra += bytes(at + 8 - len(extra))
                struct.pack_into(">q" if int(v, 0) < 0 else ">Q", extra, at, int(v, 0))
            else:
                e[k] = int(v, 0)
        e["extra"] = bytes(extra)
        raw = pack_entry(e)
        f.seek(off)
        f.write(raw)
    print(off + len(raw))


def cmd_table(path, off, count, name_size):
    off, count, name_size = int(off, 0), int(count), int(name_size)
    with open(path, "r+b") as f:
        pos = off
        for i in range(count):
            pos = (pos + 7) & ~7
            sid = str(i + 1).encode()
            f.seek(pos)
            f.write(FIXED.pack(0, 0, len(sid), name_size, 0, 0, 0, 0, 24)
                    + struct.pack(">QQq", 0, 0, -1) + sid)
            pos += FIXED.size + 24 + len(sid) + name_size
        f.truncate(max(pos, os.path.getsize(path)))
        f.seek(60)
        f.write(struct.pack(">IQ", count, off))


def cmd_clone(path, count):
    count = int(count)
    with open(path, "r+b") as f:
        data = f.read()
        _, off = header(data)
        first = read_entry(data, off)
        cs = 1 << struct.unpack_from(">I", data, 20)[0]
        base = (len(data) + cs - 1) // cs * cs
        out = bytearray()
        for i in range(count):
            out += bytes((-len(out)) % 8)
            e = dict(first, id=str(i + 1).encode(), name=b"s%d" % (i + 1))
            out += pack_entry(e)
        f.seek(base)
        f.write(out)
        f.seek(60)
        f.write(struct.pack(">IQ", count, base))


def documents(path):
    text = open(path, encoding="utf-8").read()
    dec, pos, docs = json.JSONDecoder(), 0, []
    while True:
        while pos < len(text) and text[pos].isspace():
            pos += 1
        if pos == len(text):
            return docs
        doc, pos = dec.raw_decode(text, pos)
        docs.append(doc)


def raw(obj, key):
    if key + "_hex" in obj:
        return bytes.fromhex(obj[key + "_hex"])
    return obj[key].encode("utf-8")


def cmd_compare(qemu_path, ours_path):
    qemu = json.load(open(qemu_path)).get("snapshots", [])
    ours = documents(ours_path)[0]["snapshots"]
    if len(qemu) != len(ours):
        fail("%d snapshots in qemu-img info, %d decoded" % (len(qemu), len(ours)))
    for i, (q, o) in enumerate(zip(qemu, ours)):
        # QEMU keeps at most 127 bytes of an id and 255 of a name
        want = {
            "id": raw(o, "id_str")[:127].decode("utf-8", "replace"),
            "name": raw(o, "name")[:255].decode("utf-8", "replace"),
            "date-sec": o["date_sec"],
            "date-nsec": o["date_nsec"],
            "vm-clock-sec": o["vm_clock_nsec"] // 10**9,
            "vm-clock-nsec": o["vm_clock_nsec"] % 10**9,
            "vm-state-size": o.get("vm_state_size_large", o["vm_state_size"]),
        }
        if o.get("icount", 2**64 - 1) != 2**64 - 1:
            want["icount"] = o["icount"]
        got = {k: q[k] for k in want if k in q}
        if "icount" in q and "icount" not in want:
            fail("snapshot %d: qemu-img shows icount %d, we have none" % (i, q["icount"]))
        if got != want:
            fail("snapshot %d: qemu-img %r, qcow2dump %r" % (i, got, want))


def text_blocks(path):
    """The -s text as one dict per block: label -> value."""
    blocks, cur = [], {}
    for line in open(path, encoding="utf-8", errors="surrogateescape").read().split("\n"):
        if not line:
            if cur:
                blocks.append(cur)
            cur = {}
            continue
        cur[line[:25].rstrip()] = line[26:]
    return blocks


def cmd_text_vs_json(text_path, json_path):
    blocks = text_blocks(text_path)
    snaps = [s for d in documents(json_path) for s in d["snapshots"]]
    if len(blocks) != len(snaps):
        fail("%d blocks in text, %d snapshots in JSON" % (len(blocks), len(snaps)))
    for b, s in zip(blocks, snaps):
        want = {"Snapshot id": s["id_str"], "name": s["name"]}
        for k, v in s.items():
            if k in ("id_str", "name", "offset") or k.endswith("_hex"):
                continue
            want[k] = "0x%x" % v if k == "l1_table_offset" else str(v)
        if "extra_data_hex" in s:
            want["extra_data"] = s["extra_data_hex"]
        for k in ("Snapshot id", "name"):
            if "\\x" in b.get(k, ""):
                b[k] = want[k]  # escaped for the terminal
        if b != want:
            fail("text %r, JSON %r" % (b, want))


def cmd_csv_vs_json(csv_path, json_path):
    rows = list(csv.reader(io.StringIO(open(csv_path, "rb").read().decode(
        "utf-8", "surrogateescape"), newline="")))
    head, rows = rows[0], rows[1:]
    snaps = [(d["image"], s) for d in documents(json_path) for s in d["snapshots"]]
    if len(rows) != len(snaps):
        fail("%d CSV rows, %d snapshots" % (len(rows), len(snaps)))
    for row, (image, s) in zip(rows, snaps):
        rec = dict(zip(head, row))
        if rec.pop("image") != image:
            fail("image")
        for key in ("id_str", "name"):
            if rec.pop(key).encode("utf-8", "surrogateescape") != raw(s, key):
                fail("%s of %r" % (key, s["name"]))
        for key, val in rec.items():
            want = s.get(key, "")
            if val != str(want):
                fail("%s of %r: %r vs %r" % (key, s["name"], val, want))


def cmd_sweep(cmd, path, lo, hi, step):
    cmd = cmd.split()
    data = open(path, "rb").read()
    lo, hi, step = int(lo), min(int(hi), len(data)), int(step)
    tmp = os.path.join(tempfile.mkdtemp(), "m.qcow2")
    runs = (["-s"], ["-s", "-f", "json"], ["-s", "-f", "csv"], ["-c"])
    bad, n = [], 0
    for kind in ("cut", "flip"):
        for off in range(lo, hi + 1, step) if kind == "cut" else range(lo, hi, 8 * step):
            mutated = data[:off] if kind == "cut" else \
                data[:off] + bytes([data[off] ^ 0xff]) + data[off + 1:]
            with open(tmp, "wb") as f:
                f.write(mutated)
            n += 1
            what = "%s at %d" % (kind, off)
            for args in (runs[n % len(runs)],):
                try:
                    r = subprocess.run(cmd + args + [tmp], capture_output=True, timeout=10)
                except subprocess.TimeoutExpired:
                    bad.append("%s: %s took over 10 s" % (what, args))
                    continue
                ok = (0, 1, 2) if "-c" in args else (0, 2)
                if r.returncode not in ok:
                    bad.append("%s: %s exit %d %s" % (what, args, r.returncode, r.stderr[:200]))
                elif r.returncode == 2 and b"(where: " not in r.stderr:
                    bad.append("%s: %s unlocated: %s" % (what, args, r.stderr[:200]))
                if "json" in args:
                    try:
                        json.loads(r.stdout)
                    except ValueError as e:
                        bad.append("%s: JSON: %s" % (what, e))
    for b in bad[:20]:
        print("  " + b)
    print("# swept %d images, %d bad" % (n, len(bad)))
    sys.exit(1 if bad else 0)


if __name__ == "__main__":
    cmds = {"entry": cmd_entry, "table": cmd_table, "clone": cmd_clone,
            "compare": cmd_compare, "text-vs-json": cmd_text_vs_json,
            "csv-vs-json": cmd_csv_vs_json, "sweep": cmd_sweep}
    cmds[sys.argv[1]](*sys.argv[2:])
