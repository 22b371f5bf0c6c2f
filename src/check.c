#include "config.h"

#include "check.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "describe.h"
#include "snapshot.h"

struct ctx {
	const struct q2_image *img;
	struct q2_problems *p;
	uint64_t cs;          /* cluster size */
	uint64_t file_size;
};

#define report q2_problems_addf

static bool fits(const struct ctx *c, uint64_t off, uint64_t len)
{
	return off <= c->file_size && len <= c->file_size - off;
}

#define AT(field) q2_header_at(Q2_HF_##field)

static void check_header(struct ctx *c)
{
	const struct q2_header *h = &c->img->header;
	struct q2_problems *p = c->p;
	uint64_t incompat = h->incompatible_features;
	bool bit3 = incompat & Q2_INCOMPAT_COMPRESSION;

	if (h->refcount_order > 6)
		report(p, Q2_C_REFCOUNT_ORDER_TOO_LARGE, AT(REFCOUNT_ORDER),
		       Q2_NO_INDEX, "%" PRIu32, h->refcount_order);
	if (h->version >= 3 && h->header_length % 8)
		report(p, Q2_C_HEADER_LENGTH_UNALIGNED, AT(HEADER_LENGTH),
		       Q2_NO_INDEX, "%" PRIu32, h->header_length);
	if (h->l1_table_offset % c->cs)
		report(p, Q2_C_L1_TABLE_UNALIGNED, AT(L1_TABLE_OFFSET),
		       Q2_NO_INDEX, "0x%" PRIx64, h->l1_table_offset);
	if (h->refcount_table_offset % c->cs)
		report(p, Q2_C_REFCOUNT_TABLE_UNALIGNED, AT(REFCOUNT_TABLE_OFFSET),
		       Q2_NO_INDEX, "0x%" PRIx64, h->refcount_table_offset);
	/* QEMU holds the offset to this even with no snapshots */
	if (h->snapshot_offset % c->cs)
		report(p, Q2_C_SNAPSHOT_TABLE_UNALIGNED, AT(SNAPSHOT_OFFSET),
		       Q2_NO_INDEX, "0x%" PRIx64, h->snapshot_offset);
	if (incompat & ~Q2_INCOMPAT_KNOWN)
		report(p, Q2_C_UNKNOWN_INCOMPATIBLE_BITS, AT(INCOMPATIBLE_FEATURES),
		       Q2_NO_INDEX, "0x%" PRIx64, incompat & ~Q2_INCOMPAT_KNOWN);
	if (incompat & Q2_INCOMPAT_DIRTY)
		report(p, Q2_C_DIRTY, AT(INCOMPATIBLE_FEATURES), Q2_NO_INDEX, "%s", "");
	if (incompat & Q2_INCOMPAT_CORRUPT)
		report(p, Q2_C_CORRUPT, AT(INCOMPATIBLE_FEATURES), Q2_NO_INDEX, "%s", "");
	if (h->has_compression_type && h->compression_type > Q2_COMPRESSION_ZSTD)
		report(p, Q2_C_COMPRESSION_TYPE_UNKNOWN, Q2_HDR_COMPRESSION_TYPE,
		       Q2_NO_INDEX, "%u", h->compression_type);
	if (h->has_compression_type && h->compression_type && !bit3)
		report(p, Q2_C_COMPRESSION_TYPE_WITHOUT_BIT, Q2_HDR_COMPRESSION_TYPE,
		       Q2_NO_INDEX, "%u", h->compression_type);
	if (bit3 && (!h->has_compression_type || !h->compression_type))
		report(p, Q2_C_COMPRESSION_BIT_WITHOUT_TYPE, AT(INCOMPATIBLE_FEATURES),
		       Q2_NO_INDEX, "%s", "");
	if (h->crypt_method > Q2_CRYPT_LUKS)
		report(p, Q2_C_UNKNOWN_CRYPT_METHOD, AT(CRYPT_METHOD), Q2_NO_INDEX,
		       "%" PRIu32, h->crypt_method);
	if (h->backing_file_offset &&
	    (h->backing_file_offset > c->cs ||
	     h->backing_file_size > c->cs - h->backing_file_offset))
		report(p, Q2_C_BACKING_NAME_OUTSIDE_CLUSTER, AT(BACKING_FILE_OFFSET),
		       Q2_NO_INDEX, "0x%" PRIx64 " + %" PRIu32,
		       h->backing_file_offset, h->backing_file_size);
}

static void check_extensions(struct ctx *c)
{
	const struct q2_image *img = c->img;
	const struct q2_header *h = &img->header;
	struct q2_problems *p = c->p;
	bool has_bitmaps = false, has_crypto = false, has_data_file = false;

	for (size_t i = 0; i < img->n_exts; i++) {
		const struct q2_ext *x = &img->exts[i];
		const struct q2_bitmaps_ext *bx = x->bitmaps;

		for (size_t k = 0; x->kind != Q2_EXTK_UNKNOWN && k < i; k++)
			if (img->exts[k].magic == x->magic) {
				report(p, Q2_C_DUPLICATE_EXTENSION, x->offset, Q2_NO_INDEX,
				       "%s at 0x%" PRIx64 " and 0x%" PRIx64,
				       q2_ext_name(x->magic), img->exts[k].offset, x->offset);
				break;
			}
		switch (x->kind) {
		case Q2_EXTK_BITMAPS:
			has_bitmaps = true;
			if (x->length > Q2_BITMAPS_EXT_SIZE)
				report(p, Q2_C_BITMAPS_EXTENSION_LENGTH,
				       x->offset + Q2_EXT_LENGTH_AT, Q2_NO_INDEX,
				       "%" PRIu32, x->length);
			if (!bx)
				break;
			if (bx->reserved32)
				report(p, Q2_C_BITMAPS_RESERVED,
				       q2_bitmaps_ext_at(x->offset, Q2_BF_RESERVED32),
				       Q2_NO_INDEX, "%" PRIu32, bx->reserved32);
			if (!bx->nb_bitmaps)
				report(p, Q2_C_BITMAPS_NONE,
				       q2_bitmaps_ext_at(x->offset, Q2_BF_NB_BITMAPS),
				       Q2_NO_INDEX, "%s", "");
			if (bx->bitmap_directory_offset % c->cs)
				report(p, Q2_C_DIRECTORY_UNALIGNED,
				       q2_bitmaps_ext_at(x->offset, Q2_BF_DIRECTORY_OFFSET),
				       Q2_NO_INDEX, "0x%" PRIx64, bx->bitmap_directory_offset);
			break;
		case Q2_EXTK_CRYPTO:
			has_crypto = true;
			/* the crypto header's offset is the extension's first field */
			if (x->has_crypto && x->crypto_offset % c->cs)
				report(p, Q2_C_CRYPTO_HEADER_UNALIGNED,
				       x->offset + Q2_EXT_DATA_AT, Q2_NO_INDEX,
				       "0x%" PRIx64, x->crypto_offset);
			if (h->crypt_method != Q2_CRYPT_LUKS)
				report(p, Q2_C_CRYPTO_HEADER_WITHOUT_LUKS, x->offset,
				       Q2_NO_INDEX, "crypt_method %" PRIu32, h->crypt_method);
			break;
		case Q2_EXTK_DATA_FILE:
			has_data_file = true;
			break;
		default:
			break;
		}
	}
	if (has_bitmaps && !(h->autoclear_features & Q2_AUTOCLEAR_BITMAPS))
		report(p, Q2_C_AUTOCLEAR_BITMAPS_CLEAR, AT(AUTOCLEAR_FEATURES),
		       Q2_NO_INDEX, "%s", "");
	if (!has_bitmaps && (h->autoclear_features & Q2_AUTOCLEAR_BITMAPS))
		report(p, Q2_C_AUTOCLEAR_BITMAPS_WITHOUT_EXTENSION,
		       AT(AUTOCLEAR_FEATURES), Q2_NO_INDEX, "%s", "");
	if (h->crypt_method == Q2_CRYPT_LUKS && !has_crypto)
		report(p, Q2_C_LUKS_WITHOUT_CRYPTO_HEADER, AT(CRYPT_METHOD),
		       Q2_NO_INDEX, "%s", "");
	if (has_data_file && !(h->incompatible_features & Q2_INCOMPAT_DATA_FILE))
		report(p, Q2_C_DATA_FILE_NAME_WITHOUT_BIT, AT(INCOMPATIBLE_FEATURES),
		       Q2_NO_INDEX, "%s", "");
	if ((h->autoclear_features & Q2_AUTOCLEAR_DATA_FILE_RAW) &&
	    !(h->incompatible_features & Q2_INCOMPAT_DATA_FILE))
		report(p, Q2_C_RAW_EXTERNAL_DATA_WITHOUT_DATA_FILE,
		       AT(AUTOCLEAR_FEATURES), Q2_NO_INDEX, "%s", "");
}

#define ENTRY_AT(field) q2_dir_entry_at(bm, Q2_DF_##field)

static void check_entry(struct ctx *c, const struct q2_bitmap *bm, uint32_t i)
{
	struct q2_problems *p = c->p;
	uint64_t n = bm->bitmap_table_size;
	uint32_t gbits = bm->granularity_bits;

	if (!bm->bitmap_table_offset)
		report(p, Q2_C_TABLE_OFFSET_ZERO, ENTRY_AT(TABLE_OFFSET), i, "%s", "");
	else if (bm->bitmap_table_offset % c->cs)
		report(p, Q2_C_TABLE_UNALIGNED, ENTRY_AT(TABLE_OFFSET), i,
		       "0x%" PRIx64, bm->bitmap_table_offset);
	if (bm->bitmap_table_offset && !fits(c, bm->bitmap_table_offset, n * 8))
		report(p, Q2_C_TABLE_BEYOND_EOF, ENTRY_AT(TABLE_OFFSET), i,
		       "0x%" PRIx64 " + %" PRIu64 " bytes, file is %" PRIu64,
		       bm->bitmap_table_offset, n * 8, c->file_size);
	if (!n)
		report(p, Q2_C_TABLE_SIZE_ZERO, ENTRY_AT(TABLE_SIZE), i, "%s", "");
	if (n > Q2_MAX_TABLE_ENTRIES || n * c->cs > Q2_MAX_BITMAP_PHYS)
		report(p, Q2_C_TABLE_SIZE_TOO_LARGE, ENTRY_AT(TABLE_SIZE), i,
		       "%" PRIu64 " entries", n);
	else if (n && gbits < 64) {
		uint64_t need = q2_bitmap_table_entries_needed(c->img->header.size,
							       gbits, c->cs);

		if (n < need)
			report(p, Q2_C_TABLE_SIZE_TOO_SMALL, ENTRY_AT(TABLE_SIZE), i,
			       "%" PRIu64 " entries, %" PRIu64 " needed", n, need);
		else if (n > need)
			report(p, Q2_C_TABLE_SIZE_EXCESS, ENTRY_AT(TABLE_SIZE), i,
			       "%" PRIu64 " entries, %" PRIu64 " needed", n, need);
	}
	if (bm->flags & ~Q2_BME_FLAGS_KNOWN)
		report(p, Q2_C_RESERVED_FLAGS, ENTRY_AT(FLAGS), i, "0x%" PRIx32,
		       bm->flags & ~Q2_BME_FLAGS_KNOWN);
	if (bm->flags & Q2_BME_FLAG_EXTRA_DATA_COMPATIBLE)
		report(p, Q2_C_EXTRA_DATA_COMPATIBLE_FLAG, ENTRY_AT(FLAGS), i, "%s", "");
	if (bm->flags & Q2_BME_FLAG_IN_USE)
		report(p, Q2_C_BITMAP_IN_USE, ENTRY_AT(FLAGS), i, "%s", "");
	if (bm->type != Q2_BITMAP_TYPE_DIRTY)
		report(p, Q2_C_BITMAP_TYPE, ENTRY_AT(TYPE), i, "%u", bm->type);
	if (gbits > 63)
		report(p, Q2_C_GRANULARITY_OUT_OF_RANGE, ENTRY_AT(GRANULARITY_BITS), i,
		       "%u", gbits);
	else if (gbits < Q2_QEMU_MIN_GRANULARITY_BITS ||
		 gbits > Q2_QEMU_MAX_GRANULARITY_BITS)
		report(p, Q2_C_GRANULARITY_BEYOND_QEMU, ENTRY_AT(GRANULARITY_BITS), i,
		       "%u", gbits);
	if (!bm->name_size)
		report(p, Q2_C_NAME_EMPTY, ENTRY_AT(NAME_SIZE), i, "%s", "");
	else if (bm->name_size > Q2_MAX_BITMAP_NAME)
		report(p, Q2_C_NAME_TOO_LONG, ENTRY_AT(NAME_SIZE), i, "%u bytes",
		       bm->name_size);
	if (bm->padding_nonzero)
		report(p, Q2_C_NONZERO_PADDING, bm->entry_offset + Q2_DIR_ENTRY_FIXED +
		       bm->extra_data_size + bm->name_size, i, "%s", "");
	if (bm->extra_data_size)
		report(p, (bm->flags & Q2_BME_FLAG_EXTRA_DATA_COMPATIBLE)
				  ? Q2_C_EXTRA_DATA : Q2_C_EXTRA_DATA_INCOMPATIBLE,
		       ENTRY_AT(EXTRA_DATA_SIZE), i, "%" PRIu32 " bytes",
		       bm->extra_data_size);
}

static void check_table(struct ctx *c, const struct q2_bitmap *bm, uint32_t i)
{
	for (uint32_t k = 0; bm->table_loaded && k < bm->bitmap_table_size; k++) {
		uint64_t e = bm->table[k];
		uint64_t off = e & Q2_BTE_OFFSET_MASK;
		uint64_t at = bm->bitmap_table_offset + 8ull * k;

		if (e & Q2_BTE_RESERVED_MASK)
			report(c->p, Q2_C_TABLE_ENTRY_RESERVED, at, i, "entry %" PRIu32 ": 0x%016" PRIx64, k, e);
		if (!off)
			continue;
		if (e & Q2_BTE_ALL_ONES)
			report(c->p, Q2_C_TABLE_ENTRY_INVALID, at, i, "entry %" PRIu32, k);
		if (off % c->cs)
			report(c->p, Q2_C_TABLE_ENTRY_UNALIGNED, at, i,
			       "entry %" PRIu32 ": 0x%" PRIx64, k, off);
		if (!fits(c, off, c->cs))
			report(c->p, Q2_C_TABLE_ENTRY_BEYOND_EOF, at, i,
			       "entry %" PRIu32 ": 0x%" PRIx64, k, off);
	}
}

static int cmp_name(const void *a, const void *b, void *arg)
{
	const struct q2_bitmap *v = arg;
	const struct q2_bitmap *x = &v[*(const uint32_t *)a];
	const struct q2_bitmap *y = &v[*(const uint32_t *)b];
	int r;

	if (x->name_size != y->name_size)
		return x->name_size < y->name_size ? -1 : 1;
	r = memcmp(x->name, y->name, x->name_size);
	if (r)
		return r;
	/* equal names in directory order, so the later one is reported */
	return *(const uint32_t *)a < *(const uint32_t *)b ? -1 : 1;
}

/* Sorting makes the duplicate check n log n for 65535 bitmaps. */
static void check_duplicate_names(struct ctx *c, const struct q2_bitmaps_ext *bx)
{
	uint32_t *order = malloc(bx->n_bitmaps * sizeof *order);

	if (!order)
		return;
	for (uint32_t i = 0; i < bx->n_bitmaps; i++)
		order[i] = i;
	qsort_r(order, bx->n_bitmaps, sizeof *order, cmp_name, bx->bitmaps);
	for (size_t k = 1; k < bx->n_bitmaps; k++) {
		const struct q2_bitmap *a = &bx->bitmaps[order[k - 1]];
		const struct q2_bitmap *b = &bx->bitmaps[order[k]];

		if (a->name_size == b->name_size &&
		    memcmp(a->name, b->name, a->name_size) == 0)
			report(c->p, Q2_C_DUPLICATE_NAME, b->entry_offset, order[k],
			       "entries %" PRIu32 " and %" PRIu32, order[k - 1], order[k]);
	}
	free(order);
}

/* ---- overlaps between metadata structures ---- */

enum span_kind { SPAN_HEADER, SPAN_L1, SPAN_REFCOUNT, SPAN_CRYPTO, SPAN_DIR,
		 SPAN_TABLE, SPAN_DATA, SPAN_SNAPSHOTS, SPAN_SNAPSHOT_L1 };

struct span {
	uint64_t start, end;
	enum span_kind kind;
	uint32_t bitmap;      /* or the snapshot, for SPAN_SNAPSHOT_L1 */
};

struct spans {
	struct span *v;
	size_t n, cap;
};

/* Data clusters beyond this count are not collected: a hostile table
 * could otherwise make the check take gigabytes. */
#define MAX_SPANS 4000000u
#define MAX_OVERLAPS 100u

static bool add_span(struct spans *s, uint64_t start, uint64_t len,
		     enum span_kind kind, uint32_t bitmap)
{
	if (!len)
		return true;
	if (s->n == s->cap) {
		size_t cap = s->cap ? s->cap * 2 : 64;
		struct span *v;

		if (cap > MAX_SPANS)
			cap = MAX_SPANS;
		if (s->n == cap)
			return false;
		v = realloc(s->v, cap * sizeof *v);
		if (!v)
			return false;
		s->v = v;
		s->cap = cap;
	}
	/* saturate rather than wrap at the end of the 64-bit range */
	s->v[s->n++] = (struct span){ start,
		len > UINT64_MAX - start ? UINT64_MAX : start + len, kind, bitmap };
	return true;
}

static int cmp_span(const void *a, const void *b)
{
	const struct span *x = a, *y = b;

	if (x->start != y->start)
		return x->start < y->start ? -1 : 1;
	return (x->end > y->end) - (x->end < y->end);
}

static void describe_span(const struct ctx *c, const struct span *s,
			  char *buf, size_t size)
{
	static const char *const names[] = {
		[SPAN_HEADER] = "header cluster", [SPAN_L1] = "L1 table",
		[SPAN_REFCOUNT] = "refcount table", [SPAN_CRYPTO] = "crypto header",
		[SPAN_DIR] = "bitmap directory", [SPAN_TABLE] = "bitmap table",
		[SPAN_DATA] = "bitmap data cluster",
		[SPAN_SNAPSHOTS] = "snapshot table",
		[SPAN_SNAPSHOT_L1] = "L1 table of snapshot",
	};
	const struct q2_bitmaps_ext *bx = q2_image_bitmaps(c->img);
	int n = snprintf(buf, size, "%s", names[s->kind]);

	if ((s->kind == SPAN_TABLE || s->kind == SPAN_DATA) && bx &&
	    s->bitmap < bx->n_bitmaps && n >= 0 && (size_t)n < size) {
		const struct q2_bitmap *bm = &bx->bitmaps[s->bitmap];

		snprintf(buf + n, size - (size_t)n, " of bitmap %u (%.*s)", s->bitmap,
			 bm->name_size > 64 ? 64 : bm->name_size, bm->name);
	}
	if (s->kind == SPAN_SNAPSHOT_L1 && n >= 0 && (size_t)n < size) {
		const struct q2_snapshot *sn = &c->img->snapshots->v[s->bitmap];

		snprintf(buf + n, size - (size_t)n, " %u (%.*s)", s->bitmap,
			 sn->name_size > 64 ? 64 : sn->name_size, sn->name);
	}
}

static void check_overlaps(struct ctx *c)
{
	const struct q2_image *img = c->img;
	const struct q2_header *h = &img->header;
	const struct q2_bitmaps_ext *bx = q2_image_bitmaps(img);
	struct spans s = { 0 };
	size_t reported = 0, best = 0;

	add_span(&s, 0, c->cs, SPAN_HEADER, Q2_NO_INDEX);
	if (h->l1_table_offset)
		add_span(&s, h->l1_table_offset, (uint64_t)h->l1_size * 8, SPAN_L1, Q2_NO_INDEX);
	if (h->refcount_table_offset)
		add_span(&s, h->refcount_table_offset,
			 (uint64_t)h->refcount_table_clusters * c->cs, SPAN_REFCOUNT,
			 Q2_NO_INDEX);
	for (size_t i = 0; i < img->n_exts; i++)
		if (img->exts[i].has_crypto && img->exts[i].crypto_offset)
			add_span(&s, img->exts[i].crypto_offset,
				 img->exts[i].crypto_length, SPAN_CRYPTO, Q2_NO_INDEX);
	if (bx) {
		add_span(&s, bx->bitmap_directory_offset, bx->bitmap_directory_size,
			 SPAN_DIR, Q2_NO_INDEX);
		for (uint32_t i = 0; i < bx->n_bitmaps; i++) {
			const struct q2_bitmap *bm = &bx->bitmaps[i];

			if (bm->bitmap_table_offset)
				add_span(&s, bm->bitmap_table_offset,
					 (uint64_t)bm->bitmap_table_size * 8, SPAN_TABLE, i);
			for (uint32_t k = 0; bm->table_loaded && k < bm->bitmap_table_size; k++)
				if (q2_bte_classify(bm->table[k]) == Q2_BTE_SERIALIZED &&
				    !add_span(&s, bm->table[k] & Q2_BTE_OFFSET_MASK,
					      c->cs, SPAN_DATA, i))
					break;
		}
	}
	if (img->snapshots) {
		const struct q2_snapshot_table *t = img->snapshots;

		add_span(&s, h->snapshot_offset, t->size, SPAN_SNAPSHOTS, Q2_NO_INDEX);
		for (uint32_t i = 0; i < t->n; i++)
			add_span(&s, t->v[i].l1_table_offset,
				 (uint64_t)t->v[i].l1_size * 8, SPAN_SNAPSHOT_L1, i);
	}
	qsort(s.v, s.n, sizeof *s.v, cmp_span);
	/* best: the span reaching furthest so far; anything starting before
	 * its end overlaps it */
	for (size_t k = 1; k < s.n; k++) {
		if (s.v[k].start < s.v[best].end) {
			char a[160], b[160];

			if (reported++ < MAX_OVERLAPS) {
				describe_span(c, &s.v[best], a, sizeof a);
				describe_span(c, &s.v[k], b, sizeof b);
				report(c->p, Q2_C_OVERLAP, s.v[k].start,
				       s.v[k].kind == SPAN_TABLE || s.v[k].kind == SPAN_DATA
				       ? s.v[k].bitmap : Q2_NO_INDEX,
				       "%s at 0x%" PRIx64 " and %s at 0x%" PRIx64, a,
				       s.v[best].start, b, s.v[k].start);
			}
		}
		if (s.v[k].end > s.v[best].end)
			best = k;
	}
	if (reported > MAX_OVERLAPS)
		report(c->p, Q2_C_OVERLAP, 0, Q2_NO_INDEX, "%zu more not listed",
		       reported - MAX_OVERLAPS);
	free(s.v);
}

void q2_check(struct q2_image *img)
{
	struct ctx c = { .img = img, .p = &img->problems,
			 .file_size = img->file_size };
	const struct q2_bitmaps_ext *bx = q2_image_bitmaps(img);

	/* without a sound header there is nothing more to hold it to */
	c.cs = q2_image_cluster_size(img);
	if (!c.cs)
		return;
	check_header(&c);
	check_extensions(&c);
	if (bx) {
		for (uint32_t i = 0; i < bx->n_bitmaps; i++)
			check_entry(&c, &bx->bitmaps[i], i);
		check_duplicate_names(&c, bx);
		for (uint32_t i = 0; i < bx->n_bitmaps; i++)
			check_table(&c, &bx->bitmaps[i], i);
	}
	q2_check_snapshots(img, c.p, c.cs);
	check_overlaps(&c);
}
