/* Backing chains: QEMU's rules for backing names (protocols, joining a
 * relative name to the overlay's directory), the format probe, the
 * k-way merge of bitmaps of different granularities against a union
 * computed byte by byte, and libvirt's three rules on chains built in
 * memory. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "chain.h"
#include "checkpoint.h"
#include "extents.h"
#include "image_builder.h"
#include "merge.h"
#include "verdict.h"

/* ---- names ---- */

static void test_protocol_names(void **state)
{
	(void)state;
	assert_true(q2_backing_is_protocol("json:{\"driver\": \"qcow2\"}"));
	assert_true(q2_backing_is_protocol("nbd://localhost/x"));
	assert_true(q2_backing_is_protocol("nbd:unix:/run/x.sock"));
	assert_true(q2_backing_is_protocol("file:base.qcow2"));
	assert_false(q2_backing_is_protocol("dir/a:b.qcow2"));
	assert_false(q2_backing_is_protocol("/abs/a:b.qcow2"));
	assert_false(q2_backing_is_protocol("./a:b"));
	assert_false(q2_backing_is_protocol("base.qcow2"));
	assert_false(q2_backing_is_protocol(""));
}

static void expect_join(const char *overlay, const char *name, const char *want)
{
	char *got = q2_backing_join(overlay, name);

	assert_non_null(got);
	assert_string_equal(got, want);
	free(got);
}

static void test_join(void **state)
{
	(void)state;
	/* relative to the overlay's directory as given, not canonicalised */
	expect_join("top.qcow2", "base.qcow2", "base.qcow2");
	expect_join("vm/top.qcow2", "../base/base.qcow2", "vm/../base/base.qcow2");
	expect_join("vm/../snap/s1.qcow2", "b.qcow2", "vm/../snap/b.qcow2");
	expect_join("a//b/top", "c", "a//b/c");
	expect_join("/top.qcow2", "b", "/b");
	expect_join("./top", "b", "./b");
	expect_join("dir/", "b", "dir/b");
	/* absolute names as they are */
	expect_join("vm/top.qcow2", "/images/base.qcow2", "/images/base.qcow2");
	expect_join("top.qcow2", "/b", "/b");
}

static void test_probe(void **state)
{
	uint8_t b[128] = { 0 };

	(void)state;
	assert_null(q2_probe_format(b, sizeof b));
	assert_null(q2_probe_format(b, 0));
	put_be32(b, 0x514649fb);
	put_be32(b + 4, 3);
	assert_string_equal(q2_probe_format(b, sizeof b), "qcow2");
	put_be32(b + 4, 2);
	assert_string_equal(q2_probe_format(b, sizeof b), "qcow2");
	put_be32(b + 4, 1);
	assert_string_equal(q2_probe_format(b, sizeof b), "qcow");
	/* too short for a qcow2 header */
	assert_null(q2_probe_format(b, 4));
	memset(b, 0, sizeof b);
	memcpy(b, "QED", 4);
	assert_string_equal(q2_probe_format(b, sizeof b), "qed");
	memcpy(b, "KDMV", 4);
	assert_string_equal(q2_probe_format(b, sizeof b), "vmdk");
	memcpy(b, "LUKS\xba\xbe", 6);
	assert_string_equal(q2_probe_format(b, sizeof b), "luks");
	memset(b, 0, sizeof b);
	b[64] = 0x7f, b[65] = 0x10, b[66] = 0xda, b[67] = 0xbe;
	assert_string_equal(q2_probe_format(b, sizeof b), "vdi");
	assert_null(q2_probe_format(b, 64));
}

/* ---- the merge ---- */

#define IMG 16384u
#define TABLE 1024u
#define DATA 2048u   /* data cluster k at DATA + 512 * k */
#define SECTORS 8192u /* a 4 MiB disk at most */

struct layer_img {
	uint8_t *b;
	struct q2_reader r;
	struct q2_image img;
};

/* 512-byte clusters, one bitmap "b" of granularity 2^gbits over size
 * bytes, every table entry serialized, bits set at random (runs). */
static void make_layer(struct layer_img *l, uint64_t size, unsigned gbits,
		       uint32_t *seed)
{
	struct q2_decode_opts opts = { .load_tables = true };
	uint64_t bits = (size + (1ull << gbits) - 1) >> gbits;
	uint32_t n = (uint32_t)((bits + 4095) / 4096);
	uint64_t bit = 0;

	l->b = calloc(1, IMG);
	tb_header(l->b, 3, 9, 104);
	put_be64(l->b + 24, size);
	put_be64(l->b + 72, 0);
	tb_bitmaps_ext(l->b, 104, 1, 32, 512);
	tb_dir_entry(l->b, 512, TABLE, n, 2, (uint8_t)gbits, "b", 1, 0);
	for (uint32_t k = 0; k < n; k++)
		put_be64(l->b + TABLE + 8 * k, DATA + 512 * k);
	/* runs of dirty and clean bits of random lengths */
	while (bit < bits) {
		*seed = *seed * 1103515245u + 12345u;
		uint64_t run = 1 + (*seed >> 16) % 24;
		bool dirty = (*seed >> 8) & 1;

		for (uint64_t k = bit; k < bit + run && k < bits; k++)
			if (dirty)
				l->b[DATA + k / 8] |= (uint8_t)(1u << (k % 8));
		bit += run;
	}
	q2_reader_from_memory(&l->r, l->b, IMG);
	assert_int_equal(q2_decode(&l->r, &opts, &l->img), 0);
}

static void free_layer(struct layer_img *l)
{
	q2_image_free(&l->img);
	free(l->b);
}

/* The union, one flag per 512-byte sector of the top's disk. */
static void brute_union(const struct layer_img *l, size_t n, uint64_t top,
			uint8_t *sectors)
{
	memset(sectors, 0, SECTORS);
	for (size_t k = 0; k < n; k++) {
		const struct q2_bitmap *bm = q2_image_bitmap(&l[k].img, 0);
		uint64_t size = q2_disk_bytes(&l[k].img);
		unsigned g = bm->granularity_bits;

		for (uint64_t s = 0; s < size / 512 && s < top / 512; s++) {
			uint64_t bit = (s * 512) >> g;

			if (l[k].b[DATA + bit / 8] & (1u << (bit % 8)))
				sectors[s] = 1;
		}
	}
}

struct ranges {
	uint64_t v[4096][2];
	size_t n;
	int stop_after;
};

static int collect(void *ctx, uint64_t start, uint64_t length)
{
	struct ranges *r = ctx;

	assert_true(r->n < 4096);
	r->v[r->n][0] = start;
	r->v[r->n][1] = length;
	r->n++;
	return (int)r->n == r->stop_after ? 9 : 0;
}

static void merge_and_compare(struct layer_img *l, size_t n)
{
	static struct ranges got;
	static uint8_t want[SECTORS];
	struct q2_merge_input in[8];
	struct q2_problems nomem = { 0 };
	uint64_t top = q2_disk_bytes(&l[0].img), dirty = 0, sum = 0, pos = 0;

	memset(&got, 0, sizeof got);
	for (size_t k = 0; k < n; k++)
		in[k] = (struct q2_merge_input){ &l[k].r, &l[k].img, 0,
						 &l[k].img.problems, NULL };
	assert_int_equal(q2_merge_scan(in, n, top, collect, &got, &dirty, &nomem), 0);
	brute_union(l, n, top, want);
	/* sorted, disjoint, not adjacent, inside the disk, and the union */
	for (size_t i = 0; i < got.n; i++) {
		uint64_t s = got.v[i][0], e = s + got.v[i][1];

		assert_true(got.v[i][1] > 0);
		assert_true(e <= top);
		assert_true(i == 0 || s > got.v[i - 1][0] + got.v[i - 1][1]);
		for (; pos < s; pos += 512)
			assert_int_equal(want[pos / 512], 0);
		for (; pos < e; pos += 512)
			assert_int_equal(want[pos / 512], 1);
		sum += got.v[i][1];
	}
	for (; pos < top; pos += 512)
		assert_int_equal(want[pos / 512], 0);
	assert_int_equal(sum, dirty);
}

static void test_merge_granularities(void **state)
{
	struct layer_img l[4];
	uint32_t seed = 7;

	(void)state;
	for (int round = 0; round < 20; round++) {
		/* fine over coarse, coarse over fine, a partial last granule */
		make_layer(&l[0], 4u << 20, 12, &seed);
		make_layer(&l[1], 4u << 20, 9, &seed);
		make_layer(&l[2], (4u << 20) - 1536, 14, &seed);
		make_layer(&l[3], 4u << 20, 16, &seed);
		merge_and_compare(l, 4);
		merge_and_compare(l, 1);
		merge_and_compare(&l[1], 3);
		for (int k = 0; k < 4; k++)
			free_layer(&l[k]);
	}
}

static void test_merge_sizes(void **state)
{
	struct layer_img l[3];
	uint32_t seed = 99;

	(void)state;
	/* a top smaller than the layers below: they are clamped to it, in
	 * whole sectors (a size that is not one is rounded down) */
	make_layer(&l[0], (1u << 20) + 700, 9, &seed);
	make_layer(&l[1], 4u << 20, 9, &seed);
	make_layer(&l[2], 3u << 20, 13, &seed);
	merge_and_compare(l, 3);
	for (int k = 0; k < 3; k++)
		free_layer(&l[k]);
	/* a top larger than the layers below */
	make_layer(&l[0], 4u << 20, 10, &seed);
	make_layer(&l[1], 1u << 20, 9, &seed);
	make_layer(&l[2], 2u << 20, 15, &seed);
	merge_and_compare(l, 3);
	for (int k = 0; k < 3; k++)
		free_layer(&l[k]);
}

static void test_merge_stops_and_fails(void **state)
{
	static struct ranges got;
	struct layer_img l[2];
	struct q2_merge_input in[2];
	struct q2_problems nomem = { 0 };
	uint32_t seed = 5;
	uint64_t dirty;

	(void)state;
	make_layer(&l[0], 2u << 20, 9, &seed);
	make_layer(&l[1], 2u << 20, 12, &seed);
	for (int k = 0; k < 2; k++)
		in[k] = (struct q2_merge_input){ &l[k].r, &l[k].img, 0,
						 &l[k].img.problems, NULL };
	/* the callback's value comes back */
	memset(&got, 0, sizeof got);
	got.stop_after = 3;
	assert_int_equal(q2_merge_scan(in, 2, q2_disk_bytes(&l[0].img), collect,
				       &got, &dirty, &nomem), 9);
	assert_int_equal(got.n, 3);
	/* a layer that cannot be read: -1, and its own problem says why */
	put_be64(l[1].b + TABLE, (uint64_t)1 << 40);
	q2_image_free(&l[1].img);
	{
		struct q2_decode_opts opts = { .load_tables = true };

		assert_int_equal(q2_decode(&l[1].r, &opts, &l[1].img), 0);
	}
	/* a data cluster wholly beyond the file reads as zeroes, as QEMU
	 * reads it: the merge is layer 0's ranges alone */
	memset(&got, 0, sizeof got);
	assert_int_equal(q2_merge_scan(in, 2, q2_disk_bytes(&l[0].img), collect,
				       &got, &dirty, &nomem), 0);
	assert_int_equal(l[1].img.problems.n, 0);
	{
		static struct ranges alone;
		uint64_t alone_dirty;

		memset(&alone, 0, sizeof alone);
		assert_int_equal(q2_merge_scan(in, 1, q2_disk_bytes(&l[0].img),
					       collect, &alone, &alone_dirty,
					       &nomem), 0);
		assert_int_equal(got.n, alone.n);
		assert_int_equal(dirty, alone_dirty);
		assert_true(alone.n > 0);
		assert_memory_equal(got.v, alone.v, alone.n * sizeof alone.v[0]);
	}
	/* an entry with an offset and the all-ones bit cannot be read */
	put_be64(l[1].b + TABLE, DATA | 1);
	q2_image_free(&l[1].img);
	{
		struct q2_decode_opts opts = { .load_tables = true };

		assert_int_equal(q2_decode(&l[1].r, &opts, &l[1].img), 0);
	}
	memset(&got, 0, sizeof got);
	assert_int_equal(q2_merge_scan(in, 2, q2_disk_bytes(&l[0].img), collect,
				       &got, &dirty, &nomem), -1);
	assert_int_equal(l[1].img.problems.n, 1);
	assert_int_equal(l[1].img.problems.v[0].code, Q2_C_TABLE_ENTRY);
	/* no input: nothing */
	memset(&got, 0, sizeof got);
	assert_int_equal(q2_merge_scan(in, 0, 1 << 20, collect, &got, &dirty,
				       &nomem), 0);
	assert_int_equal(got.n, 0);
	assert_int_equal(dirty, 0);
	for (int k = 0; k < 2; k++)
		free_layer(&l[k]);
}

/* ---- libvirt's rules on a chain built in memory ---- */

/* A layer with the bitmaps named in names (space-separated), and its
 * findings: every verdict usable unless set afterwards. */
static void rules_layer(struct q2_layer *layer, struct q2_findings *f, uint8_t *b,
			const char *names)
{
	char copy[64], *save = NULL;
	struct q2_decode_opts opts = { 0 };
	struct q2_reader r;
	size_t pos = 512, n = 0;

	memset(layer, 0, sizeof *layer);
	memset(f, 0, sizeof *f);
	memset(b, 0, IMG);
	tb_header(b, 3, 9, 104);
	put_be64(b + 24, 1 << 20);
	snprintf(copy, sizeof copy, "%s", names);
	for (char *t = strtok_r(copy, " ", &save); t; t = strtok_r(NULL, " ", &save)) {
		pos = tb_dir_entry(b, pos, TABLE, 1, 2, 16, t, strlen(t), 0);
		n++;
	}
	if (n)
		tb_bitmaps_ext(b, 104, (uint32_t)n, pos - 512, 512);
	q2_reader_from_memory(&r, b, IMG);
	assert_int_equal(q2_decode(&r, &opts, &layer->img), 0);
	layer->opened = layer->bitmaps_known = true;
	f->verdicts = calloc(n ? n : 1, sizeof *f->verdicts);
	assert_non_null(f->verdicts);
	for (uint32_t i = 0; i < n; i++)
		f->verdicts[i].state = Q2_STATE_USABLE;
}

/* The directory index of name in layer */
static uint32_t named(const struct q2_layer *layer, const char *name)
{
	for (uint32_t i = 0; q2_image_bitmap(&layer->img, i); i++)
		if (!strcmp(q2_image_bitmap(&layer->img, i)->name, name))
			return i;
	fail_msg("no bitmap %s", name);
	return Q2_NO_INDEX;
}

static const struct q2_checkpoint *find(const struct q2_checkpoints *cps,
					const char *name)
{
	return q2_checkpoints_find(cps, name, strlen(name));
}

/* The checkpoints of c as judged now: built again, so that a test sees
 * what a change of the layers' findings does to them. */
static void rebuild(struct q2_checkpoints *cps, const struct q2_chain *c,
		    const struct q2_findings *f)
{
	q2_checkpoints_free(cps);
	assert_true(q2_checkpoints_build(cps, c, f));
}

static void test_rules(void **state)
{
	static uint8_t b[4][IMG];
	struct q2_layer layers[4];
	struct q2_findings f[4];
	struct q2_chain c = { .layers = layers, .n = 3 };
	struct q2_checkpoints cps = { 0 };
	const struct q2_checkpoint *cp;
	char order[128] = "";

	(void)state;
	/* ok: in all three; top: only in the top; low: only in the base;
	 * gap: top and base; off: disabled in the middle; mid: the two
	 * upper layers only */
	rules_layer(&layers[0], &f[0], b[0], "ok top gap off mid");
	rules_layer(&layers[1], &f[1], b[1], "mid ok off");
	rules_layer(&layers[2], &f[2], b[2], "low gap ok off");
	f[1].verdicts[named(&layers[1], "off")].state = Q2_STATE_DISABLED;
	layers[0].path = "top", layers[1].path = "mid", layers[2].path = "base";
	for (uint32_t l = 0; l < 3; l++)
		layers[l].depth = l;

	rebuild(&cps, &c, f);
	for (size_t i = 0; i < cps.n; i++) {
		char line[64];

		cp = &cps.v[i];
		snprintf(line, sizeof line, "%s%.*s:%s:%zu:%u+%u", order[0] ? " " : "",
			 (int)cp->name_len, cp->name, q2_state_name(cp->verdict.state),
			 cp->n_depths, cp->run_first, cp->run_n);
		strcat(order, line);
	}
	/* each name once, in the order of the first layer holding it */
	assert_string_equal(order,
		"ok:usable:3:0+3 top:usable:1:0+1 gap:gap:2:0+1 off:disabled:3:0+3 "
		"mid:usable:2:0+2 low:missing-in-top:1:2+1");

	assert_non_null(cp = find(&cps, "gap"));
	assert_int_equal(cp->verdict.reason, Q2_C_CHECKPOINT_GAP);
	assert_int_equal(cp->at, 2);
	assert_non_null(cp = find(&cps, "off"));
	assert_int_equal(cp->verdict.reason, Q2_C_CHECKPOINT_COPY_NOT_USABLE);
	assert_int_equal(cp->at, 1);
	assert_non_null(cp = find(&cps, "low"));
	assert_int_equal(cp->verdict.reason, Q2_C_CHECKPOINT_MISSING_IN_TOP);
	assert_null(find(&cps, "none"));
	assert_null(find(&cps, "o"));

	/* the rules as findings of the layers holding the bitmap, never
	 * written into their models */
	q2_checkpoint_report(&c, find(&cps, "off"), f);
	assert_int_equal(f[1].problems.n, 1);
	assert_int_equal(f[1].problems.v[0].code, Q2_C_CHECKPOINT_COPY_NOT_USABLE);
	assert_int_equal(f[1].problems.v[0].origin, Q2_FROM_CHECK);
	q2_checkpoint_report(&c, find(&cps, "gap"), f);
	assert_int_equal(f[2].problems.n, 1);
	assert_int_equal(f[2].problems.v[0].code, Q2_C_CHECKPOINT_GAP);
	q2_checkpoint_report(&c, find(&cps, "low"), f);
	assert_int_equal(f[2].problems.n, 2);
	assert_int_equal(f[2].problems.v[1].code, Q2_C_CHECKPOINT_MISSING_IN_TOP);
	assert_int_equal(f[0].problems.n, 0);
	for (uint32_t l = 0; l < 3; l++)
		assert_int_equal(layers[l].img.problems.n, 0);

	/* a chain not read to its end: nothing is usable */
	c.broken = true;
	c.broken_code = Q2_C_BACKING_FILE_MISSING;
	rebuild(&cps, &c, f);
	assert_non_null(cp = find(&cps, "ok"));
	assert_int_equal(cp->verdict.state, Q2_STATE_INCOMPLETE);
	assert_int_equal(cp->verdict.reason, Q2_C_BACKING_FILE_MISSING);
	c.broken = false;
	layers[2].bitmaps_known = false;
	rebuild(&cps, &c, f);
	assert_int_equal(find(&cps, "mid")->verdict.state, Q2_STATE_INCOMPLETE);
	layers[2].bitmaps_known = true;
	/* a layer QEMU refuses */
	q2_problems_add(&f[2].problems, Q2_C_REFCOUNT_ORDER_TOO_LARGE, 96,
			Q2_NO_INDEX, Q2_FROM_CHECK, NULL);
	rebuild(&cps, &c, f);
	assert_non_null(cp = find(&cps, "mid"));
	assert_int_equal(cp->verdict.state, Q2_STATE_INVALID);
	assert_int_equal(cp->verdict.reason, Q2_C_REFCOUNT_ORDER_TOO_LARGE);
	assert_int_equal(cp->at, 2);
	/* a copy in use, and the finest granularity merged */
	f[0].verdicts[named(&layers[0], "ok")].state = Q2_STATE_INCONSISTENT;
	layers[1].img.dir->bitmaps[named(&layers[1], "ok")].granularity_bits = 9;
	rebuild(&cps, &c, f);
	assert_non_null(cp = find(&cps, "ok"));
	assert_int_equal(cp->verdict.state, Q2_STATE_INCONSISTENT);
	assert_int_equal(cp->at, 0);
	assert_int_equal(cp->granularity, 512);
	for (uint32_t l = 0; l < 3; l++) {
		q2_image_free(&layers[l].img);
		q2_findings_free(&f[l]);
	}

	/* a gap deeper than the next layer: top, l1 and base hold it, l2
	 * does not; the run stops at l1 and the gap is l3's copy */
	c.n = 4;
	rules_layer(&layers[0], &f[0], b[0], "deep");
	rules_layer(&layers[1], &f[1], b[1], "deep");
	rules_layer(&layers[2], &f[2], b[2], "other");
	rules_layer(&layers[3], &f[3], b[3], "deep");
	for (uint32_t l = 0; l < 4; l++)
		layers[l].depth = l;
	layers[0].path = "top", layers[1].path = "l1", layers[2].path = "l2";
	layers[3].path = "base";
	rebuild(&cps, &c, f);
	assert_non_null(cp = find(&cps, "deep"));
	assert_int_equal(cp->verdict.state, Q2_STATE_GAP);
	assert_int_equal(cp->run_n, 2);
	assert_int_equal(cp->at, 3);
	q2_checkpoint_report(&c, cp, f);
	assert_int_equal(f[3].problems.n, 1);
	assert_int_equal(f[3].problems.v[0].code, Q2_C_CHECKPOINT_GAP);
	assert_non_null(strstr(f[3].problems.v[0].message, "layer 2, l2, has none"));
	q2_checkpoints_free(&cps);
	for (uint32_t l = 0; l < 4; l++) {
		q2_image_free(&layers[l].img);
		q2_findings_free(&f[l]);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_protocol_names),
		cmocka_unit_test(test_join),
		cmocka_unit_test(test_probe),
		cmocka_unit_test(test_merge_granularities),
		cmocka_unit_test(test_merge_sizes),
		cmocka_unit_test(test_merge_stops_and_fails),
		cmocka_unit_test(test_rules),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
