#!/usr/bin/python3
"""Adds COUNT persistent bitmaps to a qcow2 image that has none, writing
the bitmaps extension, the directory and one all-zeroes table per bitmap
itself (QEMU takes minutes for 65535 bitmaps; this takes a second).  The
tables and directory go past the end of the file, cluster aligned; the
refcounts are not updated, which qcow2dump does not look at.

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


if __name__ == "__main__":
    main()
