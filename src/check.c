#include "config.h"

#include "check.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "layout.h"
#include "sort.h"

struct ctx {
	const struct q2_image *img;
	const struct q2_findings *f;   /* the refcounts read */
	struct q2_problems *p;
	uint64_t cs;          /* cluster size */
	uint64_t file_size;
	uint64_t file_bytes;  /* in whole sectors, as QEMU's checks see it */
};

#define report(p, ...) q2_problems_addf((p), Q2_FROM_CHECK, __VA_ARGS__)

/* An L1 entry maps an L2 table of cs / 8 entries (16 bytes each with
 * extended L2 entries), each mapping a cluster. */
#define QEMU_MAX_L1_BYTES (32ull << 20)
#define QEMU_MAX_REFTABLE_BYTES (8ull << 20)
#define QEMU_MIN_EXTL2_CLUSTER_BITS 14u

/* QEMU's check: a structure that ends a cluster or more past the end of
 * the file (QEMU reads zeroes short of that) */
static bool beyond_eof(const struct ctx *c, uint64_t off, uint64_t len)
{
	uint64_t end = len > UINT64_MAX - off ? UINT64_MAX : off + len;

	return len && end > c->file_bytes && end - c->file_bytes >= c->cs;
}

static bool past_end(const struct ctx *c, uint64_t off, uint64_t len)
{
	return len > c->file_size || off > c->file_size - len;
}

#define AT(field) q2_header_at(Q2_HF_##field)

/* ceil(size / (clusters an L1 entry maps * cluster size)) */
static uint64_t l1_entries_needed(const struct ctx *c)
{
	const struct q2_header *h = &c->img->header;
	unsigned l2_entry = h->incompatible_features & Q2_INCOMPAT_EXTL2
			    ? Q2_L2_ENTRY_EXTENDED_SIZE : Q2_L2_ENTRY_SIZE;
	uint64_t l2_bits = h->cluster_bits + h->cluster_bits - __builtin_ctz(l2_entry);

	return (h->size >> l2_bits) + ((h->size & ((1ull << l2_bits) - 1)) != 0);
}

static void check_tables(struct ctx *c)
{
	const struct q2_header *h = &c->img->header;
	struct q2_problems *p = c->p;
	uint64_t l1_bytes = (uint64_t)h->l1_size * Q2_L1_ENTRY_SIZE;
	uint64_t reft_bytes = (uint64_t)h->refcount_table_clusters * c->cs;
	uint64_t need = l1_entries_needed(c);

	if (h->l1_table_offset % c->cs)
		report(p, Q2_C_L1_TABLE_UNALIGNED, AT(L1_TABLE_OFFSET),
		       Q2_NO_INDEX, "0x%" PRIx64, h->l1_table_offset);
	if (l1_bytes > QEMU_MAX_L1_BYTES)
		report(p, Q2_C_L1_TABLE_TOO_LARGE, AT(L1_SIZE), Q2_NO_INDEX,
		       "%" PRIu32 " entries", h->l1_size);
	else if (h->l1_size < need)
		report(p, Q2_C_L1_TABLE_TOO_SMALL, AT(L1_SIZE), Q2_NO_INDEX,
		       "%" PRIu32 " entries, %" PRIu64 " needed", h->l1_size, need);
	if (beyond_eof(c, h->l1_table_offset, l1_bytes))
		report(p, Q2_C_L1_TABLE_BEYOND_EOF, AT(L1_TABLE_OFFSET), Q2_NO_INDEX,
		       "0x%" PRIx64 " + %" PRIu64 " bytes, file is %" PRIu64,
		       h->l1_table_offset, l1_bytes, c->file_size);
	if (h->refcount_table_offset % c->cs)
		report(p, Q2_C_REFCOUNT_TABLE_UNALIGNED, AT(REFCOUNT_TABLE_OFFSET),
		       Q2_NO_INDEX, "0x%" PRIx64, h->refcount_table_offset);
	if (!h->refcount_table_clusters)
		report(p, Q2_C_REFCOUNT_TABLE_EMPTY, AT(REFCOUNT_TABLE_CLUSTERS),
		       Q2_NO_INDEX, "%s", "");
	else if (reft_bytes > QEMU_MAX_REFTABLE_BYTES)
		report(p, Q2_C_REFCOUNT_TABLE_TOO_LARGE, AT(REFCOUNT_TABLE_CLUSTERS),
		       Q2_NO_INDEX, "%" PRIu32 " clusters", h->refcount_table_clusters);
	if (beyond_eof(c, h->refcount_table_offset, reft_bytes))
		report(p, Q2_C_REFCOUNT_TABLE_BEYOND_EOF, AT(REFCOUNT_TABLE_OFFSET),
		       Q2_NO_INDEX, "0x%" PRIx64 " + %" PRIu64 " bytes, file is %" PRIu64,
		       h->refcount_table_offset, reft_bytes, c->file_size);
	if (h->snapshot_offset % c->cs)
		report(p, Q2_C_SNAPSHOT_TABLE_UNALIGNED, AT(SNAPSHOT_OFFSET),
		       Q2_NO_INDEX, "0x%" PRIx64, h->snapshot_offset);
}

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
	check_tables(c);
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
	if ((incompat & Q2_INCOMPAT_EXTL2) &&
	    h->cluster_bits < QEMU_MIN_EXTL2_CLUSTER_BITS)
		report(p, Q2_C_EXTENDED_L2_SMALL_CLUSTERS, AT(CLUSTER_BITS),
		       Q2_NO_INDEX, "cluster_bits %" PRIu32, h->cluster_bits);
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

/* QEMU keeps a backing format of up to 15 bytes */
#define QEMU_MAX_BACKING_FORMAT 15u

/* What QEMU's extension reader requires of every bitmaps extension,
 * whether or not it is the one that counts; the limits on the count and
 * size are decoding errors for the one decoded. */
static void check_bitmaps_ext(struct ctx *c, const struct q2_ext *x)
{
	const struct q2_bitmaps_ext *bx = x->bitmaps;
	struct q2_problems *p = c->p;

	if (x->length > Q2_BITMAPS_EXT_SIZE)
		report(p, Q2_C_BITMAPS_EXTENSION_LENGTH, x->offset + Q2_EXT_LENGTH_AT,
		       Q2_NO_INDEX, "%" PRIu32, x->length);
	/* with the autoclear bit clear QEMU looks at the length only */
	if (!bx || !(c->img->header.autoclear_features & Q2_AUTOCLEAR_BITMAPS))
		return;
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
	if (bx->dir_decoded)
		return;
	if (bx->nb_bitmaps > Q2_MAX_BITMAPS)
		report(p, Q2_C_TOO_MANY_BITMAPS,
		       q2_bitmaps_ext_at(x->offset, Q2_BF_NB_BITMAPS),
		       Q2_NO_INDEX, "%" PRIu32 " in an earlier extension", bx->nb_bitmaps);
	if (bx->bitmap_directory_size > Q2_MAX_DIR_SIZE)
		report(p, Q2_C_DIR_TOO_LARGE,
		       q2_bitmaps_ext_at(x->offset, Q2_BF_DIRECTORY_SIZE),
		       Q2_NO_INDEX, "in an earlier extension");
}

static void check_crypto_ext(struct ctx *c, const struct q2_ext *x)
{
	const struct q2_header *h = &c->img->header;
	struct q2_problems *p = c->p;

	if (h->crypt_method != Q2_CRYPT_LUKS) {
		report(p, Q2_C_CRYPTO_HEADER_WITHOUT_LUKS, x->offset, Q2_NO_INDEX,
		       "crypt_method %" PRIu32, h->crypt_method);
		return;
	}
	if (x->length != Q2_CRYPTO_EXT_SIZE)
		report(p, Q2_C_CRYPTO_HEADER_LENGTH, x->offset + Q2_EXT_LENGTH_AT,
		       Q2_NO_INDEX, "%" PRIu32 " bytes", x->length);
	if (!x->has_crypto)
		return;
	/* the crypto header's offset is the extension's first field */
	if (x->crypto_offset % c->cs)
		report(p, Q2_C_CRYPTO_HEADER_UNALIGNED, x->offset + Q2_EXT_DATA_AT,
		       Q2_NO_INDEX, "0x%" PRIx64, x->crypto_offset);
	if (!x->crypto_length || x->crypto_offset >= c->file_size)
		report(p, Q2_C_CRYPTO_HEADER_BEYOND_EOF, x->offset + Q2_EXT_DATA_AT,
		       Q2_NO_INDEX, "0x%" PRIx64 " + %" PRIu64 " bytes, file is %" PRIu64,
		       x->crypto_offset, x->crypto_length, c->file_size);
}

static void check_extensions(struct ctx *c)
{
	const struct q2_image *img = c->img;
	const struct q2_header *h = &img->header;
	struct q2_problems *p = c->p;
	/* per kind, the last extension of it seen: one pass finds every
	 * repeat, however many extensions there are */
	const struct q2_ext *seen[Q2_EXTK_DATA_FILE + 1] = { 0 };
	bool has_bitmaps = false, has_crypto = false, has_data_file = false;

	for (size_t i = 0; i < img->n_exts; i++) {
		const struct q2_ext *x = &img->exts[i];

		if (x->kind != Q2_EXTK_UNKNOWN) {
			if (seen[x->kind])
				report(p, Q2_C_DUPLICATE_EXTENSION, x->offset, Q2_NO_INDEX,
				       "%s at 0x%" PRIx64 " and 0x%" PRIx64,
				       q2_ext_name(x->magic), seen[x->kind]->offset,
				       x->offset);
			seen[x->kind] = x;
		}
		switch (x->kind) {
		case Q2_EXTK_BACKING_FORMAT:
			if (x->length > QEMU_MAX_BACKING_FORMAT)
				report(p, Q2_C_BACKING_FORMAT_TOO_LONG,
				       x->offset + Q2_EXT_LENGTH_AT, Q2_NO_INDEX,
				       "%" PRIu32 " bytes", x->length);
			break;
		case Q2_EXTK_BITMAPS:
			has_bitmaps = true;
			check_bitmaps_ext(c, x);
			break;
		case Q2_EXTK_CRYPTO:
			has_crypto = true;
			check_crypto_ext(c, x);
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
	if (!has_data_file && (h->incompatible_features & Q2_INCOMPAT_DATA_FILE))
		report(p, Q2_C_DATA_FILE_BIT_WITHOUT_NAME, AT(INCOMPATIBLE_FEATURES),
		       Q2_NO_INDEX, "%s", "");
	if ((h->autoclear_features & Q2_AUTOCLEAR_DATA_FILE_RAW) &&
	    !(h->incompatible_features & Q2_INCOMPAT_DATA_FILE))
		report(p, Q2_C_RAW_EXTERNAL_DATA_WITHOUT_DATA_FILE,
		       AT(AUTOCLEAR_FEATURES), Q2_NO_INDEX, "%s", "");
}

#define ENTRY_AT(field) q2_dir_entry_at(bm, Q2_DF_##field)

static bool in_use(const struct q2_bitmap *bm)
{
	return bm->flags & Q2_BME_FLAG_IN_USE;
}

/* The table's size against the disk: QEMU wants it exact for a bitmap
 * it loads, and skips both tests for one in use (it never loads it). */
static void check_table_size(struct ctx *c, const struct q2_bitmap *bm,
			     uint32_t i)
{
	struct q2_problems *p = c->p;
	uint64_t n = bm->bitmap_table_size;
	uint64_t need;

	if (n > Q2_MAX_TABLE_ENTRIES || n * c->cs > Q2_MAX_BITMAP_PHYS) {
		report(p, Q2_C_TABLE_SIZE_TOO_LARGE, ENTRY_AT(TABLE_SIZE), i,
		       "%" PRIu64 " entries", n);
		return;
	}
	if (!n) {
		report(p, Q2_C_TABLE_SIZE_ZERO, ENTRY_AT(TABLE_SIZE), i, "%s", "");
		return;
	}
	if (bm->granularity_bits > 63 || in_use(bm))
		return;
	need = q2_bitmap_table_entries_needed(q2_disk_bytes(c->img),
					      bm->granularity_bits, c->cs);
	if (n < need)
		report(p, Q2_C_TABLE_SIZE_TOO_SMALL, ENTRY_AT(TABLE_SIZE), i,
		       "%" PRIu64 " entries, %" PRIu64 " needed", n, need);
	else if (n > need)
		report(p, Q2_C_TABLE_SIZE_EXCESS, ENTRY_AT(TABLE_SIZE), i,
		       "%" PRIu64 " entries, %" PRIu64 " needed", n, need);
}

static void check_entry(struct ctx *c, const struct q2_bitmap *bm, uint32_t i)
{
	struct q2_problems *p = c->p;
	uint64_t table_bytes = (uint64_t)bm->bitmap_table_size * Q2_BTE_SIZE;
	uint32_t gbits = bm->granularity_bits;

	if (!bm->bitmap_table_offset)
		report(p, Q2_C_TABLE_OFFSET_ZERO, ENTRY_AT(TABLE_OFFSET), i, "%s", "");
	else if (bm->bitmap_table_offset % c->cs)
		report(p, Q2_C_TABLE_UNALIGNED, ENTRY_AT(TABLE_OFFSET), i,
		       "0x%" PRIx64, bm->bitmap_table_offset);
	if (bm->bitmap_table_offset && beyond_eof(c, bm->bitmap_table_offset, table_bytes))
		report(p, Q2_C_TABLE_BEYOND_EOF, ENTRY_AT(TABLE_OFFSET), i,
		       "0x%" PRIx64 " + %" PRIu64 " bytes, file is %" PRIu64,
		       bm->bitmap_table_offset, table_bytes, c->file_size);
	else if (bm->bitmap_table_offset &&
		 past_end(c, bm->bitmap_table_offset, table_bytes))
		report(p, Q2_C_TABLE_CUT_SHORT, ENTRY_AT(TABLE_OFFSET), i,
		       "0x%" PRIx64 " + %" PRIu64 " bytes, file is %" PRIu64,
		       bm->bitmap_table_offset, table_bytes, c->file_size);
	check_table_size(c, bm, i);
	if (bm->flags & ~Q2_BME_FLAGS_KNOWN)
		report(p, Q2_C_RESERVED_FLAGS, ENTRY_AT(FLAGS), i, "0x%" PRIx32,
		       bm->flags & ~Q2_BME_FLAGS_KNOWN);
	if (bm->flags & Q2_BME_FLAG_EXTRA_DATA_COMPATIBLE)
		report(p, Q2_C_EXTRA_DATA_COMPATIBLE_FLAG, ENTRY_AT(FLAGS), i, "%s", "");
	if (in_use(bm))
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

/* At most CAP problems of one code are listed for one bitmap; one more
 * says how many were left out.  A hostile table of 2^20 bad entries
 * costs a pass over it, not 2^20 problems. */
#define CAP 100u

struct capped {
	uint32_t n[Q2_CODE_COUNT_];
};

static bool under_cap(struct capped *cap, enum q2_code code)
{
	return ++cap->n[code] <= CAP;
}

static void report_left_out(struct ctx *c, const struct capped *cap,
			    uint64_t at, uint32_t bitmap)
{
	for (int code = 0; code < Q2_CODE_COUNT_; code++)
		if (cap->n[code] > CAP)
			report(c->p, (enum q2_code)code, at, bitmap,
			       "%" PRIu32 " more of these not listed",
			       cap->n[code] - CAP);
}

/* An entry QEMU rejects stops the open for a bitmap it loads; one in use
 * is not loaded, and only qemu-img check fails on it. */
__attribute__((format(printf, 7, 8)))
static void report_entry(struct ctx *c, struct capped *cap,
			 const struct q2_bitmap *bm, enum q2_code code,
			 uint64_t at, uint32_t i, const char *fmt, ...)
{
	char detail[160];
	struct q2_problem *pb;
	va_list ap;

	if (!under_cap(cap, code))
		return;
	va_start(ap, fmt);
	vsnprintf(detail, sizeof detail, fmt, ap);
	va_end(ap);
	pb = report(c->p, code, at, i, "%s", detail);
	if (pb && (bm->flags & Q2_BME_FLAG_IN_USE) && pb->scope == Q2_SCOPE_OPEN)
		pb->scope = Q2_SCOPE_CHECK;
}

static void check_table(struct ctx *c, const struct q2_bitmap *bm, uint32_t i)
{
	struct capped cap = { { 0 } };

	/* entries beyond the file read as zeroes: nothing to check there */
	for (uint32_t k = 0; bm->table_loaded && k < bm->table_in_file; k++) {
		uint64_t e = bm->table[k];
		uint64_t off = e & Q2_BTE_OFFSET_MASK;
		uint64_t at = bm->bitmap_table_offset + 8ull * k;

		if (e & Q2_BTE_RESERVED_MASK)
			report_entry(c, &cap, bm, Q2_C_TABLE_ENTRY_RESERVED, at, i,
				     "entry %" PRIu32 ": 0x%016" PRIx64, k, e);
		if (!off)
			continue;
		if (e & Q2_BTE_ALL_ONES)
			report_entry(c, &cap, bm, Q2_C_TABLE_ENTRY_INVALID, at, i,
				     "entry %" PRIu32, k);
		if (off % c->cs)
			report_entry(c, &cap, bm, Q2_C_TABLE_ENTRY_UNALIGNED, at, i,
				     "entry %" PRIu32 ": 0x%" PRIx64, k, off);
		if (beyond_eof(c, off, c->cs))
			report_entry(c, &cap, bm, Q2_C_TABLE_ENTRY_BEYOND_EOF, at, i,
				     "entry %" PRIu32 ": 0x%" PRIx64, k, off);
		else if (past_end(c, off, c->cs))
			report_entry(c, &cap, bm, Q2_C_DATA_CLUSTER_CUT_SHORT, at, i,
				     "entry %" PRIu32 ": 0x%" PRIx64 ", file is %" PRIu64,
				     k, off, c->file_size);
	}
	report_left_out(c, &cap, bm->bitmap_table_offset, i);
}

/* QEMU knows a bitmap by its name up to the first NUL. */
static int cmp_name(const void *a, const void *b, const void *arg)
{
	const struct q2_bitmap *v = arg;
	const struct q2_bitmap *x = &v[*(const uint32_t *)a];
	const struct q2_bitmap *y = &v[*(const uint32_t *)b];
	size_t xl = q2_bitmap_qemu_name_len(x), yl = q2_bitmap_qemu_name_len(y);
	int r;

	if (xl != yl)
		return xl < yl ? -1 : 1;
	r = memcmp(x->name, y->name, xl);
	if (r)
		return r;
	/* equal names in directory order, so the later one is reported */
	return *(const uint32_t *)a < *(const uint32_t *)b ? -1 : 1;
}

/* Sorting makes the duplicate check n log n for 65535 bitmaps.  QEMU
 * refuses the image when a name comes twice, unless the later one is in
 * use: that one it skips. */
static void check_duplicate_names(struct ctx *c, const struct q2_bitmaps_ext *bx)
{
	uint32_t *order = malloc(bx->n_bitmaps * sizeof *order);

	if (!order) {
		q2_problems_add(c->p, Q2_C_NOMEM, bx->bitmap_directory_offset,
				Q2_NO_INDEX, Q2_FROM_DECODE,
				strdup("out of memory: duplicate names could not be looked for"));
		return;
	}
	for (uint32_t i = 0; i < bx->n_bitmaps; i++)
		order[i] = i;
	q2_sort(order, bx->n_bitmaps, sizeof *order, cmp_name, bx->bitmaps);
	for (size_t k = 1, first = 0; k < bx->n_bitmaps; k++) {
		const struct q2_bitmap *a = &bx->bitmaps[order[first]];
		const struct q2_bitmap *b = &bx->bitmaps[order[k]];
		size_t len = q2_bitmap_qemu_name_len(b);

		if (q2_bitmap_qemu_name_len(a) != len || memcmp(a->name, b->name, len)) {
			first = k;
			continue;
		}
		report(c->p, in_use(b) ? Q2_C_DUPLICATE_NAME_IN_USE : Q2_C_DUPLICATE_NAME,
		       b->entry_offset, order[k], "entries %" PRIu32 " and %" PRIu32,
		       order[first], order[k]);
	}
	free(order);
}

/* Faults come sorted by cluster; CAP of each kind are listed per
 * bitmap (and for the directory), the rest counted. */
static void check_refcounts(struct ctx *c, const struct q2_bitmaps_ext *bx)
{
	const struct q2_refcounts *rc = &c->f->refcounts;
	size_t slots = (size_t)bx->n_bitmaps + 1;
	uint32_t (*counts)[3] = calloc(slots, sizeof *counts);
	static const enum q2_code kinds[3] = {
		Q2_C_REFCOUNT_UNREADABLE, Q2_C_REFCOUNT_ZERO, Q2_C_REFCOUNT_EXCESS,
	};

	if (!counts) {
		q2_problems_add(c->p, Q2_C_NOMEM, 0, Q2_NO_INDEX, Q2_FROM_DECODE,
				strdup("out of memory: refcounts could not be held to"));
		return;
	}
	for (size_t i = 0; i < rc->n; i++) {
		const struct q2_refcount_fault *f = &rc->v[i];
		const char *what = f->bitmap == Q2_NO_INDEX ? "bitmap directory"
							     : "bitmap table or data";
		size_t slot = f->bitmap == Q2_NO_INDEX ? bx->n_bitmaps : f->bitmap;
		int kind = f->unreadable ? 0 : !f->refcount ? 1 : 2;

		if (slot >= slots || ++counts[slot][kind] > CAP)
			continue;
		if (kind == 2)
			report(c->p, kinds[kind], f->offset, f->bitmap,
			       "%s cluster 0x%" PRIx64 ": refcount %" PRIu64,
			       what, f->offset, f->refcount);
		else
			report(c->p, kinds[kind], f->offset, f->bitmap,
			       "%s cluster 0x%" PRIx64, what, f->offset);
	}
	for (size_t slot = 0; slot < slots; slot++)
		for (int kind = 0; kind < 3; kind++)
			if (counts[slot][kind] > CAP)
				report(c->p, kinds[kind], bx->bitmap_directory_offset,
				       slot < bx->n_bitmaps ? (uint32_t)slot : Q2_NO_INDEX,
				       "%" PRIu32 " more of these not listed",
				       counts[slot][kind] - CAP);
	free(counts);
}

/* ---- overlaps between metadata structures ---- */

#define MAX_OVERLAPS 100u

/* Whether the overlap check holds span s: with the directory ignored
 * (bx NULL) its structures do not count, and a table at offset 0 is
 * table-offset-zero, not an overlap with the header. */
static bool counted(const struct q2_span *s, const struct q2_bitmaps_ext *bx)
{
	switch (s->kind) {
	case Q2_SPAN_BITMAP_DIR:
	case Q2_SPAN_BITMAP_DATA:
		return bx != NULL;
	case Q2_SPAN_BITMAP_TABLE:
		return bx != NULL && s->start != 0;
	default:
		return true;
	}
}

/* bx: the directory whose structures count, or NULL */
static void check_overlaps(struct ctx *c, const struct q2_layout *layout,
			   const struct q2_bitmaps_ext *bx)
{
	const struct q2_span *best = NULL;
	size_t reported = 0;

	/* out of memory: no confident "no overlap" */
	if (layout->failed) {
		q2_problems_add(c->p, Q2_C_NOMEM, 0, Q2_NO_INDEX, Q2_FROM_DECODE,
				strdup("out of memory: the overlap check could not be made"));
		return;
	}
	/* best: the span reaching furthest so far; anything starting before
	 * its end overlaps it */
	for (size_t k = 0; k < layout->n; k++) {
		const struct q2_span *s = &layout->v[k];

		if (!counted(s, bx))
			continue;
		if (best && s->start < best->end && reported++ < MAX_OVERLAPS) {
			uint32_t bk = q2_span_bitmap(s), bb = q2_span_bitmap(best);
			char a[160], b[160];

			q2_span_describe(c->img, best, a, sizeof a);
			q2_span_describe(c->img, s, b, sizeof b);
			report(c->p, Q2_C_OVERLAP, s->start, bk != Q2_NO_INDEX ? bk : bb,
			       "%s at 0x%" PRIx64 " and %s at 0x%" PRIx64, a,
			       best->start, b, s->start);
			/* both bitmaps lose their clusters' integrity */
			if (bk != Q2_NO_INDEX && bb != Q2_NO_INDEX && bb != bk)
				report(c->p, Q2_C_OVERLAP, best->start, bb,
				       "%s at 0x%" PRIx64 " and %s at 0x%" PRIx64,
				       a, best->start, b, s->start);
		}
		if (!best || s->end > best->end)
			best = s;
	}
	if (reported > MAX_OVERLAPS)
		report(c->p, Q2_C_OVERLAP, 0, Q2_NO_INDEX, "%zu more not listed",
		       reported - MAX_OVERLAPS);
}

void q2_check(const struct q2_image *img, const struct q2_layout *layout,
	      const struct q2_findings *f, struct q2_problems *p)
{
	struct ctx c = { .img = img, .f = f, .p = p,
			 .file_size = img->file_size,
			 .file_bytes = q2_file_bytes(img) };
	const struct q2_bitmaps_ext *bx = q2_image_bitmaps(img);

	/* without a sound header there is nothing more to hold it to */
	c.cs = q2_image_cluster_size(img);
	if (!c.cs)
		return;
	check_header(&c);
	check_extensions(&c);
	/* with the autoclear bit clear QEMU ignores the directory: nothing
	 * in it stops it, and its clusters count as leaks */
	if (bx && !(img->header.autoclear_features & Q2_AUTOCLEAR_BITMAPS))
		bx = NULL;
	if (bx) {
		for (uint32_t i = 0; i < bx->n_bitmaps; i++)
			check_entry(&c, &bx->bitmaps[i], i);
		check_duplicate_names(&c, bx);
		for (uint32_t i = 0; i < bx->n_bitmaps; i++)
			check_table(&c, &bx->bitmaps[i], i);
	}
	q2_check_snapshots(img, p, c.cs);
	if (bx)
		check_refcounts(&c, bx);
	check_overlaps(&c, layout, bx);
}
