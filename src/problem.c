#include "config.h"

#include "problem.h"

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define E Q2_SEV_ERROR
#define W Q2_SEV_WARNING
#define DEC Q2_KIND_DECODE
#define CHK Q2_KIND_CHECK

#define DAMAGED "the image is damaged or beyond QEMU's limits; restore it from a backup"

const struct q2_code_info q2_codes[Q2_CODE_COUNT_] = {
	/* decoding stopped */
	[Q2_C_NOMEM] = { "out-of-memory", E, DEC, "out of memory",
		"free memory or raise the process's memory limit, then run again" },
	[Q2_C_OPEN] = { "cannot-open", E, DEC, "cannot open",
		"check the path and your permission to read it" },
	[Q2_C_IO] = { "read-error", E, DEC, "read error",
		"the storage under the image failed; check the device and the kernel log" },
	[Q2_C_TRUNCATED] = { "truncated", E, DEC,
		"truncated: the file ends inside this structure", DAMAGED },
	[Q2_C_MAGIC] = { "bad-magic", E, DEC, "not a qcow2 image: bad magic",
		"the file is not a qcow2 image (qemu-img info tells its format)" },
	[Q2_C_VERSION] = { "unsupported-version", E, DEC,
		"unsupported qcow2 version (only 2 and 3 exist)", DAMAGED },
	[Q2_C_HEADER_LENGTH] = { "bad-header-length", E, DEC,
		"header_length is below 104 or beyond the first cluster", DAMAGED },
	[Q2_C_CLUSTER_BITS] = { "bad-cluster-bits", E, DEC,
		"cluster_bits is outside 9..21", DAMAGED },
	[Q2_C_BACKING_NAME_SIZE] = { "backing-name-too-long", E, DEC,
		"backing file name is longer than 1023 bytes", DAMAGED },
	[Q2_C_EXT_OVERRUN] = { "extension-overrun", E, DEC,
		"header extension runs past the end of the extension area", DAMAGED },
	[Q2_C_BITMAPS_EXT_LENGTH] = { "bitmaps-extension-too-short", E, DEC,
		"bitmaps extension is shorter than its 24 bytes", DAMAGED },
	[Q2_C_TOO_MANY_BITMAPS] = { "too-many-bitmaps", E, DEC,
		"nb_bitmaps exceeds QEMU's limit of 65535", DAMAGED },
	[Q2_C_DIR_TOO_LARGE] = { "directory-too-large", E, DEC,
		"bitmap_directory_size exceeds QEMU's limit of 67107840 bytes", DAMAGED },
	[Q2_C_DIR_ENTRY_OVERRUN] = { "directory-entry-overrun", E, DEC,
		"bitmap directory entry runs past the end of the directory", DAMAGED },
	[Q2_C_DIR_TOO_FEW] = { "directory-too-few-entries", E, DEC,
		"bitmap directory holds fewer entries than nb_bitmaps", DAMAGED },
	[Q2_C_DIR_TRAILING] = { "directory-trailing-bytes", E, DEC,
		"bitmap directory has bytes after its last entry", DAMAGED },
	[Q2_C_TABLE_TOO_LARGE] = { "bitmap-table-too-large", E, DEC,
		"bitmap_table_size exceeds QEMU's limit", DAMAGED },
	[Q2_C_TABLES_BUDGET] = { "bitmap-tables-over-budget", E, DEC,
		"bitmap tables exceed the 256 MiB this tool loads at most", DAMAGED },
	[Q2_C_GRANULARITY] = { "bitmap-granularity-unreadable", E, DEC,
		"granularity_bits is above 63: the bitmap cannot be read", DAMAGED },
	[Q2_C_TABLE_TOO_SMALL] = { "bitmap-table-short", E, DEC,
		"bitmap table has fewer entries than the virtual size needs", DAMAGED },
	[Q2_C_TABLE_ENTRY] = { "bitmap-table-entry-unreadable", E, DEC,
		"bitmap table entry has an offset and the all-ones bit", DAMAGED },
	[Q2_C_NO_SUCH_BITMAP] = { "no-such-bitmap", E, DEC,
		"no bitmap of the name given with -n",
		"list the image's bitmaps with qcow2dump -b and give one of their names" },

	/* --check: header */
	[Q2_C_REFCOUNT_ORDER_TOO_LARGE] = { "refcount-order-too-large", E, CHK,
		"refcount_order is above 6 (64-bit refcounts)",
		"the header is damaged; restore the image from a backup" },
	[Q2_C_HEADER_LENGTH_UNALIGNED] = { "header-length-unaligned", E, CHK,
		"header_length is not a multiple of 8",
		"the header is damaged or written by a broken tool" },
	[Q2_C_L1_TABLE_UNALIGNED] = { "l1-table-unaligned", E, CHK,
		"l1_table_offset is not cluster aligned",
		"the header is damaged; qemu-img check -r all may not help, restore from a backup" },
	[Q2_C_REFCOUNT_TABLE_UNALIGNED] = { "refcount-table-unaligned", E, CHK,
		"refcount_table_offset is not cluster aligned",
		"the header is damaged; restore from a backup" },
	[Q2_C_SNAPSHOT_TABLE_UNALIGNED] = { "snapshot-table-unaligned", E, CHK,
		"snapshot_offset is not cluster aligned",
		"the header is damaged; restore from a backup" },
	[Q2_C_UNKNOWN_INCOMPATIBLE_BITS] = { "unknown-incompatible-bits", E, CHK,
		"incompatible_features has bits this spec does not define",
		"QEMU refuses such an image; it was written by newer or foreign software" },
	[Q2_C_DIRTY] = { "dirty", W, CHK,
		"the dirty bit is set: refcounts may be stale (lazy refcounts, not closed cleanly)",
		"if no VM has the image open, run qemu-img check -r all" },
	[Q2_C_CORRUPT] = { "corrupt", W, CHK,
		"the corrupt bit is set: QEMU found corruption and will not write the image",
		"run qemu-img check -r all, then qemu-img amend or restore from a backup" },
	[Q2_C_COMPRESSION_TYPE_UNKNOWN] = { "compression-type-unknown", E, CHK,
		"compression_type is neither 0 (deflate) nor 1 (zstd)",
		"QEMU refuses the image; it was written by foreign software or is damaged" },
	[Q2_C_COMPRESSION_TYPE_WITHOUT_BIT] = { "compression-type-without-bit", E, CHK,
		"compression_type is non-zero but the compression type incompatible bit is clear",
		"the header is inconsistent; QEMU refuses it" },
	[Q2_C_COMPRESSION_BIT_WITHOUT_TYPE] = { "compression-bit-without-type", E, CHK,
		"the compression type incompatible bit is set but compression_type is absent or zero",
		"the header is inconsistent; QEMU refuses it" },
	[Q2_C_UNKNOWN_CRYPT_METHOD] = { "unknown-crypt-method", E, CHK,
		"crypt_method is not 0, 1 (AES) or 2 (LUKS)",
		"the header is damaged" },
	[Q2_C_BACKING_NAME_OUTSIDE_CLUSTER] = { "backing-name-outside-cluster", E, CHK,
		"the backing file name does not lie inside the first cluster",
		"QEMU refuses the image; rebase it with qemu-img rebase -u" },

	/* --check: extensions */
	[Q2_C_DUPLICATE_EXTENSION] = { "duplicate-extension", E, CHK,
		"a header extension type appears more than once",
		"QEMU reads only the first copy; the image was edited by a broken tool" },
	[Q2_C_BITMAPS_EXTENSION_LENGTH] = { "bitmaps-extension-length", E, CHK,
		"the bitmaps extension is not 24 bytes long",
		"QEMU refuses the bitmaps; remove them with qemu-img bitmap --remove after a backup" },
	[Q2_C_BITMAPS_RESERVED] = { "bitmaps-reserved", E, CHK,
		"the bitmaps extension's reserved32 field is not zero",
		"QEMU refuses the bitmaps" },
	[Q2_C_BITMAPS_NONE] = { "bitmaps-none", E, CHK,
		"the bitmaps extension says nb_bitmaps is 0",
		"the extension should have been removed with the last bitmap" },
	[Q2_C_DIRECTORY_UNALIGNED] = { "directory-unaligned", E, CHK,
		"bitmap_directory_offset is not cluster aligned",
		"QEMU refuses the bitmaps" },
	[Q2_C_AUTOCLEAR_BITMAPS_CLEAR] = { "autoclear-bitmaps-clear", W, CHK,
		"the image has bitmaps but the autoclear bitmaps bit is clear: a program without bitmap support wrote it, so every bitmap is stale",
		"do not use the bitmaps for incremental backup; take a full backup and recreate them" },
	[Q2_C_AUTOCLEAR_BITMAPS_WITHOUT_EXTENSION] = { "autoclear-bitmaps-without-extension", E, CHK,
		"the autoclear bitmaps bit is set but there is no bitmaps extension",
		"the header is inconsistent" },
	[Q2_C_CRYPTO_HEADER_WITHOUT_LUKS] = { "crypto-header-without-luks", E, CHK,
		"a crypto header extension exists but crypt_method is not LUKS",
		"the header is inconsistent" },
	[Q2_C_LUKS_WITHOUT_CRYPTO_HEADER] = { "luks-without-crypto-header", E, CHK,
		"crypt_method is LUKS but there is no crypto header extension",
		"QEMU cannot open the image; restore from a backup" },
	[Q2_C_CRYPTO_HEADER_UNALIGNED] = { "crypto-header-unaligned", E, CHK,
		"the crypto header offset is not cluster aligned",
		"the header is damaged" },
	[Q2_C_DATA_FILE_NAME_WITHOUT_BIT] = { "data-file-name-without-bit", W, CHK,
		"a data file name extension exists but the external data file bit is clear",
		"QEMU ignores the name; remove the extension or set the bit with qemu-img amend" },
	[Q2_C_RAW_EXTERNAL_DATA_WITHOUT_DATA_FILE] = { "raw-external-data-without-data-file", E, CHK,
		"the raw external data bit is set without the external data file bit",
		"the header is inconsistent" },

	/* --check: bitmap directory entries */
	[Q2_C_TABLE_OFFSET_ZERO] = { "table-offset-zero", E, CHK,
		"bitmap_table_offset is 0", "QEMU refuses the bitmap; remove it" },
	[Q2_C_TABLE_UNALIGNED] = { "table-unaligned", E, CHK,
		"bitmap_table_offset is not cluster aligned", "QEMU refuses the bitmap; remove it" },
	[Q2_C_TABLE_BEYOND_EOF] = { "table-beyond-eof", E, CHK,
		"the bitmap table lies (partly) beyond the end of the file",
		"the image is truncated; the bitmap is lost, remove it" },
	[Q2_C_TABLE_SIZE_ZERO] = { "table-size-zero", E, CHK,
		"bitmap_table_size is 0", "QEMU refuses the bitmap; remove it" },
	[Q2_C_TABLE_SIZE_TOO_LARGE] = { "table-too-large", E, CHK,
		"bitmap_table_size exceeds QEMU's limit (0x8000000 entries, 512 MiB of bitmap)",
		"QEMU refuses the bitmap; remove it" },
	[Q2_C_TABLE_SIZE_TOO_SMALL] = { "table-too-small", E, CHK,
		"the bitmap table is too small for the virtual size at this granularity",
		"QEMU refuses the bitmap (was the disk grown by a tool that kept it?); remove it" },
	[Q2_C_TABLE_SIZE_EXCESS] = { "table-size-excess", W, CHK,
		"the bitmap table is larger than the virtual size needs at this granularity",
		"harmless for reading; QEMU would size it exactly" },
	[Q2_C_RESERVED_FLAGS] = { "reserved-flags", E, CHK,
		"a reserved bitmap flag (bits 3 to 31) is set", "QEMU refuses the bitmap" },
	[Q2_C_EXTRA_DATA_COMPATIBLE_FLAG] = { "extra-data-compatible-flag", W, CHK,
		"flag extra_data_compatible is set; QEMU treats it as reserved",
		"QEMU will not load this bitmap" },
	[Q2_C_BITMAP_TYPE] = { "bitmap-type", E, CHK,
		"the bitmap type is not 1 (dirty tracking)", "QEMU refuses the bitmap" },
	[Q2_C_GRANULARITY_OUT_OF_RANGE] = { "granularity-out-of-range", E, CHK,
		"granularity_bits is above 63", "the entry is damaged; remove the bitmap" },
	[Q2_C_GRANULARITY_BEYOND_QEMU] = { "granularity-beyond-qemu", E, CHK,
		"granularity_bits is outside QEMU's 9..31",
		"the spec allows it but QEMU refuses the bitmap" },
	[Q2_C_NAME_EMPTY] = { "name-empty", E, CHK,
		"name_size is 0", "the entry is damaged; remove the bitmap" },
	[Q2_C_NAME_TOO_LONG] = { "name-too-long", E, CHK,
		"name_size exceeds 1023 bytes", "QEMU refuses the bitmap" },
	[Q2_C_DUPLICATE_NAME] = { "duplicate-name", E, CHK,
		"two bitmaps have the same name", "QEMU refuses the bitmaps; remove one" },
	[Q2_C_NONZERO_PADDING] = { "nonzero-padding", E, CHK,
		"the padding after a directory entry is not zero", "the directory is damaged" },
	[Q2_C_EXTRA_DATA] = { "extra-data", W, CHK,
		"the bitmap has extra data, which QEMU does not load",
		"QEMU will not load this bitmap; only software that knows the extra data can" },
	[Q2_C_EXTRA_DATA_INCOMPATIBLE] = { "extra-data-incompatible", W, CHK,
		"the bitmap has extra data and flag extra_data_compatible is clear: it must not be used",
		"leave it as it is; software that does not know the extra data must not use the bitmap" },
	[Q2_C_BITMAP_IN_USE] = { "bitmap-in-use", W, CHK,
		"flag in_use is set: the bitmap was not saved cleanly, or a VM has the image open now",
		"if no VM has the image open the bitmap is stale: take a full backup and recreate it" },

	/* --check: bitmap tables */
	[Q2_C_TABLE_ENTRY_RESERVED] = { "table-entry-reserved", E, CHK,
		"a bitmap table entry has reserved bits set", "the table is damaged; remove the bitmap" },
	[Q2_C_TABLE_ENTRY_UNALIGNED] = { "table-entry-unaligned", E, CHK,
		"a bitmap table entry's offset is not cluster aligned", "the table is damaged; remove the bitmap" },
	[Q2_C_TABLE_ENTRY_BEYOND_EOF] = { "table-entry-beyond-eof", E, CHK,
		"a bitmap data cluster lies beyond the end of the file", "the image is truncated; remove the bitmap" },
	[Q2_C_TABLE_ENTRY_INVALID] = { "table-entry-invalid", E, CHK,
		"a bitmap table entry has both an offset and the all-ones bit", "the table is damaged; remove the bitmap" },

	/* --check: layout */
	[Q2_C_OVERLAP] = { "overlap", E, CHK,
		"two metadata structures share bytes of the file",
		"one of them is damaged; run qemu-img check and restore from a backup" },

	/* decoding stopped: the snapshot table */
	[Q2_C_TOO_MANY_SNAPSHOTS] = { "too-many-snapshots", E, DEC,
		"nb_snapshots exceeds QEMU's limit of 65536",
		"QEMU refuses to open the image; the header is damaged, restore from a backup" },
	[Q2_C_SNAPSHOT_TABLE_TOO_LARGE] = { "snapshot-table-too-large", E, DEC,
		"the snapshot table exceeds QEMU's limit of 64 MiB",
		"QEMU refuses to open the image; qemu-img check -r all drops the snapshots past the limit, and their data with them" },
	[Q2_C_SNAPSHOT_EXTRA_DATA_TOO_LARGE] = { "snapshot-extra-data-too-large", E, DEC,
		"a snapshot's extra_data_size exceeds QEMU's limit of 1024 bytes",
		"QEMU refuses to open the image; the snapshot table is damaged, restore from a backup" },

	/* --check: snapshot table entries */
	[Q2_C_SNAPSHOT_EXTRA_DATA_TOO_SHORT] = { "snapshot-extra-data-too-short", E, CHK,
		"a snapshot of a version 3 image has less than 16 bytes of extra data",
		"qemu-img check calls the entry incomplete; qemu-img check -r all rewrites it" },
	[Q2_C_SNAPSHOT_L1_UNALIGNED] = { "snapshot-l1-unaligned", E, CHK,
		"a snapshot's l1_table_offset is not cluster aligned",
		"the snapshot table entry is damaged and the snapshot cannot be used; restore from a backup" },
	[Q2_C_SNAPSHOT_L1_TOO_LARGE] = { "snapshot-l1-too-large", E, CHK,
		"a snapshot's l1_size exceeds QEMU's limit of 4194304 entries (32 MiB)",
		"the snapshot table entry is damaged and the snapshot cannot be used; restore from a backup" },
	[Q2_C_SNAPSHOT_L1_BEYOND_EOF] = { "snapshot-l1-beyond-eof", E, CHK,
		"a snapshot's L1 table ends a cluster or more beyond the end of the file",
		"the image is truncated or the entry damaged; the snapshot is lost" },
	[Q2_C_SNAPSHOT_ID_EMPTY] = { "snapshot-id-empty", W, CHK,
		"a snapshot's id_str is empty",
		"QEMU accepts it; name the snapshot by its name rather than its id" },
	[Q2_C_SNAPSHOT_DUPLICATE_ID] = { "snapshot-duplicate-id", W, CHK,
		"two snapshots have the same id_str",
		"QEMU accepts it, but a command given that id acts on one of them only; give such commands the name" },
	[Q2_C_SNAPSHOT_DUPLICATE_NAME] = { "snapshot-duplicate-name", W, CHK,
		"two snapshots have the same name",
		"QEMU accepts it, but a command given that name acts on one of them only; check which with qemu-img snapshot -l" },
};

static const char *const where_names[Q2_W_COUNT_] = {
	[Q2_W_NONE] = "structure",
	[Q2_W_FILE] = "file",
	[Q2_W_HEADER] = "header",
	[Q2_W_BACKING_NAME] = "backing file name",
	[Q2_W_EXT_AREA] = "header extension area",
	[Q2_W_EXT] = "header extension",
	[Q2_W_BITMAPS_EXT] = "bitmaps extension",
	[Q2_W_DIR] = "bitmap directory",
	[Q2_W_DIR_ENTRY] = "bitmap directory entry",
	[Q2_W_TABLE] = "bitmap table of entry",
	[Q2_W_DATA] = "bitmap data cluster of entry",
	[Q2_W_SNAPSHOT_TABLE] = "snapshot table",
	[Q2_W_SNAPSHOT] = "snapshot table entry",
};

const char *q2_severity_name(enum q2_severity s)
{
	return s == Q2_SEV_ERROR ? "error" : "warning";
}

void q2_problems_add(struct q2_problems *p, enum q2_code code,
		     uint64_t offset, uint32_t bitmap, bool from_check,
		     char *message)
{
	if (p->n == p->cap) {
		size_t cap = p->cap ? p->cap * 2 : 16;
		struct q2_problem *v = realloc(p->v, cap * sizeof *v);

		if (!v) {
			free(message);
			p->lost = true;
			return;
		}
		p->v = v;
		p->cap = cap;
	}
	p->v[p->n++] = (struct q2_problem){
		.code = code, .offset = offset, .bitmap = bitmap,
		.index = Q2_NO_INDEX, .from_check = from_check,
		.message = message,
	};
}

void q2_problems_add_decode(struct q2_problems *p, enum q2_code code,
			    enum q2_where where, uint32_t index,
			    uint64_t offset, int sys_errno, uint32_t bitmap)
{
	char idx[16] = "";
	char *msg;

	if (index != Q2_NO_INDEX)
		snprintf(idx, sizeof idx, " %" PRIu32, index);
	if (asprintf(&msg, "%s%s%s (where: %s%s, offset 0x%" PRIx64 ")",
		     q2_codes[code].message, sys_errno ? ": " : "",
		     sys_errno ? strerror(sys_errno) : "",
		     (unsigned)where < Q2_W_COUNT_ ? where_names[where] : "structure",
		     idx, offset) < 0)
		msg = NULL;
	q2_problems_add(p, code, offset, bitmap, false, msg);
	if (p->n && p->v[p->n - 1].message == msg) {
		p->v[p->n - 1].where = where;
		p->v[p->n - 1].index = index;
	}
}

void q2_problems_addf(struct q2_problems *p, enum q2_code code,
		      uint64_t offset, uint32_t bitmap, const char *fmt, ...)
{
	char *detail = NULL, *msg = NULL;
	va_list ap;

	va_start(ap, fmt);
	if (vasprintf(&detail, fmt, ap) < 0)
		detail = NULL;
	va_end(ap);
	if (asprintf(&msg, "%s%s%s", q2_codes[code].message,
		     detail && *detail ? ": " : "", detail ? detail : "") < 0)
		msg = NULL;
	free(detail);
	q2_problems_add(p, code, offset, bitmap, true, msg);
}

void q2_problems_truncate(struct q2_problems *p, size_t n)
{
	while (p->n > n)
		free(p->v[--p->n].message);
}

void q2_problems_free(struct q2_problems *p)
{
	for (size_t i = 0; i < p->n; i++)
		free(p->v[i].message);
	free(p->v);
	memset(p, 0, sizeof *p);
}
