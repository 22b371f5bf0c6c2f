#!/usr/bin/python3
"""Mutation sweep for damaged.sh: every cut and every 0xff byte of the
given ranges of IMAGE, each run through qcow2dump (-t, and -c in text,
JSON and CSV).  Fails when a run exits other than 0, 1 or 2, when a
run's stderr carries a sanitizer's or valgrind's report (whatever its
status: a sanitizer configured to exit 1 would pass for "-c found an
error"), when a decoding error has no location, or when the three -c
outputs do not list the same problems.

  sweep.py QCOW2DUMP IMAGE STEP cut:A-B flip:A-B ...
"""
import csv
import io
import json
import os
import re
import subprocess
import sys
import tempfile

LINE = re.compile(r"^[^\n]*?: (error|warning): ([a-z0-9-]+): ", re.M)
# what AddressSanitizer, LeakSanitizer, UBSan and valgrind write
REPORT = re.compile(rb"ERROR: (Address|Leak)Sanitizer|runtime error: |"
                    rb"^==\d+== ", re.M)


def run(cmd, path, *args):
    r = subprocess.run(cmd + list(args) + [path], capture_output=True)
    if REPORT.search(r.stderr):
        REPORTS.append("%s %s: %s" % (" ".join(args), path, r.stderr[:300]))
    return r


REPORTS = []


def main():
    cmd = sys.argv[1].split()
    data = open(sys.argv[2], "rb").read()
    step = int(sys.argv[3])
    bad = []
    tmp = os.path.join(tempfile.mkdtemp(), "m.qcow2")
    n = 0
    for spec in sys.argv[4:]:
        kind, span = spec.split(":")
        lo, hi = (int(x) for x in span.split("-"))
        for off in range(lo, hi + 1, step):
            if kind == "cut":
                mutated = data[:off]
            else:
                mutated = data[:off] + b"\xff" + data[off + 1:]
            with open(tmp, "wb") as f:
                f.write(mutated)
            n += 1
            what = "%s at %d" % (kind, off)
            r = run(cmd, tmp, "-t")
            if r.returncode not in (0, 2) or (
                    r.returncode == 2 and b"(where: " not in r.stderr):
                bad.append("%s: -t status %d: %s" % (what, r.returncode, r.stderr[:300]))
            text = run(cmd, tmp, "-c")
            js = run(cmd, tmp, "-c", "-f", "json")
            cs = run(cmd, tmp, "-c", "-f", "csv")
            if {text.returncode, js.returncode, cs.returncode} - {0, 1, 2} or \
                    len({text.returncode, js.returncode, cs.returncode}) != 1:
                bad.append("%s: -c statuses %d %d %d" % (
                    what, text.returncode, js.returncode, cs.returncode))
                continue
            t = LINE.findall(text.stdout.decode("utf-8", "replace"))
            j = [(p["severity"], p["code"])
                 for p in json.loads(js.stdout)["problems"]]
            # an image without problems has one row, its problem cells
            # empty (the totals fill it)
            c = [(r[1], r[2]) for r in list(csv.reader(io.StringIO(
                cs.stdout.decode("utf-8", "surrogateescape"), newline="")))[1:]
                 if r[2]]
            if not t == j == c:
                bad.append("%s: -c differs: text %s json %s csv %s" % (what, t, j, c))
    bad += REPORTS
    if n == 0:
        bad.append("no mutation was run: the ranges are empty")
    for b in bad[:20]:
        print("  " + b)
    print("# swept %d images, %d bad" % (n, len(bad)))
    sys.exit(1 if bad else 0)


if __name__ == "__main__":
    main()
