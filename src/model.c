/* The model's field tables (each on-disk field once, for the decoder
 * and every emitter), its helpers, and the one way to free it. */
#include "config.h"

#include "model.h"

#include <stdlib.h>
#include <string.h>

#include "be.h"
#include "bigmem.h"
#include "util.h"

#define FIELD(type, member, off, fmt)                                        \
	{ #member, off, sizeof(((type *)0)->member), offsetof(type, member), \
	  fmt }

const struct q2_field q2_header_fields[Q2_HF_COUNT_] = {
	[Q2_HF_MAGIC] = FIELD(struct q2_header, magic, 0, Q2_FMT_HEX),
	[Q2_HF_VERSION] = FIELD(struct q2_header, version, 4, Q2_FMT_DEC),
	[Q2_HF_BACKING_FILE_OFFSET] = FIELD(struct q2_header, backing_file_offset, 8, Q2_FMT_HEX),
	[Q2_HF_BACKING_FILE_SIZE] = FIELD(struct q2_header, backing_file_size, 16, Q2_FMT_HEX),
	[Q2_HF_CLUSTER_BITS] = FIELD(struct q2_header, cluster_bits, 20, Q2_FMT_DEC),
	[Q2_HF_SIZE] = FIELD(struct q2_header, size, 24, Q2_FMT_DEC),
	[Q2_HF_CRYPT_METHOD] = FIELD(struct q2_header, crypt_method, 32, Q2_FMT_DEC),
	[Q2_HF_L1_SIZE] = FIELD(struct q2_header, l1_size, 36, Q2_FMT_DEC),
	[Q2_HF_L1_TABLE_OFFSET] = FIELD(struct q2_header, l1_table_offset, 40, Q2_FMT_HEX),
	[Q2_HF_REFCOUNT_TABLE_OFFSET] = FIELD(struct q2_header, refcount_table_offset, 48, Q2_FMT_HEX),
	[Q2_HF_REFCOUNT_TABLE_CLUSTERS] = FIELD(struct q2_header, refcount_table_clusters, 56, Q2_FMT_DEC),
	[Q2_HF_NB_SNAPSHOTS] = FIELD(struct q2_header, nb_snapshots, 60, Q2_FMT_DEC),
	[Q2_HF_SNAPSHOT_OFFSET] = FIELD(struct q2_header, snapshot_offset, 64, Q2_FMT_HEX),
	[Q2_HF_INCOMPATIBLE_FEATURES] = FIELD(struct q2_header, incompatible_features, 72, Q2_FMT_BITS),
	[Q2_HF_COMPATIBLE_FEATURES] = FIELD(struct q2_header, compatible_features, 80, Q2_FMT_BITS),
	[Q2_HF_AUTOCLEAR_FEATURES] = FIELD(struct q2_header, autoclear_features, 88, Q2_FMT_BITS),
	[Q2_HF_REFCOUNT_ORDER] = FIELD(struct q2_header, refcount_order, 96, Q2_FMT_DEC),
	[Q2_HF_HEADER_LENGTH] = FIELD(struct q2_header, header_length, 100, Q2_FMT_DEC),
};
const size_t q2_n_header_fields =
	Q2_ARRAY_SIZE(q2_header_fields);

const struct q2_field q2_bitmaps_ext_fields[Q2_BF_COUNT_] = {
	[Q2_BF_NB_BITMAPS] = FIELD(struct q2_bitmaps_ext, nb_bitmaps, 0, Q2_FMT_DEC),
	[Q2_BF_RESERVED32] = FIELD(struct q2_bitmaps_ext, reserved32, 4, Q2_FMT_DEC),
	[Q2_BF_DIRECTORY_SIZE] = FIELD(struct q2_bitmaps_ext, bitmap_directory_size, 8, Q2_FMT_HEX),
	[Q2_BF_DIRECTORY_OFFSET] = FIELD(struct q2_bitmaps_ext, bitmap_directory_offset, 16, Q2_FMT_HEX),
};
const size_t q2_n_bitmaps_ext_fields =
	Q2_ARRAY_SIZE(q2_bitmaps_ext_fields);

const struct q2_field q2_dir_entry_fields[Q2_DF_COUNT_] = {
	[Q2_DF_TABLE_OFFSET] =
		FIELD(struct q2_bitmap, bitmap_table_offset, 0, Q2_FMT_HEX),
	[Q2_DF_TABLE_SIZE] =
		FIELD(struct q2_bitmap, bitmap_table_size, 8, Q2_FMT_DEC),
	[Q2_DF_FLAGS] = FIELD(struct q2_bitmap, flags, 12, Q2_FMT_BMFLAGS),
	[Q2_DF_TYPE] = FIELD(struct q2_bitmap, type, 16, Q2_FMT_DEC),
	[Q2_DF_GRANULARITY_BITS] =
		FIELD(struct q2_bitmap, granularity_bits, 17, Q2_FMT_DEC),
	[Q2_DF_NAME_SIZE] = FIELD(struct q2_bitmap, name_size, 18, Q2_FMT_DEC),
	[Q2_DF_EXTRA_DATA_SIZE] =
		FIELD(struct q2_bitmap, extra_data_size, 20, Q2_FMT_DEC),
};
const size_t q2_n_dir_entry_fields =
	Q2_ARRAY_SIZE(q2_dir_entry_fields);

uint64_t q2_field_get(const void *obj, const struct q2_field *f)
{
	const unsigned char *p = (const unsigned char *)obj + f->model_offset;

	switch (f->width) {
	case 1: return *(const uint8_t *)p;
	case 2: return *(const uint16_t *)(const void *)p;
	case 4: return *(const uint32_t *)(const void *)p;
	default: return *(const uint64_t *)(const void *)p;
	}
}

static void field_decode(void *obj, const struct q2_field *f,
			 const uint8_t *disk)
{
	unsigned char *p = (unsigned char *)obj + f->model_offset;
	const uint8_t *src = disk + f->disk_offset;

	switch (f->width) {
	case 1: *(uint8_t *)p = src[0]; break;
	case 2: *(uint16_t *)(void *)p = get_be16(src); break;
	case 4: *(uint32_t *)(void *)p = get_be32(src); break;
	default: *(uint64_t *)(void *)p = get_be64(src); break;
	}
}

void q2_fields_decode(void *obj, const struct q2_field *table, size_t n,
		      const uint8_t *disk, size_t limit)
{
	for (size_t i = 0; i < n; i++)
		if (table[i].disk_offset + table[i].width <= limit)
			field_decode(obj, &table[i], disk);
}

static const struct {
	uint32_t magic;
	enum q2_ext_kind kind;
	const char *name;
} ext_kinds[] = {
	{ Q2_EXT_BACKING_FORMAT, Q2_EXTK_BACKING_FORMAT, "Backing format" },
	{ Q2_EXT_FEATURE_TABLE, Q2_EXTK_FEATURE_TABLE, "Feature table" },
	{ Q2_EXT_CRYPTO, Q2_EXTK_CRYPTO, "Crypto header" },
	{ Q2_EXT_BITMAPS, Q2_EXTK_BITMAPS, "Bitmaps" },
	{ Q2_EXT_DATA_FILE, Q2_EXTK_DATA_FILE, "Data file" },
};

enum q2_ext_kind q2_ext_kind_of(uint32_t magic)
{
	for (size_t i = 0; i < Q2_ARRAY_SIZE(ext_kinds); i++)
		if (ext_kinds[i].magic == magic)
			return ext_kinds[i].kind;
	return Q2_EXTK_UNKNOWN;
}

const char *q2_ext_name(uint32_t magic)
{
	for (size_t i = 0; i < Q2_ARRAY_SIZE(ext_kinds); i++)
		if (ext_kinds[i].magic == magic)
			return ext_kinds[i].name;
	return "<unknown>";
}

enum q2_bte_type q2_bte_classify(uint64_t entry)
{
	if (entry & Q2_BTE_OFFSET_MASK)
		return (entry & Q2_BTE_ALL_ONES) ? Q2_BTE_INVALID
						 : Q2_BTE_SERIALIZED;
	return (entry & Q2_BTE_ALL_ONES) ? Q2_BTE_ALL_ONES_T : Q2_BTE_ALL_ZEROES;
}

const char *q2_bte_type_name(enum q2_bte_type t)
{
	switch (t) {
	case Q2_BTE_ALL_ZEROES: return "all-zeroes";
	case Q2_BTE_ALL_ONES_T: return "all-ones";
	case Q2_BTE_SERIALIZED: return "serialized";
	default: return "invalid";
	}
}

const struct q2_bitmaps_ext *q2_image_bitmaps(const struct q2_image *img)
{
	return img->dir;
}

size_t q2_bitmap_qemu_name_len(const struct q2_bitmap *bm)
{
	return bm->name ? strnlen(bm->name, bm->name_size) : 0;
}

const struct q2_bitmap *q2_image_bitmap(const struct q2_image *img, uint32_t i)
{
	const struct q2_bitmaps_ext *bx = q2_image_bitmaps(img);

	return bx && i < bx->n_bitmaps ? &bx->bitmaps[i] : NULL;
}

uint64_t q2_image_cluster_size(const struct q2_image *img)
{
	unsigned bits = img->header.cluster_bits;

	if (!img->header_decoded || bits < Q2_MIN_CLUSTER_BITS ||
	    bits > Q2_MAX_CLUSTER_BITS)
		return 0;
	return 1ull << bits;
}

bool q2_image_has_layout(const struct q2_image *img)
{
	return q2_image_cluster_size(img) && img->header.refcount_order <= 6;
}

uint64_t q2_bitmap_bits(uint64_t size, unsigned gbits)
{
	if (gbits > 63)
		return 0;
	return (size >> gbits) + ((size & ((1ull << gbits) - 1)) != 0);
}

uint64_t q2_bitmap_table_entries_needed(uint64_t size, unsigned gbits,
					uint64_t cluster_size)
{
	uint64_t bits = q2_bitmap_bits(size, gbits);
	uint64_t bytes = bits / 8 + (bits % 8 != 0);

	if (!cluster_size)
		return 0;
	return bytes / cluster_size + (bytes % cluster_size != 0);
}

const struct q2_field q2_snapshot_fields[Q2_SF_COUNT_] = {
	[Q2_SF_L1_TABLE_OFFSET] =
		FIELD(struct q2_snapshot, l1_table_offset, 0, Q2_FMT_HEX),
	[Q2_SF_L1_SIZE] = FIELD(struct q2_snapshot, l1_size, 8, Q2_FMT_DEC),
	[Q2_SF_ID_STR_SIZE] =
		FIELD(struct q2_snapshot, id_str_size, 12, Q2_FMT_DEC),
	[Q2_SF_NAME_SIZE] = FIELD(struct q2_snapshot, name_size, 14, Q2_FMT_DEC),
	[Q2_SF_DATE_SEC] = FIELD(struct q2_snapshot, date_sec, 16, Q2_FMT_DEC),
	[Q2_SF_DATE_NSEC] = FIELD(struct q2_snapshot, date_nsec, 20, Q2_FMT_DEC),
	[Q2_SF_VM_CLOCK_NSEC] =
		FIELD(struct q2_snapshot, vm_clock_nsec, 24, Q2_FMT_DEC),
	[Q2_SF_VM_STATE_SIZE] =
		FIELD(struct q2_snapshot, vm_state_size, 32, Q2_FMT_DEC),
	[Q2_SF_EXTRA_DATA_SIZE] =
		FIELD(struct q2_snapshot, extra_data_size, 36, Q2_FMT_DEC),
};

const struct q2_field q2_snapshot_extra_fields[Q2_SXF_COUNT_] = {
	[Q2_SXF_VM_STATE_SIZE_LARGE] =
		FIELD(struct q2_snapshot, vm_state_size_large, 0, Q2_FMT_DEC),
	[Q2_SXF_DISK_SIZE] = FIELD(struct q2_snapshot, disk_size, 8, Q2_FMT_DEC),
	[Q2_SXF_ICOUNT] = FIELD(struct q2_snapshot, icount, 16, Q2_FMT_DEC),
};

const uint8_t *q2_snapshot_unknown_extra(const struct q2_snapshot *sn,
					 size_t *n)
{
	uint32_t known = 0;

	for (size_t f = 0; f < Q2_SXF_COUNT_; f++)
		if (q2_snapshot_has_extra(sn, (enum q2_snapshot_extra_field)f))
			known = q2_snapshot_extra_fields[f].disk_offset +
				q2_snapshot_extra_fields[f].width;
	*n = sn->extra_data_size - known;
	return *n ? sn->extra_data + known : NULL;
}

void q2_image_unopened(struct q2_image *img, enum q2_code code, int sys_errno)
{
	memset(img, 0, sizeof *img);
	q2_problems_add_decode(&img->problems, code, Q2_W_FILE, Q2_NO_INDEX, 0,
			       sys_errno, Q2_NO_INDEX);
}

static void bitmaps_ext_free(struct q2_bitmaps_ext *bx)
{
	if (!bx)
		return;
	q2_big_free(bx->dir_bytes);
	q2_big_free(bx->table_entries);
	q2_big_free(bx->bitmaps);
	free(bx);
}

void q2_image_free(struct q2_image *img)
{
	for (size_t i = 0; i < img->n_exts; i++) {
		q2_big_free(img->exts[i].data);
		free(img->exts[i].features);
		bitmaps_ext_free(img->exts[i].bitmaps);
	}
	free(img->exts);
	q2_big_free(img->backing_file);
	q2_snapshots_free(img->snapshots);
	q2_problems_free(&img->problems);
	memset(img, 0, sizeof *img);
}

void q2_snapshot_free(struct q2_snapshot *sn)
{
	free(sn->extra_data);
	free(sn->id_str);
	free(sn->name);
	memset(sn, 0, sizeof *sn);
}

void q2_snapshots_free(struct q2_snapshot_table *t)
{
	if (!t)
		return;
	for (size_t i = 0; i < t->n; i++)
		q2_snapshot_free(&t->v[i]);
	free(t->v);
	free(t);
}

bool q2_bitmap_granularity(const struct q2_bitmap *bm, uint64_t *out)
{
	if (bm->granularity_bits >= 64)
		return false;
	*out = 1ull << bm->granularity_bits;
	return true;
}
