/* The snapshot table on images built in memory: every field of the fixed
 * part and of the extra data, version 2 and 3, QEMU's limits at their
 * exact bounds, a cut at every byte, the --check rules, and the -s view
 * in each format. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <cmocka.h>
#include <jansson.h>

#include "check.h"
#include "image_builder.h"
#include "judge_helper.h"
#include "render.h"
#include "snapshot.h"

/* 512-byte clusters: header, active L1 at 512, refcount table at 1024,
 * snapshot table at 2048, the snapshots' L1 tables at 3072 and 3584. */
#define CS 512u
#define TABLE 2048u
#define IMG_SIZE 4096u

struct snap {
	uint64_t l1_off;
	uint32_t l1_size;
	const char *id, *name;
	size_t id_len, name_len;     /* 0: strlen */
	uint32_t extra_size;
	const uint8_t *extra;        /* NULL: bytes 0xa0, 0xa1, ... */
};

static void put_extra(uint8_t *p, uint64_t large, uint64_t disk, uint64_t icount)
{
	put_be64(p, large);
	put_be64(p + 8, disk);
	put_be64(p + 16, icount);
}

/* Writes entry s at pos; returns the position after its name. */
static size_t put_snapshot(uint8_t *b, size_t pos, const struct snap *s)
{
	size_t id_len = s->id_len ? s->id_len : strlen(s->id);
	size_t name_len = s->name_len ? s->name_len : strlen(s->name);
	uint8_t *e = b + pos;

	put_be64(e, s->l1_off);
	put_be32(e + 8, s->l1_size);
	put_be16(e + 12, (uint16_t)id_len);
	put_be16(e + 14, (uint16_t)name_len);
	put_be32(e + 16, 0x6553f100);               /* date_sec */
	put_be32(e + 20, 999999999);                /* date_nsec */
	put_be64(e + 24, 0x0102030405060708ull);    /* vm_clock_nsec */
	put_be32(e + 32, 0x1000);                   /* vm_state_size */
	put_be32(e + 36, s->extra_size);
	for (uint32_t i = 0; i < s->extra_size; i++)
		e[40 + i] = s->extra ? s->extra[i] : (uint8_t)(0xa0 + i);
	memcpy(e + 40 + s->extra_size, s->id, id_len);
	memcpy(e + 40 + s->extra_size + id_len, s->name, name_len);
	return pos + 40 + s->extra_size + id_len + name_len;
}

/* A clean image of the given version with the n entries at TABLE;
 * returns the end of the last name. */
static size_t build(uint8_t *b, uint32_t version, const struct snap *s,
		    size_t n)
{
	size_t pos = TABLE;

	memset(b, 0, IMG_SIZE);
	tb_header(b, version, 9, version == 2 ? 72 : 104);
	put_be64(b + 24, 1 << 20);       /* size: 1 MiB */
	put_be32(b + 36, 32);            /* L1: 32 entries of 32 KiB each */
	put_be64(b + 40, 512);
	put_be64(b + 48, 1024);
	put_be32(b + 60, (uint32_t)n);
	put_be64(b + 64, TABLE);
	if (version >= 3) {
		put_be64(b + 72, 0);
		put_be64(b + 80, 0);
		put_be64(b + 88, 0);
		put_be32(b + 96, 4);
	}
	for (size_t i = 0; i < n; i++) {
		pos = (pos + 7) & ~(size_t)7;
		pos = put_snapshot(b, pos, &s[i]);
	}
	return pos;
}

static size_t decode(const uint8_t *b, size_t len, struct q2_image *img)
{
	struct q2_reader r;
	struct q2_decode_opts opts = { .load_snapshots = true };

	q2_reader_from_memory(&r, b, len);
	return q2_decode(&r, &opts, img);
}

static uint8_t extra24[24];

static const struct snap two[] = {
	{ 3072, 1, "1", "first", 0, 0, 24, extra24 },
	{ 3584, 1, "2", "caf\xc3\xa9 \xe2\x98\x83", 0, 0, 24, extra24 },
};

static void test_every_field(void **state)
{
	uint8_t *b = calloc(1, IMG_SIZE);
	struct q2_image img;
	const struct q2_snapshot *sn;
	size_t end;
	(void)state;

	put_extra(extra24, 0x123456789ull, 1 << 20, UINT64_MAX);
	end = build(b, 3, two, 2);
	/* the last entry is not padded: the file may end with its name */
	assert_int_equal(decode(b, end, &img), 0);
	assert_non_null(img.snapshots);
	assert_int_equal(img.snapshots->n, 2);
	assert_int_equal(img.snapshots->size, end - TABLE);
	sn = &img.snapshots->v[0];
	assert_int_equal(sn->entry_offset, TABLE);
	assert_int_equal(sn->l1_table_offset, 3072);
	assert_int_equal(sn->l1_size, 1);
	assert_int_equal(sn->id_str_size, 1);
	assert_int_equal(sn->name_size, 5);
	assert_int_equal(sn->date_sec, 0x6553f100);
	assert_int_equal(sn->date_nsec, 999999999);
	assert_int_equal(sn->vm_clock_nsec, 0x0102030405060708ull);
	assert_int_equal(sn->vm_state_size, 0x1000);
	assert_int_equal(sn->extra_data_size, 24);
	assert_true(q2_snapshot_has_extra(sn, Q2_SXF_ICOUNT));
	assert_int_equal(sn->vm_state_size_large, 0x123456789ull);
	assert_int_equal(sn->disk_size, 1 << 20);
	assert_int_equal(sn->icount, Q2_SNAPSHOT_NO_ICOUNT);
	assert_memory_equal(sn->id_str, "1", 2);
	assert_memory_equal(sn->name, "first", 6);
	sn = &img.snapshots->v[1];
	/* 40 + 24 + 1 + 5 = 70, padded to 72 */
	assert_int_equal(sn->entry_offset, TABLE + 72);
	assert_int_equal(sn->name_size, 9);
	assert_memory_equal(sn->name, "caf\xc3\xa9 \xe2\x98\x83", 9);
	q2_image_free(&img);

	/* offsets of the fields, from the table */
	sn = &(struct q2_snapshot){ .entry_offset = 1000 };
	assert_int_equal(q2_snapshot_at(sn, Q2_SF_L1_SIZE), 1008);
	assert_int_equal(q2_snapshot_at(sn, Q2_SF_EXTRA_DATA_SIZE), 1036);
	free(b);
}

static void test_not_decoded_unless_asked(void **state)
{
	uint8_t *b = calloc(1, IMG_SIZE);
	struct q2_reader r;
	struct q2_decode_opts opts = { .load_tables = true };
	struct q2_image img;
	(void)state;

	build(b, 3, two, 2);
	q2_reader_from_memory(&r, b, IMG_SIZE);
	q2_decode(&r, &opts, &img);
	assert_null(img.snapshots);
	q2_image_free(&img);
	/* no snapshots: an empty table */
	build(b, 3, two, 0);
	assert_int_equal(decode(b, IMG_SIZE, &img), 0);
	assert_non_null(img.snapshots);
	assert_int_equal(img.snapshots->n, 0);
	q2_image_free(&img);
	free(b);
}

static void test_version2_without_extra_data(void **state)
{
	uint8_t *b = calloc(1, IMG_SIZE);
	static const struct snap v2[] = {
		{ 3072, 1, "1", "a", 0, 0, 0, NULL },
		{ 3584, 1, "2", "b", 0, 0, 0, NULL },
	};
	struct q2_image img;
	struct q2_problems *p;
	const struct q2_snapshot *sn;
	(void)state;

	build(b, 2, v2, 2);
	assert_int_equal(decode(b, IMG_SIZE, &img), 0);
	sn = &img.snapshots->v[1];
	/* 40 + 2 = 42, padded to 48 */
	assert_int_equal(sn->entry_offset, TABLE + 48);
	assert_null(sn->extra_data);
	assert_false(q2_snapshot_has_extra(sn, Q2_SXF_VM_STATE_SIZE_LARGE));
	/* version 2 needs no extra data */
	check_image(&img);
	p = &img.problems;
	assert_int_equal(p->n, 0);
	q2_image_free(&img);
	free(b);
}

static void test_extra_partial_and_unknown(void **state)
{
	uint8_t *b = calloc(1, IMG_SIZE);
	static const struct snap s[] = {
		{ 3072, 1, "1", "twelve", 0, 0, 12, NULL },
		{ 3584, 1, "2", "thirty-two", 0, 0, 32, NULL },
	};
	struct q2_image img;
	const struct q2_snapshot *sn;
	const uint8_t *unknown;
	size_t n;
	(void)state;

	build(b, 3, s, 2);
	assert_int_equal(decode(b, IMG_SIZE, &img), 0);
	sn = &img.snapshots->v[0];
	assert_true(q2_snapshot_has_extra(sn, Q2_SXF_VM_STATE_SIZE_LARGE));
	assert_false(q2_snapshot_has_extra(sn, Q2_SXF_DISK_SIZE));
	assert_int_equal(sn->vm_state_size_large, 0xa0a1a2a3a4a5a6a7ull);
	unknown = q2_snapshot_unknown_extra(sn, &n);
	assert_int_equal(n, 4);
	assert_memory_equal(unknown, "\xa8\xa9\xaa\xab", 4);
	sn = &img.snapshots->v[1];
	assert_true(q2_snapshot_has_extra(sn, Q2_SXF_ICOUNT));
	assert_int_equal(sn->icount, 0xb0b1b2b3b4b5b6b7ull);
	unknown = q2_snapshot_unknown_extra(sn, &n);
	assert_int_equal(n, 8);
	assert_int_equal(unknown[0], 0xb8);
	q2_image_free(&img);
	free(b);
}

/* A cut anywhere in the table keeps the entries before it and reports
 * the one it cuts, at its offset. */
static void test_cut_at_every_byte(void **state)
{
	uint8_t *b = calloc(1, IMG_SIZE);
	size_t end;
	(void)state;

	put_extra(extra24, 0, 1 << 20, 0);
	end = build(b, 3, two, 2);
	for (size_t len = 0; len <= end; len++) {
		uint8_t *cut = malloc(len ? len : 1);
		struct q2_image img;
		size_t whole = len < TABLE + 70 ? 0 : len < end ? 1 : 2;

		memcpy(cut, b, len);
		decode(cut, len, &img);
		if (len < TABLE) {
			/* the header itself, or an empty decode of it */
			free(cut);
			q2_image_free(&img);
			continue;
		}
		assert_non_null(img.snapshots);
		assert_int_equal(img.snapshots->n, whole);
		if (whole < 2) {
			assert_int_equal(img.problems.n, 1);
			assert_int_equal(img.problems.v[0].code, Q2_C_TRUNCATED);
			assert_int_equal(img.problems.v[0].where, Q2_W_SNAPSHOT);
			assert_int_equal(img.problems.v[0].index, whole);
			assert_int_equal(img.problems.v[0].offset,
					 whole ? TABLE + 72 : TABLE);
		} else {
			assert_int_equal(img.problems.n, 0);
		}
		q2_image_free(&img);
		free(cut);
	}
	free(b);
}

/* Each byte of the header's snapshot fields and of the table flipped:
 * the decoder, the checks and every format stay in bounds (the sanitizer
 * build watches) and the JSON stays valid. */
static void test_flip_every_byte(void **state)
{
	static const enum q2_view_id views[] = { Q2_VIEW_SNAPSHOTS, Q2_VIEW_CHECK };
	static const struct q2_format *const formats[] = {
		&q2_format_text, &q2_format_json, &q2_format_csv,
	};
	uint8_t *b = calloc(1, IMG_SIZE);
	size_t end;
	(void)state;

	put_extra(extra24, 0, 1 << 20, 0);
	end = build(b, 3, two, 2);
	for (size_t at = 60; at < end; at++) {
		if (at == 72)
			at = TABLE;
		b[at] ^= 0xff;
		for (size_t v = 0; v < 2; v++)
			for (size_t f = 0; f < 3; f++) {
				struct q2_run_opts opts = { .view = views[v], .n_images = 1 };
				char *got = render_image(formats[f], b, IMG_SIZE, &opts,
							 "img.qcow2");

				if (formats[f] == &q2_format_json) {
					json_error_t err;
					/* u64 beyond jansson's signed integers; NULs in names */
					json_t *doc = json_loads(got, JSON_DECODE_INT_AS_REAL | JSON_ALLOW_NUL,
								 &err);

					if (!doc)
						print_message("at %zu: %s: %s\n", at, err.text, got);
					assert_non_null(doc);
					json_decref(doc);
				}
				free(got);
			}
		b[at] ^= 0xff;
	}
	free(b);
}

static void test_limits(void **state)
{
	uint8_t *b = calloc(1, IMG_SIZE);
	struct snap s = { 3072, 1, "1", "x", 0, 0, 1024, NULL };
	struct q2_image img;
	(void)state;

	/* 65537 snapshots: refused before anything is read or allocated */
	build(b, 3, two, 2);
	put_be32(b + 60, Q2_MAX_SNAPSHOTS + 1);
	assert_int_equal(decode(b, IMG_SIZE, &img), 1);
	assert_null(img.snapshots);
	assert_int_equal(img.problems.v[0].code, Q2_C_TOO_MANY_SNAPSHOTS);
	assert_int_equal(img.problems.v[0].offset, 60);
	q2_image_free(&img);
	/* 65536 in a 4 KiB file: the two there, 47 entries of 40 zero
	 * bytes after them, then the end of the file */
	put_be32(b + 60, Q2_MAX_SNAPSHOTS);
	assert_int_equal(decode(b, IMG_SIZE, &img), 1);
	assert_int_equal(img.snapshots->n, 49);
	assert_int_equal(img.problems.v[0].code, Q2_C_TRUNCATED);
	q2_image_free(&img);
	/* 4 billion claimed, far past the file: refused at once */
	put_be32(b + 60, UINT32_MAX);
	put_be64(b + 64, UINT64_MAX - 7);
	assert_int_equal(decode(b, IMG_SIZE, &img), 1);
	assert_int_equal(img.problems.v[0].code, Q2_C_TOO_MANY_SNAPSHOTS);
	q2_image_free(&img);
	/* one at 2^64 - 8: past INT64_MAX, QEMU refuses it before a read */
	put_be32(b + 60, 1);
	assert_int_equal(decode(b, IMG_SIZE, &img), 1);
	assert_int_equal(img.problems.v[0].code, Q2_C_SNAPSHOT_TABLE_OFFSET_INVALID);
	assert_null(img.snapshots);
	q2_image_free(&img);
	/* one at 1 TiB: past the file, which QEMU reads as zeroes */
	put_be64(b + 64, 1ull << 40);
	assert_int_equal(decode(b, IMG_SIZE, &img), 1);
	assert_int_equal(img.problems.v[0].code, Q2_C_TRUNCATED);
	assert_int_equal(img.problems.v[0].scope, Q2_SCOPE_CHECK);
	assert_int_equal(img.snapshots->n, 0);
	q2_image_free(&img);

	/* extra data: 1024 bytes are fine, 1025 are not */
	build(b, 3, &s, 1);
	assert_int_equal(decode(b, IMG_SIZE, &img), 0);
	q2_image_free(&img);
	put_be32(b + TABLE + 36, 1025);
	assert_int_equal(decode(b, IMG_SIZE, &img), 1);
	assert_int_equal(img.problems.v[0].code, Q2_C_SNAPSHOT_EXTRA_DATA_TOO_LARGE);
	assert_int_equal(img.problems.v[0].offset, TABLE + 36);
	assert_int_equal(img.snapshots->n, 0);
	q2_image_free(&img);
	put_be32(b + TABLE + 36, UINT32_MAX);
	assert_int_equal(decode(b, IMG_SIZE, &img), 1);
	assert_int_equal(img.problems.v[0].code, Q2_C_SNAPSHOT_EXTRA_DATA_TOO_LARGE);
	q2_image_free(&img);
	free(b);
}

/* A table of exactly 64 MiB (up to the end of the last name) is QEMU's
 * largest; a byte more is refused before that entry is read. */
static void test_table_size_limit(void **state)
{
	/* 1023 entries of 40 + 1 + 65535 = 65576 bytes (a multiple of 8),
	 * then one of 40 + 1 + 24575 */
	const size_t big = 65576, last = 24575;
	const size_t size = TABLE + Q2_MAX_SNAPSHOT_TABLE + 512;
	uint8_t *b = calloc(1, size);
	struct q2_image img;
	size_t pos = TABLE;
	(void)state;

	build(b, 2, NULL, 0);
	put_be32(b + 60, 1024);
	for (int i = 0; i < 1024; i++) {
		put_be64(b + pos, 3072);
		put_be16(b + pos + 12, 1);
		put_be16(b + pos + 14, (uint16_t)(i < 1023 ? 65535 : last));
		b[pos + 40] = '1';
		pos += i < 1023 ? big : 40 + 1 + last;
	}
	assert_int_equal(pos - TABLE, Q2_MAX_SNAPSHOT_TABLE);
	assert_int_equal(decode(b, size, &img), 0);
	assert_int_equal(img.snapshots->n, 1024);
	assert_int_equal(img.snapshots->size, Q2_MAX_SNAPSHOT_TABLE);
	q2_image_free(&img);
	put_be16(b + TABLE + 1023 * big + 14, (uint16_t)(last + 1));
	assert_int_equal(decode(b, size, &img), 1);
	assert_int_equal(img.problems.v[0].code, Q2_C_SNAPSHOT_TABLE_TOO_LARGE);
	assert_int_equal(img.problems.v[0].offset, TABLE + 1023 * big);
	assert_int_equal(img.snapshots->n, 1023);
	q2_image_free(&img);
	free(b);
}

/* "code@offset ..." of every problem, in order */
static char *summary(const struct q2_problems *p)
{
	char *out = NULL;
	size_t size = 0;
	FILE *f = open_memstream(&out, &size);

	for (size_t i = 0; i < p->n; i++)
		fprintf(f, "%s%s@%llu", i ? " " : "", q2_codes[p->v[i].code].name,
			(unsigned long long)p->v[i].offset);
	fclose(f);
	return out;
}

static void test_check_rules(void **state)
{
	uint8_t *b = calloc(1, IMG_SIZE);
	static uint8_t extra16[16];
	static const struct snap s[] = {
		/* 0: 8 bytes of extra data, L1 unaligned */
		{ 3073, 1, "1", "a", 0, 0, 8, NULL },
		/* 1: L1 too large; 16 bytes of extra data are enough */
		{ 3072, Q2_MAX_L1_ENTRIES + 1, "2", "b", 0, 0, 16, extra16 },
		/* 2: L1 a cluster past the end of the file */
		{ IMG_SIZE, 65, "3", "c", 0, 0, 24, extra24 },
		/* 3: no id; 4: the id of 1; 5: the name of 0 */
		{ 3584, 1, "", "d", 0, 0, 24, extra24 },
		{ 3584, 0, "2", "e", 0, 0, 24, extra24 },
		{ 0, 0, "6", "a", 0, 0, 24, extra24 },
	};
	struct q2_image img;
	char *got;
	(void)state;

	build(b, 3, s, 6);
	assert_int_equal(decode(b, IMG_SIZE, &img), 0);
	check_image(&img);
	got = summary(&img.problems);
	/* entries at 2048, 2104, 2168, 2240, 2312, 2384; the L1 table of 1
	 * (32 MiB from 3072) covers those of 0, 3 and 2 */
	assert_string_equal(got,
		"snapshot-extra-data-too-short@2084 snapshot-l1-unaligned@2048 "
		"snapshot-l1-too-large@2112 "
		"snapshot-l1-beyond-eof@2168 "
		"snapshot-id-empty@2252 "
		"snapshot-duplicate-id@2312 snapshot-duplicate-name@2384 "
		"overlap@3073 overlap@3584 overlap@4096");
	free(got);
	q2_image_free(&img);

	/* an L1 table ending 504 bytes past a 4 KiB file: within a cluster
	 * of its end, which qemu-img check lets pass; 512 past is not */
	{
		const struct snap edge[] = { { 3584, 127, "1", "a", 0, 0, 24, extra24 } };

		build(b, 3, edge, 1);
		decode(b, IMG_SIZE, &img);
		check_image(&img);
		assert_int_equal(img.problems.n, 0);
		q2_image_free(&img);
		put_be32(b + TABLE + 8, 128);
		decode(b, IMG_SIZE, &img);
		check_image(&img);
		got = summary(&img.problems);
		assert_string_equal(got, "snapshot-l1-beyond-eof@2048");
		free(got);
		q2_image_free(&img);
	}
	free(b);
}

/* The offset is held to the cluster size even with no snapshot, and
 * the table is held off the other metadata. */
static void test_check_table_placement(void **state)
{
	uint8_t *b = calloc(1, IMG_SIZE);
	struct q2_image img;
	char *got;
	(void)state;

	put_extra(extra24, 0, 1 << 20, 0);
	build(b, 3, two, 0);
	put_be64(b + 64, TABLE + 8);
	decode(b, IMG_SIZE, &img);
	check_image(&img);
	got = summary(&img.problems);
	assert_string_equal(got, "snapshot-table-unaligned@64");
	free(got);
	q2_image_free(&img);
	/* the table over the active L1 table (512) */
	build(b, 3, two, 2);
	memcpy(b + 512, b + TABLE, 160);
	put_be64(b + 64, 512);
	decode(b, IMG_SIZE, &img);
	check_image(&img);
	got = summary(&img.problems);
	assert_string_equal(got, "overlap@512");
	free(got);
	q2_image_free(&img);
	free(b);
}

static char *render(const struct q2_format *f, const uint8_t *b, size_t len)
{
	struct q2_run_opts opts = { .view = Q2_VIEW_SNAPSHOTS, .n_images = 1 };

	return render_image(f, b, len, &opts, "img.qcow2");
}

static void test_render(void **state)
{
	uint8_t *b = calloc(1, IMG_SIZE);
	static const uint8_t extra28[28] = { [7] = 5, [15] = 6, [23] = 7, 0xde, 0xad, 0xbe, 0xef };
	const struct snap s[] = {
		{ 3072, 1, "1", "first", 0, 0, 28, extra28 },
		{ 3584, 1, "2\xff", "a,\"b\"\n\x1b", 0, 0, 0, NULL },
	};
	char *got;
	(void)state;

	build(b, 3, s, 2);
	got = render(&q2_format_text, b, IMG_SIZE);
	assert_string_equal(got,
		"Snapshot id               1\n"
		"name                      first\n"
		"l1_table_offset           0xc00\n"
		"l1_size                   1\n"
		"id_str_size               1\n"
		"name_size                 5\n"
		"date_sec                  1700000000\n"
		"date_nsec                 999999999\n"
		"vm_clock_nsec             72623859790382856\n"
		"vm_state_size             4096\n"
		"extra_data_size           28\n"
		"vm_state_size_large       5\n"
		"disk_size                 6\n"
		"icount                    7\n"
		"extra_data                deadbeef\n"
		"\n"
		"Snapshot id               2\\xff\n"
		"name                      a,\"b\"\\x0a\\x1b\n"
		"l1_table_offset           0xe00\n"
		"l1_size                   1\n"
		"id_str_size               2\n"
		"name_size                 7\n"
		"date_sec                  1700000000\n"
		"date_nsec                 999999999\n"
		"vm_clock_nsec             72623859790382856\n"
		"vm_state_size             4096\n"
		"extra_data_size           0\n"
		"\n");
	free(got);
	got = render(&q2_format_csv, b, IMG_SIZE);
	assert_string_equal(got,
		"image,id_str,name,l1_table_offset,l1_size,id_str_size,name_size,"
		"date_sec,date_nsec,vm_clock_nsec,vm_state_size,extra_data_size,"
		"vm_state_size_large,disk_size,icount,extra_data_hex,offset\n"
		"img.qcow2,1,first,3072,1,1,5,1700000000,999999999,"
		"72623859790382856,4096,28,5,6,7,deadbeef,2048\n"
		"img.qcow2,2\xff,\"a,\"\"b\"\"\n\x1b\",3584,1,2,7,1700000000,999999999,"
		"72623859790382856,4096,0,,,,,2128\n");
	free(got);
	got = render(&q2_format_json, b, IMG_SIZE);
	assert_non_null(strstr(got, "\"id_str\": \"2\xef\xbf\xbd\",\n"
				    "      \"id_str_hex\": \"32ff\",\n"
				    "      \"name\": \"a,\\\"b\\\"\\n\\u001B\",\n"
				    "      \"l1_table_offset\": 3584,"));
	assert_non_null(strstr(got, "\"icount\": 7,\n"
				    "      \"extra_data_hex\": \"deadbeef\",\n"
				    "      \"offset\": 2048\n"));
	/* no extra data: none of its keys */
	assert_null(strstr(strstr(got, "\"offset\": 2048"), "vm_state_size_large"));
	free(got);
	free(b);
}

/* QEMU reads zeroes past the end of the file: a table cut short is
 * qemu-img check's error, not a refusal to open, so the problem's scope
 * is the check's; the limits-only walk (the verdict's) finds nothing in
 * it, and still finds what QEMU refuses in the part the file holds. */
static void test_cut_short_is_not_a_refusal(void **state)
{
	uint8_t *b = calloc(1, IMG_SIZE);
	struct q2_image img;
	struct q2_reader r;
	struct q2_decode_opts limits = { .snapshot_limits = true };
	size_t end;
	(void)state;

	end = build(b, 3, two, 2);
	/* three entries claimed, the file ends after two */
	put_be32(b + 60, 3);
	assert_int_equal(decode(b, end, &img), 1);
	assert_int_equal(img.problems.v[0].code, Q2_C_TRUNCATED);
	assert_int_equal(img.problems.v[0].scope, Q2_SCOPE_CHECK);
	assert_int_equal(img.snapshots->n, 2);
	q2_image_free(&img);
	/* the same, walked for the verdict only: nothing, nothing kept */
	q2_reader_from_memory(&r, b, end);
	assert_int_equal(q2_decode(&r, &limits, &img), 0);
	assert_null(img.snapshots);
	q2_image_free(&img);
	/* the file ends inside entry 1's fixed part, after its extra data
	 * size says 2000: QEMU refuses that much extra data */
	put_be32(b + TABLE + 72 + 36, 2000);
	q2_reader_from_memory(&r, b, TABLE + 72 + 40);
	assert_int_equal(q2_decode(&r, &limits, &img), 1);
	assert_int_equal(img.problems.v[0].code, Q2_C_SNAPSHOT_EXTRA_DATA_TOO_LARGE);
	assert_int_equal(img.problems.v[0].scope, Q2_SCOPE_OPEN);
	q2_image_free(&img);
	/* the file ends inside that size field, after its two high bytes
	 * (zero): QEMU reads zeroes for the rest, 0 bytes, no refusal */
	q2_reader_from_memory(&r, b, TABLE + 72 + 38);
	assert_int_equal(q2_decode(&r, &limits, &img), 0);
	q2_image_free(&img);
	/* a count past what QEMU reads: refused before any read */
	put_be32(b + 60, 65536);
	put_be64(b + 64, 0x7fffffffffff0000ull);
	q2_reader_from_memory(&r, b, end);
	assert_int_equal(q2_decode(&r, &limits, &img), 1);
	assert_int_equal(img.problems.v[0].code, Q2_C_SNAPSHOT_TABLE_OFFSET_INVALID);
	q2_image_free(&img);
	assert_int_equal(decode(b, end, &img), 1);
	assert_int_equal(img.problems.v[0].code, Q2_C_SNAPSHOT_TABLE_OFFSET_INVALID);
	q2_image_free(&img);
	free(b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_every_field),
		cmocka_unit_test(test_not_decoded_unless_asked),
		cmocka_unit_test(test_version2_without_extra_data),
		cmocka_unit_test(test_extra_partial_and_unknown),
		cmocka_unit_test(test_cut_at_every_byte),
		cmocka_unit_test(test_flip_every_byte),
		cmocka_unit_test(test_limits),
		cmocka_unit_test(test_table_size_limit),
		cmocka_unit_test(test_check_rules),
		cmocka_unit_test(test_check_table_placement),
		cmocka_unit_test(test_render),
		cmocka_unit_test(test_cut_short_is_not_a_refusal),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
