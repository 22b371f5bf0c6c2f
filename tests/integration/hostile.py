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


def main(argv):
    cmd, path = argv[1], argv[2]
    entries = int(argv[4]) if len(argv) > 4 else 1 << 20
    if cmd == "shared-table":
        bitmaps(path, int(argv[3]), lambda data: data, entries)
    elif cmd == "bad-table":
        bitmaps(path, int(argv[3]), lambda data: data | 2, entries)
    elif cmd == "many-exts":
        many_exts(path)
    else:
        sys.exit("hostile.py: unknown command " + cmd)


if __name__ == "__main__":
    main(sys.argv)
