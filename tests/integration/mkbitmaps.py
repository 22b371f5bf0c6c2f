#!/usr/bin/python3
"""Adds COUNT persistent bitmaps to a qcow2 image that has none, writing
the bitmaps extension, the directory and one all-zeroes table per bitmap
itself (QEMU takes minutes for 65535 bitmaps; this takes a second).  The
tables and directory go past the end of the file, cluster aligned; a new
refcount table and blocks after them give every cluster of the file
refcount 1 (16-bit refcounts), so that qemu-img check finds no error
(the old refcount structures are left as leaks).

  mkbitmaps.py IMAGE COUNT
"""
import struct
import sys


def main():
    path, count = sys.argv[1], int(sys.argv[2])
    with open(path, "r+b") as f:
        head = f.read(1 << 16)
        cluster_bits = struct.unpack_from(">I", head, 20)[0]
        size = struct.unpack_from(">Q", head, 24)[0]
        header_length = struct.unpack_from(">I", head, 100)[0]
        cs = 1 << cluster_bits
        gbits = 16
        bits = -(-size // (1 << gbits))
        table_size = -(-(-(-bits // 8)) // cs)
        # the extension goes where the list of extensions ends
        pos = header_length
        while True:
            magic, length = struct.unpack_from(">II", head, pos)
            if magic == 0:
                break
            pos += 8 + (length + 7) // 8 * 8
        f.seek(0, 2)
        end = -(-f.tell() // cs) * cs
        tables = end
        table_bytes = -(-table_size * 8 // cs) * cs
        directory = tables + count * table_bytes
        entries = []
        for i in range(count):
            name = b"bitmap-%05d" % i
            entry = struct.pack(">QIIBBHI", tables + i * table_bytes, table_size,
                                2, 1, gbits, len(name), 0) + name
            entries.append(entry + b"\0" * (-len(entry) % 8))
        blob = b"".join(entries)
        f.seek(directory)
        f.write(blob)
        f.truncate(-(-(directory + len(blob)) // cs) * cs)
        ext = struct.pack(">IIIIQQ", 0x23852875, 24, count, 0, len(blob), directory)
        if pos + len(ext) + 8 > cs:
            sys.exit("no room for the bitmaps extension in the header cluster")
        f.seek(pos)
        f.write(ext + b"\0" * 8)
        autoclear = struct.unpack_from(">Q", head, 88)[0]
        f.seek(88)
        f.write(struct.pack(">Q", autoclear | 1))
        write_refcounts(f, cs)


def write_refcounts(f, cs):
    """A refcount table and blocks at the end of the file: every cluster
    of the file, these included, with refcount 1."""
    f.seek(0, 2)
    start = -(-f.tell() // cs)              # first cluster after the file
    per_block = cs // 2                     # 16-bit refcounts
    blocks = 1
    while True:
        table_clusters = -(-(blocks * 8) // cs)
        total = start + table_clusters + blocks
        need = -(-total // per_block)
        if need <= blocks:
            break
        blocks = need
    table = start * cs
    first_block = (start + table_clusters) * cs
    f.seek(table)
    f.write(b"".join(struct.pack(">Q", first_block + i * cs)
                     for i in range(blocks)))
    refs = struct.pack(">H", 1) * total + b"\0\0" * (blocks * per_block - total)
    f.seek(first_block)
    f.write(refs)
    f.truncate(first_block + blocks * cs)
    f.seek(48)
    f.write(struct.pack(">QI", table, table_clusters))


if __name__ == "__main__":
    main()
