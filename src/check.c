#include "config.h"

#include "check.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "describe.h"

#define E Q2_SEV_ERROR
#define W Q2_SEV_WARNING

/* Every problem --check can report.  The man page lists the same codes
 * (a test holds it to that). */
const struct q2_rule q2_rules[] = {
	/* header */
	{ "refcount-order-too-large", E, "refcount_order is above 6 (64-bit refcounts)",
	  "the header is damaged; restore the image from a backup" },
	{ "header-length-unaligned", E, "header_length is not a multiple of 8",
	  "the header is damaged or written by a broken tool" },
	{ "l1-table-unaligned", E, "l1_table_offset is not cluster aligned",
	  "the header is damaged; qemu-img check -r all may not help, restore from a backup" },
	{ "refcount-table-unaligned", E, "refcount_table_offset is not cluster aligned",
	  "the header is damaged; restore from a backup" },
	{ "snapshot-table-unaligned", E, "snapshot_offset is not cluster aligned",
	  "the header is damaged; restore from a backup" },
	{ "unknown-incompatible-bits", E, "incompatible_features has bits this spec does not define",
	  "QEMU refuses such an image; it was written by newer or foreign software" },
	{ "dirty", W, "the dirty bit is set: refcounts may be stale (lazy refcounts, not closed cleanly)",
	  "if no VM has the image open, run qemu-img check -r all" },
	{ "corrupt", W, "the corrupt bit is set: QEMU found corruption and will not write the image",
	  "run qemu-img check -r all, then qemu-img amend or restore from a backup" },
	{ "compression-type-unknown", E, "compression_type is neither 0 (deflate) nor 1 (zstd)",
	  "QEMU refuses the image; it was written by foreign software or is damaged" },
	{ "compression-type-without-bit", E, "compression_type is non-zero but the compression type incompatible bit is clear",
	  "the header is inconsistent; QEMU refuses it" },
	{ "compression-bit-without-type", E, "the compression type incompatible bit is set but compression_type is absent or zero",
	  "the header is inconsistent; QEMU refuses it" },
	{ "unknown-crypt-method", E, "crypt_method is not 0, 1 (AES) or 2 (LUKS)",
	  "the header is damaged" },
	{ "backing-name-outside-cluster", E, "the backing file name does not lie inside the first cluster",
	  "QEMU refuses the image; rebase it with qemu-img rebase -u" },
	/* extensions */
	{ "duplicate-extension", E, "a header extension type appears more than once",
	  "QEMU reads only the first copy; the image was edited by a broken tool" },
	{ "bitmaps-extension-length", E, "the bitmaps extension is not 24 bytes long",
	  "QEMU refuses the bitmaps; remove them with qemu-img bitmap --remove after a backup" },
	{ "bitmaps-reserved", E, "the bitmaps extension's reserved32 field is not zero",
	  "QEMU refuses the bitmaps" },
	{ "bitmaps-none", E, "the bitmaps extension says nb_bitmaps is 0",
	  "the extension should have been removed with the last bitmap" },
	{ "directory-unaligned", E, "bitmap_directory_offset is not cluster aligned",
	  "QEMU refuses the bitmaps" },
	{ "autoclear-bitmaps-clear", W, "the image has bitmaps but the autoclear bitmaps bit is clear: a program without bitmap support wrote it, so every bitmap is stale",
	  "do not use the bitmaps for incremental backup; take a full backup and recreate them" },
	{ "autoclear-bitmaps-without-extension", E, "the autoclear bitmaps bit is set but there is no bitmaps extension",
	  "the header is inconsistent" },
	{ "crypto-header-without-luks", E, "a crypto header extension exists but crypt_method is not LUKS",
	  "the header is inconsistent" },
	{ "luks-without-crypto-header", E, "crypt_method is LUKS but there is no crypto header extension",
	  "QEMU cannot open the image; restore from a backup" },
	{ "crypto-header-unaligned", E, "the crypto header offset is not cluster aligned",
	  "the header is damaged" },
	{ "data-file-name-without-bit", W, "a data file name extension exists but the external data file bit is clear",
	  "QEMU ignores the name; remove the extension or set the bit with qemu-img amend" },
	{ "raw-external-data-without-data-file", E, "the raw external data bit is set without the external data file bit",
	  "the header is inconsistent" },
	/* bitmap directory entries */
	{ "table-offset-zero", E, "bitmap_table_offset is 0", "QEMU refuses the bitmap; remove it" },
	{ "table-unaligned", E, "bitmap_table_offset is not cluster aligned", "QEMU refuses the bitmap; remove it" },
	{ "table-beyond-eof", E, "the bitmap table lies (partly) beyond the end of the file",
	  "the image is truncated; the bitmap is lost, remove it" },
	{ "table-size-zero", E, "bitmap_table_size is 0", "QEMU refuses the bitmap; remove it" },
	{ "table-too-large", E, "bitmap_table_size exceeds QEMU's limit (0x8000000 entries, 512 MiB of bitmap)",
	  "QEMU refuses the bitmap; remove it" },
	{ "table-too-small", E, "the bitmap table is too small for the virtual size at this granularity",
	  "QEMU refuses the bitmap (was the disk grown by a tool that kept it?); remove it" },
	{ "table-size-excess", W, "the bitmap table is larger than the virtual size needs at this granularity",
	  "harmless for reading; QEMU would size it exactly" },
	{ "reserved-flags", E, "a reserved bitmap flag (bits 3 to 31) is set", "QEMU refuses the bitmap" },
	{ "extra-data-compatible-flag", W, "flag extra_data_compatible is set; QEMU treats it as reserved",
	  "QEMU will not load this bitmap" },
	{ "bitmap-type", E, "the bitmap type is not 1 (dirty tracking)", "QEMU refuses the bitmap" },
	{ "granularity-out-of-range", E, "granularity_bits is above 63", "the entry is damaged; remove the bitmap" },
	{ "granularity-beyond-qemu", E, "granularity_bits is outside QEMU's 9..31",
	  "the spec allows it but QEMU refuses the bitmap" },
	{ "name-empty", E, "name_size is 0", "the entry is damaged; remove the bitmap" },
	{ "name-too-long", E, "name_size exceeds 1023 bytes", "QEMU refuses the bitmap" },
	{ "duplicate-name", E, "two bitmaps have the same name", "QEMU refuses the bitmaps; remove one" },
	{ "nonzero-padding", E, "the padding after a directory entry is not zero", "the directory is damaged" },
	{ "extra-data", W, "the bitmap has extra data, which QEMU does not load",
	  "QEMU will not load this bitmap; only software that knows the extra data can" },
	{ "extra-data-incompatible", W, "the bitmap has extra data and flag extra_data_compatible is clear: it must not be used",
	  "leave it as it is; software that does not know the extra data must not use the bitmap" },
	{ "bitmap-in-use", W, "flag in_use is set: the bitmap was not saved cleanly, or a VM has the image open now",
	  "if no VM has the image open the bitmap is stale: take a full backup and recreate it" },
	/* bitmap tables */
	{ "table-entry-reserved", E, "a bitmap table entry has reserved bits set", "the table is damaged; remove the bitmap" },
	{ "table-entry-unaligned", E, "a bitmap table entry's offset is not cluster aligned", "the table is damaged; remove the bitmap" },
	{ "table-entry-beyond-eof", E, "a bitmap data cluster lies beyond the end of the file", "the image is truncated; remove the bitmap" },
	{ "table-entry-invalid", E, "a bitmap table entry has both an offset and the all-ones bit", "the table is damaged; remove the bitmap" },
	/* layout */
	{ "overlap", E, "two metadata structures share bytes of the file",
	  "one of them is damaged; run qemu-img check and restore from a backup" },
};
const size_t q2_n_rules = sizeof q2_rules / sizeof q2_rules[0];

const char *q2_severity_name(enum q2_severity s)
{
	return s == Q2_SEV_ERROR ? "error" : "warning";
}

static const struct q2_rule *rule(const char *code)
{
	for (size_t i = 0; i < q2_n_rules; i++)
		if (strcmp(q2_rules[i].code, code) == 0)
			return &q2_rules[i];
	return NULL;
}

void q2_problems_add(struct q2_problems *p, enum q2_severity sev,
		     const char *code, uint64_t offset, uint32_t bitmap,
		     char *message)
{
	if (p->n == p->cap) {
		size_t cap = p->cap ? p->cap * 2 : 16;
		struct q2_problem *v = realloc(p->v, cap * sizeof *v);

		if (!v) {
			free(message);
			return;
		}
		p->v = v;
		p->cap = cap;
	}
	p->v[p->n++] = (struct q2_problem){ sev, code, message, offset, bitmap };
	if (sev == Q2_SEV_ERROR)
		p->n_errors++;
}

/* A problem of a rule, its message the rule's meaning and a detail. */
__attribute__((format(printf, 5, 6)))
static void report(struct q2_problems *p, const char *code, uint64_t offset,
		   uint32_t bitmap, const char *fmt, ...)
{
	const struct q2_rule *r = rule(code);
	char *detail = NULL, *msg = NULL;
	va_list ap;

	va_start(ap, fmt);
	if (vasprintf(&detail, fmt, ap) < 0)
		detail = NULL;
	va_end(ap);
	if (asprintf(&msg, "%s%s%s", r->meaning, detail && *detail ? ": " : "",
		     detail ? detail : "") < 0)
		msg = NULL;
	free(detail);
	q2_problems_add(p, r->severity, r->code, offset, bitmap, msg);
}

const struct q2_bitmap *q2_problem_bitmap(const struct q2_image *img,
					  const struct q2_problem *pb)
{
	const struct q2_bitmaps_ext *bx = q2_image_bitmaps(img);

	return bx && pb->bitmap < bx->n_bitmaps ? &bx->bitmaps[pb->bitmap] : NULL;
}

void q2_problems_add_errors(struct q2_problems *p, const struct q2_image *img)
{
	const struct q2_bitmaps_ext *bx = q2_image_bitmaps(img);

	for (size_t i = 0; i < img->n_errors; i++) {
		const struct q2_error *e = &img->errors[i];
		char buf[512];
		uint32_t bitmap = Q2_NO_INDEX;

		if ((e->where == Q2_W_DIR_ENTRY || e->where == Q2_W_TABLE) && bx &&
		    e->index < bx->n_bitmaps)
			bitmap = e->index;
		q2_problems_add(p, Q2_SEV_ERROR, q2_code_name(e->code), e->offset, bitmap,
		     strdup(q2_error_format(e, buf, sizeof buf)));
	}
}

void q2_problems_free(struct q2_problems *p)
{
	for (size_t i = 0; i < p->n; i++)
		free(p->v[i].message);
	free(p->v);
	memset(p, 0, sizeof *p);
}

struct ctx {
	const struct q2_image *img;
	struct q2_problems *p;
	uint64_t cs;          /* cluster size */
	uint64_t file_size;
};

static bool fits(const struct ctx *c, uint64_t off, uint64_t len)
{
	return off <= c->file_size && len <= c->file_size - off;
}

static void check_header(struct ctx *c)
{
	const struct q2_header *h = &c->img->header;
	struct q2_problems *p = c->p;
	bool bit3 = h->incompatible_features & (1u << 3);

	if (h->refcount_order > 6)
		report(p, "refcount-order-too-large", 96, Q2_NO_INDEX, "%" PRIu32, h->refcount_order);
	if (h->version >= 3 && h->header_length % 8)
		report(p, "header-length-unaligned", 100, Q2_NO_INDEX, "%" PRIu32, h->header_length);
	if (h->l1_table_offset % c->cs)
		report(p, "l1-table-unaligned", 40, Q2_NO_INDEX, "0x%" PRIx64, h->l1_table_offset);
	if (h->refcount_table_offset % c->cs)
		report(p, "refcount-table-unaligned", 48, Q2_NO_INDEX, "0x%" PRIx64,
		       h->refcount_table_offset);
	if (h->nb_snapshots && h->snapshot_offset % c->cs)
		report(p, "snapshot-table-unaligned", 64, Q2_NO_INDEX, "0x%" PRIx64, h->snapshot_offset);
	if (h->incompatible_features & ~(uint64_t)0x1f)
		report(p, "unknown-incompatible-bits", 72, Q2_NO_INDEX, "0x%" PRIx64,
		       h->incompatible_features & ~(uint64_t)0x1f);
	if (h->incompatible_features & 1)
		report(p, "dirty", 72, Q2_NO_INDEX, "%s", "");
	if (h->incompatible_features & 2)
		report(p, "corrupt", 72, Q2_NO_INDEX, "%s", "");
	if (h->has_compression_type && h->compression_type > 1)
		report(p, "compression-type-unknown", 104, Q2_NO_INDEX, "%u", h->compression_type);
	if (h->has_compression_type && h->compression_type && !bit3)
		report(p, "compression-type-without-bit", 104, Q2_NO_INDEX, "%u", h->compression_type);
	if (bit3 && (!h->has_compression_type || !h->compression_type))
		report(p, "compression-bit-without-type", 72, Q2_NO_INDEX, "%s", "");
	if (h->crypt_method > 2)
		report(p, "unknown-crypt-method", 32, Q2_NO_INDEX, "%" PRIu32, h->crypt_method);
	if (h->backing_file_offset &&
	    (h->backing_file_offset > c->cs ||
	     h->backing_file_size > c->cs - h->backing_file_offset))
		report(p, "backing-name-outside-cluster", 8, Q2_NO_INDEX,
		       "0x%" PRIx64 " + %" PRIu32, h->backing_file_offset, h->backing_file_size);
}

static void check_extensions(struct ctx *c)
{
	const struct q2_image *img = c->img;
	const struct q2_header *h = &img->header;
	struct q2_problems *p = c->p;
	bool has_bitmaps = false, has_crypto = false, has_data_file = false;

	for (size_t i = 0; i < img->n_exts; i++) {
		const struct q2_ext *x = &img->exts[i];

		for (size_t k = 0; x->kind != Q2_EXTK_UNKNOWN && k < i; k++)
			if (img->exts[k].magic == x->magic) {
				report(p, "duplicate-extension", x->offset, Q2_NO_INDEX,
				       "%s at 0x%" PRIx64 " and 0x%" PRIx64,
				       q2_ext_name(x->magic), img->exts[k].offset, x->offset);
				break;
			}
		switch (x->kind) {
		case Q2_EXTK_BITMAPS:
			has_bitmaps = true;
			if (x->length > Q2_BITMAPS_EXT_SIZE)
				report(p, "bitmaps-extension-length", x->offset + 4,
				       Q2_NO_INDEX, "%" PRIu32, x->length);
			if (!x->bitmaps)
				break;
			if (x->bitmaps->reserved32)
				report(p, "bitmaps-reserved", x->offset + 12, Q2_NO_INDEX,
				       "%" PRIu32, x->bitmaps->reserved32);
			if (!x->bitmaps->nb_bitmaps)
				report(p, "bitmaps-none", x->offset + 8, Q2_NO_INDEX, "%s", "");
			if (x->bitmaps->bitmap_directory_offset % c->cs)
				report(p, "directory-unaligned", x->offset + 24, Q2_NO_INDEX,
				       "0x%" PRIx64, x->bitmaps->bitmap_directory_offset);
			break;
		case Q2_EXTK_CRYPTO:
			has_crypto = true;
			if (x->has_crypto && x->crypto_offset % c->cs)
				report(p, "crypto-header-unaligned", x->offset + 8,
				       Q2_NO_INDEX, "0x%" PRIx64, x->crypto_offset);
			if (h->crypt_method != 2)
				report(p, "crypto-header-without-luks", x->offset,
				       Q2_NO_INDEX, "crypt_method %" PRIu32, h->crypt_method);
			break;
		case Q2_EXTK_DATA_FILE:
			has_data_file = true;
			break;
		default:
			break;
		}
	}
	if (has_bitmaps && !(h->autoclear_features & 1))
		report(p, "autoclear-bitmaps-clear", 88, Q2_NO_INDEX, "%s", "");
	if (!has_bitmaps && (h->autoclear_features & 1))
		report(p, "autoclear-bitmaps-without-extension", 88, Q2_NO_INDEX, "%s", "");
	if (h->crypt_method == 2 && !has_crypto)
		report(p, "luks-without-crypto-header", 32, Q2_NO_INDEX, "%s", "");
	if (has_data_file && !(h->incompatible_features & 4))
		report(p, "data-file-name-without-bit", 72, Q2_NO_INDEX, "%s", "");
	if ((h->autoclear_features & 2) && !(h->incompatible_features & 4))
		report(p, "raw-external-data-without-data-file", 88, Q2_NO_INDEX, "%s", "");
}

/* ceil(ceil(size / granularity) / 8 / cluster_size), without overflow */
static uint64_t table_entries_needed(uint64_t size, unsigned gbits, uint64_t cs)
{
	uint64_t bits = (size >> gbits) + ((size & ((1ull << gbits) - 1)) != 0);
	uint64_t bytes = bits / 8 + (bits % 8 != 0);

	return bytes / cs + (bytes % cs != 0);
}

static void check_entry(struct ctx *c, const struct q2_bitmap *bm, uint32_t i)
{
	struct q2_problems *p = c->p;
	uint64_t at = bm->entry_offset;
	uint64_t n = bm->bitmap_table_size;

	if (!bm->bitmap_table_offset)
		report(p, "table-offset-zero", at, i, "%s", "");
	else if (bm->bitmap_table_offset % c->cs)
		report(p, "table-unaligned", at, i, "0x%" PRIx64, bm->bitmap_table_offset);
	if (bm->bitmap_table_offset && !fits(c, bm->bitmap_table_offset, n * 8))
		report(p, "table-beyond-eof", at, i, "0x%" PRIx64 " + %" PRIu64 " bytes, file is %" PRIu64,
		       bm->bitmap_table_offset, n * 8, c->file_size);
	if (!n)
		report(p, "table-size-zero", at + 8, i, "%s", "");
	if (n > Q2_MAX_TABLE_ENTRIES || n * c->cs > Q2_MAX_BITMAP_PHYS)
		report(p, "table-too-large", at + 8, i, "%" PRIu64 " entries", n);
	else if (n && bm->granularity_bits < 64) {
		uint64_t need = table_entries_needed(c->img->header.size,
						     bm->granularity_bits, c->cs);

		if (n < need)
			report(p, "table-too-small", at + 8, i,
			       "%" PRIu64 " entries, %" PRIu64 " needed", n, need);
		else if (n > need)
			report(p, "table-size-excess", at + 8, i,
			       "%" PRIu64 " entries, %" PRIu64 " needed", n, need);
	}
	if (bm->flags & ~(uint32_t)7)
		report(p, "reserved-flags", at + 12, i, "0x%" PRIx32, bm->flags & ~(uint32_t)7);
	if (bm->flags & Q2_BME_FLAG_EXTRA_DATA_COMPATIBLE)
		report(p, "extra-data-compatible-flag", at + 12, i, "%s", "");
	if (bm->flags & Q2_BME_FLAG_IN_USE)
		report(p, "bitmap-in-use", at + 12, i, "%s", "");
	if (bm->type != 1)
		report(p, "bitmap-type", at + 16, i, "%u", bm->type);
	if (bm->granularity_bits > 63)
		report(p, "granularity-out-of-range", at + 17, i, "%u", bm->granularity_bits);
	else if (bm->granularity_bits < 9 || bm->granularity_bits > 31)
		report(p, "granularity-beyond-qemu", at + 17, i, "%u", bm->granularity_bits);
	if (!bm->name_size)
		report(p, "name-empty", at + 18, i, "%s", "");
	else if (bm->name_size > Q2_MAX_BITMAP_NAME)
		report(p, "name-too-long", at + 18, i, "%u bytes", bm->name_size);
	if (bm->padding_nonzero)
		report(p, "nonzero-padding", at + 24 + bm->extra_data_size + bm->name_size,
		       i, "%s", "");
	if (bm->extra_data_size)
		report(p, (bm->flags & Q2_BME_FLAG_EXTRA_DATA_COMPATIBLE)
				  ? "extra-data" : "extra-data-incompatible",
		       at + 20, i, "%" PRIu32 " bytes", bm->extra_data_size);
}

static void check_table(struct ctx *c, const struct q2_bitmap *bm, uint32_t i)
{
	for (uint32_t k = 0; bm->table_loaded && k < bm->bitmap_table_size; k++) {
		uint64_t e = bm->table[k];
		uint64_t off = e & Q2_BTE_OFFSET_MASK;
		uint64_t at = bm->bitmap_table_offset + 8ull * k;

		if (e & Q2_BTE_RESERVED_MASK)
			report(c->p, "table-entry-reserved", at, i, "entry %" PRIu32 ": 0x%016" PRIx64, k, e);
		if (!off)
			continue;
		if (e & Q2_BTE_ALL_ONES)
			report(c->p, "table-entry-invalid", at, i, "entry %" PRIu32, k);
		if (off % c->cs)
			report(c->p, "table-entry-unaligned", at, i,
			       "entry %" PRIu32 ": 0x%" PRIx64, k, off);
		if (!fits(c, off, c->cs))
			report(c->p, "table-entry-beyond-eof", at, i,
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
			report(c->p, "duplicate-name", b->entry_offset, order[k],
			       "entries %" PRIu32 " and %" PRIu32, order[k - 1], order[k]);
	}
	free(order);
}

/* ---- overlaps between metadata structures ---- */

enum span_kind { SPAN_HEADER, SPAN_L1, SPAN_REFCOUNT, SPAN_CRYPTO, SPAN_DIR,
		 SPAN_TABLE, SPAN_DATA };

struct span {
	uint64_t start, end;
	enum span_kind kind;
	uint32_t bitmap;
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
	};
	const struct q2_bitmaps_ext *bx = q2_image_bitmaps(c->img);
	int n = snprintf(buf, size, "%s", names[s->kind]);

	if ((s->kind == SPAN_TABLE || s->kind == SPAN_DATA) && bx &&
	    s->bitmap < bx->n_bitmaps && n >= 0 && (size_t)n < size) {
		const struct q2_bitmap *bm = &bx->bitmaps[s->bitmap];

		snprintf(buf + n, size - (size_t)n, " of bitmap %u (%.*s)", s->bitmap,
			 bm->name_size > 64 ? 64 : bm->name_size, bm->name);
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
	qsort(s.v, s.n, sizeof *s.v, cmp_span);
	/* best: the span reaching furthest so far; anything starting before
	 * its end overlaps it */
	for (size_t k = 1; k < s.n; k++) {
		if (s.v[k].start < s.v[best].end) {
			char a[160], b[160];

			if (reported++ < MAX_OVERLAPS) {
				describe_span(c, &s.v[best], a, sizeof a);
				describe_span(c, &s.v[k], b, sizeof b);
				report(c->p, "overlap", s.v[k].start,
				       s.v[k].kind >= SPAN_TABLE ? s.v[k].bitmap : Q2_NO_INDEX,
				       "%s at 0x%" PRIx64 " and %s at 0x%" PRIx64, a,
				       s.v[best].start, b, s.v[k].start);
			}
		}
		if (s.v[k].end > s.v[best].end)
			best = k;
	}
	if (reported > MAX_OVERLAPS)
		report(c->p, "overlap", 0, Q2_NO_INDEX, "%zu more not listed",
		       reported - MAX_OVERLAPS);
	free(s.v);
}

void q2_check(const struct q2_image *img, struct q2_problems *p)
{
	struct ctx c = { .img = img, .p = p, .file_size = img->file_size };
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
	check_overlaps(&c);
}
