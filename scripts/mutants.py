#!/usr/bin/python3
"""Mutation testing: each named mutant is one small change to src/ that a
test must notice.  Each is applied to a scratch copy of the tree, built,
and run against the suite (the unit tests, then a subset of the
integration tests, the same for every mutant); it is killed when a test
fails, alive when everything passes.  A mutant that does not build is
stale, as is one whose text is gone from src/: it tests nothing.

  scripts/mutants.sh [NAME...]      (default: every mutant)

Not in CI (a few minutes a mutant): run it before resolving a change to a
decoder, a check or an emitter.  Exits 1 when a mutant stays alive or is
stale (update it).
"""
import os
import shutil
import subprocess
import sys
import tempfile
import time

# name: (file, text in it, replacement, what it breaks)
MUTANTS = {
    "rebuild-leak-as-corruption": (
        "src/rebuild.c", "\tif (stored < counted) {\n\t\trb->t->corruptions++;",
        "\tif (stored != counted) {\n\t\trb->t->corruptions++;",
        "-c calls a leaked cluster a corruption, where qemu-img check counts a leak"),
    "rebuild-copied-unchecked": (
        "src/rebuild.c", "\t\t\tif ((rc == 1) != set)\n\t\t\t\tcopied_wrong(rb, c << rb->bits",
        "\t\t\tif (false)\n\t\t\t\tcopied_wrong(rb, c << rb->bits",
        "-c misses an L2 entry whose COPIED flag disagrees with its refcount"),
    "refwalk-snapshots-skipped": (
        "src/refwalk.c", "if (!opts->no_guest && !walk_snapshots(&w))",
        "if (false)",
        "-c counts no snapshot's tables: their clusters look leaked"),
    "refwalk-compressed-one-byte": (
        "src/refwalk.c", "\t\t\tq2_compressed_span(w->bits, e, &o.start, &o.length);\n",
        "\t\t\tq2_compressed_span(w->bits, e, &o.start, &o.length);\n\t\t\to.length = 1;\n",
        "-c counts a compressed cluster's first host cluster only, not every one it spans"),
    "rebuild-eof-strict": (
        "src/rebuild.c", "(int64_t)(end - rb->file_len) >= (int64_t)rb->cs;",
        "(int64_t)(end - rb->file_len) > 0;",
        "-c calls a last cluster the file holds only in part beyond the end, where QEMU accepts it"),
    "refwalk-fragmentation-across-tables": (
        "src/refwalk.c", "\t\t\tif (next_contiguous && host != next_contiguous)\n\t\t\t\tw->frag->fragmented += table->times;",
        "\t\t\tif (host != next_contiguous)\n\t\t\t\tw->frag->fragmented += table->times;",
        "-c counts a table's first cluster as fragmented, where qemu-img check starts each table afresh"),
    "share-unchecked": (
        "src/judge.c", "\t\tq2_check_bitmap_sharing(&layer->reader, img, &layout, &f->problems);",
        "\t\t(void)0;",
        "a bitmap whose data cluster is guest data's is called usable"),
    "owners-at-no-cluster-fallback": (
        "src/owners.c", "struct q2_owners *found = c.bytes.n ? &c.bytes : &c.clusters;",
        "struct q2_owners *found = &c.bytes;",
        "--at in the rest of a table's last cluster says free, not the table"),
    "rebuild-times-ignored": (
        "src/rebuild.c", "\t\trb->t->corruptions += o ? o->times : 1u;",
        "\t\trb->t->corruptions++;",
        "a defect in an L2 table two L1 entries name is counted once, where qemu-img check counts it for each"),
    "map-merge-ignores-offsets": (
        "src/map.c", "return !a->has_offset || a->offset + a->length == b->offset;",
        "return true;",
        "--map merges neighbours whose host offsets do not follow each other"),
    "map-prealloc-never": (
        "src/map.c", "result = count >= threshold;", "result = count > threshold;",
        "--map misses preallocated metadata when the count is at QEMU's threshold exactly"),
    "map-past-backing-end-not-zero": (
        "src/map.c", "} else if (off >= m->layers[d + 1].length) {",
        "} else if (off >= UINT64_MAX) {",
        "--map looks past a backing file's end instead of reading zeroes there"),
    "map-encrypted-offset-shown": (
        "src/map.c", "if (has_host(run.type) && !q2_is_encrypted(img)) {",
        "if (has_host(run.type)) {",
        "--map shows host offsets of an encrypted image, which qemu-img map hides"),
    "guest-contiguity-unchecked": (
        "src/guest.c", "\t\t\tif (expected != (e & Q2_L2E_OFFSET_MASK))\n\t\t\t\tbreak;\n",
        "\t\t\t(void)expected;\n",
        "a run of normal clusters goes on over host clusters that do not follow"),
    "guest-data-file-copied-ignored": (
        "src/guest.c", "(data_file && (entry & Q2_OFLAG_COPIED))", "false",
        "guest offset 0 of an external data file reads as unallocated"),
    "guest-subcluster-zero-as-data": (
        "src/guest.c", "\t\tif (bitmap & (1ull << (32u + sc)))\n\t\t\treturn Q2_G_ZERO_ALLOC;\n",
        "",
        "an extended L2 subcluster that reads as zeroes reads as data"),
    "guest-unallocated-alloc-no-offset": (
        "src/map.c", "return t == Q2_G_NORMAL || t == Q2_G_ZERO_ALLOC || t == Q2_G_UNALLOCATED_ALLOC;",
        "return t == Q2_G_NORMAL || t == Q2_G_ZERO_ALLOC;",
        "--map drops the offset qemu-img map gives unallocated subclusters of an allocated cluster"),
    "xmap-zero-counted-as-data": (
        "src/walk.c", "\telse if (e->zero)\n\t\tw->cur.zero_bytes += e->length;",
        "\telse if (e->zero && e->data)\n\t\tw->cur.zero_bytes += e->length;",
        "-x --map counts unallocated zeroes as data to read"),
    "snapshot-cut-short-refuses": (
        "src/snapshot.c", "\t\tp->v[n].scope = Q2_SCOPE_CHECK;\n", "\t\t(void)0;\n",
        "a snapshot table the file cuts short makes every bitmap invalid, where QEMU opens the image"),
    "snapshot-read-end-slack": (
        "src/snapshot.c", "* Q2_SNAPSHOT_FIXED > QEMU_MAX_READ_END)",
        "* Q2_SNAPSHOT_FIXED > QEMU_MAX_READ_END + 64)",
        "a snapshot table QEMU cannot read to its end no longer refuses the image"),
    "merge-touching-ranges-split": (
        "src/merge.c", "if (open && min->start <= cur_end) {",
        "if (open && min->start < cur_end) {",
        "two layers' ranges that touch are no longer one merged range"),
    "merge-clamp-dropped": (
        "src/merge.c", "h->end = length > size - start ? size : start + length;",
        "h->end = start + length;",
        "a lower layer larger than the top is no longer clamped to the top's disk"),
    "crypto-offset-length-swapped": (
        "src/qcow2.c",
        "x->crypto_offset = get_be64(x->data);\n"
        "\t\t\tx->crypto_length = get_be64(x->data + sizeof(uint64_t));",
        "x->crypto_length = get_be64(x->data);\n"
        "\t\t\tx->crypto_offset = get_be64(x->data + sizeof(uint64_t));",
        "the decoder swaps the crypto header's offset and length"),
    "json-drops-string-hex": (
        "src/describe.c", '.hex_key = "string_hex",', "",
        "JSON loses the bytes of a string extension that is not UTF-8"),
    "text-vf-not-printable": (
        "src/describe.c", "(c >= 0x09 && c <= 0x0d)",
        "(c >= 0x09 && c <= 0x0a) || c == 0x0d",
        "\\v and \\f no longer printable, as qcow2.py has them"),
    "csv-leading-plus-minus-unquoted": (
        "src/emit_csv.c", "case '=': case '+': case '-': case '@':",
        "case '=': case '@':",
        "CSV no longer quotes a field starting with + or -"),
    "qemu-granularity-limit-30": (
        "src/model.h", "#define Q2_QEMU_MAX_GRANULARITY_BITS 31u",
        "#define Q2_QEMU_MAX_GRANULARITY_BITS 30u",
        "a legal 2 GiB granularity becomes an error"),
    "table-beyond-eof-checks-8-bytes": (
        "src/check.c", "beyond_eof(c, bm->bitmap_table_offset, table_bytes)",
        "beyond_eof(c, bm->bitmap_table_offset, 8)",
        "a table running past the end is checked by its first entry only"),
    "data-beyond-eof-checks-1-byte": (
        "src/check.c", "if (beyond_eof(c, off, c->cs))", "if (beyond_eof(c, off, 1))",
        "a data cluster past the end is checked by its first byte only"),
    "not-usable-offset-moved": (
        "src/judge.c", "q2_dir_entry_at(bm, Q2_DF_FLAGS), i, \"%s: %s%s%s\",",
        "q2_dir_entry_at(bm, Q2_DF_TYPE), i, \"%s: %s%s%s\",",
        "-x's not-usable problem points at the wrong field"),
    "extension-padding-4": (
        "src/qcow2.c",
        "pos += Q2_EXT_DATA_AT + (((uint64_t)x->length + 7) & ~(uint64_t)7);",
        "pos += Q2_EXT_DATA_AT + (((uint64_t)x->length + 3) & ~(uint64_t)3);",
        "extensions padded to 4 bytes instead of 8"),
    "entry-padding-none": (
        "src/qcow2.c", "entry_size = (Q2_DIR_ENTRY_FIXED + var + 7) & ~(uint64_t)7;",
        "entry_size = Q2_DIR_ENTRY_FIXED + var;",
        "directory entries not padded to 8 bytes"),
    "first-bitmaps-extension": (
        "src/qcow2.c", "for (size_t i = img->n_exts; i-- > 0;)",
        "for (size_t i = 0; i < img->n_exts; i++)",
        "the first bitmaps extension decoded, where QEMU uses the last"),
    "extents-bit-order": (
        "src/extents.c", "it->w = get_le64(", "it->w = get_be64(",
        "the bits of a data cluster read in the wrong order"),
    "no-sector-rounding": (
        "src/model.h", "return img->header.size & ~(uint64_t)511;",
        "return img->header.size;",
        "bitmaps sized for the byte size, not QEMU's whole sectors"),
    "in-use-table-size-checked": (
        "src/check.c", "if (bm->granularity_bits > 63 || in_use(bm))",
        "if (bm->granularity_bits > 63)",
        "the table size of a bitmap in use held to what QEMU skips"),
    "duplicate-names-whole-bytes": (
        "src/check.c",
        "size_t xl = q2_bitmap_qemu_name_len(x), yl = q2_bitmap_qemu_name_len(y);",
        "size_t xl = x->name_size, yl = y->name_size;",
        "names compared past a NUL, as QEMU does not"),
    "disabled-is-usable": (
        "src/verdict.c", "else if (!(bm->flags & Q2_BME_FLAG_AUTO))", "else if (0)",
        "a disabled bitmap called usable"),
    "live-inconsistent-swapped": (
        "src/verdict.c", "lock == Q2_LOCK_WRITE ? Q2_STATE_LIVE\n",
        "lock != Q2_LOCK_WRITE ? Q2_STATE_LIVE\n",
        "live and inconsistent swapped"),
    "stale-ignored": (
        "src/verdict.c",
        "else if (!(img->header.autoclear_features & Q2_AUTOCLEAR_BITMAPS))",
        "else if (0)",
        "bitmaps made void by the autoclear bit called usable"),
    "lock-probe-wrong-byte": (
        "src/lock.c", "#define PERM_WRITE 1", "#define PERM_WRITE 2",
        "the probe asks for the wrong permission byte"),
    "refcount-16-bit-misread": (
        "src/ondisk.h", "case 4: return get_be16(block + 2 * i);",
        "case 4: return block[2 * i];",
        "16-bit refcounts read as their high byte"),
    "refcount-zero-not-an-error": (
        "src/check.c", "int kind = f->unreadable ? 0 : !f->refcount ? 1 : 2;",
        "int kind = f->unreadable ? 0 : 2;",
        "a refcount of 0 reported as a leak"),
    "problem-cap-1000": (
        "src/check.c", "#define CAP 100u", "#define CAP 1000u",
        "1000 problems a code and bitmap listed instead of 100"),
    "text-label-width-24": (
        "src/emit_text.c", "#define LABEL_WIDTH 25", "#define LABEL_WIDTH 24",
        "text labels in 24 columns, not qcow2.py's 25"),
    "text-in-use-spelling": (
        "src/emit_text.c", "q2_out_str(o, \"'in-use'\");", "q2_out_str(o, \"'in_use'\");",
        "the flag named as in JSON, not as qcow2.py names it"),
    "json-top-bit-lost": (
        "src/emit_json.c", "\tcase Q2_V_U64:\n\t\tq2_out_u64(o, v->u);",
        "\tcase Q2_V_U64:\n\t\tq2_out_u64(o, v->u & 0x7fffffffffffffffull);",
        "JSON numbers above 2^63 lose their top bit"),
    "csv-no-row-for-empty-bitmap": (
        "src/emit_csv.c", "if (!s->group_rows) {", "if (0) {",
        "-x's CSV has no row for a bitmap without a dirty range"),
    "severity-table-too-small-warning": (
        "src/problem.c", '[Q2_C_TABLE_SIZE_TOO_SMALL] = { "table-too-small", E,',
        '[Q2_C_TABLE_SIZE_TOO_SMALL] = { "table-too-small", W,',
        "a table QEMU refuses reported as a warning"),
    "x-not-usable-exits-0": (
        "src/judge.c", "\tdefault:\n\t\treturn Q2_EXIT_PROBLEMS;",
        "\tdefault:\n\t\treturn Q2_EXIT_OK;",
        "-x exits 0 though a bitmap shown is not usable"),
    "output-file-may-be-an-image": (
        "src/outfile.c", "if (stat(images[i], &ist) == 0 && same_file(&st, &ist))",
        "if (0)", "--output-file replaces an IMAGE"),
    "sort-ties-unstable": (
        "src/sort.c", "if (s->cmp(at(s, j), s->tmp + i * z, s->arg) < 0)",
        "if (s->cmp(at(s, j), s->tmp + i * z, s->arg) <= 0)",
        "the sort no longer keeps equal elements in their order"),
    "tables-share-one-slot": (
        "src/qcow2.c", "\t\tbm->table = t;\n\t\tat += n;\n", "\t\tbm->table = t;\n",
        "every table is read into the same place of the one array"),
    "names-kept-without-nul": (
        "src/qcow2.c", "*kept += var + 1;", "*kept += var;",
        "a name kept in the directory's buffer loses its NUL to the next"),
    "csv-group-cells-kept-forever": (
        "src/emit_csv.c", "\tif (s->kept)\n\t\treturn true;",
        "\tif (s->around)\n\t\treturn true;",
        "-x CSV rows of every bitmap repeat the cells of the first"),
    "fifo-opened": (
        "src/reader.c", "if (!S_ISREG(st.st_mode) && !S_ISBLK(st.st_mode)) {",
        "if (S_ISDIR(st.st_mode)) {", "a FIFO or device taken for an image"),
    # ---- the pipeline: layout, judge, checkpoints, walk (issue 18) ----
    "layout-drops-snapshot-l1": (
        "src/layout.c", "for (uint32_t i = 0; i < t->n; i++)",
        "for (uint32_t i = 0; i < 0; i++)",
        "a snapshot's L1 table missing from the layout: no overlap seen"),
    "layout-unsorted": (
        "src/layout.c", "\tq2_sort(out->v, out->n, sizeof *out->v, cmp_span, NULL);\n", "",
        "the layout left in the order built: overlaps missed"),
    "overlap-counts-ignored-directory": (
        "src/check.c", "\t\treturn bx != NULL;\n\tcase Q2_SPAN_BITMAP_TABLE:",
        "\t\treturn true;\n\tcase Q2_SPAN_BITMAP_TABLE:",
        "a directory QEMU ignores (autoclear clear) still overlaps"),
    "refcounts-skip-data-clusters": (
        "src/refcount.c", "\tcase Q2_SPAN_BITMAP_DATA:\n\t\treturn true;",
        "\tcase Q2_SPAN_BITMAP_DATA:\n\t\treturn false;",
        "refcounts of the bitmaps' data clusters not read"),
    "judge-selection-keeps-all-check-findings": (
        "src/judge.c", "\t\t    !f->selected[pb->bitmap]) {",
        "\t\t    !f->selected[pb->bitmap] && 0) {",
        "-c -n NAME lists the findings of bitmaps not named"),
    "judge-x-not-usable-dropped": (
        "src/judge.c", "\t\t\t\tadd_not_usable(f, &bx->bitmaps[i], i);\n\tif (!opts->checking",
        "\t\t\t\t(void)0;\n\tif (!opts->checking",
        "-x shows a bitmap that is not usable and exits 0"),
    "checkpoint-gap-ignored": (
        "src/checkpoint.c", "\tif (cp->n_depths > cp->run_n) {\n\t\tset_state(cp, Q2_STATE_GAP,",
        "\tif (cp->n_depths > cp->run_n + 1) {\n\t\tset_state(cp, Q2_STATE_GAP,",
        "a gap below the next layer but one is not seen"),
    "checkpoint-copy-verdict-ignored": (
        "src/checkpoint.c", "\t\tif (v && !q2_state_usable(v->state)) {\n\t\t\tset_state(cp, v->state,",
        "\t\tif (0) {\n\t\t\tset_state(cp, v->state,",
        "a merged checkpoint usable though a copy is not"),
    "chain-raw-over-qcow2-unchecked": (
        "src/judge.c", "\tif (b->raw_probed_qcow2) {", "\tif (0) {",
        "a raw backing format over a qcow2 file passes -c"),
    "status-ignores-walk-faults": (
        "src/walk.c", "\treturn faults > status ? faults : status;", "\treturn status;",
        "an extent the scan could not read leaves exit status 0"),
    "trailer-not-walked": (
        "src/walk.c", "\twalk_cols(w, d->trailer, d->n_trailer, obj);\n", "",
        "JSON documents lose their problems"),
    "selected-ignored-in-walk": (
        "src/walk.c", "\t\tif (!q2_findings_selected(w->cur.src->findings, i))\n\t\t\tcontinue;\n\t\tw->cur.bitmap = &bx->bitmaps[i];",
        "\t\tw->cur.bitmap = &bx->bitmaps[i];",
        "-n NAME shows every bitmap"),
    # ---- what gaps.sh and the unit tests of issue 18 hold ----
    "lock-reader-taken-for-writer": (
        "src/lock.c", "w = held(fd, PERM_BYTES + PERM_WRITE, 1);",
        "w = held(fd, PERM_BYTES, 1);",
        "a reader's lock byte read as a writer's: in use reads as live"),
    "lock-any-is-writer": (
        "src/lock.c", "return any ? Q2_LOCK_READ : Q2_LOCK_NONE;",
        "return any ? Q2_LOCK_WRITE : Q2_LOCK_NONE;",
        "any QEMU holding the image taken for a writer"),
    "snapshot-problems-cap-1000": (
        "src/check_snapshot.c", "#define MAX_LISTED 100u", "#define MAX_LISTED 1000u",
        "snapshot problems listed beyond the cap"),
    "snapshot-table-limit-inclusive": (
        "src/snapshot.c", "each name */\n\tif (end > Q2_MAX_SNAPSHOT_TABLE) {",
        "each name */\n\tif (end >= Q2_MAX_SNAPSHOT_TABLE) {",
        "a snapshot table of exactly 64 MiB refused"),
    "snapshot-l1-unaligned-only-when-sized": (
        "src/check_snapshot.c", "if (sn->l1_table_offset % cs)",
        "if (sn->l1_size && sn->l1_table_offset % cs)",
        "an unaligned L1 table of no entries passes"),
    "reserved-flags-narrowed": (
        "src/check.c", "\tif (bm->flags & ~Q2_BME_FLAGS_KNOWN)\n",
        "\tif (bm->flags & 0xfff8u)\n",
        "flag bits 16 to 31 taken for known"),
    "refcount-1-bit-msb-first": (
        "src/ondisk.h", "case 0: return (block[i / 8] >> (i % 8)) & 1;",
        "case 0: return (block[i / 8] >> (7 - i % 8)) & 1;",
        "1-bit refcounts read in the wrong bit order"),
    "refcount-first-block-only": (
        "src/refcount.c", "if (boff && bi != cur_block) {",
        "if (boff && cur_block == UINT64_MAX) {",
        "refcounts past the first refcount block read from it"),
    "json-escapes-below-0x10-only": (
        "src/emit_json.c", "if (p[i] < 0x20 || p[i] > 0x7e",
        "if (p[i] < 0x10 || p[i] > 0x7e",
        "control characters 0x10 to 0x1f raw in JSON"),
    "bigmem-no-slack": (
        "src/bigmem.c", "len = (total + HUGE_PAGE - 1) / HUGE_PAGE * HUGE_PAGE + HUGE_PAGE;",
        "len = (total + HUGE_PAGE - 1) / HUGE_PAGE * HUGE_PAGE;",
        "a mapping off a huge-page boundary cut short at its end"),
    "compact-with-text": (
        "src/main.c", "if (cli->run.compact && cli->format != &q2_format_json)",
        "if (cli->run.compact && cli->format == &q2_format_csv)",
        "--compact with text accepted"),
}

UNIT = ["tests/unit/test_reader", "tests/unit/test_utf8", "tests/unit/test_sort", "tests/unit/test_qcow2",
        "tests/unit/test_emit_text", "tests/unit/test_emit_structured",
        "tests/unit/test_check", "tests/unit/test_extents",
        "tests/unit/test_chain", "tests/unit/test_snapshot",
        "tests/unit/test_refcount", "tests/unit/test_bigmem",
        "tests/unit/test_describe", "tests/unit/test_guest",
        "tests/unit/test_seen", "tests/unit/test_counts"]
INTEGRATION = ["tests/integration/oracle.sh", "tests/integration/check.sh",
               "tests/integration/usable.sh", "tests/integration/extents.sh",
               "tests/integration/cli.sh", "tests/integration/csv.sh",
               "tests/integration/json.sh", "tests/integration/outfile.sh",
               "tests/integration/snapshots.sh", "tests/integration/chain.sh",
               "tests/integration/gaps.sh", "tests/integration/map.sh",
               "tests/integration/mapcli.sh", "tests/integration/bounds.sh",
               "tests/integration/refcheck.sh", "tests/integration/layout.sh"]


def run(cmd, cwd, log):
    with open(log, "ab") as f:
        return subprocess.run(cmd, cwd=cwd, stdout=f, stderr=subprocess.STDOUT,
                              shell=isinstance(cmd, str)).returncode


def failed_tests(build, names):
    out = []
    for t in names:
        log = os.path.join(build, t + ".log")
        if os.path.exists(log) and "\nFAIL " in "\n" + open(log, errors="replace").read():
            out.append(t)
        trs = os.path.join(build, t + ".trs")
        if os.path.exists(trs) and ":test-result: FAIL" in open(trs).read():
            out.append(t)
    return sorted(set(out))


def check(build, tests, log):
    rc = run(["make", "-s", "-j2", "check", "TESTS=" + " ".join(tests)], build, log)
    return rc, failed_tests(build, tests)


def main(argv):
    top = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    names = argv[1:] or list(MUTANTS)
    unknown = [n for n in names if n not in MUTANTS]
    if unknown:
        sys.exit("mutants: no mutant %s (they are: %s)" % (unknown, ", ".join(MUTANTS)))
    scratch = tempfile.mkdtemp(prefix="qcow2dump-mutants.")
    src = os.path.join(scratch, "src-tree")
    subprocess.run("git -C '%s' ls-files -z | (cd '%s' && tar --null -T - -cf -) | "
                   "(mkdir -p '%s' && cd '%s' && tar -xf -)" % (top, top, src, src),
                   shell=True, check=True)
    build = os.path.join(src, "build")
    log = os.path.join(scratch, "log")
    print("mutants: scratch tree in %s, log in %s" % (scratch, log), flush=True)
    if run("autoreconf -fi && mkdir -p build && cd build && ../configure -q && make -s -j2",
           src, log):
        sys.exit("mutants: the unmutated tree does not build (see %s)" % log)
    rc, fails = check(build, UNIT + INTEGRATION, log)
    if rc:
        sys.exit("mutants: the unmutated tree fails %s (see %s)" % (fails, log))
    alive = stale = 0
    for name in names:
        path, old, new, what = MUTANTS[name]
        full = os.path.join(src, path)
        pristine = open(full).read()
        if pristine.count(old) != 1:
            print("STALE  %-36s %s: its text is not in %s exactly once"
                  % (name, what, path), flush=True)
            stale += 1
            continue
        start = time.time()
        with open(full, "w") as f:
            f.write(pristine.replace(old, new))
        try:
            if run(["make", "-s", "-j2"], build, log) or \
                    run(["make", "-s", "-j2"] + UNIT, build, log):
                # a mutant that does not compile tests nothing
                verdict = "broken"
            else:
                verdict = None
                rc, fails = check(build, UNIT, log)
                if rc:
                    verdict = "killed by " + ", ".join(os.path.basename(t) for t in fails)
                # one test at a time, stopping at the first that fails
                for t in INTEGRATION if not rc else []:
                    rc, fails = check(build, [t], log)
                    if rc:
                        verdict = "killed by " + os.path.basename(t)
                        break
        finally:
            with open(full, "w") as f:
                f.write(pristine)
        if verdict == "broken":
            print("STALE  %-36s %s: it does not build (see %s): fix it"
                  % (name, what, log), flush=True)
            stale += 1
        elif verdict:
            print("killed %-36s %s -- %s (%.0f s)" % (name, what, verdict,
                                                     time.time() - start), flush=True)
        else:
            print("ALIVE  %-36s %s" % (name, what), flush=True)
            alive += 1
    print("mutants: %d run, %d killed, %d alive, %d stale"
          % (len(names), len(names) - alive - stale, alive, stale))
    shutil.rmtree(scratch, ignore_errors=True)
    return 1 if alive or stale else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
