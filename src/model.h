/* The in-memory model of a qcow2 image's metadata: what the decoder
 * (qcow2.h, snapshot.h) fills and every later phase only reads.
 *
 * One struct per on-disk structure.  Members that mirror on-disk fields carry
 * the spec's names, so that the field tables below can describe them once for
 * the decoder and every emitter.  Everything the model points to is owned by
 * it and released by q2_image_free(). */
#ifndef QCOW2DUMP_MODEL_H
#define QCOW2DUMP_MODEL_H

#include <assert.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "problem.h"

struct q2_snapshot_table;

#define Q2_MAGIC 0x514649fbu
#define Q2_V2_HEADER_LENGTH 72u
#define Q2_V3_HEADER_LENGTH 104u
#define Q2_MIN_CLUSTER_BITS 9u
#define Q2_MAX_CLUSTER_BITS 21u    /* QEMU's limit: 2 MiB clusters */
#define Q2_MAX_BACKING_NAME 1023u

#define Q2_EXT_END 0u
#define Q2_EXT_BACKING_FORMAT 0xe2792acau
#define Q2_EXT_FEATURE_TABLE 0x6803f857u
#define Q2_EXT_BITMAPS 0x23852875u
#define Q2_EXT_CRYPTO 0x0537be77u
#define Q2_EXT_DATA_FILE 0x44415441u

#define Q2_BITMAPS_EXT_SIZE 24u
#define Q2_MAX_BITMAPS 65535u
#define Q2_MAX_BITMAP_NAME 1023u
#define Q2_MAX_DIR_SIZE (1024ull * Q2_MAX_BITMAPS)
#define Q2_DIR_ENTRY_FIXED 24u
#define Q2_MAX_TABLE_ENTRIES 0x8000000ull
#define Q2_MAX_BITMAP_PHYS (512ull << 20)  /* table_size * cluster_size */
#define Q2_MAX_TABLES_TOTAL (256ull << 20) /* our own cap across bitmaps */
#define Q2_FEATURE_ENTRY_SIZE 48u
#define Q2_FEATURE_NAME_SIZE 46u

/* Feature bits of the header (QCOW2 spec). */
#define Q2_INCOMPAT_DIRTY ((uint64_t)1 << 0)
#define Q2_INCOMPAT_CORRUPT ((uint64_t)1 << 1)
#define Q2_INCOMPAT_DATA_FILE ((uint64_t)1 << 2)
#define Q2_INCOMPAT_COMPRESSION ((uint64_t)1 << 3)
#define Q2_INCOMPAT_EXTL2 ((uint64_t)1 << 4)
#define Q2_INCOMPAT_KNOWN ((uint64_t)0x1f)
#define Q2_COMPAT_LAZY_REFCOUNTS ((uint64_t)1 << 0)
#define Q2_AUTOCLEAR_BITMAPS ((uint64_t)1 << 0)
#define Q2_AUTOCLEAR_DATA_FILE_RAW ((uint64_t)1 << 1)

#define Q2_CRYPT_NONE 0u
#define Q2_CRYPT_AES 1u
#define Q2_CRYPT_LUKS 2u
#define Q2_COMPRESSION_ZLIB 0u
#define Q2_COMPRESSION_ZSTD 1u
/* compression_type lies right after the version 3 fixed header */
#define Q2_HDR_COMPRESSION_TYPE Q2_V3_HEADER_LENGTH

/* An extension: magic, then length, then the data. */
#define Q2_EXT_MAGIC_AT 0u
#define Q2_EXT_LENGTH_AT 4u
#define Q2_EXT_DATA_AT 8u
/* The crypto header extension's data: offset, then length. */
#define Q2_CRYPTO_EXT_SIZE 16u

#define Q2_BME_FLAG_IN_USE (1u << 0)
#define Q2_BME_FLAG_AUTO (1u << 1)
#define Q2_BME_FLAG_EXTRA_DATA_COMPATIBLE (1u << 2)
#define Q2_BME_FLAGS_KNOWN 0x7u
#define Q2_BITMAP_TYPE_DIRTY 1u
#define Q2_QEMU_MIN_GRANULARITY_BITS 9u
#define Q2_QEMU_MAX_GRANULARITY_BITS 31u
/* Sizes of table entries, in bytes */
#define Q2_L1_ENTRY_SIZE 8u
#define Q2_L2_ENTRY_SIZE 8u
#define Q2_L2_ENTRY_EXTENDED_SIZE 16u  /* with extended L2 entries */
#define Q2_REFTABLE_ENTRY_SIZE 8u
#define Q2_BTE_SIZE 8u                 /* a bitmap table entry */
#define Q2_BTE_OFFSET_MASK 0x00fffffffffffe00ull
#define Q2_BTE_RESERVED_MASK 0xff000000000001feull
#define Q2_BTE_ALL_ONES 1ull

struct q2_header {
	uint32_t magic;
	uint32_t version;
	uint64_t backing_file_offset;
	uint32_t backing_file_size;
	uint32_t cluster_bits;
	uint64_t size;
	uint32_t crypt_method;
	uint32_t l1_size;
	uint64_t l1_table_offset;
	uint64_t refcount_table_offset;
	uint32_t refcount_table_clusters;
	uint32_t nb_snapshots;
	uint64_t snapshot_offset;
	/* version 3; set to the defaults the spec implies for version 2 */
	uint64_t incompatible_features;
	uint64_t compatible_features;
	uint64_t autoclear_features;
	uint32_t refcount_order;
	uint32_t header_length;
	/* present only when header_length > 104 */
	bool has_compression_type;
	uint8_t compression_type;
};

struct q2_feature {
	uint8_t type;   /* 0 incompatible, 1 compatible, 2 autoclear */
	uint8_t bit;
	char name[Q2_FEATURE_NAME_SIZE + 1]; /* NUL-terminated copy */
};

enum q2_bte_type {
	Q2_BTE_ALL_ZEROES,
	Q2_BTE_ALL_ONES_T,
	Q2_BTE_SERIALIZED,
	Q2_BTE_INVALID, /* an offset with the all-ones bit set */
};

struct q2_bitmap {
	uint64_t bitmap_table_offset;
	uint32_t bitmap_table_size;
	uint32_t flags;
	uint8_t type;
	uint8_t granularity_bits;
	uint16_t name_size;
	uint32_t extra_data_size;

	uint64_t entry_offset;  /* file offset of this directory entry */
	/* These three point into memory the directory owns. */
	uint8_t *extra_data;    /* extra_data_size bytes, or NULL */
	char *name;             /* name_size bytes plus a NUL; may hold NULs */
	/* The table's entries that lie in the file (QEMU reads zeroes for
	 * the rest); table_loaded says the rest are zeroes, not unknown. */
	uint64_t *table;
	uint32_t table_in_file;

	bool table_loaded;
	bool padding_nonzero;   /* the entry's padding holds a non-zero byte */
};

struct q2_bitmaps_ext {
	uint32_t nb_bitmaps;
	uint32_t reserved32;
	uint64_t bitmap_directory_size;
	uint64_t bitmap_directory_offset;

	/* Directory entries decoded soundly, in directory order.  Only the
	 * last bitmaps extension has its directory decoded: QEMU uses it. */
	struct q2_bitmap *bitmaps;
	size_t n_bitmaps;
	bool dir_decoded;
	/* Owned here, not by each bitmap: the directory as read, whose
	 * front now holds the bitmaps' extra data and names, and the tables'
	 * entries, one after the other. */
	uint8_t *dir_bytes;
	uint64_t *table_entries;
};

enum q2_ext_kind {
	Q2_EXTK_UNKNOWN,
	Q2_EXTK_BACKING_FORMAT,
	Q2_EXTK_FEATURE_TABLE,
	Q2_EXTK_BITMAPS,
	Q2_EXTK_CRYPTO,
	Q2_EXTK_DATA_FILE,
};

struct q2_ext {
	uint32_t magic;
	uint32_t length;
	uint64_t offset;        /* file offset of the magic */
	enum q2_ext_kind kind;
	uint8_t *data;          /* length bytes plus a NUL */

	struct q2_feature *features; /* feature table entries */
	size_t n_features;
	bool has_crypto;             /* crypto header fields decoded */
	uint64_t crypto_offset;
	uint64_t crypto_length;
	struct q2_bitmaps_ext *bitmaps; /* when length >= 24 */
};

struct q2_image {
	uint64_t file_size;
	bool header_decoded;   /* header holds sound values to print */
	struct q2_header header;
	char *backing_file;    /* backing_file_size bytes plus a NUL, or NULL */
	struct q2_ext *exts;
	size_t n_exts;
	bool exts_decoded;     /* the extension area was walked */
	/* The directory decoded, of the last bitmaps extension: found once,
	 * not searched for each time among up to 2^18 extensions. */
	struct q2_bitmaps_ext *dir;
	/* What stopped the decoding of a structure (and, for a layer of a
	 * backing chain, what stopped the chain there), in the order found.
	 * Checks and verdicts are not here: they are the run's findings. */
	struct q2_problems problems;
	/* The snapshot table (snapshot.h), when decoded; NULL otherwise. */
	struct q2_snapshot_table *snapshots;
};

void q2_image_free(struct q2_image *img);
/* An image that could not be opened: no structure, one problem (code and
 * errno as the reader gave them). */
void q2_image_unopened(struct q2_image *img, enum q2_code code, int sys_errno);

/* Helpers of every phase after decoding. */
const char *q2_ext_name(uint32_t magic); /* qcow2.py's names, "<unknown>" */
enum q2_ext_kind q2_ext_kind_of(uint32_t magic);
const struct q2_bitmaps_ext *q2_image_bitmaps(const struct q2_image *img);
/* Entry i of that directory, or NULL (i may be Q2_NO_INDEX). */
const struct q2_bitmap *q2_image_bitmap(const struct q2_image *img, uint32_t i);
/* 1 << cluster_bits, or 0 when the header did not give a valid one */
uint64_t q2_image_cluster_size(const struct q2_image *img);
/* Whether the header's cluster and refcount sizes are within QEMU's
 * limits: else the file has no layout to walk (tables, refcounts). */
bool q2_image_has_layout(const struct q2_image *img);
enum q2_bte_type q2_bte_classify(uint64_t entry);
const char *q2_bte_type_name(enum q2_bte_type t);

/* Field tables: one row per fixed-size on-disk field of a structure. */
enum q2_fmt {
	Q2_FMT_DEC,      /* 16 */
	Q2_FMT_HEX,      /* 0x10 */
	Q2_FMT_BITS,     /* [0, 4] */
	Q2_FMT_BMFLAGS,  /* 0x3 (['in-use', 'auto']) */
	Q2_FMT_EXTMAGIC, /* 0x23852875 (Bitmaps) */
};

struct q2_field {
	const char *name;
	uint32_t disk_offset;   /* from the start of the structure */
	uint8_t width;          /* bytes on disk and in the model */
	size_t model_offset;
	enum q2_fmt fmt;
};

/* Rows of q2_header_fields, for code that refers to one of them. */
enum q2_header_field {
	Q2_HF_MAGIC,
	Q2_HF_VERSION,
	Q2_HF_BACKING_FILE_OFFSET,
	Q2_HF_BACKING_FILE_SIZE,
	Q2_HF_CLUSTER_BITS,
	Q2_HF_SIZE,
	Q2_HF_CRYPT_METHOD,
	Q2_HF_L1_SIZE,
	Q2_HF_L1_TABLE_OFFSET,
	Q2_HF_REFCOUNT_TABLE_OFFSET,
	Q2_HF_REFCOUNT_TABLE_CLUSTERS,
	Q2_HF_NB_SNAPSHOTS,
	Q2_HF_SNAPSHOT_OFFSET,
	Q2_HF_INCOMPATIBLE_FEATURES,
	Q2_HF_COMPATIBLE_FEATURES,
	Q2_HF_AUTOCLEAR_FEATURES,
	Q2_HF_REFCOUNT_ORDER,
	Q2_HF_HEADER_LENGTH,
	Q2_HF_COUNT_
};
extern const struct q2_field q2_header_fields[Q2_HF_COUNT_];
extern const size_t q2_n_header_fields;
enum q2_bitmaps_ext_field {
	Q2_BF_NB_BITMAPS,
	Q2_BF_RESERVED32,
	Q2_BF_DIRECTORY_SIZE,
	Q2_BF_DIRECTORY_OFFSET,
	Q2_BF_COUNT_
};
extern const struct q2_field q2_bitmaps_ext_fields[Q2_BF_COUNT_];
extern const size_t q2_n_bitmaps_ext_fields;
/* Rows of q2_dir_entry_fields, for tables that refer to one of them. */
enum q2_dir_field {
	Q2_DF_TABLE_OFFSET,
	Q2_DF_TABLE_SIZE,
	Q2_DF_FLAGS,
	Q2_DF_TYPE,
	Q2_DF_GRANULARITY_BITS,
	Q2_DF_NAME_SIZE,
	Q2_DF_EXTRA_DATA_SIZE,
	Q2_DF_COUNT_
};
extern const struct q2_field q2_dir_entry_fields[];
extern const size_t q2_n_dir_entry_fields;

uint64_t q2_field_get(const void *obj, const struct q2_field *f);
/* Decodes into obj the rows of table whose bytes (disk) lie below limit. */
void q2_fields_decode(void *obj, const struct q2_field *table, size_t n,
		      const uint8_t *disk, size_t limit);

/* File offsets of on-disk fields, from the tables. */
static inline uint64_t q2_header_at(enum q2_header_field f)
{
	assert((unsigned)f < Q2_HF_COUNT_);
	return q2_header_fields[f].disk_offset;
}
/* of field f of the bitmaps extension whose magic lies at ext_offset */
static inline uint64_t q2_bitmaps_ext_at(uint64_t ext_offset,
					 enum q2_bitmaps_ext_field f)
{
	assert((unsigned)f < Q2_BF_COUNT_);
	return ext_offset + Q2_EXT_DATA_AT + q2_bitmaps_ext_fields[f].disk_offset;
}
/* of field f of the directory entry bm */
static inline uint64_t q2_dir_entry_at(const struct q2_bitmap *bm,
				       enum q2_dir_field f)
{
	assert((unsigned)f < Q2_DF_COUNT_);
	return bm->entry_offset + q2_dir_entry_fields[f].disk_offset;
}

/* Entry k of bm's table (zero beyond what lies in the file). */
static inline uint64_t q2_bitmap_table_entry(const struct q2_bitmap *bm,
					     uint32_t k)
{
	return k < bm->table_in_file ? bm->table[k] : 0;
}

/* The name QEMU knows the bitmap by: its bytes up to the first NUL. */
size_t q2_bitmap_qemu_name_len(const struct q2_bitmap *bm);

/* The disk length QEMU sizes bitmaps for: the virtual size rounded down
 * to whole 512-byte sectors. */
static inline uint64_t q2_disk_bytes(const struct q2_image *img)
{
	return img->header.size & ~(uint64_t)511;
}

/* The incompatible features that change how guest data is found. */
static inline bool q2_has_extended_l2(const struct q2_image *img)
{
	return (img->header.incompatible_features & Q2_INCOMPAT_EXTL2) != 0;
}

static inline bool q2_has_data_file(const struct q2_image *img)
{
	return (img->header.incompatible_features & Q2_INCOMPAT_DATA_FILE) != 0;
}

static inline bool q2_is_encrypted(const struct q2_image *img)
{
	return img->header.crypt_method != Q2_CRYPT_NONE;
}

/* The file length QEMU's checks hold structures to: whole 512-byte
 * sectors, rounded up. */
static inline uint64_t q2_file_bytes(const struct q2_image *img)
{
	return img->file_size > UINT64_MAX - 511 ? UINT64_MAX
						: (img->file_size + 511) & ~(uint64_t)511;
}

/* The number of table entries the bitmap needs for a virtual disk of
 * size bytes: ceil(ceil(size / granularity) / 8 / cluster_size).  0 when
 * granularity_bits is above 63. */
uint64_t q2_bitmap_table_entries_needed(uint64_t size, unsigned gbits,
					uint64_t cluster_size);
/* The bits of the bitmap: ceil(size / granularity). */
uint64_t q2_bitmap_bits(uint64_t size, unsigned gbits);

/* ---- the internal snapshot table ----
 *
 * The table lies at the header's snapshot_offset and holds nb_snapshots
 * entries, each starting on an 8-byte boundary: a 40-byte fixed part,
 * then extra_data_size bytes of extra data, the id (id_str_size bytes)
 * and the name (name_size bytes), neither NUL-terminated.  The last
 * entry is not padded, so the file may end right after its name. */

#define Q2_SNAPSHOT_FIXED 40u
#define Q2_SNAPSHOT_ALIGN 8u
/* QEMU's limits: it refuses to open an image beyond them. */
#define Q2_MAX_SNAPSHOTS 65536u
#define Q2_MAX_SNAPSHOT_TABLE (64ull << 20)
#define Q2_MAX_SNAPSHOT_EXTRA 1024u
/* qemu-img check: a version 3 entry needs vm_state_size_large and
 * disk_size; icount is optional. */
#define Q2_SNAPSHOT_EXTRA_V3_MIN 16u
/* QEMU's limit on any L1 table, in entries (32 MiB of them). */
#define Q2_MAX_L1_ENTRIES 0x400000u
/* icount when the snapshot has none */
#define Q2_SNAPSHOT_NO_ICOUNT UINT64_MAX

struct q2_snapshot {
	/* the fixed part, as on disk */
	uint64_t l1_table_offset;
	uint32_t l1_size;
	uint16_t id_str_size;
	uint16_t name_size;
	uint32_t date_sec;
	uint32_t date_nsec;
	uint64_t vm_clock_nsec;
	uint32_t vm_state_size;
	uint32_t extra_data_size;
	/* the extra data's fields, each valid when the extra data holds it
	 * whole (q2_snapshot_has_extra) */
	uint64_t vm_state_size_large;
	uint64_t disk_size;
	uint64_t icount;

	uint64_t entry_offset;  /* file offset of this entry */
	uint8_t *extra_data;    /* extra_data_size bytes, or NULL */
	char *id_str;           /* id_str_size bytes plus a NUL; may hold NULs */
	char *name;             /* name_size bytes plus a NUL; may hold NULs */
};

struct q2_snapshot_table {
	/* The entries decoded soundly, in table order: all nb_snapshots of
	 * them unless a problem stopped decoding. */
	struct q2_snapshot *v;
	size_t n;
	/* Bytes from snapshot_offset to the end of entry n - 1's name. */
	uint64_t size;
};

/* Rows of q2_snapshot_fields: an entry's fixed part. */
enum q2_snapshot_field {
	Q2_SF_L1_TABLE_OFFSET,
	Q2_SF_L1_SIZE,
	Q2_SF_ID_STR_SIZE,
	Q2_SF_NAME_SIZE,
	Q2_SF_DATE_SEC,
	Q2_SF_DATE_NSEC,
	Q2_SF_VM_CLOCK_NSEC,
	Q2_SF_VM_STATE_SIZE,
	Q2_SF_EXTRA_DATA_SIZE,
	Q2_SF_COUNT_
};
extern const struct q2_field q2_snapshot_fields[Q2_SF_COUNT_];

/* Rows of q2_snapshot_extra_fields: the extra data's known fields, their
 * disk_offset from the start of the extra data. */
enum q2_snapshot_extra_field {
	Q2_SXF_VM_STATE_SIZE_LARGE,
	Q2_SXF_DISK_SIZE,
	Q2_SXF_ICOUNT,
	Q2_SXF_COUNT_
};
extern const struct q2_field q2_snapshot_extra_fields[Q2_SXF_COUNT_];
/* The bytes of extra data those fields take: later bytes are unknown. */
#define Q2_SNAPSHOT_EXTRA_KNOWN 24u

/* File offset of field f of the entry sn. */
static inline uint64_t q2_snapshot_at(const struct q2_snapshot *sn,
				      enum q2_snapshot_field f)
{
	return sn->entry_offset + q2_snapshot_fields[f].disk_offset;
}

/* Whether the extra data holds field f whole. */
static inline bool q2_snapshot_has_extra(const struct q2_snapshot *sn,
					 enum q2_snapshot_extra_field f)
{
	const struct q2_field *x = &q2_snapshot_extra_fields[f];

	return sn->extra_data_size >= x->disk_offset + x->width;
}

/* The extra data's bytes after the known fields it holds whole: those
 * this program does not know.  *n is 0 when there are none. */
const uint8_t *q2_snapshot_unknown_extra(const struct q2_snapshot *sn,
					 size_t *n);

void q2_snapshot_free(struct q2_snapshot *sn);
void q2_snapshots_free(struct q2_snapshot_table *t);

/* 1 << granularity_bits, false when that does not fit in 64 bits. */
bool q2_bitmap_granularity(const struct q2_bitmap *bm, uint64_t *out);

#endif
