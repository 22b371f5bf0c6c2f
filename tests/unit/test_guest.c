/* The guest-data tables, read as QEMU 7.2 reads them (block/
 * qcow2-cluster.c): each kind of L2 entry, standard and extended, the
 * runs a lookup gives (one type, contiguous host clusters, within one L2
 * table), and every case where QEMU's read fails, on tables built in
 * memory.  The maps of real images are tests/integration/map.sh's. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "be.h"
#include "guest.h"

#define CB 9u                   /* 512-byte clusters */
#define CS (1u << CB)
#define L1_AT (1u * CS)
#define L2_AT (2u * CS)
#define FILE_SIZE (64u * CS)

struct fixture {
	uint8_t buf[FILE_SIZE];
	struct q2_image img;
	struct q2_reader r;
	struct q2_guest g;
	struct q2_problems problems;
};

static struct fixture *setup(uint64_t incompatible, uint32_t version)
{
	struct fixture *f = calloc(1, sizeof *f);

	assert_non_null(f);
	f->img.header.cluster_bits = CB;
	f->img.header.version = version;
	f->img.header.incompatible_features = incompatible;
	f->img.header.l1_table_offset = L1_AT;
	f->img.header.l1_size = 4;
	f->img.header.size = 4ull * (CS / 8u) * CS;
	f->img.header_decoded = true;
	q2_reader_from_memory(&f->r, f->buf, sizeof f->buf);
	/* L1 entry 0: the L2 table at L2_AT, COPIED */
	put_be64(f->buf + L1_AT, L2_AT | Q2_OFLAG_COPIED);
	return f;
}

static void open_guest(struct fixture *f)
{
	assert_true(q2_guest_open(&f->g, &f->r, &f->img, L1_AT, 4, &f->problems));
}

static void teardown(struct fixture *f)
{
	q2_guest_close(&f->g);
	q2_problems_free(&f->problems);
	free(f);
}

static void l2(struct fixture *f, unsigned i, uint64_t entry)
{
	put_be64(f->buf + L2_AT + i * 8u, entry);
}

static void l2x(struct fixture *f, unsigned i, uint64_t entry, uint64_t bitmap)
{
	put_be64(f->buf + L2_AT + i * 16u, entry);
	put_be64(f->buf + L2_AT + i * 16u + 8u, bitmap);
}

static struct q2_grun lookup(struct fixture *f, uint64_t off, uint64_t bytes)
{
	struct q2_grun run;

	assert_int_equal(q2_guest_lookup(&f->g, off, bytes, &run, &f->problems), 0);
	return run;
}

static void lookup_fails(struct fixture *f, uint64_t off, enum q2_code code,
			 uint64_t at)
{
	struct q2_grun run;
	size_t n = f->problems.n;

	assert_int_equal(q2_guest_lookup(&f->g, off, 1u << 30, &run, &f->problems), -1);
	assert_int_equal(f->problems.n, n + 1);
	assert_int_equal(f->problems.v[n].code, code);
	assert_int_equal(f->problems.v[n].offset, at);
}

/* normal clusters run while their host clusters follow each other */
static void test_standard_runs(void **state)
{
	struct fixture *f = setup(0, 3);
	struct q2_grun run;

	(void)state;
	l2(f, 0, (10u * CS) | Q2_OFLAG_COPIED);
	l2(f, 1, (11u * CS) | Q2_OFLAG_COPIED);
	l2(f, 2, (13u * CS) | Q2_OFLAG_COPIED);   /* not contiguous */
	l2(f, 3, Q2_OFLAG_ZERO);                   /* zero, plain */
	l2(f, 4, Q2_OFLAG_ZERO);
	l2(f, 5, (20u * CS) | Q2_OFLAG_ZERO);      /* zero, allocated */
	/* 6: unallocated */
	open_guest(f);

	run = lookup(f, 0, 1u << 20);
	assert_int_equal(run.type, Q2_G_NORMAL);
	assert_int_equal(run.length, 2u * CS);
	assert_int_equal(run.host, 10u * CS);
	/* within a cluster: the host offset follows the guest's */
	run = lookup(f, 100, 1u << 20);
	assert_int_equal(run.length, 2u * CS - 100u);
	assert_int_equal(run.host, 10u * CS + 100u);
	/* the length asked caps the run */
	run = lookup(f, 0, 10);
	assert_int_equal(run.length, 10);
	run = lookup(f, 2u * CS, 1u << 20);
	assert_int_equal(run.type, Q2_G_NORMAL);
	assert_int_equal(run.length, CS);
	run = lookup(f, 3u * CS, 1u << 20);
	assert_int_equal(run.type, Q2_G_ZERO_PLAIN);
	assert_int_equal(run.length, 2u * CS);
	run = lookup(f, 5u * CS, 1u << 20);
	assert_int_equal(run.type, Q2_G_ZERO_ALLOC);
	assert_int_equal(run.host, 20u * CS);
	run = lookup(f, 6u * CS, 1u << 30);
	assert_int_equal(run.type, Q2_G_UNALLOCATED);
	/* to the end of the L2 table, no further */
	assert_int_equal(run.length, (CS / 8u - 6u) * CS);
	/* L1 entries of 0, then the end of the L1 table: one run over
	 * all of them, whatever their number, up to what was asked */
	run = lookup(f, (uint64_t)(CS / 8u) * CS + 5u, 1ull << 40);
	assert_int_equal(run.type, Q2_G_UNALLOCATED);
	assert_int_equal(run.length, 1ull << 40);
	run = lookup(f, 9ull * (CS / 8u) * CS, 1u << 30);
	assert_int_equal(run.type, Q2_G_UNALLOCATED);
	assert_int_equal(run.length, 1u << 30);
	assert_int_equal(f->problems.n, 0);
	teardown(f);
	/* ... but it stops at the next L2 table */
	f = setup(0, 3);
	put_be64(f->buf + L1_AT + 24u, 3u * CS);
	open_guest(f);
	run = lookup(f, (uint64_t)(CS / 8u) * CS + 5u, 1ull << 40);
	assert_int_equal(run.length, 2ull * (CS / 8u) * CS - 5u);
	teardown(f);
}

/* a compressed cluster is a run of its own, its descriptor decoded */
static void test_compressed(void **state)
{
	struct fixture *f = setup(0, 3);
	/* 512-byte clusters: the offset takes bits 0..60, the sector
	 * count bit 61 (one more sector) */
	uint64_t entry = Q2_OFLAG_COMPRESSED | (1ull << 61) | (30u * CS + 0x10u);
	struct q2_grun run;
	uint64_t off, len;

	(void)state;
	l2(f, 0, entry);
	l2(f, 1, entry + 0x200);
	open_guest(f);
	run = lookup(f, 0, 1u << 20);
	assert_int_equal(run.type, Q2_G_COMPRESSED);
	assert_int_equal(run.length, CS);
	assert_int_equal(run.host, 30u * CS + 0x10u);
	assert_int_equal(run.csize, 2u * 512u - 0x10u);
	/* 64 KiB clusters: 8 bits of sector count from bit 54 */
	q2_compressed_span(16, (5ull << 54) | 0x123456u, &off, &len);
	assert_int_equal(off, 0x123456u);
	assert_int_equal(len, 6u * 512u - 0x56u);
	teardown(f);
}

/* extended L2: 32 subclusters of 16 bytes each, runs by subcluster */
static void test_extended(void **state)
{
	struct fixture *f = setup(Q2_INCOMPAT_EXTL2, 3);
	const uint64_t sc = CS / 32u;
	struct q2_grun run;

	(void)state;
	/* cluster 0 at host 10: subclusters 0-3 allocated, 4-5 zero,
	 * 6-31 unallocated */
	l2x(f, 0, 10u * CS, 0xfull | (0x30ull << 32));
	/* cluster 1: no host cluster, subclusters zero throughout */
	l2x(f, 1, 0, 0xffffffffull << 32);
	/* cluster 2: invalid (allocated and zero at once) */
	l2x(f, 2, 11u * CS, 0x1ull | (0x1ull << 32));
	open_guest(f);
	run = lookup(f, 0, 1u << 20);
	assert_int_equal(run.type, Q2_G_NORMAL);
	assert_int_equal(run.length, 4u * sc);
	run = lookup(f, sc, 1u << 20);
	assert_int_equal(run.length, 3u * sc);
	assert_int_equal(run.host, 10u * CS + sc);
	run = lookup(f, 4u * sc, 1u << 20);
	assert_int_equal(run.type, Q2_G_ZERO_ALLOC);
	assert_int_equal(run.length, 2u * sc);
	run = lookup(f, 6u * sc, 1u << 20);
	assert_int_equal(run.type, Q2_G_UNALLOCATED_ALLOC);
	assert_int_equal(run.length, 26u * sc);
	assert_int_equal(run.host, 10u * CS + 6u * sc);
	/* the whole of cluster 1 reads as zeroes, and QEMU's walk then
	 * meets cluster 2 before anything else: its read fails */
	lookup_fails(f, CS, Q2_C_SUBCLUSTER_BITMAP_INVALID, L2_AT + 2u * 16u);
	run = lookup(f, CS, CS);
	assert_int_equal(run.type, Q2_G_ZERO_PLAIN);
	assert_int_equal(run.length, CS);
	teardown(f);
}

/* where QEMU's read fails: the entry's offset in the file says where */
static void test_faults(void **state)
{
	struct fixture *v2 = setup(0, 2);
	struct fixture *df = setup(Q2_INCOMPAT_DATA_FILE, 3);
	struct q2_grun run;

	(void)state;
	/* version 2 knows no zero clusters */
	put_be64(v2->buf + L2_AT, Q2_OFLAG_ZERO);
	open_guest(v2);
	lookup_fails(v2, 0, Q2_C_ZERO_CLUSTER_IN_V2, L2_AT);
	teardown(v2);

	/* an external data file: host offset 0 is allocated when COPIED,
	 * and every host offset must equal the guest's */
	put_be64(df->buf + L2_AT, Q2_OFLAG_COPIED);
	put_be64(df->buf + L2_AT + 8u, (5u * CS) | Q2_OFLAG_COPIED);
	put_be64(df->buf + L2_AT + 16u, Q2_OFLAG_COMPRESSED | 5u);
	open_guest(df);
	run = lookup(df, 0, CS);
	assert_int_equal(run.type, Q2_G_NORMAL);
	assert_int_equal(run.host, 0);
	lookup_fails(df, CS, Q2_C_DATA_FILE_OFFSET_MISMATCH, L2_AT + 8u);
	lookup_fails(df, 2u * CS, Q2_C_COMPRESSED_WITH_DATA_FILE, L2_AT + 16u);
	teardown(df);
}

/* 64 KiB clusters: an L2 offset off a cluster boundary, a data cluster
 * too, and an L2 table past the end of the file */
static void test_unaligned(void **state)
{
	enum { BIG = 16 };
	uint8_t *buf = calloc(1, 4u << BIG);
	struct q2_image img = { 0 };
	struct q2_problems p = { 0 };
	struct q2_reader r;
	struct q2_guest g;
	struct q2_grun run;

	(void)state;
	assert_non_null(buf);
	img.header.cluster_bits = BIG;
	img.header.version = 3;
	img.header.l1_table_offset = 1u << BIG;
	img.header_decoded = true;
	put_be64(buf + (1u << BIG), (2u << BIG) + 0x200u);       /* unaligned */
	put_be64(buf + (1u << BIG) + 8u, 3u << BIG);             /* L2 */
	put_be64(buf + (1u << BIG) + 16u, 100u << BIG);          /* past EOF */
	put_be64(buf + (3u << BIG), (7u << BIG) + 0x400u);       /* unaligned data */
	q2_reader_from_memory(&r, buf, 4u << BIG);
	assert_true(q2_guest_open(&g, &r, &img, 1u << BIG, 3, &p));
	assert_int_equal(q2_guest_lookup(&g, 0, 1u << 20, &run, &p), -1);
	assert_int_equal(p.v[0].code, Q2_C_L2_TABLE_UNALIGNED);
	assert_int_equal(p.v[0].offset, 1u << BIG);
	assert_int_equal(q2_guest_lookup(&g, 1ull << (2 * BIG - 3), 1u << 20, &run, &p), -1);
	assert_int_equal(p.v[1].code, Q2_C_DATA_CLUSTER_UNALIGNED);
	assert_int_equal(p.v[1].offset, 3u << BIG);
	/* past the end: zeroes, as QEMU reads them */
	assert_int_equal(q2_guest_lookup(&g, 2ull << (2 * BIG - 3), 1u << 20, &run, &p), 0);
	assert_int_equal(run.type, Q2_G_UNALLOCATED);
	q2_guest_close(&g);
	q2_problems_free(&p);
	free(buf);
}

/* the type table, QEMU's qcow2_get_subcluster_type */
static void test_types(void **state)
{
	(void)state;
	assert_int_equal(q2_guest_type(false, false, 0, 0, 0), Q2_G_UNALLOCATED);
	assert_int_equal(q2_guest_type(false, false, Q2_OFLAG_COPIED, 0, 0),
			 Q2_G_UNALLOCATED);
	assert_int_equal(q2_guest_type(false, true, Q2_OFLAG_COPIED, 0, 0),
			 Q2_G_NORMAL);
	assert_int_equal(q2_guest_type(false, false, 0x10000 | 1, 0, 0),
			 Q2_G_ZERO_ALLOC);
	/* extended L2 ignores bit 0 */
	assert_int_equal(q2_guest_type(true, false, 0x10000 | 1, 1, 0), Q2_G_NORMAL);
	assert_int_equal(q2_guest_type(true, false, 0, 1, 0), Q2_G_INVALID);
	assert_int_equal(q2_guest_type(true, false, 0, 1ull << 33, 1),
			 Q2_G_ZERO_PLAIN);
	assert_int_equal(q2_guest_type(true, false, 0, 1ull << 33, 0),
			 Q2_G_UNALLOCATED);
	assert_int_equal(q2_guest_type(true, false, 0x10000, 0, 5),
			 Q2_G_UNALLOCATED_ALLOC);
	assert_int_equal(q2_guest_type(true, false, Q2_OFLAG_COMPRESSED, 7, 5),
			 Q2_G_COMPRESSED);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_types),
		cmocka_unit_test(test_standard_runs),
		cmocka_unit_test(test_compressed),
		cmocka_unit_test(test_extended),
		cmocka_unit_test(test_faults),
		cmocka_unit_test(test_unaligned),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
