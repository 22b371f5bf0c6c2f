#!/usr/bin/python3
"""Structural edits of a qcow2 image, for tests that build damaged images
from real ones: rewrite the bitmap directory, move the extension area,
set a cluster's refcount.  Written from the QCOW2 specification; shares
nothing with src/.

  qedit.py dir IMAGE EDIT...       rewrite the directory of the (last)
        bitmaps extension in place, its size and count updated; each EDIT
        is INDEX:FIELD=VALUE with FIELD one of name (hex bytes), extra
        (hex bytes), flags, table_offset, table_size, gbits, type, or
        INDEX:drop, or dup:INDEX (append a copy of entry INDEX)
  qedit.py move-exts IMAGE START   move the extension area to START and
        set header_length to START
  qedit.py refcount IMAGE OFFSET VALUE
        set the refcount of the cluster holding OFFSET
  qedit.py add-bitmaps-ext IMAGE NB DIR_SIZE DIR_OFFSET
        add a second bitmaps extension after the last one (the area must
        have room for it)
"""
import struct
import sys

BITMAPS = 0x23852875


def header(f):
    f.seek(0)
    h = f.read(112)
    cluster_bits = struct.unpack_from(">I", h, 20)[0]
    version = struct.unpack_from(">I", h, 4)[0]
    hlen = struct.unpack_from(">I", h, 100)[0] if version == 3 else 72
    return {"cluster_bits": cluster_bits, "header_length": hlen,
            "backing_file_offset": struct.unpack_from(">Q", h, 8)[0],
            "refcount_table_offset": struct.unpack_from(">Q", h, 48)[0],
            "refcount_order": struct.unpack_from(">I", h, 96)[0]
            if version == 3 else 4}


def extensions(f, h):
    """[(offset, magic, length)] up to the end marker (included)"""
    cs = 1 << h["cluster_bits"]
    end = cs
    if h["backing_file_offset"] and h["backing_file_offset"] < end:
        end = h["backing_file_offset"]
    f.seek(0)
    area = f.read(end)
    pos, out = h["header_length"], []
    while pos + 8 <= end:
        magic, length = struct.unpack_from(">II", area, pos)
        out.append((pos, magic, length))
        if magic == 0:
            break
        pos += 8 + (length + 7) // 8 * 8
    return out, area


def read_dir(f, ext_offset):
    f.seek(ext_offset + 8)
    nb, _, dsize, doff = struct.unpack(">IIQQ", f.read(24))
    f.seek(doff)
    raw = f.read(dsize)
    entries, pos = [], 0
    for _ in range(nb):
        toff, tsize, flags, btype, gbits, nsize, esize = \
            struct.unpack_from(">QIIBBHI", raw, pos)
        extra = raw[pos + 24:pos + 24 + esize]
        name = raw[pos + 24 + esize:pos + 24 + esize + nsize]
        entries.append({"table_offset": toff, "table_size": tsize,
                        "flags": flags, "type": btype, "gbits": gbits,
                        "extra": extra, "name": name})
        pos += (24 + esize + nsize + 7) // 8 * 8
    return doff, entries


def write_dir(f, ext_offset, doff, entries):
    raw = b""
    for e in entries:
        body = struct.pack(">QIIBBHI", e["table_offset"], e["table_size"],
                           e["flags"], e["type"], e["gbits"], len(e["name"]),
                           len(e["extra"])) + e["extra"] + e["name"]
        raw += body + b"\0" * (-len(body) % 8)
    f.seek(doff)
    f.write(raw)
    f.seek(ext_offset + 8)
    f.write(struct.pack(">I", len(entries)))
    f.seek(ext_offset + 16)
    f.write(struct.pack(">Q", len(raw)))


def cmd_dir(path, edits):
    with open(path, "r+b") as f:
        h = header(f)
        exts, _ = extensions(f, h)
        ext = [e for e in exts if e[1] == BITMAPS][-1][0]
        doff, entries = read_dir(f, ext)
        drop = set()
        for edit in edits:
            if edit.startswith("dup:"):
                entries.append(dict(entries[int(edit[4:])]))
                continue
            index, what = edit.split(":", 1)
            e = entries[int(index)]
            if what == "drop":
                drop.add(int(index))
                continue
            field, value = what.split("=", 1)
            if field in ("name", "extra"):
                e[field] = bytes.fromhex(value)
            else:
                e[field] = int(value, 0)
        write_dir(f, ext, doff,
                  [e for i, e in enumerate(entries) if i not in drop])


def cmd_move_exts(path, start):
    start = int(start, 0)
    with open(path, "r+b") as f:
        h = header(f)
        exts, area = extensions(f, h)
        last = exts[-1]
        end = last[0] + 8 + (last[2] + 7) // 8 * 8
        block = area[h["header_length"]:end]
        f.seek(start)
        f.write(block)
        if start < h["header_length"]:
            f.write(b"\0" * (h["header_length"] - start))
        f.seek(100)
        f.write(struct.pack(">I", start))


def cmd_refcount(path, offset, value):
    offset, value = int(offset, 0), int(value, 0)
    with open(path, "r+b") as f:
        h = header(f)
        bits = h["cluster_bits"]
        order = h["refcount_order"]
        width = 1 << order
        if width < 8:
            raise SystemExit("qedit.py: refcounts under 8 bits not supported")
        per_block = (1 << bits) * 8 // width
        cluster = offset >> bits
        f.seek(h["refcount_table_offset"] + 8 * (cluster // per_block))
        block = struct.unpack(">Q", f.read(8))[0] & ~0x1ff
        if not block:
            raise SystemExit("qedit.py: no refcount block for 0x%x" % offset)
        f.seek(block + (cluster % per_block) * width // 8)
        f.write(value.to_bytes(width // 8, "big"))


def cmd_add_bitmaps_ext(path, nb, dsize, doff):
    with open(path, "r+b") as f:
        h = header(f)
        exts, _ = extensions(f, h)
        end = exts[-1]
        if end[1] != 0:
            raise SystemExit("qedit.py: no end marker")
        f.seek(end[0])
        f.write(struct.pack(">IIIIQQ", BITMAPS, 24, int(nb, 0), 0,
                            int(dsize, 0), int(doff, 0)))
        f.write(b"\0" * 8)


def main(argv):
    cmd, args = argv[1], argv[2:]
    {"dir": lambda: cmd_dir(args[0], args[1:]),
     "move-exts": lambda: cmd_move_exts(*args),
     "refcount": lambda: cmd_refcount(*args),
     "add-bitmaps-ext": lambda: cmd_add_bitmaps_ext(*args)}[cmd]()


if __name__ == "__main__":
    main(sys.argv)
