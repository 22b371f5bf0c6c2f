/* The extent scanner on bitmaps built in memory: runs across word and
 * cluster boundaries, all-ones and all-zeroes entries, tail bits, the
 * clamp to the virtual size, and what stops a scan. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "extents.h"
#include "image_builder.h"

#define IMG 8192u
#define TABLE 1024u
#define DATA 1536u   /* data cluster k at DATA + 512 * k */

/* 512-byte clusters, one bitmap of granularity 2^gbits over size bytes,
 * with a table of n entries at TABLE. */
static uint8_t *image(uint64_t size, unsigned gbits, uint32_t n)
{
	uint8_t *b = calloc(1, IMG);

	tb_header(b, 3, 9, 104);
	put_be64(b + 24, size);
	put_be64(b + 72, 0);
	tb_bitmaps_ext(b, 104, 1, 32, 512);
	tb_dir_entry(b, 512, TABLE, n, 2, (uint8_t)gbits, "b", 1, 0);
	return b;
}

static void set_bit(uint8_t *b, unsigned k, uint64_t bit)
{
	b[DATA + 512 * k + bit / 8] |= (uint8_t)(1u << (bit % 8));
}

struct collected {
	char text[1024];
	size_t len;
	int stop_after;
	int seen;
};

static int collect(void *ctx, uint64_t start, uint64_t length)
{
	struct collected *c = ctx;

	c->len += (size_t)snprintf(c->text + c->len, sizeof c->text - c->len,
				   "%s%llu+%llu", c->len ? " " : "",
				   (unsigned long long)start,
				   (unsigned long long)length);
	return ++c->seen == c->stop_after ? 7 : 0;
}

/* What the scan reported when it could not read the bitmap. */
struct scan_error {
	enum q2_code code;
	uint64_t offset;
	uint32_t bitmap;
	char message[256];
};

static int scan(const uint8_t *b, struct collected *c, uint64_t *dirty,
		struct scan_error *err)
{
	struct q2_decode_opts opts = { .load_tables = true };
	struct q2_reader r;
	struct q2_image img;
	int ret;

	q2_reader_from_memory(&r, b, IMG);
	assert_int_equal(q2_decode(&r, &opts, &img), 0);
	ret = q2_extents_scan(&r, &img, 0, collect, c, dirty, &img.problems, NULL);
	/* a problem exactly when the scan failed */
	assert_int_equal(img.problems.n, ret == -1 ? 1 : 0);
	if (img.problems.n) {
		err->code = img.problems.v[0].code;
		err->offset = img.problems.v[0].offset;
		err->bitmap = img.problems.v[0].bitmap;
		snprintf(err->message, sizeof err->message, "%s",
			 q2_problem_message(&img.problems.v[0]));
	}
	q2_image_free(&img);
	return ret;
}

static void test_runs_across_words_and_clusters(void **state)
{
	/* 8192 bits at 1 byte each: 2 clusters of 4096 bits */
	uint8_t *b = image(8192, 0, 2);
	struct collected c = { 0 };
	struct scan_error err = { 0 };
	uint64_t dirty;
	(void)state;

	put_be64(b + TABLE, DATA);
	put_be64(b + TABLE + 8, DATA + 512);
	set_bit(b, 0, 0);                       /* one bit */
	for (uint64_t i = 60; i < 70; i++)      /* across a word boundary */
		set_bit(b, 0, i);
	for (uint64_t i = 4090; i < 4096; i++)  /* into the next cluster */
		set_bit(b, 0, i);
	for (uint64_t i = 0; i < 3; i++)
		set_bit(b, 1, i);
	set_bit(b, 1, 4095);                    /* the very last bit */
	assert_int_equal(scan(b, &c, &dirty, &err), 0);
	assert_string_equal(c.text, "0+1 60+10 4090+9 8191+1");
	assert_int_equal(dirty, 21);
	free(b);
}

static void test_all_ones_zeroes_and_clamp(void **state)
{
	/* 1 MiB granularity over 299.5 GiB: 306688 bits, 75 clusters of
	 * 4096 bits, each covering 4 GiB */
	uint64_t size = 599ull << 29;
	uint32_t n = 75;
	uint8_t *b = image(size, 20, n);
	struct collected c = { 0 };
	struct scan_error err = { 0 };
	uint64_t dirty;
	(void)state;

	/* entries 0 and 1 all ones: one merged range; the last entry all
	 * ones too: the part of it past the disk is clamped away */
	put_be64(b + TABLE, 1);
	put_be64(b + TABLE + 8, 1);
	put_be64(b + TABLE + 8 * (n - 1), 1);
	assert_int_equal(scan(b, &c, &dirty, &err), 0);
	assert_string_equal(c.text, "0+8589934592 317827579904+3758096384");
	assert_int_equal(dirty, 8589934592ull + 3758096384ull);
	free(b);
}

static void test_tail_bits_and_partial_granule(void **state)
{
	/* 1000 bytes at 512-byte granularity: QEMU sizes the disk in whole
	 * sectors, 512 bytes, so only bit 0 counts; every bit past it is a
	 * tail bit */
	uint8_t *b = image(1000, 9, 1);
	struct collected c = { 0 };
	struct scan_error err = { 0 };
	uint64_t dirty;
	(void)state;

	put_be64(b + TABLE, DATA);
	set_bit(b, 0, 1);
	for (uint64_t i = 2; i < 4096; i += 3)
		set_bit(b, 0, i);
	assert_int_equal(scan(b, &c, &dirty, &err), 0);
	assert_string_equal(c.text, "");
	assert_int_equal(dirty, 0);
	set_bit(b, 0, 0);
	memset(&c, 0, sizeof c);
	assert_int_equal(scan(b, &c, &dirty, &err), 0);
	assert_string_equal(c.text, "0+512");
	free(b);
}

static void test_partial_granule(void **state)
{
	/* 1536 bytes at 1 KiB granularity: 2 bits, the second granule
	 * only 512 bytes long */
	uint8_t *b = image(1536, 10, 1);
	struct collected c = { 0 };
	struct scan_error err = { 0 };
	uint64_t dirty;
	(void)state;

	put_be64(b + TABLE, DATA);
	set_bit(b, 0, 1);
	for (uint64_t i = 2; i < 4096; i += 3)
		set_bit(b, 0, i);
	assert_int_equal(scan(b, &c, &dirty, &err), 0);
	assert_string_equal(c.text, "1024+512");
	assert_int_equal(dirty, 512);
	free(b);
}

static void test_callback_stops(void **state)
{
	uint8_t *b = image(8192, 0, 2);
	struct collected c = { .stop_after = 2 };
	struct scan_error err = { 0 };
	uint64_t dirty;
	(void)state;

	put_be64(b + TABLE, DATA);
	for (uint64_t i = 0; i < 100; i += 2)
		set_bit(b, 0, i);
	assert_int_equal(scan(b, &c, &dirty, &err), 7);
	assert_string_equal(c.text, "0+1 2+1");
	free(b);
}

static void test_errors(void **state)
{
	struct collected c = { 0 };
	struct scan_error err = { 0 };
	uint64_t dirty;
	uint8_t *b;
	(void)state;

	/* a table too small for the disk */
	b = image(8192, 0, 1);
	assert_int_equal(scan(b, &c, &dirty, &err), -1);
	assert_int_equal(err.code, Q2_C_TABLE_TOO_SMALL);
	assert_int_equal(err.offset, 512 + 8);
	free(b);

	/* an offset with the all-ones bit: what came before is kept */
	b = image(8192, 0, 2);
	put_be64(b + TABLE, DATA);
	set_bit(b, 0, 5);
	put_be64(b + TABLE + 8, (DATA + 512) | 1);
	memset(&c, 0, sizeof c);
	assert_int_equal(scan(b, &c, &dirty, &err), -1);
	assert_int_equal(err.code, Q2_C_TABLE_ENTRY);
	assert_int_equal(err.offset, TABLE + 8);
	assert_string_equal(c.text, "5+1");
	assert_int_equal(dirty, 1);

	/* a data cluster past the end of the file reads as zeroes, as in
	 * QEMU: no error here (--check reports it) */
	put_be64(b + TABLE + 8, 1ull << 40);
	memset(&c, 0, sizeof c);
	assert_int_equal(scan(b, &c, &dirty, &err), 0);
	assert_string_equal(c.text, "5+1");
	free(b);
}

/* A data cluster two entries point to is read once: the second
 * reference stops the scan with data-cluster-shared. */
static void test_shared_cluster_read_once(void **state)
{
	uint8_t *b = image(8192, 0, 2);
	struct q2_decode_opts opts = { .load_tables = true };
	struct collected c = { 0 };
	struct q2_reader r;
	struct q2_image img;
	struct q2_seen seen;
	uint64_t dirty;
	(void)state;

	put_be64(b + TABLE, DATA);
	put_be64(b + TABLE + 8, DATA);
	set_bit(b, 0, 7);
	q2_reader_from_memory(&r, b, IMG);
	assert_int_equal(q2_decode(&r, &opts, &img), 0);
	assert_true(q2_seen_init(&seen, &img));
	assert_int_equal(q2_extents_scan(&r, &img, 0, collect, &c, &dirty,
					 &img.problems, &seen), -1);
	assert_string_equal(c.text, "7+1");
	assert_int_equal(img.problems.n, 1);
	assert_int_equal(img.problems.v[0].code, Q2_C_DATA_CLUSTER_SHARED);
	assert_int_equal(img.problems.v[0].offset, DATA);
	q2_seen_free(&seen);
	q2_image_free(&img);
	free(b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_runs_across_words_and_clusters),
		cmocka_unit_test(test_all_ones_zeroes_and_clamp),
		cmocka_unit_test(test_tail_bits_and_partial_granule),
		cmocka_unit_test(test_partial_granule),
		cmocka_unit_test(test_callback_stops),
		cmocka_unit_test(test_errors),
		cmocka_unit_test(test_shared_cluster_read_once),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
