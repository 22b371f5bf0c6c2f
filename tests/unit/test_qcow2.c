/* The decoder on images built in memory: every field, v2 and v3, and the
 * staged validation of the header, extensions and bitmap directory. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "image_builder.h"
#include "qcow2.h"
#include <errno.h>

static size_t decode_buf(const uint8_t *buf, size_t len, bool tables,
			 struct q2_image *img)
{
	struct q2_reader r;
	struct q2_decode_opts opts = { .load_tables = tables };

	q2_reader_from_memory(&r, buf, len);
	return q2_decode(&r, &opts, img);
}

static void assert_one_error(const struct q2_image *img, enum q2_code code,
			     enum q2_where where, uint64_t offset)
{
	assert_int_equal(img->problems.n, 1);
	assert_int_equal(img->problems.v[0].code, code);
	assert_int_equal(img->problems.v[0].where, where);
	assert_int_equal(img->problems.v[0].offset, offset);
}

static void test_standard_every_field(void **state)
{
	size_t len;
	uint8_t *b = tb_standard(&len);
	struct q2_image img;
	const struct q2_header *h = &img.header;
	const struct q2_bitmaps_ext *bx;
	(void)state;

	assert_int_equal(decode_buf(b, len, true, &img), 0);
	assert_true(img.header_decoded);
	assert_int_equal(h->magic, 0x514649fb);
	assert_int_equal(h->version, 3);
	assert_int_equal(h->backing_file_offset, TB_BACKING_OFFSET);
	assert_int_equal(h->backing_file_size, 10);
	assert_int_equal(h->cluster_bits, 9);
	assert_int_equal(h->size, 0x123456789ull);
	assert_int_equal(h->crypt_method, 0);
	assert_int_equal(h->l1_size, 7);
	assert_int_equal(h->l1_table_offset, 0x30000);
	assert_int_equal(h->refcount_table_offset, 0x10000);
	assert_int_equal(h->refcount_table_clusters, 1);
	assert_int_equal(h->nb_snapshots, 2);
	assert_int_equal(h->snapshot_offset, 0x50000);
	assert_int_equal(h->incompatible_features, (1ull << 63) | 1);
	assert_int_equal(h->compatible_features, 1);
	assert_int_equal(h->autoclear_features, 1);
	assert_int_equal(h->refcount_order, 5);
	assert_int_equal(h->header_length, 112);
	assert_true(h->has_compression_type);
	assert_int_equal(h->compression_type, 1);
	assert_string_equal(img.backing_file, "base.qcow2");

	assert_int_equal(img.n_exts, 4);
	assert_int_equal(img.exts[0].kind, Q2_EXTK_BACKING_FORMAT);
	assert_int_equal(img.exts[0].offset, 112);
	assert_int_equal(img.exts[0].length, 5);
	assert_memory_equal(img.exts[0].data, "qcow2", 5);
	assert_int_equal(img.exts[1].kind, Q2_EXTK_FEATURE_TABLE);
	assert_int_equal(img.exts[1].n_features, 1);
	assert_int_equal(img.exts[1].features[0].type, 2);
	assert_int_equal(img.exts[1].features[0].bit, 0);
	assert_string_equal(img.exts[1].features[0].name, "bitmaps");
	assert_int_equal(img.exts[2].kind, Q2_EXTK_BITMAPS);
	assert_int_equal(img.exts[3].kind, Q2_EXTK_DATA_FILE);
	assert_memory_equal(img.exts[3].data, "data.raw", 8);

	bx = q2_image_bitmaps(&img);
	assert_non_null(bx);
	assert_ptr_equal(bx, img.exts[2].bitmaps);
	assert_int_equal(bx->nb_bitmaps, 2);
	assert_int_equal(bx->reserved32, 0);
	assert_int_equal(bx->bitmap_directory_size, TB_DIR_SIZE);
	assert_int_equal(bx->bitmap_directory_offset, TB_DIR_OFFSET);
	assert_int_equal(bx->n_bitmaps, 2);

	assert_string_equal(bx->bitmaps[0].name, "b1");
	assert_int_equal(bx->bitmaps[0].entry_offset, TB_DIR_OFFSET);
	assert_int_equal(bx->bitmaps[0].bitmap_table_offset, 1536);
	assert_int_equal(bx->bitmaps[0].bitmap_table_size, 2);
	assert_int_equal(bx->bitmaps[0].flags, 2);
	assert_int_equal(bx->bitmaps[0].type, 1);
	assert_int_equal(bx->bitmaps[0].granularity_bits, 16);
	assert_int_equal(bx->bitmaps[0].name_size, 2);
	assert_int_equal(bx->bitmaps[0].extra_data_size, 0);
	assert_null(bx->bitmaps[0].extra_data);
	assert_true(bx->bitmaps[0].table_loaded);
	assert_int_equal(bx->bitmaps[0].table[0], 2048);
	assert_int_equal(bx->bitmaps[0].table[1], 1);

	assert_string_equal(bx->bitmaps[1].name, "bitmap-two");
	assert_int_equal(bx->bitmaps[1].entry_offset, TB_DIR_OFFSET + 32);
	assert_int_equal(bx->bitmaps[1].flags, 7);
	assert_int_equal(bx->bitmaps[1].granularity_bits, 19);
	assert_int_equal(bx->bitmaps[1].extra_data_size, 4);
	assert_memory_equal(bx->bitmaps[1].extra_data, "\xa0\xa1\xa2\xa3", 4);
	assert_int_equal(bx->bitmaps[1].table[0], 2560 | 1);

	q2_image_free(&img);
	free(b);
}

static void test_tables_not_loaded_unless_asked(void **state)
{
	size_t len;
	uint8_t *b = tb_standard(&len);
	struct q2_image img;
	(void)state;

	assert_int_equal(decode_buf(b, len, false, &img), 0);
	assert_false(q2_image_bitmaps(&img)->bitmaps[0].table_loaded);
	assert_null(q2_image_bitmaps(&img)->bitmaps[0].table);
	q2_image_free(&img);
	free(b);
}

static void test_v2_defaults(void **state)
{
	uint8_t b[1024] = { 0 };
	struct q2_image img;
	(void)state;

	tb_header(b, 2, 9, 0);
	/* bytes 72.. belong to the extension area in version 2 */
	tb_ext(b, 72, 0x12345678, "hello", 5);
	assert_int_equal(decode_buf(b, sizeof b, false, &img), 0);
	assert_int_equal(img.header.version, 2);
	assert_int_equal(img.header.incompatible_features, 0);
	assert_int_equal(img.header.compatible_features, 0);
	assert_int_equal(img.header.autoclear_features, 0);
	assert_int_equal(img.header.refcount_order, 4);
	assert_int_equal(img.header.header_length, 72);
	assert_false(img.header.has_compression_type);
	assert_int_equal(img.header.l1_size, 7);
	assert_int_equal(img.n_exts, 1);
	assert_int_equal(img.exts[0].kind, Q2_EXTK_UNKNOWN);
	assert_int_equal(img.exts[0].offset, 72);
	assert_string_equal(q2_ext_name(img.exts[0].magic), "<unknown>");
	q2_image_free(&img);
}

/* Every prefix of the standard image decodes without reading past its
 * end: each copy is exactly as long as the prefix, so ASan sees any
 * overread.  The header itself gives a truncation error at offset 0. */
static void test_truncated_at_every_offset(void **state)
{
	size_t len;
	uint8_t *b = tb_standard(&len);
	(void)state;

	assert_true(TB_USED <= len);
	for (size_t cut = 0; cut < TB_USED; cut++) {
		uint8_t *p = malloc(cut ? cut : 1);
		struct q2_image img;

		memcpy(p, b, cut);
		/* a table cut short reads as zeroes past the cut, as in
		 * QEMU: the only prefixes that decode whole */
		if (cut >= TB_DIR_OFFSET + TB_DIR_SIZE) {
			const struct q2_bitmaps_ext *bx;

			assert_int_equal(decode_buf(p, cut, true, &img), 0);
			bx = q2_image_bitmaps(&img);
			assert_int_equal(bx->bitmaps[0].table_in_file,
					 cut >= 1552 ? 2 : cut < 1536 ? 0 : (cut - 1536) / 8);
			assert_int_equal(bx->bitmaps[1].table_in_file,
					 cut >= 1560 ? 1 : 0);
			assert_int_equal(q2_bitmap_table_entry(&bx->bitmaps[1], 0),
					 cut >= 1560 ? (2560 | 1) : 0);
			q2_image_free(&img);
			free(p);
			continue;
		}
		assert_true(decode_buf(p, cut, true, &img) >= 1);
		if (cut < 112) {
			assert_int_equal(img.problems.v[0].code, Q2_C_TRUNCATED);
			assert_int_equal(img.problems.v[0].where, Q2_W_HEADER);
			assert_int_equal(img.problems.v[0].offset, 0);
			/* the v3 fields are there from 104 bytes on */
			assert_int_equal(img.header_decoded, cut >= 104);
			assert_int_equal(img.n_exts, 0);
		} else {
			assert_true(img.header_decoded);
			assert_int_equal(img.problems.v[0].code, Q2_C_TRUNCATED);
		}
		q2_image_free(&img);
		free(p);
	}
	{
		struct q2_image img;

		assert_int_equal(decode_buf(b, TB_USED, true, &img), 0);
		q2_image_free(&img);
	}
	free(b);
}

static void test_bad_magic_and_version(void **state)
{
	uint8_t b[512] = { 0 };
	struct q2_image img;
	(void)state;

	tb_header(b, 3, 16, 104);
	b[0] ^= 0xff;
	decode_buf(b, sizeof b, false, &img);
	assert_one_error(&img, Q2_C_MAGIC, Q2_W_HEADER, 0);
	assert_false(img.header_decoded);
	q2_image_free(&img);

	/* a 3-byte file is merely short; 4 wrong bytes are not qcow2 */
	decode_buf(b, 4, false, &img);
	assert_one_error(&img, Q2_C_MAGIC, Q2_W_HEADER, 0);
	q2_image_free(&img);

	tb_header(b, 4, 16, 104);
	decode_buf(b, sizeof b, false, &img);
	assert_one_error(&img, Q2_C_VERSION, Q2_W_HEADER, 4);
	assert_false(img.header_decoded);
	q2_image_free(&img);
}

static void test_cluster_bits_and_header_length(void **state)
{
	uint8_t b[512] = { 0 };
	struct q2_image img;
	(void)state;

	tb_header(b, 3, 8, 104);
	decode_buf(b, sizeof b, false, &img);
	assert_one_error(&img, Q2_C_CLUSTER_BITS, Q2_W_HEADER, 20);
	assert_true(img.header_decoded); /* shown, then the error */
	assert_false(img.exts_decoded);
	q2_image_free(&img);

	tb_header(b, 3, 22, 104);
	decode_buf(b, sizeof b, false, &img);
	assert_one_error(&img, Q2_C_CLUSTER_BITS, Q2_W_HEADER, 20);
	q2_image_free(&img);

	tb_header(b, 3, 9, 96);
	decode_buf(b, sizeof b, false, &img);
	assert_one_error(&img, Q2_C_HEADER_LENGTH, Q2_W_HEADER, 100);
	q2_image_free(&img);

	tb_header(b, 3, 9, 520); /* past the 512-byte cluster */
	decode_buf(b, sizeof b, false, &img);
	assert_one_error(&img, Q2_C_HEADER_LENGTH, Q2_W_HEADER, 100);
	q2_image_free(&img);
}

static void test_backing_name(void **state)
{
	uint8_t b[512] = { 0 };
	struct q2_image img;
	(void)state;

	tb_header(b, 3, 9, 104);
	put_be64(b + 8, 400);
	put_be32(b + 16, 1024);
	decode_buf(b, sizeof b, false, &img);
	assert_one_error(&img, Q2_C_BACKING_NAME_SIZE, Q2_W_HEADER, 16);
	assert_null(img.backing_file);
	/* the extensions are still walked */
	assert_true(img.exts_decoded);
	q2_image_free(&img);

	put_be32(b + 16, 200); /* 400 + 200 > 512 */
	decode_buf(b, sizeof b, false, &img);
	assert_one_error(&img, Q2_C_TRUNCATED, Q2_W_BACKING_NAME, 400);
	q2_image_free(&img);
}

static void test_extension_overrun(void **state)
{
	uint8_t b[512] = { 0 };
	struct q2_image img;
	size_t pos;
	(void)state;

	tb_header(b, 3, 9, 104);
	pos = tb_ext(b, 104, 0xe2792aca, "raw", 3);
	put_be32(b + pos, 0x12345678);
	put_be32(b + pos + 4, 512); /* longer than what is left of cluster 0 */
	decode_buf(b, sizeof b, false, &img);
	assert_one_error(&img, Q2_C_EXT_OVERRUN, Q2_W_EXT, pos);
	assert_int_equal(img.problems.v[0].index, 1);
	assert_int_equal(img.n_exts, 1); /* the sound one is kept */
	q2_image_free(&img);

	/* the area ends at the backing file name: 4 bytes cannot hold the
	 * next extension's magic and length */
	put_be64(b + 8, pos + 4);
	put_be32(b + 16, 1);
	decode_buf(b, sizeof b, false, &img);
	assert_one_error(&img, Q2_C_EXT_OVERRUN, Q2_W_EXT, pos);
	q2_image_free(&img);
}

static void test_bitmaps_ext_short(void **state)
{
	uint8_t b[512] = { 0 };
	struct q2_image img;
	(void)state;

	tb_header(b, 3, 9, 104);
	tb_ext(b, 104, 0x23852875, "\0\0\0\1", 4);
	decode_buf(b, sizeof b, false, &img);
	assert_one_error(&img, Q2_C_BITMAPS_EXT_LENGTH, Q2_W_BITMAPS_EXT, 108);
	assert_null(img.exts[0].bitmaps);
	assert_null(q2_image_bitmaps(&img));
	q2_image_free(&img);
}

/* The image claims sizes far beyond QEMU's limits: nothing of that size
 * is allocated (ASan would fail an allocation of 2^63 bytes). */
static void test_hostile_sizes(void **state)
{
	size_t len;
	uint8_t *b = tb_standard(&len);
	size_t ext = 112 + 16 + 56; /* the bitmaps extension */
	struct q2_image img;
	(void)state;

	put_be32(b + ext + 8, 0xffffffff);
	decode_buf(b, len, false, &img);
	assert_one_error(&img, Q2_C_TOO_MANY_BITMAPS, Q2_W_BITMAPS_EXT, ext + 8);
	q2_image_free(&img);

	put_be32(b + ext + 8, 2);
	put_be64(b + ext + 16, 1ull << 63);
	decode_buf(b, len, false, &img);
	assert_one_error(&img, Q2_C_DIR_TOO_LARGE, Q2_W_BITMAPS_EXT, ext + 16);
	q2_image_free(&img);

	/* within QEMU's limit but beyond the 4 KiB file */
	put_be64(b + ext + 16, 1 << 20);
	decode_buf(b, len, false, &img);
	assert_one_error(&img, Q2_C_TRUNCATED, Q2_W_DIR, TB_DIR_OFFSET);
	q2_image_free(&img);

	put_be64(b + ext + 16, TB_DIR_SIZE);
	put_be32(b + TB_DIR_OFFSET + 8, 0x8000001); /* b1's table size */
	decode_buf(b, len, true, &img);
	assert_one_error(&img, Q2_C_TABLE_TOO_LARGE, Q2_W_DIR_ENTRY,
			 TB_DIR_OFFSET + 8);
	/* the other bitmap's table is still loaded */
	assert_true(q2_image_bitmaps(&img)->bitmaps[1].table_loaded);
	q2_image_free(&img);

	/* fits the limits, not the file: the part in it is loaded, QEMU
	 * reads zeroes for the rest */
	put_be32(b + TB_DIR_OFFSET + 8, 3000);
	decode_buf(b, len, true, &img);
	assert_int_equal(img.problems.n, 0);
	assert_int_equal(q2_image_bitmaps(&img)->bitmaps[0].table_in_file,
			 (TB_SIZE - 1536) / 8);
	assert_int_equal(q2_bitmap_table_entry(&q2_image_bitmaps(&img)->bitmaps[0],
					       2999), 0);
	q2_image_free(&img);

	/* a table entirely past the file holds nothing in memory */
	put_be64(b + TB_DIR_OFFSET, 1ull << 40);
	decode_buf(b, len, true, &img);
	assert_int_equal(img.problems.n, 0);
	assert_true(q2_image_bitmaps(&img)->bitmaps[0].table_loaded);
	assert_int_equal(q2_image_bitmaps(&img)->bitmaps[0].table_in_file, 0);
	assert_null(q2_image_bitmaps(&img)->bitmaps[0].table);
	q2_image_free(&img);
	free(b);
}

static void test_directory_counts(void **state)
{
	size_t len;
	uint8_t *b = tb_standard(&len);
	size_t ext = 112 + 16 + 56;
	struct q2_image img;
	(void)state;

	/* nb_bitmaps 3, but the directory holds 2 entries */
	put_be32(b + ext + 8, 3);
	decode_buf(b, len, false, &img);
	assert_one_error(&img, Q2_C_DIR_TOO_FEW, Q2_W_DIR,
			 TB_DIR_OFFSET + TB_DIR_SIZE);
	assert_int_equal(q2_image_bitmaps(&img)->n_bitmaps, 2);
	q2_image_free(&img);

	/* nb_bitmaps 1: the second entry is left over */
	put_be32(b + ext + 8, 1);
	decode_buf(b, len, false, &img);
	assert_one_error(&img, Q2_C_DIR_TRAILING, Q2_W_DIR, TB_DIR_OFFSET + 32);
	assert_int_equal(q2_image_bitmaps(&img)->n_bitmaps, 1);
	q2_image_free(&img);

	/* the second entry's name runs past the directory's end */
	put_be32(b + ext + 8, 2);
	put_be16(b + TB_DIR_OFFSET + 32 + 18, 1000);
	decode_buf(b, len, false, &img);
	assert_one_error(&img, Q2_C_DIR_ENTRY_OVERRUN, Q2_W_DIR_ENTRY,
			 TB_DIR_OFFSET + 32);
	assert_int_equal(img.problems.v[0].index, 1);
	assert_int_equal(q2_image_bitmaps(&img)->n_bitmaps, 1);
	q2_image_free(&img);

	/* a directory too small for one fixed part */
	put_be64(b + ext + 16, 20);
	decode_buf(b, len, false, &img);
	assert_one_error(&img, Q2_C_DIR_ENTRY_OVERRUN, Q2_W_DIR_ENTRY,
			 TB_DIR_OFFSET);
	assert_int_equal(q2_image_bitmaps(&img)->n_bitmaps, 0);
	q2_image_free(&img);
	free(b);
}

/* QEMU keeps the values of the last bitmaps extension it reads: that
 * directory is the one it loads, so it is the one decoded. */
static void test_last_bitmaps_ext_has_directory(void **state)
{
	uint8_t b[2048] = { 0 };
	struct q2_image img;
	size_t pos;
	(void)state;

	tb_header(b, 3, 9, 104);
	pos = tb_bitmaps_ext(b, 104, 0xffffffff, 1ull << 62, 0); /* not followed */
	tb_bitmaps_ext(b, pos, 1, 32, 1024);
	tb_dir_entry(b, 1024, 1536, 0, 0, 16, "x", 1, 0);
	assert_int_equal(decode_buf(b, sizeof b, false, &img), 0);
	assert_int_equal(img.n_exts, 2);
	assert_false(img.exts[0].bitmaps->dir_decoded);
	assert_true(img.exts[1].bitmaps->dir_decoded);
	assert_ptr_equal(q2_image_bitmaps(&img), img.exts[1].bitmaps);
	assert_int_equal(img.exts[0].bitmaps->nb_bitmaps, 0xffffffff);
	q2_image_free(&img);
}

/* An end marker whose length runs past the area stops QEMU too: it
 * tests the length before the magic. */
static void test_end_marker_length(void **state)
{
	uint8_t b[1024] = { 0 };
	struct q2_image img;
	(void)state;

	tb_header(b, 3, 9, 104);
	put_be32(b + 104 + 4, 4096);
	decode_buf(b, sizeof b, false, &img);
	assert_one_error(&img, Q2_C_EXT_OVERRUN, Q2_W_EXT, 104);
	q2_image_free(&img);
	put_be32(b + 104 + 4, 8);
	assert_int_equal(decode_buf(b, sizeof b, false, &img), 0);
	assert_int_equal(img.n_exts, 0);
	q2_image_free(&img);
}

/* A name with a NUL is known to QEMU by its bytes before it. */
static void test_qemu_name(void **state)
{
	struct q2_bitmap bm = { .name = "a\0b", .name_size = 3 };
	(void)state;

	assert_int_equal(q2_bitmap_qemu_name_len(&bm), 1);
	bm.name = "abc";
	assert_int_equal(q2_bitmap_qemu_name_len(&bm), 3);
}

static void test_bte_classify(void **state)
{
	(void)state;
	assert_int_equal(q2_bte_classify(0), Q2_BTE_ALL_ZEROES);
	assert_int_equal(q2_bte_classify(1), Q2_BTE_ALL_ONES_T);
	assert_int_equal(q2_bte_classify(0x10000), Q2_BTE_SERIALIZED);
	assert_int_equal(q2_bte_classify(0x10001), Q2_BTE_INVALID);
	/* reserved bits alone carry no offset */
	assert_int_equal(q2_bte_classify(0xff00000000000000ull),
			 Q2_BTE_ALL_ZEROES);
	assert_string_equal(q2_bte_type_name(Q2_BTE_ALL_ONES_T), "all-ones");
}

static void test_error_format(void **state)
{
	struct q2_problems p = { 0 };
	(void)state;

	q2_problems_add_decode(&p, Q2_C_DIR_ENTRY_OVERRUN, Q2_W_DIR_ENTRY, 3,
			       0x510040, 0, Q2_NO_INDEX);
	q2_problems_add_decode(&p, Q2_C_TRUNCATED, Q2_W_HEADER, Q2_NO_INDEX, 0,
			       0, Q2_NO_INDEX);
	q2_problems_add_decode(&p, Q2_C_IO, Q2_W_DATA, 1, 0x20000, EIO, 1);
	assert_int_equal(p.n, 3);
	assert_string_equal(q2_problem_message(&p.v[0]),
			    "bitmap directory entry runs past the end of the "
			    "directory (where: bitmap directory entry 3, "
			    "offset 0x510040)");
	assert_int_equal(p.v[0].index, 3);
	assert_string_equal(q2_problem_message(&p.v[1]),
			    "truncated: the file ends inside this structure "
			    "(where: header, offset 0x0)");
	assert_string_equal(q2_problem_message(&p.v[2]),
			    "read error: Input/output error (where: bitmap data "
			    "cluster of entry 1, offset 0x20000)");
	assert_int_equal(p.v[2].bitmap, 1);
	q2_problems_free(&p);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_standard_every_field),
		cmocka_unit_test(test_tables_not_loaded_unless_asked),
		cmocka_unit_test(test_v2_defaults),
		cmocka_unit_test(test_truncated_at_every_offset),
		cmocka_unit_test(test_bad_magic_and_version),
		cmocka_unit_test(test_cluster_bits_and_header_length),
		cmocka_unit_test(test_backing_name),
		cmocka_unit_test(test_extension_overrun),
		cmocka_unit_test(test_bitmaps_ext_short),
		cmocka_unit_test(test_hostile_sizes),
		cmocka_unit_test(test_directory_counts),
		cmocka_unit_test(test_last_bitmaps_ext_has_directory),
		cmocka_unit_test(test_end_marker_length),
		cmocka_unit_test(test_qemu_name),
		cmocka_unit_test(test_bte_classify),
		cmocka_unit_test(test_error_format),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
