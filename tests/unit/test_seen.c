/* The seen set of -x (q2_seen, extents.h): which data clusters of an
 * image were read.  Held to its contract: a cluster marked twice is
 * reported the second time, and only then, wherever it lies (up to the
 * last cluster below 2^64, in files of 2^62 bytes and more); its memory
 * follows the clusters marked, never the file's size; and out of memory
 * it says so and keeps what it held.  calloc is wrapped (-Wl,--wrap)
 * so that a test can make it fail. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "extents.h"

/* calloc fails while fail_calloc is set */
static int fail_calloc;
void *__real_calloc(size_t n, size_t size);
void *__wrap_calloc(size_t n, size_t size);
void *__wrap_calloc(size_t n, size_t size)
{
	return fail_calloc ? NULL : __real_calloc(n, size);
}

/* an image whose header gave 2^bits-byte clusters, in a file of
 * file_size bytes (the seen set reads nothing else of it) */
static struct q2_image image(unsigned bits, uint64_t file_size)
{
	struct q2_image img;

	memset(&img, 0, sizeof img);
	img.header.cluster_bits = bits;
	img.header_decoded = true;
	img.file_size = file_size;
	return img;
}

/* the bytes the set holds */
static size_t held(const struct q2_seen *s)
{
	return s->cap * sizeof *s->pages;
}

/* Clusters at the ends of the offsets a table entry can name, and
 * beyond: marked once each, their neighbours apart, in a file whose
 * apparent size is 2^62 or 2^64 - 1 bytes; the set stays a few slots. */
static void test_huge_offsets(void **state)
{
	static const unsigned bits[] = { 9, 16, 21 };
	(void)state;

	for (size_t b = 0; b < sizeof bits / sizeof bits[0]; b++) {
		uint64_t cs = 1ull << bits[b];
		const uint64_t at[] = {
			0, cs, 1ull << 40, (1ull << 62) - cs, 1ull << 62,
			(1ull << 63) - cs, 1ull << 63, 0xfffffffffffffe00ull & ~(cs - 1),
			UINT64_MAX & ~(cs - 1) & ~(64 * cs - 1),  /* the last page's first */
		};
		const size_t n = sizeof at / sizeof at[0];
		struct q2_image img = image(bits[b], b ? UINT64_MAX : 1ull << 62);
		struct q2_seen s;

		assert_true(q2_seen_init(&s, &img));
		assert_non_null(s.pages);
		assert_int_equal(s.cluster_bits, bits[b]);
		assert_true(held(&s) <= 1024);
		for (size_t i = 0; i < n; i++)
			assert_int_equal(q2_seen_mark(&s, at[i]), 0);
		for (size_t i = 0; i < n; i++) {
			/* any byte of the cluster is the cluster */
			assert_int_equal(q2_seen_mark(&s, at[i]), 1);
			assert_int_equal(q2_seen_mark(&s, at[i] + cs - 1), 1);
		}
		/* the clusters around them were not read */
		assert_int_equal(q2_seen_mark(&s, (1ull << 62) + cs), 0);
		assert_int_equal(q2_seen_mark(&s, (1ull << 62) - 2 * cs), 0);
		assert_int_equal(q2_seen_mark(&s, (1ull << 63) + 63 * cs), 0);
		assert_int_equal(q2_seen_mark(&s, (1ull << 63) + 64 * cs), 0);
		assert_true(held(&s) <= 1024);
		q2_seen_free(&s);
		assert_null(s.pages);
	}
}

/* 200000 clusters strewn over the first 2^63 bytes (a page each), then
 * 64000 that lie together above them (a page per 64): each reported the
 * second time only, and the set at most four slots of 16 bytes a page. */
static void test_many_clusters(void **state)
{
	struct q2_image img = image(16, UINT64_MAX);
	const size_t strewn = 200000, together = 64000;
	uint64_t x = 1;
	struct q2_seen s;
	(void)state;

	assert_true(q2_seen_init(&s, &img));
	/* a full-period generator modulo 2^41 pages: every one distinct */
	for (size_t pass = 0; pass < 2; pass++) {
		x = 1;
		for (size_t i = 0; i < strewn; i++) {
			x = (x * 0x5851f42d4c957f2dull + 0x14057b7ef767814full) &
			    ((1ull << 41) - 1);
			/* cluster 5 of page x: below 2^47 clusters of 64 KiB */
			assert_int_equal(q2_seen_mark(&s, (x << 6 | 5) << 16), (int)pass);
		}
	}
	assert_int_equal(s.n, strewn);
	assert_true(held(&s) <= 4 * 16 * strewn);
	for (size_t pass = 0; pass < 2; pass++)
		for (uint64_t c = 0; c < together; c++)
			assert_int_equal(q2_seen_mark(&s, (1ull << 63) + (c << 16)),
					 (int)pass);
	assert_int_equal(s.n, strewn + together / 64);
	assert_true(held(&s) <= 4 * 16 * (strewn + together / 64));
	q2_seen_free(&s);
}

/* Out of memory: init says so; a mark that needs more room says so
 * (-1), leaves its cluster unmarked and keeps every mark made. */
static void test_out_of_memory(void **state)
{
	struct q2_image img = image(12, 1ull << 62);
	struct q2_seen s;
	size_t n;
	(void)state;

	fail_calloc = 1;
	assert_false(q2_seen_init(&s, &img));
	assert_null(s.pages);
	fail_calloc = 0;
	assert_true(q2_seen_init(&s, &img));
	/* clusters a page apart, until the next one needs a bigger table */
	for (n = 0; s.n + 1 <= s.cap / 2; n++)
		assert_int_equal(q2_seen_mark(&s, (n * 64) << 12), 0);
	fail_calloc = 1;
	assert_int_equal(q2_seen_mark(&s, (n * 64) << 12), -1);
	/* a cluster of a page held needs no room */
	assert_int_equal(q2_seen_mark(&s, 1ull << 12), 0);
	fail_calloc = 0;
	for (size_t i = 0; i < n; i++)
		assert_int_equal(q2_seen_mark(&s, (i * 64) << 12), 1);
	assert_int_equal(q2_seen_mark(&s, 1ull << 12), 1);
	assert_int_equal(q2_seen_mark(&s, (n * 64) << 12), 0);
	q2_seen_free(&s);
}

/* No cluster size (a header not decoded, or one QEMU refuses): nothing
 * is tracked, and that is no failure. */
static void test_no_cluster_size(void **state)
{
	struct q2_image img = image(8, 1ull << 62);
	struct q2_seen s;
	(void)state;

	assert_true(q2_seen_init(&s, &img));
	assert_null(s.pages);
	q2_seen_free(&s);
	img = image(16, 1ull << 62);
	img.header_decoded = false;
	assert_true(q2_seen_init(&s, &img));
	assert_null(s.pages);
	q2_seen_free(&s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_huge_offsets),
		cmocka_unit_test(test_many_clusters),
		cmocka_unit_test(test_out_of_memory),
		cmocka_unit_test(test_no_cluster_size),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
