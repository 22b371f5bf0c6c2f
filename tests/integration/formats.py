#!/usr/bin/python3
"""Checks qcow2dump's structured output for the integration tests.

  formats.py validate SCHEMA FILE      every JSON document in FILE is valid
  formats.py text-vs-json TEXT JSON    the text (-t) and JSON (-t) agree
  formats.py csv-vs-json CSV JSON      the CSV bitmaps table, read back by
                                       Python's csv module, holds the same
                                       bytes as the JSON (-b)
Exits 1 with a message on the first difference.
"""
import csv
import io
import json
import os
import sys

# how a name is escaped in text comes from the independent oracle (no
# __pycache__ left in the source tree)
sys.dont_write_bytecode = True
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "oracle"))
from q2oracle import text_escape  # noqa: E402


def documents(path):
    text = open(path, encoding="utf-8").read()
    decoder = json.JSONDecoder()
    pos, docs = 0, []
    while True:
        while pos < len(text) and text[pos].isspace():
            pos += 1
        if pos == len(text):
            return docs
        doc, pos = decoder.raw_decode(text, pos)
        docs.append(doc)


def fail(msg):
    print("formats.py: " + msg, file=sys.stderr)
    sys.exit(1)


def validate(schema_path, path):
    from jsonschema import Draft202012Validator
    schema = json.load(open(schema_path))
    Draft202012Validator.check_schema(schema)
    validator = Draft202012Validator(schema)
    docs = documents(path)
    if not docs:
        fail("no JSON document in " + path)
    for doc in docs:
        errors = sorted(validator.iter_errors(doc), key=str)
        if errors:
            fail("%s: %s at %s" % (path, errors[0].message,
                                   list(errors[0].absolute_path)))


def value(text):
    """A value as qcow2.py prints it."""
    if text.startswith("["):
        bits = [int(b) for b in text.strip("[]").split(",") if b.strip()]
        return sum(1 << b for b in bits)
    return int(text.split()[0], 0)


def name_bytes(obj, key="name"):
    if key + "_hex" in obj:
        return bytes.fromhex(obj[key + "_hex"])
    return obj[key].encode("utf-8")


def text_vs_json(text_path, json_path):
    doc = documents(json_path)[0]
    lines = open(text_path, encoding="utf-8", errors="surrogateescape").read().split("\n")
    label = lambda l: (l[:25].rstrip(), l[26:])
    i = 0
    # the header, up to its blank line
    while lines[i]:
        key, val = label(lines[i])
        if doc["header"][key] != value(val):
            fail("header %s: text %s, json %s" % (key, val, doc["header"][key]))
        i += 1
    exts = doc["header_extensions"]
    cluster_size = 1 << doc["header"]["cluster_bits"]
    n = 0
    rows_checked = 0
    table_rows = []
    bitmap = None
    for line in lines[i:]:
        if line == "Header extension:":
            ext = exts[n]
            n += 1
            bitmap = None
            continue
        if not line:
            continue
        if line.startswith("Bitmap table   "):
            table_rows = bitmap["bitmap_table"]
            continue
        if line[:1].isdigit():
            idx, typ, size, off = line.split()
            row = table_rows[int(idx)]
            if row["type"] != typ or row["offset"] != int(off):
                fail("table row %s of %s" % (idx, bitmap["name"]))
            # qcow2.py's size column: a cluster for a serialized entry
            want = cluster_size if typ == "serialized" else 0
            if int(size) != want:
                fail("table row %s of %s: size %s, want %d"
                     % (idx, bitmap["name"], size, want))
            rows_checked += 1
            continue
        key, val = label(line)
        if key == "Bitmap name":
            bitmap = ext["data"]["bitmap_directory"].pop(0)
            # every name, escaped ones too: the text is the JSON's bytes
            # (name_hex when not UTF-8) escaped as the contract says
            if val != text_escape(name_bytes(bitmap)):
                fail("bitmap name %r vs %r" % (val, bitmap["name"]))
        elif key == "magic":
            if ext["magic"] != value(val):
                fail("extension %d magic" % n)
            if not val.endswith("(%s)" % ext["name"]):
                fail("extension %d name %s" % (n, ext["name"]))
        elif key == "length":
            if ext["length"] != int(val):
                fail("extension %d length" % n)
        elif key == "data":
            if ext["data_str"] != val:
                fail("extension %d data_str %r vs %r" % (n, ext["data_str"], val))
        elif bitmap is not None:
            if bitmap[key] != value(val):
                fail("bitmap %s %s: %s vs %s" % (bitmap["name"], key, val, bitmap[key]))
        elif ext["data"][key] != value(val):
            fail("bitmaps extension %s" % key)
    if n != len(exts):
        fail("%d extensions in text, %d in json" % (n, len(exts)))
    for ext in exts:
        if ext.get("data", {}).get("bitmap_directory"):
            fail("json has bitmaps the text does not show")
    want_rows = sum(len(b.get("bitmap_table", []))
                    for d in documents(json_path)[:1]
                    for e in d["header_extensions"]
                    for b in e.get("data", {}).get("bitmap_directory", []))
    if rows_checked != want_rows:
        fail("%d bitmap table rows in text, %d in json" % (rows_checked, want_rows))


def line_ends(raw):
    """Fails unless every record of RAW ends in LF: a CR is only allowed
    inside a quoted field, as data."""
    quoted = False
    for i, c in enumerate(raw):
        if c == 0x22:
            quoted = not quoted     # "" inside quotes toggles twice
        elif c == 0x0D and not quoted:
            fail("CR outside a quoted field at byte %d" % i)
    if quoted:
        fail("a quoted field is not closed")
    if raw and not raw.endswith(b"\n"):
        fail("the last record does not end in LF")


def csv_vs_json(csv_path, json_path):
    raw = open(csv_path, "rb").read()
    line_ends(raw)
    rows = list(csv.reader(io.StringIO(raw.decode("utf-8", "surrogateescape"),
                                       newline="")))
    head, rows = rows[0], rows[1:]
    want_head = ["image", "name", "bitmap_table_offset", "bitmap_table_size",
                 "flags", "flag_names", "type", "granularity_bits",
                 "granularity", "name_size", "extra_data_size", "usable",
                 "state", "reason"]
    if head != want_head:
        fail("header row %r, want %r" % (head, want_head))
    bitmaps = [(d["image"], b) for d in documents(json_path) for b in d["bitmaps"]]
    if len(rows) != len(bitmaps):
        fail("%d CSV rows, %d bitmaps in JSON" % (len(rows), len(bitmaps)))
    for row, (image, b) in zip(rows, bitmaps):
        if len(row) != len(head):
            fail("a row of %d fields: %r" % (len(row), row))
        rec = dict(zip(head, row))
        if rec["image"] != image:
            fail("image %r vs %r" % (rec["image"], image))
        got = rec["name"].encode("utf-8", "surrogateescape")
        if got != name_bytes(b):
            fail("name %r does not read back as %r" % (got, name_bytes(b)))
        for key in head[2:]:
            want = b[key]
            if key == "flag_names":
                want = " ".join(want)
            elif want is None:
                want = ""
            elif isinstance(want, bool):
                want = "true" if want else "false"
            if rec[key] != str(want):
                fail("%s of %r: %r vs %r" % (key, b["name"], rec[key], want))


if __name__ == "__main__":
    cmd, args = sys.argv[1], sys.argv[2:]
    {"validate": validate, "text-vs-json": text_vs_json,
     "csv-vs-json": csv_vs_json}[cmd](*args)
