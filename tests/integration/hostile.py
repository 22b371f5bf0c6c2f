#!/usr/bin/python3
"""Hostile images, small files that claim a lot: each is made from a real
image (qemu-img create) by writing structures at its end.  Written from the
QCOW2 specification; shares nothing with src/.

  hostile.py shared-table IMAGE N [ENTRIES]
        N bitmaps (QEMU's limit is 65535) that all point to one table of
        ENTRIES entries (default 2^20, the most QEMU allows at 512-byte
        clusters), whose every entry points to one data cluster
  hostile.py bad-table IMAGE N [ENTRIES]
        N bitmaps sharing one table of ENTRIES entries, every entry with
        a reserved bit set
  hostile.py many-exts IMAGE
        the header cluster (2 MiB clusters) filled with unknown
        extensions of no data, some 262,000 of them (prints how many)
  hostile.py l2 IMAGE KIND
        KIND zero: every entry of the active L1 table names offset 0
        (the header cluster, as QEMU's check reads it); tables: one L2
        table at the end of the file, named by the first L1 entry, its
        every entry naming that table itself
  hostile.py l1 IMAGE KIND
        every entry of the active L1 table rewritten: KIND beyond (each
        names its own L2 table past the end of the file), shared (all
        name one L2 table, full of data entries), unaligned (the first
        names an L2 table off a cluster boundary), compressed (the first
        names an L2 table of compressed descriptors past the end)
"""
import struct
import sys

BITMAPS = 0x23852875


def header(f):
    f.seek(0)
    head = f.read(1 << 16)
    return {"cluster_bits": struct.unpack_from(">I", head, 20)[0],
            "header_length": struct.unpack_from(">I", head, 100)[0],
            "head": head}


def ext_end(head, start):
    pos = start
    while True:
        magic, length = struct.unpack_from(">II", head, pos)
        if magic == 0:
            return pos
        pos += 8 + (length + 7) // 8 * 8


def append(f, data, cs):
    f.seek(0, 2)
    at = -(-f.tell() // cs) * cs
    f.seek(at)
    f.write(data)
    return at


def bitmaps(path, count, entry, n=1 << 20):
    with open(path, "r+b") as f:
        h = header(f)
        cs = 1 << h["cluster_bits"]
        data = append(f, b"\x55" * cs, cs)
        table = append(f, struct.pack(">Q", entry(data)) * n, cs)
        dirents = []
        for i in range(count):
            name = b"b%05d" % i
            e = struct.pack(">QIIBBHI", table, n, 2, 1, 9, len(name), 0) + name
            dirents.append(e + b"\0" * (-len(e) % 8))
        blob = b"".join(dirents)
        directory = append(f, blob, cs)
        f.seek(0, 2)
        f.truncate(-(-f.tell() // cs) * cs)
        pos = ext_end(h["head"], h["header_length"])
        f.seek(pos)
        f.write(struct.pack(">IIIIQQ", BITMAPS, 24, count, 0, len(blob),
                            directory) + b"\0" * 8)
        f.seek(88)
        f.write(struct.pack(">Q", 1))


def many_exts(path):
    with open(path, "r+b") as f:
        h = header(f)
        cs = 1 << h["cluster_bits"]
        start = ext_end(h["head"], h["header_length"])
        n = (cs - start) // 8 - 1
        f.seek(start)
        f.write(struct.pack(">II", 0x12345678, 0) * n + b"\0" * 8)
        print(n)


def l1(path, kind):
    with open(path, "r+b") as f:
        h = header(f)
        cs = 1 << h["cluster_bits"]
        l1_size, l1_at = struct.unpack_from(">IQ", h["head"], 36)
        f.seek(0, 2)
        end = -(-f.tell() // cs) * cs
        copied = 1 << 63
        if kind == "beyond":
            entries = b"".join(struct.pack(">Q", (end + (i + 1) * cs) | copied)
                               for i in range(l1_size))
        elif kind == "shared":
            data = append(f, b"\xaa" * cs, cs)
            l2 = append(f, struct.pack(">Q", data | copied) * (cs // 8), cs)
            entries = struct.pack(">Q", l2 | copied) * l1_size
        elif kind == "unaligned":
            l2 = append(f, b"\0" * cs, cs)
            entries = struct.pack(">Q", (l2 + 512) | copied)
        elif kind == "compressed":
            shift = 62 - (h["cluster_bits"] - 8)
            desc = (1 << 62) | (3 << shift) | (end + 64 * cs + 100)
            l2 = append(f, struct.pack(">Q", desc) * (cs // 8), cs)
            entries = struct.pack(">Q", l2 | copied)
        else:
            sys.exit("hostile.py: unknown L1 kind " + kind)
        f.seek(l1_at)
        f.write(entries)


def l2(path, kind):
    """zero: every entry of the active L1 table names offset 0 (COPIED
    alone), which QEMU's check reads the header cluster as an L2 table
    for; tables: one L2 table appended to the file, named by L1 entry 0,
    every entry of it naming the table itself."""
    with open(path, "r+b") as f:
        h = header(f)
        cs = 1 << h["cluster_bits"]
        head = h["head"]
        l1_size = struct.unpack_from(">I", head, 36)[0]
        l1_offset = struct.unpack_from(">Q", head, 40)[0]
        if kind == "zero":
            f.seek(l1_offset)
            f.write(struct.pack(">Q", 1 << 63) * l1_size)
            return
        f.seek(0, 2)
        end = f.tell()
        table = (end + cs - 1) // cs * cs
        f.seek(table)
        f.write(struct.pack(">Q", (1 << 63) | table) * (cs // 8))
        f.seek(l1_offset)
        f.write(struct.pack(">Q", (1 << 63) | table))


def main(argv):
    cmd, path = argv[1], argv[2]
    entries = int(argv[4]) if len(argv) > 4 else 1 << 20
    if cmd == "shared-table":
        bitmaps(path, int(argv[3]), lambda data: data, entries)
    elif cmd == "bad-table":
        bitmaps(path, int(argv[3]), lambda data: data | 2, entries)
    elif cmd == "many-exts":
        many_exts(path)
    elif cmd == "l1":
        l1(path, argv[3])
    elif cmd == "l2":
        l2(path, argv[3])
    else:
        sys.exit("hostile.py: unknown command " + cmd)


if __name__ == "__main__":
    main(sys.argv)
