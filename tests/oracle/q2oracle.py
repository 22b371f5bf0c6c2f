#!/usr/bin/python3
"""An independent oracle for qcow2dump's output.

Written from the QCOW2 specification (docs/interop/qcow2.txt, summarised in
the project's qcow2-format.md), qcow2dump's output contract (interface.md,
man/qcow2dump.1, doc/qcow2dump.schema.json) and QEMU 7.2's measured
verdicts (research/bitmaps/verdicts.md, research/open/verdicts.md) alone:
it shares no code, table or constant with src/.  It decodes an image and
derives, for every view, what qcow2dump must print: the text whole and
byte for byte, the JSON documents as Python objects (keys in order), the
CSV rows, standard error and the exit status.

It only predicts sound images, and images damaged in ways it decodes on
purpose: an image it cannot decode completely (a truncated header or
directory, a count that does not add up, a table entry that makes -x stop)
raises OutOfScope rather than guessing what a damaged image should look
like; -c is not predicted either.  A file that cannot be opened (missing,
a FIFO) is predicted alone, not among other images in text.

Where the contract leaves a detail to qcow2dump, the prediction holds a
Wild value, which accepts any value of its kind: the problem code behind
an invalid or unsupported bitmap, the wording of an error message.

  q2oracle.py show [-f text|json|csv] [-e|-b|-x] [-t] IMAGE...
      print what qcow2dump must print for these arguments (JSON
      pretty-printed, not byte-identical to qcow2dump's layout; a Wild
      value shown as <what it accepts>)
  q2oracle.py verify [--known NAME]... MANIFEST IMAGES
      compare recorded qcow2dump runs with the oracle.  IMAGES lists IMAGE
      arguments, one a line, in hex; MANIFEST has one run per line,
      tab-separated: description, format, options (space separated), exit
      status, stdout file, stderr file, then the line numbers in IMAGES
      of the run's IMAGE arguments (space separated).  Prints one TAP line
      ("ok - ..." or "not ok - ...") per assertion, with the difference
      under each failure, and exits 0 once every run is compared.  Each
      --known NAME accepts one known disagreement (see KNOWN) and fails
      if it is no longer seen.  Run it while the images are in the state
      they were in when qcow2dump ran: "locked" is probed again.
  q2oracle.py qemu LIST
      compare the oracle's decoding with what qemu-img info and qemu-img
      check (--output=json) say about the same image; LIST has one image
      per line: IMAGE, INFO.json, CHECK.json, tab-separated.  One TAP line
      per fact; exits 0 once every image is compared.
  q2oracle.py offsets IMAGE
      shell assignments of the offsets of the extensions, the bitmap
      directory, its entries, tables and data clusters, the first refcount
      block, the host cluster of guest offset 0 (for tests that edit an
      image's bytes)
  q2oracle.py offsets-files IMAGE...
      the same for each IMAGE, into IMAGE.offsets
  q2oracle.py listing LIST IMAGE...
      write the IMAGE arguments in hex to LIST, one a line (the IMAGES of
      verify), and print a label for each, one a line: its bytes, every
      one outside [A-Za-z0-9.,_-] as '?'

  q2oracle.py layout IMAGE
      the JSON document of qcow2dump --layout -f json IMAGE (issue 20's
      contract): every structure of the file in file order, runs merged,
      leaked and free runs from the on-disk refcounts.  Sound images only
      (QEMU made them, nothing damaged): any other is OutOfScope
  q2oracle.py at IMAGE OFFSET...
      the JSON documents of qcow2dump --at OFFSET... -f json IMAGE
  q2oracle.py at-offsets IMAGE
      offsets worth asking --at about, space separated: the first, a
      middle and the last byte of every structure and run, the byte after
      each (the rest of a byte-sized table's cluster), the file's last
  q2oracle.py layout-verify IMAGE GOT
  q2oracle.py at-verify IMAGE GOT OFFSET...
      compare qcow2dump's JSON output in the file GOT with the prediction:
      one TAP line per document (keys in order, every key), exits 0 once
      compared.  The order of records that start at the same byte (a
      cluster shared by the active tables and snapshots) is left free:
      the contract does not fix it.
  q2oracle.py layout-csv-verify IMAGE GOT
  q2oracle.py at-csv-verify IMAGE GOT OFFSET...
      the same for -f csv: one header row, then a row per record (per
      owner of each offset), numbers in decimal, an absent key empty
  q2oracle.py layout-text-verify IMAGE GOT
  q2oracle.py at-text-verify IMAGE GOT OFFSET...
      the same in text: --at's lines whole (LENGTH in decimal, or in hex
      read back as decimal: the contract does not say), --layout's header
      line whole and offset, length, refcount and structure of each
      record (the contract fixes neither the number base nor the Owner
      column)
  q2oracle.py layout-map IMAGE MAP
      the oracle's own check: the active data clusters it finds are the
      host offsets of qemu-img map --output=json IMAGE (in the file MAP)

Python 3 standard library only.
"""
import array
import csv
import fcntl
import io
import json
import os
import re
import stat
import struct
import sys


class OutOfScope(Exception):
    """The image is one the oracle does not predict (damaged, unusual)."""


# ---------------------------------------------------------------- spec facts

QCOW_MAGIC = 0x514649FB

EXT_END = 0
EXT_BACKING_FORMAT = 0xE2792ACA
EXT_FEATURE_TABLE = 0x6803F857
EXT_BITMAPS = 0x23852875
EXT_CRYPTO = 0x0537BE77
EXT_DATA_FILE = 0x44415441

EXT_NAMES = {
    EXT_BACKING_FORMAT: "Backing format",
    EXT_FEATURE_TABLE: "Feature table",
    EXT_BITMAPS: "Bitmaps",
    EXT_CRYPTO: "Crypto header",
    EXT_DATA_FILE: "Data file",
}

# feature bits by kind: names in the contract's JSON spelling
FEATURE_KINDS = ("incompatible", "compatible", "autoclear")
KNOWN_FEATURES = {
    "incompatible": {0: "dirty", 1: "corrupt", 2: "external_data_file",
                     3: "compression_type", 4: "extended_l2"},
    "compatible": {0: "lazy_refcounts"},
    "autoclear": {0: "bitmaps", 1: "raw_external_data"},
}

# bitmap flags: qcow2.py's spelling in text, the spec's in JSON/CSV
FLAG_TEXT = {0: "in-use", 1: "auto"}
FLAG_JSON = {0: "in_use", 1: "auto", 2: "extra_data_compatible"}
FLAG_IN_USE = 1
FLAG_AUTO = 2

TABLE_OFFSET_MASK = 0x00FFFFFFFFFFFE00
TABLE_RESERVED_MASK = 0xFF000000000001FE
TABLE_ALL_ONES = 1
# L1, L2 and refcount table entries: the host offset bits
HOST_OFFSET_MASK = 0x00FFFFFFFFFFFE00

# Python's string.printable, as qcow2.py tests extension data with
PRINTABLE = frozenset(
    b"0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
    b"!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~ \t\n\r\x0b\x0c")

# ------------------------------------------------------- QEMU 7.2's facts
# (research/bitmaps/verdicts.md and research/open/verdicts.md: measured
# with qemu-img, qemu-io and qemu-nbd 7.2; none of this is read from src/)

SECTOR = 512                    # QEMU sizes a disk in whole sectors, down
QEMU_MAX_BITMAPS = 65535
QEMU_MAX_DIRECTORY = 1024 * 65535
QEMU_MAX_TABLE_ENTRIES = 0x8000000
QEMU_MAX_BITMAP_BYTES = 512 << 20   # table_size x cluster size
QEMU_GRANULARITY_BITS = range(9, 32)
QEMU_MAX_NAME = 1023
QEMU_RESERVED_FLAGS = 0xFFFFFFFC    # bit 2 (extra_data_compatible) too
QEMU_INCOMPATIBLE_KNOWN = 0x1F      # bits 0..4
QEMU_MAX_L1_ENTRIES = (32 << 20) // 8
QEMU_MAX_REFTABLE = 8 << 20
QEMU_MAX_SNAPSHOTS = 65536
QEMU_MAX_BACKING_FORMAT = 15
LUKS_MAGIC = b"LUKS\xba\xbe"
# the lock bytes QEMU takes (OFD locks, shared): 100 + permission bit for
# what a node holds, 200 + bit for what it does not share; bit 1 = write
QEMU_LOCK_FIRST, QEMU_LOCK_END = 100, 204
QEMU_LOCK_WRITE = 101
F_OFD_GETLK = 36
F_WRLCK, F_UNLCK = 1, 2
FLOCK = "hhxxxxqqixxxx"         # l_type, l_whence, l_start, l_len, l_pid

# The contract's usable verdict (interface.md "usable", man USABLE).  The
# meanings below are the contract's strings as qcow2dump prints them in
# the bitmap-not-usable message (read once off its output: the man page
# words them a little differently); every other fact is derived here.
STATES = ("usable", "disabled", "live", "inconsistent", "stale", "invalid",
          "unsupported")
MEANING = {
    "disabled": "flag auto is clear: it does not record, writes since it "
                "was disabled are not in it",
    "live": "a running QEMU holds the image and the bitmap: the true bitmap "
            "is in its memory, the copy on disk is stale until it closes "
            "the image",
    "inconsistent": "flag in_use is set and no QEMU holds the image: its "
                    "writer did not save it, QEMU refuses to use it",
    "stale": "the autoclear bitmaps bit is clear: a program without bitmap "
             "support wrote the image, every bitmap is void",
    "invalid": "QEMU refuses its metadata, or the image",
    "unsupported": "it has extra data or flags QEMU does not know",
}
NOT_USABLE = "not usable for an incremental backup now"
REASON_STALE = "autoclear-bitmaps-clear"
REASON_IN_USE = "bitmap-in-use"
KEBAB = r"[a-z0-9]+(?:-[a-z0-9]+)*"


class Wild:
    """A predicted value the contract does not pin down: equal to any str
    (or bytes, read as UTF-8) that matches a regular expression, or to any
    value a test accepts."""

    def __init__(self, what, pattern=None, test=None):
        self.what = what
        self.rx = re.compile(pattern, re.S) if pattern is not None else None
        self.test = test

    def __eq__(self, other):
        if isinstance(other, Wild):
            return self.what == other.what
        if self.test is not None:
            return bool(self.test(other))
        if isinstance(other, bytes):
            other = other.decode("utf-8", "surrogateescape")
        return isinstance(other, str) and self.rx.fullmatch(other) is not None

    def __ne__(self, other):
        return not self.__eq__(other)

    __hash__ = None

    def __repr__(self):
        return "<%s>" % self.what


ANY_REASON = Wild("any problem code", KEBAB)
ANY_LINE = Wild("any message", r"[^\n]*")
ANY_OFFSET = Wild("any offset", test=lambda v: type(v) is int and v >= 0)


def not_usable_message(state, reason):
    """The message of bitmap-not-usable (str, or Wild when the reason is
    not predicted)."""
    text = "%s: %s: %s" % (NOT_USABLE, state, MEANING[state])
    if isinstance(reason, Wild):
        return Wild("%s; see <any problem code>" % text,
                    re.escape(text + "; see ") + KEBAB)
    return text + ("; see %s" % reason if reason else "")


def round_up(n, m):
    return (n + m - 1) // m * m


def div_up(n, m):
    return (n + m - 1) // m


# ------------------------------------------------------------------ bytes

def utf8_pieces(data):
    """Splits bytes into (code point or None, bytes) pieces: each valid
    UTF-8 sequence (RFC 3629: no overlongs, surrogates or code points past
    U+10FFFF) is one piece; any other byte is a piece of its own, None."""
    i, n = 0, len(data)
    out = []
    while i < n:
        b = data[i]
        size = 1 if b < 0x80 else 2 if 0xC2 <= b <= 0xDF else \
            3 if 0xE0 <= b <= 0xEF else 4 if 0xF0 <= b <= 0xF4 else 0
        if size:
            chunk = data[i:i + size]
            try:
                ch = chunk.decode("utf-8", "strict")
            except UnicodeDecodeError:
                ch = None
            if ch is not None and len(chunk) == size:
                out.append((ord(ch), chunk))
                i += size
                continue
        out.append((None, data[i:i + 1]))
        i += 1
    return out


def text_escape(data):
    """A name for a terminal: printable ASCII, tab and UTF-8 outside the
    C0/C1 control ranges as they are, every other byte as \\xNN."""
    parts = []
    for cp, raw in utf8_pieces(data):
        if cp is not None and (cp == 0x09 or 0x20 <= cp <= 0x7E or cp >= 0xA0):
            parts.append(raw.decode("utf-8"))
        else:
            parts.append("".join("\\x%02x" % c for c in raw))
    return "".join(parts)


def is_utf8(data):
    return all(cp is not None for cp, _ in utf8_pieces(data))


def json_text(data):
    """A JSON string for bytes: U+FFFD in place of each byte that is not
    part of a valid UTF-8 sequence."""
    return "".join("\ufffd" if cp is None else chr(cp)
                   for cp, _ in utf8_pieces(data))


def json_name(obj, key, data):
    """Sets obj[key] (and obj[key_hex] when the bytes are not UTF-8)."""
    obj[key] = json_text(data)
    if not is_utf8(data):
        obj[key + "_hex"] = data.hex()


def bit_list(value):
    return [b for b in range(64) if value >> b & 1]


def lock_probe(path):
    """(locked, writer): does a QEMU of this host hold the image (an OFD
    lock on any of its lock bytes), and one with write permission (byte
    101)?  Asked with F_OFD_GETLK for a write lock, which takes no lock:
    every lock QEMU takes is shared, so any of them conflicts.  locked is
    None when the probe fails."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
    except OSError:
        return None, False
    try:
        def held(start, length):
            ask = struct.pack(FLOCK, F_WRLCK, os.SEEK_SET, start, length, 0)
            answer = fcntl.fcntl(fd, F_OFD_GETLK, ask)
            return struct.unpack(FLOCK, answer)[0] != F_UNLCK
        return (held(QEMU_LOCK_FIRST, QEMU_LOCK_END - QEMU_LOCK_FIRST),
                held(QEMU_LOCK_WRITE, 1))
    except OSError:
        return None, False
    finally:
        os.close(fd)


class Unopenable:
    """An IMAGE argument that is no image file at all: missing
    (cannot-open) or neither a regular file nor a block device
    (not-a-file, never opened: a FIFO would block)."""

    def __init__(self, path, code):
        self.path = path
        self.code = code
        self.bitmaps = []


def load(path):
    """An Image, or an Unopenable; OutOfScope for what is not predicted."""
    try:
        st = os.stat(path)
    except FileNotFoundError:
        return Unopenable(path, "cannot-open")
    if not (stat.S_ISREG(st.st_mode) or stat.S_ISBLK(st.st_mode)):
        return Unopenable(path, "not-a-file")
    return Image(path)


class Image:
    """One qcow2 image, decoded from its file."""

    def __init__(self, path):
        self.path = path
        self.f = open(path, "rb")
        self.f.seek(0, os.SEEK_END)
        self.file_size = self.f.tell()
        self._extents = {}
        self._verdicts = {}
        self._lock = None
        self._decode()

    def read(self, offset, length, what):
        if offset + length > self.file_size:
            raise OutOfScope("%s at %d+%d lies past the end of the file"
                             % (what, offset, length))
        self.f.seek(offset)
        data = self.f.read(length)
        if len(data) != length:
            raise OutOfScope("short read of %s" % what)
        return data

    def read_zeroes(self, offset, length):
        """As QEMU reads: the bytes past the end of the file are zeroes."""
        data = b""
        if offset < self.file_size:
            self.f.seek(offset)
            data = self.f.read(min(length, self.file_size - offset))
        return data + bytes(length - len(data))

    def lock(self):
        if self._lock is None:
            self._lock = lock_probe(self.path)
        return self._lock

    def _decode(self):
        first = self.read(0, min(self.file_size, 104), "header")
        if len(first) < 72:
            raise OutOfScope("file shorter than a version 2 header")
        magic, version = struct.unpack_from(">II", first, 0)
        if magic != QCOW_MAGIC or version not in (2, 3):
            raise OutOfScope("not a qcow2 image of version 2 or 3")
        h = {}
        (h["magic"], h["version"], h["backing_file_offset"],
         h["backing_file_size"], h["cluster_bits"], h["size"],
         h["crypt_method"], h["l1_size"], h["l1_table_offset"],
         h["refcount_table_offset"], h["refcount_table_clusters"],
         h["nb_snapshots"], h["snapshot_offset"]) = \
            struct.unpack_from(">IIQIIQIIQQIIQ", first, 0)
        if version == 3:
            if len(first) < 104:
                raise OutOfScope("version 3 header cut short")
            (h["incompatible_features"], h["compatible_features"],
             h["autoclear_features"], h["refcount_order"],
             h["header_length"]) = struct.unpack_from(">QQQII", first, 72)
        else:
            h.update(incompatible_features=0, compatible_features=0,
                     autoclear_features=0, refcount_order=4,
                     header_length=72)
        if not 9 <= h["cluster_bits"] <= 21:
            raise OutOfScope("cluster_bits outside 9..21")
        self.cluster_size = cs = 1 << h["cluster_bits"]
        if version == 3 and not 104 <= h["header_length"] <= cs:
            raise OutOfScope("header_length outside 104..cluster size")
        self.header = h
        # QEMU sizes the disk in whole sectors, rounded down: every
        # bitmap length derives from this
        self.disk_size = h["size"] // SECTOR * SECTOR
        self.compression_type = None
        if h["header_length"] > 104:
            self.compression_type = self.read(104, 1, "compression_type")[0]

        self.backing_file = None
        if h["backing_file_offset"]:
            if h["backing_file_size"] > 1023 or \
                    h["backing_file_offset"] + h["backing_file_size"] > cs:
                raise OutOfScope("backing file name outside the first cluster")
            self.backing_file = self.read(h["backing_file_offset"],
                                          h["backing_file_size"],
                                          "backing file name")

        # header extensions: from header_length to the end of cluster 0,
        # or to the backing file name if that comes first
        end = cs
        if h["backing_file_offset"] and h["backing_file_offset"] < end:
            end = h["backing_file_offset"]
        area = self.read(0, min(end, self.file_size), "extension area")
        pos = h["header_length"]
        self.extensions = []
        while True:
            if pos + 8 > end:
                raise OutOfScope("extension area ends without an end marker")
            ext_magic, length = struct.unpack_from(">II", area, pos)
            if ext_magic == EXT_END:
                break
            if pos + 8 + length > end:
                raise OutOfScope("extension runs past the extension area")
            data = area[pos + 8:pos + 8 + length]
            self.extensions.append({"magic": ext_magic, "length": length,
                                    "offset": pos, "data": data})
            pos += 8 + round_up(length, 8)
        # several bitmaps extensions: QEMU reads each, and uses the last;
        # two of another kind are not predicted
        kinds = [e["magic"] for e in self.extensions
                 if e["magic"] != EXT_BITMAPS]
        if len(set(kinds)) != len(kinds):
            raise OutOfScope("an extension type appears twice")

        # the feature name table: (kind, bit) -> name, first entry wins
        self.features = []
        self.feature_names = {}
        for ext in self.extensions:
            if ext["magic"] != EXT_FEATURE_TABLE:
                continue
            data = ext["data"]
            for i in range(len(data) // 48):
                ftype, fbit = data[48 * i], data[48 * i + 1]
                fname = data[48 * i + 2:48 * i + 48].split(b"\0", 1)[0]
                self.features.append((ftype, fbit, fname))
                self.feature_names.setdefault((ftype, fbit), fname)

        self.bitmaps_ext = None     # the fields of the last one
        self.bitmaps = []
        for ext in self.extensions:
            if ext["magic"] == EXT_BITMAPS:
                if ext["length"] != 24:
                    raise OutOfScope("bitmaps extension of %d bytes"
                                     % ext["length"])
                nb, reserved, dsize, doff = struct.unpack(">IIQQ",
                                                          ext["data"])
                ext["fields"] = {"nb_bitmaps": nb, "reserved32": reserved,
                                 "bitmap_directory_size": dsize,
                                 "bitmap_directory_offset": doff}
                self.bitmaps_ext = ext["fields"]
                self.last_bitmaps_ext = ext
            elif ext["magic"] == EXT_CRYPTO and ext["length"] != 16:
                raise OutOfScope("crypto header extension of %d bytes"
                                 % ext["length"])
        if self.bitmaps_ext:
            self._decode_directory(self.bitmaps_ext)

    def _decode_directory(self, b):
        nb, dsize, doff = (b["nb_bitmaps"], b["bitmap_directory_size"],
                           b["bitmap_directory_offset"])
        if nb == 0 or nb > QEMU_MAX_BITMAPS or dsize > QEMU_MAX_DIRECTORY \
                or b["reserved32"]:
            raise OutOfScope("bitmaps extension beyond QEMU's limits")
        directory = self.read(doff, dsize, "bitmap directory")
        pos = 0
        for i in range(nb):
            if pos + 24 > dsize:
                raise OutOfScope("bitmap directory entry %d cut short" % i)
            (toff, tsize, flags, btype, gbits, name_size,
             extra_size) = struct.unpack_from(">QIIBBHI", directory, pos)
            size = round_up(24 + extra_size + name_size, 8)
            if name_size == 0 or pos + size > dsize or \
                    tsize > QEMU_MAX_TABLE_ENTRIES:
                raise OutOfScope("bitmap directory entry %d overruns" % i)
            extra = directory[pos + 24:pos + 24 + extra_size]
            name = directory[pos + 24 + extra_size:
                             pos + 24 + extra_size + name_size]
            self.bitmaps.append({
                "index": i, "entry_offset": doff + pos, "name": name,
                "bitmap_table_offset": toff, "bitmap_table_size": tsize,
                "flags": flags, "type": btype, "granularity_bits": gbits,
                "name_size": name_size, "extra_data_size": extra_size,
                "extra_data": extra})
            pos += size
        if pos != dsize:
            raise OutOfScope("bitmap directory has trailing bytes")
        if tsize_total(self.bitmaps) > (256 << 20) // 8:
            raise OutOfScope("bitmap tables beyond what a tool loads")

    # ---- bitmap tables and data

    def table(self, bm):
        """The bitmap table as (type, size column, offset, reserved, raw
        entry); what lies past the end of the file reads as zeroes."""
        if "table" not in bm:
            raw = self.read_zeroes(bm["bitmap_table_offset"],
                                   8 * bm["bitmap_table_size"])
            rows = []
            for (entry,) in struct.iter_unpack(">Q", raw):
                offset = entry & TABLE_OFFSET_MASK
                if offset:
                    kind = "invalid" if entry & TABLE_ALL_ONES else "serialized"
                else:
                    kind = "all-ones" if entry & TABLE_ALL_ONES else "all-zeroes"
                size = self.cluster_size if kind == "serialized" else 0
                rows.append((kind, size, offset, entry & TABLE_RESERVED_MASK,
                             entry))
            bm["table"] = rows
        return bm["table"]

    def table_needed(self, bm):
        """The table_size QEMU wants for this disk and granularity."""
        nbits = div_up(self.disk_size, 1 << bm["granularity_bits"])
        return div_up(div_up(nbits, 8), self.cluster_size)

    def extents(self, bm):
        """The merged dirty ranges [(start, length)] of one bitmap, as QEMU
        exports them: the disk in whole sectors, zeroes past the end of
        the file."""
        key = bm["index"]
        if key in self._extents:
            return self._extents[key]
        gbits = bm["granularity_bits"]
        if gbits > 63:
            raise OutOfScope("granularity_bits %d: -x cannot read it" % gbits)
        gran = 1 << gbits
        size = self.disk_size
        bits_per_cluster = self.cluster_size * 8
        need = self.table_needed(bm)
        table = self.table(bm)
        if len(table) < need:
            raise OutOfScope("bitmap table shorter than the disk needs")
        runs = []   # [first bit, end bit)

        def add(first, end):
            if runs and runs[-1][1] == first:
                runs[-1][1] = end
            else:
                runs.append([first, end])

        for j in range(need):
            kind, _, offset, _, _ = table[j]
            base = j * bits_per_cluster
            if kind == "all-zeroes":
                continue
            if kind == "all-ones":
                add(base, base + bits_per_cluster)
                continue
            if kind != "serialized":
                raise OutOfScope("table entry %d of %r is %s"
                                 % (j, bm["name"], kind))
            data = self.read_zeroes(offset, self.cluster_size)
            for m in re.finditer(rb"[^\x00]+", data):
                for part in re.finditer(rb"\xff+|[^\xff]", m.group()):
                    at = base + 8 * (m.start() + part.start())
                    chunk = part.group()
                    if chunk[0] == 0xFF:
                        add(at, at + 8 * len(chunk))
                        continue
                    byte = chunk[0]
                    for k in range(8):
                        if byte >> k & 1:
                            add(at + k, at + k + 1)
        out = []
        for first, end in runs:
            start = first * gran
            stop = min(end * gran, size)
            if start >= stop:
                continue
            if out and out[-1][0] + out[-1][1] == start:
                out[-1][1] += stop - start
            else:
                out.append([start, stop - start])
        result = [tuple(r) for r in out]
        self._extents[key] = result
        return result

    # ---- names

    def feature_name_list(self, kind):
        """The names of the set bits of one kind, as bytes: the spec's,
        else the image's feature name table's, else bit-N."""
        value = self.header[kind + "_features"]
        ktype = FEATURE_KINDS.index(kind)
        names = []
        for b in bit_list(value):
            table_name = self.feature_names.get((ktype, b))
            if b in KNOWN_FEATURES[kind]:
                names.append(KNOWN_FEATURES[kind][b].encode())
            elif table_name:
                names.append(table_name)
            else:
                names.append(b"bit-%d" % b)
        return names

    # ---- QEMU's verdict on the image and each bitmap

    def image_refused(self):
        """Why QEMU 7.2 refuses to open the image as a whole, for reasons
        that are no one bitmap's (a list; empty when it opens it)."""
        h = self.header
        cs = self.cluster_size
        why = []
        inc = h["incompatible_features"]
        if inc & ~QEMU_INCOMPATIBLE_KNOWN:
            why.append("unknown incompatible bits")
        if h["refcount_order"] > 6:
            why.append("refcount_order above 6")
        ct = self.compression_type
        if ct is not None and ct > 1:
            why.append("unknown compression type")
        if inc & 8 and not ct:
            why.append("compression type bit without a type")
        if not inc & 8 and ct:
            why.append("compression type without its bit")
        if inc & 16 and h["cluster_bits"] < 14:
            why.append("extended L2 with clusters below 16 KiB")
        exts = {e["magic"]: e for e in self.extensions}
        crypto = exts.get(EXT_CRYPTO)
        if h["crypt_method"] > 2:
            why.append("unknown crypt_method")
        if h["crypt_method"] == 2 and not crypto:
            why.append("LUKS without a crypto header extension")
        if crypto and h["crypt_method"] != 2:
            why.append("crypto header extension without LUKS")
        if crypto and h["crypt_method"] == 2:
            offset, length = struct.unpack(">QQ", crypto["data"])
            if offset % cs or not length or \
                    self.read_zeroes(offset, 6) != LUKS_MAGIC:
                why.append("no LUKS header where the extension says")
        bf = exts.get(EXT_BACKING_FORMAT)
        if bf and bf["length"] > QEMU_MAX_BACKING_FORMAT:
            why.append("backing format of 16 bytes or more")
        if inc & 4 and EXT_DATA_FILE not in exts:
            why.append("external data file bit without a data file name")
        if h["autoclear_features"] & 2 and not inc & 4:
            why.append("raw external data without an external data file")
        l2_bits = h["cluster_bits"] - (4 if inc & 16 else 3)
        if h["l1_table_offset"] % cs:
            why.append("L1 table unaligned")
        if h["l1_size"] > QEMU_MAX_L1_ENTRIES:
            why.append("L1 table too large")
        if h["l1_size"] < div_up(h["size"], 1 << (h["cluster_bits"] + l2_bits)):
            why.append("L1 table too small")
        if h["refcount_table_offset"] % cs:
            why.append("refcount table unaligned")
        if not h["refcount_table_clusters"] or \
                h["refcount_table_clusters"] * cs > QEMU_MAX_REFTABLE:
            why.append("refcount table empty or too large")
        if h["snapshot_offset"] % cs:
            why.append("snapshot table unaligned")
        if h["nb_snapshots"] > QEMU_MAX_SNAPSHOTS:
            why.append("too many snapshots")
        if h["autoclear_features"] & 1:
            # QEMU validates every bitmaps extension as it parses it
            for ext in self.extensions:
                if ext["magic"] != EXT_BITMAPS:
                    continue
                f = ext["fields"]
                if not f["nb_bitmaps"] or f["nb_bitmaps"] > QEMU_MAX_BITMAPS \
                        or f["reserved32"] \
                        or f["bitmap_directory_offset"] % cs \
                        or f["bitmap_directory_size"] > QEMU_MAX_DIRECTORY:
                    why.append("a bitmaps extension QEMU refuses")
        return why

    def bitmap_refused(self):
        """{index: state} of each bitmap whose own metadata makes QEMU
        refuse to open the image (unsupported for extra data and flags
        QEMU does not know, invalid for the rest).  With the autoclear
        bitmaps bit clear QEMU reads no directory: none."""
        if not self.header["autoclear_features"] & 1:
            return {}
        cs = self.cluster_size
        out = {}
        loaded = set()
        for bm in self.bitmaps:
            i = bm["index"]
            in_use = bm["flags"] & FLAG_IN_USE
            if bm["extra_data_size"] or bm["flags"] & QEMU_RESERVED_FLAGS:
                out[i] = "unsupported"
            elif (not bm["bitmap_table_offset"]
                  or bm["bitmap_table_offset"] % cs
                  or not bm["bitmap_table_size"]
                  or bm["bitmap_table_size"] > QEMU_MAX_TABLE_ENTRIES
                  or bm["bitmap_table_size"] * cs > QEMU_MAX_BITMAP_BYTES
                  or bm["granularity_bits"] not in QEMU_GRANULARITY_BITS
                  or bm["name_size"] > QEMU_MAX_NAME
                  or bm["type"] != 1):
                out[i] = "invalid"
            elif not in_use and (
                    bm["bitmap_table_size"] != self.table_needed(bm)
                    or any(bad_table_entry(raw, cs)
                           for *_, raw in self.table(bm))):
                out[i] = "invalid"
            # names are C strings to QEMU; an in_use bitmap whose name is
            # taken already is skipped, any other is refused
            name = bm["name"].split(b"\0", 1)[0]
            if name in loaded:
                if not in_use:
                    out.setdefault(i, "invalid")
            else:
                loaded.add(name)
        return out

    def check_refused(self, bm, refs, counts):
        """Does qemu-img check report an error about this bitmap's own
        clusters: its table or a data cluster a cluster or more past the
        end of the file (sized in sectors), a table entry it cannot
        read, a cluster referenced more often than its refcount says
        (refcount 0, or shared with other metadata)?"""
        cs = self.cluster_size
        flen = round_up(self.file_size, SECTOR)

        def beyond(offset, size):
            return offset + size - flen >= cs

        toff, tsize = bm["bitmap_table_offset"], bm["bitmap_table_size"]
        if beyond(toff, 8 * tsize):
            return True
        clusters = list(range(toff // cs, (toff + 8 * tsize - 1) // cs + 1))
        for kind, _, offset, _, raw in self.table(bm):
            if bad_table_entry(raw, cs):
                return True
            if offset:
                if beyond(offset, cs):
                    return True
                clusters.append(offset // cs)
        return any(refs.get(c, 0) > counts.get(c, 0) for c in clusters)

    def references(self, wanted, guest=True):
        """{cluster: references} for the clusters in WANTED, counting the
        metadata qemu-img check counts: the header cluster, the L1 table,
        the refcount table and blocks, the active L2 tables and the guest
        clusters they map, the crypto header, the bitmap directory, and
        every bitmap's table and data clusters.  (Snapshots' tables are
        not walked: a reference missed here can only hide an overlap,
        never invent one.)"""
        h = self.header
        cs = self.cluster_size
        refs = {}

        def count(offset, size):
            if size <= 0:
                return
            for c in range(offset // cs, (offset + size - 1) // cs + 1):
                if c in wanted:
                    refs[c] = refs.get(c, 0) + 1

        count(0, cs)
        count(h["l1_table_offset"], 8 * h["l1_size"])
        count(h["refcount_table_offset"], h["refcount_table_clusters"] * cs)
        for (entry,) in struct.iter_unpack(">Q", self.read_zeroes(
                h["refcount_table_offset"],
                h["refcount_table_clusters"] * cs)):
            if entry & HOST_OFFSET_MASK:
                count(entry & HOST_OFFSET_MASK, cs)
        inc = h["incompatible_features"]
        shift = 62 - (h["cluster_bits"] - 8)
        for (l1e,) in struct.iter_unpack(">Q", self.read_zeroes(
                h["l1_table_offset"], 8 * h["l1_size"]) if guest else b""):
            l2 = l1e & HOST_OFFSET_MASK
            if not l2:
                continue
            count(l2, cs)
            entries = array.array("Q", self.read_zeroes(l2, cs))
            if sys.byteorder == "little":
                entries.byteswap()
            if inc & 16:
                entries = entries[::2]
            for e in entries:
                if not e:
                    continue
                if e >> 62 & 1:
                    offset = e & ((1 << shift) - 1)
                    mask = (1 << (h["cluster_bits"] - 8)) - 1
                    sectors = (e >> shift & mask) + 1
                    count(offset, sectors * 512 - (offset & 511))
                elif not inc & 4 and e & HOST_OFFSET_MASK:
                    count(e & HOST_OFFSET_MASK, cs)
        for ext in self.extensions:
            if ext["magic"] == EXT_CRYPTO and h["crypt_method"] == 2:
                offset, length = struct.unpack(">QQ", ext["data"])
                count(offset, length)
        b = self.bitmaps_ext
        count(b["bitmap_directory_offset"], b["bitmap_directory_size"])
        for bm in self.bitmaps:
            count(bm["bitmap_table_offset"], 8 * bm["bitmap_table_size"])
            for kind, _, offset, _, _ in self.table(bm):
                if offset:
                    count(offset, cs)
        return refs

    def verdicts(self, dev=frozenset()):
        """[(state, reason)] for each bitmap, in directory order (reason
        a Wild where only the state is predicted)."""
        key = frozenset(dev) & {"guest-cluster-overlap-unseen"}
        if key in self._verdicts:
            return self._verdicts[key]
        autoclear = self.header["autoclear_features"] & 1
        own = self.bitmap_refused()
        refused = bool(self.image_refused() or own)
        refs = counts = None
        out = []
        for bm in self.bitmaps:
            i = bm["index"]
            if i in own:
                out.append((own[i], ANY_REASON))
                continue
            if refused:
                out.append(("invalid", ANY_REASON))
                continue
            if autoclear:
                if refs is None:
                    counts = refcounts(self)
                    refs = self.references(
                        self.bitmap_clusters(),
                        "guest-cluster-overlap-unseen" not in dev)
                if self.check_refused(bm, refs, counts):
                    out.append(("invalid", ANY_REASON))
                    continue
            if not autoclear:
                out.append(("stale", REASON_STALE))
            elif bm["flags"] & FLAG_IN_USE:
                out.append(("live" if self.lock()[1] else "inconsistent",
                            REASON_IN_USE))
            elif not bm["flags"] & FLAG_AUTO:
                out.append(("disabled", None))
            else:
                out.append(("usable", None))
        self._verdicts[key] = out
        return out

    def bitmap_clusters(self):
        cs = self.cluster_size
        wanted = set()
        for bm in self.bitmaps:
            toff, tsize = bm["bitmap_table_offset"], bm["bitmap_table_size"]
            wanted.update(range(toff // cs, (toff + 8 * tsize - 1) // cs + 1))
            wanted.update(offset // cs for _, _, offset, _, _ in self.table(bm)
                          if offset)
        return wanted


def bad_table_entry(raw, cs):
    """A bitmap table entry QEMU refuses: reserved bits, or an offset that
    is not cluster aligned or comes with the all-ones bit."""
    offset = raw & TABLE_OFFSET_MASK
    return bool(raw & TABLE_RESERVED_MASK or
                offset and (raw & TABLE_ALL_ONES or offset % cs))


def tsize_total(bitmaps):
    return sum(b["bitmap_table_size"] for b in bitmaps)


def flag_list_text(flags):
    return [FLAG_TEXT.get(b, "bit-%d" % b) for b in bit_list(flags)]


def flag_list_json(flags):
    return [FLAG_JSON.get(b, "bit-%d" % b) for b in bit_list(flags)]


def granularity(bm):
    return (1 << bm["granularity_bits"]) if bm["granularity_bits"] < 64 else None


# ------------------------------------------------------------------- views

class View:
    """What the options ask for: what (default, e, b, x) and -t."""

    def __init__(self, opts):
        self.what = "default"
        self.table = False
        for o in opts:
            if o == "-t":
                self.table = True
            elif o in ("-e", "-b", "-x"):
                if self.what != "default":
                    raise ValueError("%s with another view" % o)
                self.what = o[1]
            else:
                raise ValueError("option %s is not predicted" % o)


# ---- text

HEADER_TEXT = (   # field, format: qcow2.py's order and number bases
    ("magic", "hex"), ("version", "dec"), ("backing_file_offset", "hex"),
    ("backing_file_size", "hex"), ("cluster_bits", "dec"), ("size", "dec"),
    ("crypt_method", "dec"), ("l1_size", "dec"), ("l1_table_offset", "hex"),
    ("refcount_table_offset", "hex"), ("refcount_table_clusters", "dec"),
    ("nb_snapshots", "dec"), ("snapshot_offset", "hex"),
    ("incompatible_features", "bits"), ("compatible_features", "bits"),
    ("autoclear_features", "bits"), ("refcount_order", "dec"),
    ("header_length", "dec"))


def line(label, value):
    return "%-25s %s\n" % (label, value)


def fmt_value(value, how):
    if how == "hex":
        return "%#x" % value
    if how == "bits":
        return "[" + ", ".join(str(b) for b in bit_list(value)) + "]"
    return str(value)


def text_bitmap(img, bm, with_table):
    out = line("Bitmap name", text_escape(bm["name"]))
    out += line("bitmap_table_offset", "%#x" % bm["bitmap_table_offset"])
    out += line("bitmap_table_size", bm["bitmap_table_size"])
    out += line("flags", "%#x (%s)" % (bm["flags"], "[" + ", ".join(
        "'%s'" % n for n in flag_list_text(bm["flags"])) + "]"))
    for key in ("type", "granularity_bits", "name_size", "extra_data_size"):
        out += line(key, bm[key])
    if with_table:
        out += "%-14s %-15s %-12s %s\n" % ("Bitmap table", "type", "size",
                                           "offset")
        for i, (kind, size, offset, _, _) in enumerate(img.table(bm)):
            out += "%-14s %-15s %-12s %s\n" % (i, kind, size, offset)
    return out


def text_extension(img, ext, with_table):
    out = "Header extension:\n"
    name = EXT_NAMES.get(ext["magic"], "<unknown>")
    out += line("magic", "%#x (%s)" % (ext["magic"], name))
    out += line("length", ext["length"])
    if ext["magic"] == EXT_BITMAPS:
        b = ext["fields"]
        out += line("nb_bitmaps", b["nb_bitmaps"])
        out += line("reserved32", b["reserved32"])
        out += line("bitmap_directory_size", "%#x" % b["bitmap_directory_size"])
        out += line("bitmap_directory_offset",
                    "%#x" % b["bitmap_directory_offset"])
        if ext is img.last_bitmaps_ext:
            for bm in img.bitmaps:
                out += "\n" + text_bitmap(img, bm, with_table)
    else:
        out += line("data", data_str(ext["data"]))
    return out + "\n"


def data_str(data):
    if all(c in PRINTABLE for c in data):
        return "'" + data.decode("ascii") + "'"
    return "<binary>"


def usable_text(state):
    return "yes" if state == "usable" else "no (%s)" % state


def text_one(img, view, dev=frozenset()):
    if isinstance(img, Unopenable):
        return ""
    if view.what == "x":
        out = ""
        for bm, (state, _) in zip(img.bitmaps, img.verdicts(dev)):
            out += line("Bitmap name", text_escape(bm["name"]))
            out += line("granularity", granularity(bm))
            out += line("usable", usable_text(state))
            ext = img.extents(bm)
            for start, length in ext:
                out += line(start, length)
            out += line("dirty_bytes", sum(l for _, l in ext))
            out += "\n"
        return out
    if view.what == "b":
        return "".join(text_bitmap(img, bm, view.table) + "\n"
                       for bm in img.bitmaps)
    out = ""
    if view.what == "default":
        for key, how in HEADER_TEXT:
            out += line(key, fmt_value(img.header[key], how))
        out += "\n"
    for ext in img.extensions:
        out += text_extension(img, ext, view.table)
    return out


def expect_text(images, args, view, dev=frozenset()):
    """stdout of qcow2dump in text for IMAGES (their arguments ARGS)."""
    if len(images) == 1:
        return text_one(images[0], view, dev)
    if any(isinstance(img, Unopenable) for img in images):
        raise OutOfScope("text of a file that is no image among others")
    parts = []
    for img, arg in zip(images, args):
        parts.append("==> %s <==\n" % text_escape(os.fsencode(arg)) +
                     text_one(img, view, dev))
    return "\n".join(parts)


def expect_stderr(images, args, view, dev=frozenset()):
    """Standard error, as pieces (bytes, or Wild for a line's words):
    one error for a file that is no image; with -x, for each bitmap shown
    that is not usable, why (IMAGE and the bitmap name escaped as in
    text)."""
    out = []
    for img, arg in zip(images, args):
        a = text_escape(os.fsencode(arg)).encode()
        if isinstance(img, Unopenable):
            out += [b"qcow2dump: %s: " % a, ANY_LINE, b"\n"]
            continue
        if view.what != "x":
            continue
        for bm, (state, reason) in zip(img.bitmaps, img.verdicts(dev)):
            if state == "usable":
                continue
            msg = not_usable_message(state, reason)
            out += [b"qcow2dump: %s: bitmap '%s': " % (
                a, text_escape(bm["name"]).encode()),
                msg if isinstance(msg, Wild) else msg.encode(), b"\n"]
    return out


def expect_status(images, view, dev=frozenset()):
    status = 0
    for img in images:
        if isinstance(img, Unopenable):
            status = max(status, 2)
        elif view.what == "x" and any(state != "usable" for state, _
                                      in img.verdicts(dev)):
            status = max(status, 1)
    return status


# ---- JSON

def json_header(img):
    h = {key: img.header[key] for key, _ in HEADER_TEXT}
    if img.compression_type is not None:
        h["compression_type"] = img.compression_type
    for kind in FEATURE_KINDS:
        names = img.feature_name_list(kind)
        h[kind + "_feature_names"] = [json_text(n) for n in names]
        if not all(is_utf8(n) for n in names):
            h[kind + "_feature_names_hex"] = [n.hex() for n in names]
    return h


def json_verdict(obj, verdict):
    state, reason = verdict
    obj["usable"] = state == "usable"
    obj["state"] = state
    obj["reason"] = reason


def json_bitmap(img, bm, with_table, dev):
    b = {}
    json_name(b, "name", bm["name"])
    b["bitmap_table_offset"] = bm["bitmap_table_offset"]
    b["bitmap_table_size"] = bm["bitmap_table_size"]
    b["flags"] = bm["flags"]
    b["flag_names"] = flag_list_json(bm["flags"])
    b["type"] = bm["type"]
    b["granularity_bits"] = bm["granularity_bits"]
    b["granularity"] = granularity(bm)
    b["name_size"] = bm["name_size"]
    b["extra_data_size"] = bm["extra_data_size"]
    if bm["extra_data_size"]:
        b["extra_data_hex"] = bm["extra_data"].hex()
    json_verdict(b, img.verdicts(dev)[bm["index"]])
    if with_table:
        b["bitmap_table"] = [{"type": kind, "offset": offset,
                              "reserved": reserved}
                             for kind, _, offset, reserved, _ in img.table(bm)]
    return b


def json_extension(img, ext, with_table, dev):
    e = {"name": EXT_NAMES.get(ext["magic"], "<unknown>"),
         "magic": ext["magic"], "length": ext["length"],
         "offset": ext["offset"]}
    data = ext["data"]
    if ext["magic"] == EXT_BITMAPS:
        d = dict(ext["fields"])
        if ext is img.last_bitmaps_ext:
            d["bitmap_directory"] = [json_bitmap(img, bm, with_table, dev)
                                     for bm in img.bitmaps]
        e["data"] = d
        return e
    e["data_str"] = data_str(data)
    e["data_hex"] = data.hex()
    if ext["magic"] in (EXT_BACKING_FORMAT, EXT_DATA_FILE):
        json_name(e, "string", data)
    elif ext["magic"] == EXT_CRYPTO:
        offset, length = struct.unpack(">QQ", data)
        e["crypto"] = {"offset": offset, "length": length}
    elif ext["magic"] == EXT_FEATURE_TABLE:
        feats = []
        for ftype, fbit, fname in img.features:
            f = {"type": ftype,
                 "type_name": FEATURE_KINDS[ftype] if ftype < 3 else "unknown",
                 "bit": fbit}
            json_name(f, "name", fname)
            feats.append(f)
        e["features"] = feats
    return e


def json_one(img, arg, view, dev=frozenset()):
    doc = {}
    argb = os.fsencode(arg)
    json_name(doc, "image", argb)
    if isinstance(img, Unopenable):
        doc["locked"] = None
        doc["bitmaps" if view.what in ("b", "x") else "header_extensions"] = []
        doc["problems"] = [{"severity": "error", "code": img.code,
                            "message": ANY_LINE, "offset": ANY_OFFSET}]
        return doc
    doc["locked"] = img.lock()[0]
    if view.what == "b":
        doc["bitmaps"] = [json_bitmap(img, bm, view.table, dev)
                          for bm in img.bitmaps]
        return doc
    if view.what == "x":
        bitmaps, problems = [], []
        for bm, verdict in zip(img.bitmaps, img.verdicts(dev)):
            b = {}
            json_name(b, "name", bm["name"])
            b["granularity"] = granularity(bm)
            json_verdict(b, verdict)
            ext = img.extents(bm)
            b["extents"] = [{"start": s, "length": l} for s, l in ext]
            b["dirty_bytes"] = sum(l for _, l in ext)
            bitmaps.append(b)
            if verdict[0] != "usable":
                p = {"severity": "error", "code": "bitmap-not-usable",
                     "message": not_usable_message(*verdict),
                     "offset": bm["entry_offset"] + 12}
                json_name(p, "bitmap", bm["name"])
                problems.append(p)
        doc["bitmaps"] = bitmaps
        if problems:
            doc["problems"] = problems
        return doc
    if view.what == "default":
        doc["header"] = json_header(img)
        if img.backing_file is not None:
            json_name(doc, "backing_file", img.backing_file)
    doc["header_extensions"] = [json_extension(img, ext, view.table, dev)
                                for ext in img.extensions]
    return doc


def expect_json(images, args, view, dev=frozenset()):
    return [json_one(img, arg, view, dev) for img, arg in zip(images, args)]


# ---- CSV (rows of bytes: CSV carries the image's bytes as they are)

CSV_BITMAP_HEAD = ["image", "name", "bitmap_table_offset", "bitmap_table_size",
                   "flags", "flag_names", "type", "granularity_bits",
                   "granularity", "name_size", "extra_data_size",
                   "usable", "state", "reason"]


def b(value):
    return str(value).encode() if not isinstance(value, bytes) else value


def csv_verdict(verdict):
    state, reason = verdict
    return ["true" if state == "usable" else "false", state,
            "" if reason is None else reason]


def expect_csv(images, args, view, dev=frozenset()):
    if view.what == "e":
        rows = [["image", "index", "name", "magic", "length", "data"]]
        for img, arg in zip(images, args):
            for i, ext in enumerate(getattr(img, "extensions", [])):
                if ext["magic"] in (EXT_BACKING_FORMAT, EXT_DATA_FILE):
                    data = ext["data"]
                else:
                    data = ext["data"].hex()
                rows.append([os.fsencode(arg), i,
                             EXT_NAMES.get(ext["magic"], "<unknown>"),
                             ext["magic"], ext["length"], data])
    elif view.what == "x":
        rows = [["image", "bitmap", "start", "length", "usable", "state",
                 "reason"]]
        for img, arg in zip(images, args):
            if isinstance(img, Unopenable):
                continue
            for bm, verdict in zip(img.bitmaps, img.verdicts(dev)):
                ranges = img.extents(bm) or [("", "")]
                for start, length in ranges:
                    rows.append([os.fsencode(arg), bm["name"], start, length]
                                + csv_verdict(verdict))
    elif view.table:
        rows = [["image", "bitmap", "index", "type", "offset", "reserved"]]
        for img, arg in zip(images, args):
            for bm in img.bitmaps:
                for i, (kind, _, offset, reserved, _) in enumerate(img.table(bm)):
                    rows.append([os.fsencode(arg), bm["name"], i, kind,
                                 offset, reserved])
    else:
        rows = [list(CSV_BITMAP_HEAD)]
        for img, arg in zip(images, args):
            if isinstance(img, Unopenable):
                continue
            for bm, verdict in zip(img.bitmaps, img.verdicts(dev)):
                g = granularity(bm)
                rows.append([os.fsencode(arg), bm["name"],
                             bm["bitmap_table_offset"], bm["bitmap_table_size"],
                             bm["flags"], " ".join(flag_list_json(bm["flags"])),
                             bm["type"], bm["granularity_bits"],
                             "" if g is None else g, bm["name_size"],
                             bm["extra_data_size"]] + csv_verdict(verdict))
    return [[v if isinstance(v, Wild) else b(v) for v in row] for row in rows]


# ------------------------------------------------------------- comparison

def parse_json_stream(text):
    """Every document of a stream, objects as lists of (key, value) pairs
    so that key order and duplicate keys show."""
    decoder = json.JSONDecoder(object_pairs_hook=lambda pairs: ("{}", pairs))
    pos, docs = 0, []
    while True:
        while pos < len(text) and text[pos] in " \t\r\n":
            pos += 1
        if pos == len(text):
            return docs
        doc, pos = decoder.raw_decode(text, pos)
        docs.append(doc)


def as_pairs(obj):
    """A Python object in the same shape parse_json_stream gives."""
    if isinstance(obj, dict):
        return ("{}", [(k, as_pairs(v)) for k, v in obj.items()])
    if isinstance(obj, list):
        return [as_pairs(v) for v in obj]
    return obj


def from_pairs(obj):
    if isinstance(obj, tuple) and len(obj) == 2 and obj[0] == "{}":
        return {k: from_pairs(v) for k, v in obj[1]}
    if isinstance(obj, list):
        return [from_pairs(v) for v in obj]
    return obj


def first_difference(got, want, where="$"):
    """Where two parsed JSON values first differ (order, keys, types)."""
    if isinstance(want, Wild):
        return None if want == got else "%s: %r, want %r" % (where, got, want)
    if isinstance(want, tuple) and want and want[0] == "{}":
        if not (isinstance(got, tuple) and got and got[0] == "{}"):
            return "%s: an object expected, got %r" % (where, from_pairs(got))
        gk, wk = [k for k, _ in got[1]], [k for k, _ in want[1]]
        if gk != wk:
            return "%s: keys %s, want %s" % (where, gk, wk)
        for (k, gv), (_, wv) in zip(got[1], want[1]):
            d = first_difference(gv, wv, "%s.%s" % (where, k))
            if d:
                return d
        return None
    if isinstance(want, list):
        if not isinstance(got, list):
            return "%s: an array expected, got %r" % (where, got)
        if len(got) != len(want):
            return "%s: %d items, want %d" % (where, len(got), len(want))
        for i, (gv, wv) in enumerate(zip(got, want)):
            d = first_difference(gv, wv, "%s[%d]" % (where, i))
            if d:
                return d
        return None
    if type(got) is not type(want) or got != want:
        return "%s: %r, want %r" % (where, got, want)
    return None


def lf_records(raw):
    """Every CSV record ends in LF: a CR only inside a quoted field."""
    quoted = False
    for c in raw:
        if c == 0x22:
            quoted = not quoted
        elif c == 0x0D and not quoted:
            return False
    return not quoted and raw.endswith(b"\n")


def text_diff(got, want):
    import difflib
    return "".join(difflib.unified_diff(
        want.splitlines(True), got.splitlines(True), "oracle", "qcow2dump",
        n=2)) or "(differ in bytes not lines: %r vs %r)" % (got[:200], want[:200])


def compare(fmt, out, want):
    """(output is as predicted, what differs)"""
    if fmt == "text":
        if out == want.encode("utf-8"):
            return True, ""
        return False, text_diff(out.decode("utf-8", "replace"), want)
    if fmt == "json":
        try:
            got = parse_json_stream(out.decode("utf-8"))
        except (UnicodeDecodeError, ValueError) as e:
            return False, "does not parse: %s" % e
        d = first_difference(got, as_pairs(want))
        if d is None and from_pairs(got) == want:
            return True, ""
        return False, d or "differs"
    rows = list(csv.reader(io.StringIO(out.decode("utf-8", "surrogateescape"),
                                       newline="")))
    got = [[c.encode("utf-8", "surrogateescape") for c in r] for r in rows]
    if got == want:
        return True, ""
    for i in range(max(len(got), len(want))):
        g = got[i] if i < len(got) else None
        w = want[i] if i < len(want) else None
        if g != w:
            return False, "row %d: got %r\n       want %r" % (i, g, w)
    return False, "differs"


def pieces_text(pieces):
    return b"".join(p if isinstance(p, bytes) else repr(p).encode()
                    for p in pieces)


def pieces_rx(pieces):
    return b"".join(re.escape(p) if isinstance(p, bytes)
                    else b"(?:" + p.rx.pattern.encode() + b")" for p in pieces)


def compare_pieces(got, pieces):
    """Bytes against pieces of bytes and Wild (regular expressions)."""
    if re.fullmatch(pieces_rx(pieces), got, re.S):
        return True, ""
    # for the diff, each predicted line that matches the line at its
    # place shown as that line, the others with their Wild parts
    lines, cur = [], []
    for p in pieces:
        cur.append(p)
        if isinstance(p, bytes) and p.endswith(b"\n"):
            lines.append(cur)
            cur = []
    if cur:
        lines.append(cur)
    got_lines = got.split(b"\n")
    shown = b""
    for i, l in enumerate(lines):
        g = got_lines[i] + b"\n" if i < len(got_lines) else None
        shown += g if g is not None and re.fullmatch(pieces_rx(l), g, re.S) \
            else pieces_text(l)
    return False, text_diff(got.decode("utf-8", "replace"),
                            shown.decode("utf-8", "replace"))


def expect(fmt, images, args, view, dev):
    if fmt == "text":
        return expect_text(images, args, view, dev)
    if fmt == "json":
        return expect_json(images, args, view, dev)
    return expect_csv(images, args, view, dev)


def predict(fmt, images, args, view, dev=frozenset()):
    """(exit status, stderr pieces, stdout) of one run."""
    return (expect_status(images, view, dev),
            expect_stderr(images, args, view, dev),
            expect(fmt, images, args, view, dev))


def judge(fmt, status, err, out, want):
    """[(ok, detail)] for the exit status, stderr and stdout."""
    return [(status == want[0], "exit status %d, want %d" % (status, want[0])),
            compare_pieces(err, want[1]),
            compare(fmt, out, want[2])]


# Where qcow2dump is known to disagree with the contract (reported, not
# yet fixed).  verify --known NAME accepts that difference, and only it,
# and fails once it is no longer seen, so that the list stays true.
KNOWN = {
    "guest-cluster-overlap-unseen":
        "a bitmap whose table points at a cluster of guest data (or at "
        "an L2 table) is called usable: qcow2dump does not walk the L2 "
        "tables, so it never sees that overlap, where qemu-img check "
        "counts two references to a cluster of refcount 1, an error "
        "(verdict E-xlink): the bitmap is invalid",
}


class Checker:
    def __init__(self):
        self.cache = {}
        self.n_ok = 0
        self.n_bad = 0
        self.known = frozenset()
        self.seen = {}

    def image(self, path):
        if path not in self.cache:
            try:
                self.cache[path] = load(path)
            except OutOfScope as e:
                self.cache[path] = e
        return self.cache[path]

    def report(self, ok, desc, detail=""):
        if ok:
            self.n_ok += 1
            print("ok - " + desc)
        else:
            self.n_bad += 1
            print("not ok - " + desc)
            for l in detail.rstrip("\n").split("\n")[:40]:
                print("#   " + l)

    def verify_run(self, desc, fmt, opts, status, out_path, err_path, args):
        view = View(opts)
        images = []
        for a in args:
            img = self.image(a)
            if isinstance(img, OutOfScope):
                self.report(False, "%s: exit status (the oracle cannot "
                            "decode the image)" % desc,
                            "%s: out of the oracle's scope: %s" % (a, img))
                return
            images.append(img)
        out = open(out_path, "rb").read()
        err = open(err_path, "rb").read()
        try:
            want = predict(fmt, images, args, view)
        except OutOfScope as e:
            self.report(False, "%s: exit status (the oracle cannot predict "
                        "the view)" % desc, "out of the oracle's scope: %s" % e)
            return
        results = judge(fmt, status, err, out, want)
        notes = [""] * 3
        if not all(ok for ok, _ in results) and self.known:
            # what qcow2dump does where it is known to disagree with the
            # contract: accepted (assertion by assertion: the exit
            # status, stderr, stdout), counted, and named in the assertion
            alt = judge(fmt, status, err, out,
                        predict(fmt, images, args, view, self.known))
            seen = set()
            for k in range(3):
                if results[k][0] or not alt[k][0]:
                    continue
                which = sorted(d for d in self.known
                               if predict(fmt, images, args, view,
                                          frozenset([d]))[k] != want[k])
                seen.update(which)
                notes[k] = " but for known disagreement " + ", ".join(which)
                results[k] = alt[k]
            for d in seen:
                self.seen[d] += 1
        what = {"text": "text byte for byte",
                "json": "JSON documents equal, keys in order",
                "csv": "CSV rows equal"}[fmt]
        self.report(results[0][0], "%s: exit status%s" % (desc, notes[0]),
                    results[0][1])
        self.report(results[1][0], "%s: stderr%s" % (desc, notes[1]),
                    results[1][1])
        if fmt == "csv":
            self.report(lf_records(out), "%s: CSV has LF line ends" % desc,
                        "a CR outside quotes, or no LF at the end")
        self.report(results[2][0], "%s: %s%s" % (desc, what, notes[2]),
                    results[2][1])


def verify(*argv):
    known = []
    argv = list(argv)
    while argv and argv[0] == "--known":
        if argv[1] not in KNOWN:
            sys.exit("q2oracle.py: no known disagreement %r" % argv[1])
        known.append(argv[1])
        argv[:2] = []
    manifest, images_list = argv
    checker = Checker()
    checker.known = frozenset(known)
    checker.seen = {d: 0 for d in known}
    names = [os.fsdecode(bytes.fromhex(h))
             for h in open(images_list).read().split("\n") if h]
    runs = 0
    for raw in open(manifest, "rb").read().split(b"\n"):
        if not raw:
            continue
        desc, fmt, opts, status, out_path, err_path, nums = \
            raw.decode("utf-8").split("\t")
        args = [names[int(k) - 1] for k in nums.split()]
        checker.verify_run(desc, fmt, opts.split(), int(status), out_path,
                           err_path, args)
        runs += 1
    checker.report(runs > 0, "manifest %s lists runs (%d)" % (manifest, runs))
    for d in known:
        checker.report(checker.seen[d] > 0,
                       "known disagreement %s still seen, in %d runs: %s"
                       % (d, checker.seen[d], KNOWN[d]),
                       "qcow2dump no longer shows it: take it out of the "
                       "known disagreements in oracle.sh")
    return 0


# ------------------------------------------------------- qemu-img compare

def refcounts(img):
    """{host cluster: refcount} of every cluster with a non-zero refcount."""
    h = img.header
    cs = img.cluster_size
    order = h["refcount_order"]
    width = 1 << order
    per_block = cs * 8 // width
    table = img.read(h["refcount_table_offset"],
                     h["refcount_table_clusters"] * cs, "refcount table")
    counts = {}
    fmt = {8: ">B", 16: ">H", 32: ">I", 64: ">Q"}.get(width)
    for i, (entry,) in enumerate(struct.iter_unpack(">Q", table)):
        block = entry & 0xFFFFFFFFFFFFFE00
        if not block:
            continue
        data = img.read(block, cs, "refcount block")
        if fmt:
            values = (v for (v,) in struct.iter_unpack(fmt, data))
        else:   # below 8 bits QEMU numbers the refcounts of a byte from bit 0
            values = (byte >> (k * width) & ((1 << width) - 1)
                      for byte in data for k in range(8 // width))
        for k, v in enumerate(values):
            if v:
                counts[i * per_block + k] = v
    return counts


def qemu_check(c, path, check_path):
    img = Image(path)
    q = json.load(open(check_path))
    cs = img.cluster_size
    c.report(q.get("check-errors", 0) == 0 and not q.get("corruptions")
             and not q.get("leaks"),
             "%s: qemu-img check finds the image consistent" % path, str(q))
    c.report(q.get("total-clusters") == div_up(img.disk_size, cs),
             "%s: total-clusters is the virtual size (in whole sectors) in "
             "clusters" % path,
             "qemu %s, oracle %d" % (q.get("total-clusters"),
                                     div_up(img.disk_size, cs)))
    counts = refcounts(img)
    end = (max(counts) + 1) * cs if counts else 0
    c.report(q.get("image-end-offset") == end,
             "%s: image-end-offset is past the last cluster with a refcount"
             % path, "qemu %s, oracle %d" % (q.get("image-end-offset"), end))
    # every cluster of bitmap metadata the oracle decoded is referenced once
    wrong = []
    n = 0
    if img.bitmaps_ext:
        b = img.bitmaps_ext
        first = b["bitmap_directory_offset"] // cs
        last = (b["bitmap_directory_offset"] + b["bitmap_directory_size"] - 1) // cs
        clusters = list(range(first, last + 1))
        for bm in img.bitmaps:
            t0 = bm["bitmap_table_offset"] // cs
            t1 = (bm["bitmap_table_offset"] + 8 * bm["bitmap_table_size"] - 1) // cs
            clusters += range(t0, t1 + 1)
            clusters += [off // cs for kind, _, off, _, _ in img.table(bm)
                         if kind == "serialized"]
        for cl in clusters:
            n += 1
            if counts.get(cl) != 1:
                wrong.append("cluster %d: refcount %s" % (cl, counts.get(cl)))
    c.report(not wrong, "%s: the %d clusters of bitmap metadata have refcount 1"
             % (path, n), "\n".join(wrong[:10]))
    # QEMU opened the image and checked it clean: the oracle's verdict
    # finds no reason QEMU would refuse it, nor any bitmap
    c.report(not img.image_refused() and not img.bitmap_refused(),
             "%s: QEMU opens the image, and the oracle finds no reason it "
             "would not" % path,
             "%s %s" % (img.image_refused(), img.bitmap_refused()))
    if img.bitmaps and img.header["autoclear_features"] & 1:
        refs = img.references(img.bitmap_clusters())
        bad = [bm["name"] for bm in img.bitmaps
               if img.check_refused(bm, refs, counts)]
        c.report(not bad, "%s: qemu-img check is clean, and the oracle finds "
                 "no check error on a bitmap" % path, repr(bad))


def qemu_info(c, path, info_path):
    img = Image(path)
    q = json.load(open(info_path))
    h = img.header
    d = q.get("format-specific", {}).get("data", {})

    def same(what, got, want):
        c.report(got == want, "%s: qemu-img info %s" % (path, what),
                 "qemu %r, oracle %r" % (got, want))

    # QEMU sizes the disk in whole sectors, rounded down
    same("virtual-size", q.get("virtual-size"), img.disk_size)
    same("cluster-size", q.get("cluster-size"), img.cluster_size)
    same("compat", d.get("compat"), "1.1" if h["version"] == 3 else "0.10")
    same("refcount-bits", d.get("refcount-bits"), 1 << h["refcount_order"])
    same("dirty-flag", q.get("dirty-flag", False),
         bool(h["incompatible_features"] & 1))
    if h["version"] == 3:
        same("lazy-refcounts", d.get("lazy-refcounts"),
             bool(h["compatible_features"] & 1))
        same("corrupt", d.get("corrupt"), bool(h["incompatible_features"] & 2))
        same("extended-l2", d.get("extended-l2"),
             bool(h["incompatible_features"] & 16))
    same("compression-type", d.get("compression-type"),
         "zstd" if img.compression_type == 1 else "zlib")
    exts = {e["magic"]: e["data"] for e in img.extensions}
    same("encrypt format", (d.get("encrypt") or {}).get("format"),
         {1: "aes", 2: "luks"}.get(h["crypt_method"]))
    if h["crypt_method"] == 2:
        offset, length = struct.unpack(">QQ", exts[EXT_CRYPTO])
        c.report(offset % img.cluster_size == 0 and
                 offset + length <= img.file_size and
                 img.read(offset, 6, "LUKS header") == b"LUKS\xba\xbe",
                 "%s: the crypto header extension points at a LUKS header"
                 % path, "offset %d length %d" % (offset, length))
    same("data-file", d.get("data-file"),
         json_text(exts[EXT_DATA_FILE]) if EXT_DATA_FILE in exts else None)
    if EXT_DATA_FILE in exts:
        same("data-file-raw", d.get("data-file-raw"),
             bool(h["autoclear_features"] & 2))
    same("backing-filename", q.get("backing-filename"),
         None if img.backing_file is None else json_text(img.backing_file))
    same("backing-filename-format", q.get("backing-filename-format"),
         json_text(exts[EXT_BACKING_FORMAT]) if EXT_BACKING_FORMAT in exts
         else None)
    same("snapshots", len(q.get("snapshots", [])), h["nb_snapshots"])
    qemu_flags = {0: "in-use", 1: "auto"}
    same("bitmaps", d.get("bitmaps", []),
         [{"flags": [qemu_flags[b] for b in bit_list(bm["flags"])],
           "name": json_text(bm["name"]),
           "granularity": granularity(bm)} for bm in img.bitmaps])


def qemu(listing):
    c = Checker()
    for l in open(listing).read().split("\n"):
        if not l:
            continue
        path, info, check = l.split("\t")
        try:
            qemu_info(c, path, info)
            qemu_check(c, path, check)
        except (OutOfScope, ValueError, KeyError) as e:
            c.report(False, "%s: compared with qemu-img" % path, repr(e))
    return 0


# ----------------------------------------------------------------- offsets

def offsets(path, out=None):
    """Shell assignments of where things are, for tests that edit bytes:
    file_size, cluster_size; ext_<name> (an extension's magic), its data
    at +8; dir, dir_size; for bitmap i: entry_i,
    table_i, table_size_i, and data_i_j (the data cluster of serialized
    table entry j); refblock_0 (the first refcount block) and guest_0
    (the host cluster of guest offset 0) when there are."""
    img = Image(path)
    cs = img.cluster_size
    h = img.header
    lines = ["file_size=%d" % img.file_size, "cluster_size=%d" % cs]
    if h["backing_file_offset"]:
        lines.append("backing_file=%d" % h["backing_file_offset"])
    for ext in img.extensions:
        slug = EXT_NAMES.get(ext["magic"], "unknown_%08x" % ext["magic"])
        lines.append("ext_%s=%d" % (slug.lower().replace(" ", "_"),
                                    ext["offset"]))
    if img.bitmaps_ext:
        lines.append("dir=%d" % img.bitmaps_ext["bitmap_directory_offset"])
        lines.append("dir_size=%d" % img.bitmaps_ext["bitmap_directory_size"])
    for bm in img.bitmaps:
        i = bm["index"]
        lines.append("entry_%d=%d" % (i, bm["entry_offset"]))
        lines.append("table_%d=%d" % (i, bm["bitmap_table_offset"]))
        lines.append("table_size_%d=%d" % (i, bm["bitmap_table_size"]))
        if 8 * bm["bitmap_table_size"] <= (1 << 20):
            for j, (kind, _, off, _, _) in enumerate(img.table(bm)):
                if kind == "serialized":
                    lines.append("data_%d_%d=%d" % (i, j, off))
    (rt,) = struct.unpack(">Q", img.read_zeroes(h["refcount_table_offset"], 8))
    if rt & HOST_OFFSET_MASK:
        lines.append("refblock_0=%d" % (rt & HOST_OFFSET_MASK))
    if h["l1_size"]:
        (l1,) = struct.unpack(">Q", img.read_zeroes(h["l1_table_offset"], 8))
        if l1 & HOST_OFFSET_MASK:
            (l2,) = struct.unpack(">Q", img.read_zeroes(l1 & HOST_OFFSET_MASK,
                                                        8))
            if l2 & HOST_OFFSET_MASK and not l2 >> 62 & 1:
                lines.append("guest_0=%d" % (l2 & HOST_OFFSET_MASK))
    text = "\n".join(lines) + "\n"
    if out is None:
        sys.stdout.write(text)
    else:
        with open(out, "w") as f:
            f.write(text)
    return 0


def offsets_files(*paths):
    for p in paths:
        offsets(p, p + ".offsets")
    return 0


def listing(list_path, *args):
    with open(list_path, "w") as f:
        for a in args:
            f.write(os.fsencode(a).hex() + "\n")
    for a in args:
        print(re.sub(rb"[^A-Za-z0-9.,_-]", b"?", os.fsencode(a)).decode())
    return 0


# ------------------------------------------------------------------ layout
# --layout and --at (the issue 20 contract): every structure of a SOUND
# image (QEMU made it, nothing damaged) decoded here, from the spec alone:
# one record per cluster of a whole-cluster structure and per reference
# (a data cluster that the active table and a snapshot map is two
# records), one per byte-sized table, then merged into runs for --layout.

LAYOUT_OPTIONAL = ("l1_index", "guest_offset", "snapshot", "bitmap", "index")
# the structures that are whole clusters, one record per cluster unmerged
WHOLE_CLUSTER = ("header", "l2-table", "data", "refcount-block",
                 "bitmap-data")
# the field that must run on, cluster by cluster, for a run to merge
RUN_FIELD = {"l2-table": "l1_index", "data": "guest_offset",
             "refcount-block": "index", "bitmap-data": "index"}
L1_RESERVED = 0x7F000000000001FF
L2_RESERVED = 0x3F000000000001FE       # bit 0 is the zero flag
L2_EXT_RESERVED = 0x3F000000000001FF   # with extended L2 bit 0 is reserved


def layout_record(structure, start, length, **opt):
    r = {"structure": structure, "start": start, "length": length,
         "refcount": None}
    for k in LAYOUT_OPTIONAL:
        if k in opt:
            r[k] = opt[k]
    return r


class Layout:
    """The records of one sound image (self.records, unmerged, in file
    order) and its refcounts; OutOfScope for an image that is not sound:
    one QEMU refuses, dirty, corrupt, an entry with reserved bits, two
    structures in one cluster (but compressed data, and what snapshots
    share), a refcount below the references.  A refcount above them (a
    leak) is predicted as it is on disk."""

    def __init__(self, img):
        self.img = img
        h = img.header
        self.cs = cs = img.cluster_size
        if img.image_refused():
            raise OutOfScope("QEMU refuses the image: %s"
                             % "; ".join(img.image_refused()))
        if img.bitmap_refused():
            raise OutOfScope("QEMU refuses a bitmap")
        if h["incompatible_features"] & 7:
            raise OutOfScope("dirty, corrupt or an external data file")
        if img.bitmaps_ext and not h["autoclear_features"] & 1:
            raise OutOfScope("bitmaps with the autoclear bit clear")
        if any(e["magic"] not in EXT_NAMES for e in img.extensions):
            raise OutOfScope("an unknown header extension")
        self.extended = bool(h["incompatible_features"] & 16)
        self.counts = refcounts(img)
        recs = []
        self.records = recs
        recs.append(layout_record("header", 0, cs))
        recs.append(layout_record("refcount-table", h["refcount_table_offset"],
                                  h["refcount_table_clusters"] * cs))
        table = img.read(h["refcount_table_offset"],
                         h["refcount_table_clusters"] * cs, "refcount table")
        for i, (e,) in enumerate(struct.iter_unpack(">Q", table)):
            if e & 0x1FF:
                raise OutOfScope("refcount table entry %d has reserved bits" % i)
            if e:
                recs.append(layout_record("refcount-block", e, cs, index=i))
        self._tables(h["l1_table_offset"], h["l1_size"], None)
        if h["nb_snapshots"]:
            self._snapshots()
        for ext in img.extensions:
            if ext["magic"] == EXT_CRYPTO:
                off, length = struct.unpack(">QQ", ext["data"])
                recs.append(layout_record("crypto-header", off, length))
        if img.bitmaps_ext:
            b = img.bitmaps_ext
            recs.append(layout_record("bitmap-directory",
                                      b["bitmap_directory_offset"],
                                      b["bitmap_directory_size"]))
            for bm in img.bitmaps:
                name = json_text(bm["name"])
                recs.append(layout_record("bitmap-table",
                                          bm["bitmap_table_offset"],
                                          8 * bm["bitmap_table_size"],
                                          bitmap=name))
                for j, (kind, _, off, _, _) in enumerate(img.table(bm)):
                    if kind == "serialized":
                        recs.append(layout_record("bitmap-data", off, cs,
                                                  bitmap=name, index=j))
        recs[:] = [r for r in recs if r["length"] > 0]
        for r in recs:
            if r["start"] + r["length"] > round_up(img.file_size, cs) \
                    or r["structure"] in WHOLE_CLUSTER and r["start"] % cs:
                raise OutOfScope("%s at %d+%d lies past the end of the file "
                                 "or unaligned" % (r["structure"], r["start"],
                                                   r["length"]))
            r["refcount"] = self.counts.get(r["start"] // cs, 0)
        recs.sort(key=lambda r: r["start"])   # stable: the order above
        self._sound()

    def clusters(self, r):
        return range(r["start"] // self.cs,
                     (r["start"] + r["length"] - 1) // self.cs + 1)

    def _tables(self, l1_offset, l1_size, snap):
        """The L1 table, its L2 tables and the data they map (snap: the
        snapshot's id, None for the active tables)."""
        img, cs = self.img, self.cs
        extra = {} if snap is None else {"snapshot": snap}
        self.records.append(layout_record(
            "l1-table" if snap is None else "snapshot-l1-table",
            l1_offset, 8 * l1_size, **extra))
        l1 = img.read(l1_offset, 8 * l1_size, "L1 table")
        cb = img.header["cluster_bits"]
        per_l2 = cs // (16 if self.extended else 8)
        x = 62 - (cb - 8)
        for i, (e,) in enumerate(struct.iter_unpack(">Q", l1)):
            if e & L1_RESERVED:
                raise OutOfScope("L1 entry %d has reserved bits" % i)
            l2 = e & HOST_OFFSET_MASK
            if not l2:
                continue
            self.records.append(layout_record("l2-table", l2, cs,
                                              l1_index=i, **extra))
            raw = img.read(l2, cs, "L2 table")
            step = 16 if self.extended else 8
            for j in range(per_l2):
                (le,) = struct.unpack_from(">Q", raw, j * step)
                if not le:
                    continue
                guest = (i * per_l2 + j) * cs
                if le >> 62 & 1:
                    off = le & ((1 << x) - 1)
                    sectors = ((le >> x) & ((1 << (cb - 8)) - 1)) + 1
                    self.records.append(layout_record(
                        "compressed-data", off,
                        sectors * 512 - (off & 511),
                        guest_offset=guest, **extra))
                    continue
                if le & (L2_EXT_RESERVED if self.extended else L2_RESERVED):
                    raise OutOfScope("L2 entry %d/%d has reserved bits" % (i, j))
                if le & HOST_OFFSET_MASK:
                    self.records.append(layout_record(
                        "data", le & HOST_OFFSET_MASK, cs,
                        guest_offset=guest, **extra))

    def _snapshots(self):
        img, h = self.img, self.img.header
        off = h["snapshot_offset"]
        pos = end = 0
        entries = []
        for n in range(h["nb_snapshots"]):
            fixed = img.read(off + pos, 40, "snapshot entry")
            (l1_offset, l1_size, id_size, name_size, _, _, _, _,
             extra_size) = struct.unpack(">QIHHIIQII", fixed)
            ident = img.read(off + pos + 40 + extra_size, id_size,
                             "snapshot id")
            entries.append((l1_offset, l1_size, json_text(ident)))
            end = pos + 40 + extra_size + id_size + name_size
            pos = round_up(end, 8)
        # the spec pads every entry to 8 bytes, the last one too; QEMU's
        # snapshots_size ends at the last entry's name (accepted too)
        self.snapshot_table_unpadded = end
        self.records.append(layout_record("snapshot-table", off, pos))
        for l1_offset, l1_size, ident in entries:
            self._tables(l1_offset, l1_size, ident)

    def _sound(self):
        """OutOfScope unless the structures are as QEMU leaves them: no two
        structures in one cluster but compressed data with compressed
        data, and one structure several times only where snapshots share
        it; no refcount below the references."""
        owners = {}
        refs = {}
        for r in self.records:
            for c in self.clusters(r):
                refs[c] = refs.get(c, 0) + 1
                owners.setdefault(c, []).append(r)
        for c, rs in owners.items():
            kinds = {r["structure"] for r in rs}
            if len(rs) > 1 and not (
                    kinds == {"compressed-data"} or
                    (len(kinds) == 1 and kinds <= {"l2-table", "data"} and
                     len({r.get("snapshot", "\0active") for r in rs})
                     == len(rs))):
                raise OutOfScope("cluster %d holds %s" % (
                    c, ", ".join(sorted(r["structure"] for r in rs))))
            if self.counts.get(c, 0) < refs[c]:
                raise OutOfScope("cluster %d: refcount %d below %d references"
                                 % (c, self.counts.get(c, 0), refs[c]))

    def touched(self):
        out = set()
        for r in self.records:
            out.update(self.clusters(r))
        return out

    def gap(self, c, end_c):
        """The leaked or free record of clusters [c, end_c)."""
        cs, size = self.cs, self.img.file_size
        rc = self.counts.get(c, 0)
        return {"structure": "leaked" if rc else "free", "start": c * cs,
                "length": min(end_c * cs, size) - c * cs, "refcount": rc}

    def layout(self):
        """The --layout records: runs merged, gaps filled, file order."""
        runs = []
        open_runs = {}      # owner -> its last run
        for r in self.records:
            s = r["structure"]
            owner = (s, r.get("snapshot"), r.get("bitmap"))
            last = open_runs.get(owner)
            if s in WHOLE_CLUSTER and last is not None \
                    and last["start"] + last["length"] == r["start"] \
                    and last["refcount"] == r["refcount"] \
                    and self._runs_on(last, r):
                last["length"] += r["length"]
                continue
            run = dict(r)
            runs.append(run)
            open_runs[owner] = run
        touched = self.touched()
        n = div_up(self.img.file_size, self.cs)
        c = 0
        while c < n:
            if c in touched:
                c += 1
                continue
            rc = self.counts.get(c, 0)
            e = c + 1
            while e < n and e not in touched and self.counts.get(e, 0) == rc:
                e += 1
            runs.append(self.gap(c, e))
            c = e
        runs.sort(key=lambda r: r["start"])
        return runs

    def _runs_on(self, last, r):
        field = RUN_FIELD.get(r["structure"])
        if field is None:
            return False
        step = last["length"] if field == "guest_offset" \
            else last["length"] // self.cs
        return last[field] + step == r[field]

    def at(self, x):
        """The --at X owners."""
        hits = [r for r in self.records
                if r["start"] <= x < r["start"] + r["length"]]
        if not hits:
            c = x // self.cs
            hits = [r for r in self.records if c in self.clusters(r)]
        if not hits:
            return [self.gap(c, c + 1)]
        # as in --layout, a record ends where the file does
        size = self.img.file_size
        out = []
        for r in hits:
            r = dict(r)
            if r["structure"] != "snapshot-table" and \
                    r["start"] < size < r["start"] + r["length"]:
                r["length"] = size - r["start"]
            out.append(r)
        return out

    def probe_offsets(self):
        """Offsets worth asking --at about: the first, a middle and the
        last byte of each record and run, the byte after each byte-sized
        structure (the rest of its cluster), the last byte of the file."""
        size = self.img.file_size
        out = set()
        runs = self.layout()
        if len(runs) > 120:
            # many runs (small clusters): the first 60, the last 30, every
            # tenth and the first of each structure
            kinds = {}
            for r in runs:
                kinds.setdefault(r["structure"], r)
            runs = runs[:60] + runs[-30:] + runs[::10] + list(kinds.values())
        for r in runs:
            s, n = r["start"], r["length"]
            out.update((s, s + n // 2, s + n - 1, s + n))
        byte_sized = [r for r in self.records
                      if r["structure"] not in WHOLE_CLUSTER]
        # compressed data: the first 40 and the last 10 descriptors
        if len(byte_sized) > 60:
            byte_sized = byte_sized[:40] + byte_sized[-10:]
        for r in byte_sized:
            s, n = r["start"], r["length"]
            out.update((s, s + n - 1, s + n))
        out.add(size - 1)
        return sorted(o for o in out if 0 <= o < size)


def layout_doc(path):
    return {"image": path, "layout": Layout(Image(path)).layout()}


def at_docs(path, offsets):
    lay = Layout(Image(path))
    return [{"image": path, "at": x, "owners": lay.at(x)} for x in offsets]


def tie_sorted(items, key):
    """ITEMS with each run of consecutive items of one key(item) sorted
    (by repr): the order of records that start at the same byte (a
    cluster the active table and snapshots share) is the one freedom
    the contract leaves; every other order is compared as it is."""
    out, group = [], []
    for it in items:
        if group and key(group[0]) != key(it):
            out.extend(sorted(group, key=repr))
            group = []
        group.append(it)
    return out + sorted(group, key=repr)


def canonical_records(records):
    """Records as parse_json_stream pairs, ties of one start sorted."""
    def start(r):
        return dict(r[1]).get("start") if isinstance(r, tuple) else id(r)
    return tie_sorted(records, start)


def img_locked(path):
    return lock_probe(path)[0]


class Leeway:
    """What the contract leaves open in a record's length, for one image:
    got lengths that are read back as the predicted one."""

    def __init__(self, path):
        self.lay = lay = Layout(Image(path))
        self.size = lay.img.file_size
        self.snapshot_table = {r["start"]: r["length"] for r in lay.records
                               if r["structure"] == "snapshot-table"}
        # the runs that end past the end of the file
        self.past_end = {(r["structure"], r["start"]): r["length"]
                         for r in lay.layout()
                         if r["start"] + r["length"] > self.size}

    def length(self, structure, start, length, view):
        """The length to compare of a record qcow2dump printed (ints;
        anything else is returned as it is)."""
        if not all(isinstance(v, int) for v in (start, length)):
            return length
        # the snapshot table without its last entry's padding
        if structure == "snapshot-table" and start in self.snapshot_table \
                and length == self.lay.snapshot_table_unpadded:
            return self.snapshot_table[start]
        # a run that the contract's cluster multiple takes past the end
        # of the file, cut at the end ("covers [0, file size)")
        if view == "layout" and (structure, start) in self.past_end and \
                length == self.size - start:
            return self.past_end[(structure, start)]
        return length

    def pairs(self, rec, view):
        """A record as parse_json_stream pairs, its length read back."""
        if not (isinstance(rec, tuple) and rec[0] == "{}"):
            return rec
        d = dict(rec[1])
        if "length" not in d:
            return rec
        n = self.length(d.get("structure"), d.get("start"), d["length"], view)
        return ("{}", [(k, n if k == "length" else v) for k, v in rec[1]])


def verify_views(c, path, got_text, want_docs, what):
    """One TAP line per document and one for the count.  Left open (see
    KNOWN QUESTIONS in layout.sh): the order of --at's owners, and of
    --layout's records that start at the same byte; a "locked" key; the
    lengths Leeway accepts."""
    leeway = Leeway(path)
    try:
        got = parse_json_stream(got_text)
    except ValueError as e:
        c.report(False, "%s: %s parses as JSON" % (path, what), str(e))
        return
    want = [as_pairs(d) for d in want_docs]
    c.report(len(got) == len(want), "%s: %s: %d documents" % (path, what,
                                                             len(want)),
             "got %d" % len(got))
    for g, w in zip(got, want):
        wd = dict(w[1])
        label = what if "at" not in wd else "--at %d" % wd["at"]
        key = "layout" if "layout" in wd else "owners"
        view = "layout" if key == "layout" else "at"
        # --at: the contract fixes no order of the owners
        canon = canonical_records if key == "layout" else \
            (lambda rs: sorted(rs, key=repr))
        if isinstance(g, tuple) and g[0] == "{}":
            g = ("{}", [(k, canon([leeway.pairs(r, view) for r in v])
                         if k == key and isinstance(v, list) else v)
                        for k, v in g[1]])
            # "locked" after "image", as in every other document of
            # qcow2dump: the contract's shape for these views has none,
            # its value is compared with the lock probe when it is there
            if [k for k, _ in g[1][1:2]] == ["locked"]:
                w = ("{}", w[1][:1] + [("locked", img_locked(path))] +
                     w[1][1:])
        w = ("{}", [(k, canon(v) if k == key else v) for k, v in w[1]])
        d = first_difference(g, w)
        c.report(d is None, "%s: %s as the oracle predicts" % (path, label),
                 d or "")


def layout_csv_rows(docs):
    """The CSV table of --layout or --at documents (man page, CSV: one
    header row, numbers in decimal), every absent key an empty cell."""
    at = "at" in docs[0]
    head = ["image"] + (["at"] if at else []) + \
        ["structure", "start", "length", "refcount"] + list(LAYOUT_OPTIONAL)
    rows = [head]
    for d in docs:
        for r in d["owners" if at else "layout"]:
            row = [d["image"]] + ([str(d["at"])] if at else [])
            for k in head[len(row):]:
                v = r.get(k)
                row.append("" if v is None else str(v))
            rows.append(row)
    return rows


def verify_csv(c, path, got_text, want_docs, what):
    leeway = Leeway(path)
    got = list(csv.reader(io.StringIO(got_text, newline="")))
    want = layout_csv_rows(want_docs)
    si = want[0].index("start")
    view = "at" if "at" in want[0] else "layout"
    for r in got[1:]:
        if len(r) > si + 1 and r[si].isdigit() and r[si + 1].isdigit():
            r[si + 1] = str(leeway.length(r[si - 1], int(r[si]),
                                          int(r[si + 1]), view))

    # records of one start (--layout), the owners of one offset (--at)
    # may come in any order
    def canon(rows):
        return rows[:1] + tie_sorted(
            rows[1:], lambda r: r[:si + 1] if view == "layout" else r[:2])
    got, want = canon(got), canon(want)
    bad = next((i for i in range(max(len(got), len(want)))
                if i >= len(got) or i >= len(want) or got[i] != want[i]),
               None)
    c.report(bad is None, "%s: %s -f csv as the oracle predicts (%d rows)"
             % (path, what, len(want)),
             "" if bad is None else "row %d: got %r\n       want %r" % (
                 bad, got[bad] if bad < len(got) else None,
                 want[bad] if bad < len(want) else None))


AT_TEXT_OPTIONAL = (("l1_index", "%d"), ("guest_offset", "%#x"),
                    ("snapshot", "%s"), ("bitmap", "%s"), ("index", "%d"))
LAYOUT_TEXT_HEAD = "Offset              Length              Refcount " \
    "Structure Owner"


def at_text_lines(docs):
    """The text of --at: one line per owner.  The contract writes
    0xSTART+LENGTH: LENGTH is predicted in decimal, and a length in hex
    (0x...) is read back as decimal before the comparison."""
    out = []
    for d in docs:
        for r in d["owners"]:
            line = "%s: at %#x: %s %#x+%d refcount %s" % (
                d["image"], d["at"], r["structure"], r["start"], r["length"],
                "?" if r["refcount"] is None else r["refcount"])
            for k, f in AT_TEXT_OPTIONAL:
                if k in r:
                    line += " %s %s" % (k, f % r[k])
            out.append(line)
    return out


def verify_at_text(c, path, got_text, want_docs):
    leeway = Leeway(path)

    def length(m):
        n = int(m.group(4), 16 if m.group(4).startswith("0x") else 10)
        n = leeway.length(m.group(2), int(m.group(3), 16), n, "at")
        return "%s%s %s+%d" % (m.group(1), m.group(2), m.group(3), n)
    got = [re.sub(r"^(.*: at 0x[0-9a-f]+: )(\S+) (0x[0-9a-f]+)\+"
                  r"(0x[0-9a-f]+|[0-9]+)", length, l)
           for l in got_text.split("\n")]
    if got and got[-1] == "":
        got.pop()
    want = at_text_lines(want_docs)

    def key(l):     # the owners of one offset in any order
        m = re.match(r"(.*: at 0x[0-9a-f]+: )", l)
        return m.group(1) if m else l
    got, want = tie_sorted(got, key), tie_sorted(want, key)
    bad = next((i for i in range(max(len(got), len(want)))
                if i >= len(got) or i >= len(want) or got[i] != want[i]),
               None)
    c.report(bad is None, "%s: --at in text as the oracle predicts (%d lines)"
             % (path, len(want)),
             "" if bad is None else "line %d: got  %r\n         want %r" % (
                 bad, got[bad] if bad < len(got) else None,
                 want[bad] if bad < len(want) else None))


def verify_layout_text(c, path, got_text, want_doc):
    """The text of --layout: the header line as the contract has it, then
    one line per record; the contract fixes no number base and no Owner
    column, so offset, length (decimal or 0x hex), refcount and structure
    are compared, the Owner column is not."""
    leeway = Leeway(path)
    lines = got_text.split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    c.report(lines[:1] == [LAYOUT_TEXT_HEAD],
             "%s: --layout in text: the header line" % path,
             "got %r" % lines[:1])
    got = []
    for l in lines[1:]:
        f = l.split()
        try:
            got.append((int(f[0], 0),
                        leeway.length(f[3], int(f[0], 0), int(f[1], 0),
                                      "layout"),
                        None if f[2] in ("?", "-", "null") else int(f[2]),
                        f[3]))
        except (IndexError, ValueError):
            got.append(l)
    want = [(r["start"], r["length"], r["refcount"], r["structure"])
            for r in want_doc["layout"]]

    def key(t):
        return t[0] if isinstance(t, tuple) else t
    got, want = tie_sorted(got, key), tie_sorted(want, key)
    bad = next((i for i in range(max(len(got), len(want)))
                if i >= len(got) or i >= len(want) or got[i] != want[i]),
               None)
    c.report(bad is None, "%s: --layout in text: offset, length, refcount "
             "and structure of each record (%d)" % (path, len(want)),
             "" if bad is None else "record %d: got  %r\n           want %r"
             % (bad, got[bad] if bad < len(got) else None,
                want[bad] if bad < len(want) else None))


def layout_map(c, path, map_path):
    """The oracle's own walk against qemu-img map --output=json: every
    guest cluster QEMU maps to a host offset in this file (depth 0) is an
    active data record, and every active data record is one of them."""
    lay = Layout(Image(path))
    cs = lay.cs
    want = {}
    for e in json.load(open(map_path)):
        if e.get("depth") != 0 or "offset" not in e:
            continue
        # extended L2: ranges of subclusters, inside a cluster
        first = e["start"] - e["start"] % cs
        for g in range(first, e["start"] + e["length"], cs):
            want[g] = e["offset"] + g - e["start"]
    got = {r["guest_offset"]: r["start"] for r in lay.records
           if r["structure"] == "data" and "snapshot" not in r}
    diff = sorted(set(want.items()) ^ set(got.items()))[:5]
    c.report(got == want, "%s: the oracle's active data clusters are "
             "qemu-img map's (%d)" % (path, len(want)),
             "differ at (guest, host): %s" % diff)


def layout_main(argv):
    """layout IMAGE | at IMAGE OFFSET... | at-offsets IMAGE |
    layout-verify IMAGE GOT | at-verify IMAGE GOT OFFSET..."""
    cmd, path, rest = argv[0], argv[1], argv[2:]
    if not os.path.isfile(path):
        raise OutOfScope("%s is no regular file" % path)
    if cmd == "layout":
        print(json.dumps(layout_doc(path), indent=2))
    elif cmd == "at":
        for d in at_docs(path, [int(x, 0) for x in rest]):
            print(json.dumps(d, indent=2))
    elif cmd == "at-offsets":
        print(" ".join(str(o) for o in
                       Layout(Image(path)).probe_offsets()))
    else:
        c = Checker()
        with open(rest[0], encoding="utf-8", errors="surrogateescape") as f:
            got = f.read()
        if cmd == "layout-text-verify":
            verify_layout_text(c, path, got, layout_doc(path))
        elif cmd == "at-text-verify":
            verify_at_text(c, path, got,
                           at_docs(path, [int(x, 0) for x in rest[1:]]))
        elif cmd == "layout-csv-verify":
            verify_csv(c, path, got, [layout_doc(path)], "--layout")
        elif cmd == "at-csv-verify":
            verify_csv(c, path, got,
                       at_docs(path, [int(x, 0) for x in rest[1:]]), "--at")
        elif cmd == "layout-map":
            layout_map(c, path, rest[0])
        elif cmd == "layout-verify":
            verify_views(c, path, got, [layout_doc(path)], "--layout")
        else:
            verify_views(c, path, got,
                         at_docs(path, [int(x, 0) for x in rest[1:]]), "--at")
    return 0


# -------------------------------------------------------------------- show

def show(argv):
    fmt, opts, args = "text", [], []
    it = iter(argv)
    for a in it:
        if a == "-f":
            fmt = next(it)
        elif a.startswith("-f"):
            fmt = a[2:]
        elif a in ("-e", "-b", "-x", "-t"):
            opts.append(a)
        else:
            args.append(a)
    view = View(opts)
    images = [load(a) for a in args]
    if fmt == "text":
        sys.stdout.write(expect_text(images, args, view))
    elif fmt == "json":
        for doc in expect_json(images, args, view):
            print(json.dumps(doc, indent=2, ensure_ascii=False, default=repr))
    else:
        out = io.BytesIO()
        for row in expect_csv(images, args, view):
            cells = []
            for cell in row:
                if isinstance(cell, Wild):
                    cell = repr(cell).encode()
                if re.search(rb'[",\r\n]|^[=+\-@ ]|^$', cell) and cell:
                    cell = b'"' + cell.replace(b'"', b'""') + b'"'
                cells.append(cell)
            out.write(b",".join(cells) + b"\n")
        sys.stdout.flush()
        sys.stdout.buffer.write(out.getvalue())
    sys.stdout.flush()
    sys.stderr.flush()
    sys.stderr.buffer.write(pieces_text(expect_stderr(images, args, view)))
    return 0


def main(argv):
    if not argv:
        sys.exit(__doc__)
    cmd, rest = argv[0], argv[1:]
    try:
        if cmd == "show":
            return show(rest)
        if cmd == "verify":
            return verify(*rest)
        if cmd == "qemu":
            return qemu(*rest)
        if cmd == "offsets":
            return offsets(*rest)
        if cmd == "offsets-files":
            return offsets_files(*rest)
        if cmd == "listing":
            return listing(*rest)
        if cmd in ("layout", "at", "at-offsets", "layout-verify",
                   "at-verify", "layout-map", "layout-csv-verify",
                   "at-csv-verify", "layout-text-verify",
                   "at-text-verify") and rest:
            return layout_main([cmd] + rest)
    except OutOfScope as e:
        print("q2oracle.py: out of scope: %s" % e, file=sys.stderr)
        return 3
    sys.exit(__doc__)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
