/* The checks on images built in memory. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "check.h"
#include "qcow2.h"
#include "problem.h"
#include "image_builder.h"
#include "judge_helper.h"

/* Decodes and checks; p points to the image's problems. */
static void run(const uint8_t *b, size_t len, struct q2_image *img,
		struct q2_problems **p)
{
	struct q2_decode_opts opts = { .load_tables = true };
	struct q2_reader r;

	q2_reader_from_memory(&r, b, len);
	q2_decode(&r, &opts, img);
	check_image(img);
	*p = &img->problems;
}

static size_t n_errors(const struct q2_problems *p)
{
	size_t n = 0;

	for (size_t i = 0; i < p->n; i++)
		n += q2_problem_severity(&p->v[i]) == Q2_SEV_ERROR;
	return n;
}

/* "code@offset/bitmap ..." of every problem, in order */
static char *summary(const struct q2_problems *p)
{
	char *out = NULL;
	size_t size = 0;
	FILE *f = open_memstream(&out, &size);

	for (size_t i = 0; i < p->n; i++) {
		fprintf(f, "%s%s@%llu", i ? " " : "", q2_codes[p->v[i].code].name,
			(unsigned long long)p->v[i].offset);
		if (p->v[i].bitmap != Q2_NO_INDEX)
			fprintf(f, "/%u", p->v[i].bitmap);
	}
	fclose(f);
	return out;
}

static void test_standard_image(void **state)
{
	size_t len;
	uint8_t *b = tb_standard(&len);
	struct q2_image img;
	struct q2_problems *p;
	char *s;
	(void)state;

	run(b, len, &img, &p);
	s = summary(p);
	/* an L1 table of 7 entries for 0x123456789 bytes at 512-byte
	 * clusters, it and the refcount table past the 4 KiB file; bit 63
	 * unknown, bit 0 dirty, zstd without its bit, a data file name
	 * without the external data bit; b1's table too small for the disk
	 * at 64 KiB; bitmap-two: unaligned table, flags 7, extra data (in
	 * use: QEMU skips its size test), its table entry offset +
	 * all-ones */
	assert_string_equal(s,
		"l1-table-too-small@36 l1-table-beyond-eof@40 "
		"refcount-table-beyond-eof@48 "
		"unknown-incompatible-bits@72 dirty@72 "
		"compression-type-without-bit@104 "
		"data-file-name-without-bit@72 "
		"table-too-small@1032/0 "
		"table-unaligned@1056/1 "
		"extra-data-compatible-flag@1068/1 bitmap-in-use@1068/1 "
		"extra-data@1076/1 "
		"table-entry-invalid@1552/1");
	assert_int_equal(n_errors(p), 10);
	free(s);
	q2_image_free(&img);
	free(b);
}

static void test_decode_errors_are_problems(void **state)
{
	uint8_t b[104] = { 0 };
	struct q2_image img;
	struct q2_problems *p;
	(void)state;

	tb_header(b, 3, 9, 104);
	run(b, 50, &img, &p);
	assert_int_equal(p->n, 1);
	assert_int_equal(p->v[0].code, Q2_C_TRUNCATED);
	assert_int_equal(p->v[0].origin, Q2_FROM_DECODE);
	assert_int_equal(q2_problem_severity(&p->v[0]), Q2_SEV_ERROR);
	assert_int_equal(n_errors(p), 1);
	q2_image_free(&img);
}

/* 65535 bitmaps, one name twice: found, and only that one */
static void test_duplicate_names_at_scale(void **state)
{
	const uint32_t n = 65535;
	const size_t dir = 4096, entry = 32;
	size_t len = dir + n * entry;
	uint8_t *b = calloc(1, len);
	struct q2_image img;
	struct q2_problems *p;
	size_t dups = 0;
	(void)state;

	tb_header(b, 3, 12, 104);
	put_be64(b + 24, 1 << 20); /* 1 MiB disk: one table entry at 64 KiB */
	put_be64(b + 88, 1);
	tb_bitmaps_ext(b, 104, n, n * entry, dir);
	for (uint32_t i = 0; i < n; i++) {
		char name[8];

		snprintf(name, sizeof name, "%05u", i == 40000 ? 123 : i);
		tb_dir_entry(b, dir + i * entry, 4096, 1, 2, 16, name, 5, 0);
	}
	run(b, len, &img, &p);
	for (size_t i = 0; i < p->n; i++) {
		if (p->v[i].code == Q2_C_DUPLICATE_NAME) {
			dups++;
			assert_int_equal(p->v[i].bitmap, 40000);
			assert_int_equal(p->v[i].offset, dir + 40000 * entry);
		}
	}
	assert_int_equal(dups, 1);
	q2_image_free(&img);
	free(b);
}

/* The L1 table laid over the bitmap directory: an overlap while QEMU
 * reads the directory; none once the autoclear bitmaps bit is clear,
 * since QEMU then ignores the directory (its clusters are leaks) */
static void test_overlap_of_an_ignored_directory(void **state)
{
	size_t len;
	uint8_t *b = tb_standard(&len);
	struct q2_image img;
	struct q2_problems *p;
	size_t overlaps = 0;
	(void)state;

	put_be64(b + 40, TB_DIR_OFFSET);   /* l1_table_offset */
	run(b, len, &img, &p);
	for (size_t i = 0; i < p->n; i++)
		if (p->v[i].code == Q2_C_OVERLAP) {
			overlaps++;
			assert_non_null(strstr(p->v[i].message, "bitmap directory"));
		}
	assert_int_equal(overlaps, 1);
	q2_image_free(&img);

	put_be64(b + 88, 0);               /* autoclear: bitmaps clear */
	run(b, len, &img, &p);
	for (size_t i = 0; i < p->n; i++)
		assert_int_not_equal(p->v[i].code, Q2_C_OVERLAP);
	q2_image_free(&img);
	free(b);
}

/* The table is indexed by the enum: every row filled, names unique and
 * kebab-case, every code with a message and advice. */
static void test_every_code_has_a_row(void **state)
{
	size_t checked = 0;
	(void)state;

	for (int i = 0; i < Q2_CODE_COUNT_; i++) {
		const struct q2_code_info *c = &q2_codes[i];

		assert_non_null(c->name);
		assert_non_null(c->message);
		assert_non_null(c->advice);
		assert_true(strlen(c->message) > 5);
		assert_true(strlen(c->advice) > 10);
		assert_int_equal(strspn(c->name, "abcdefghijklmnopqrstuvwxyz0123456789-"),
				 strlen(c->name));
		for (int k = 0; k < i; k++)
			assert_string_not_equal(c->name, q2_codes[k].name);
		checked++;
	}
	assert_int_equal(checked, Q2_CODE_COUNT_);
	assert_true(checked > 60);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_standard_image),
		cmocka_unit_test(test_decode_errors_are_problems),
		cmocka_unit_test(test_overlap_of_an_ignored_directory),
		cmocka_unit_test(test_duplicate_names_at_scale),
		cmocka_unit_test(test_every_code_has_a_row),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
