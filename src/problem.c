#include "config.h"

#include "problem.h"

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Severities and scopes are QEMU 7.2's verdicts (qemu-img info, check,
 * qemu-nbd and qemu-io -r on images made by qemu-img and edited byte by
 * byte; tests/integration/check.sh asks the real qemu-img each time).
 * OPEN: qcow2_do_open fails, so every tool refuses the image; CHECK:
 * the image opens, qemu-img check reports the error. */
#define E Q2_SEV_ERROR
#define W Q2_SEV_WARNING
#define OPEN Q2_SCOPE_OPEN
#define CHKS Q2_SCOPE_CHECK
#define NONE Q2_SCOPE_NONE

#define DAMAGED "the image is damaged or beyond QEMU's limits; restore it from a backup"
#define REMOVE "QEMU refuses to open the image; after a full backup, remove the bitmap (qemu-img bitmap --remove)"
#define REFUSED "QEMU refuses to open the image; restore it from a backup"

const struct q2_code_info q2_codes[Q2_CODE_COUNT_] = {
	/* decoding stopped */
	[Q2_C_NOMEM] = { "out-of-memory", E, OPEN, "out of memory",
		"free memory or raise the process's memory limit, then run again" },
	[Q2_C_OPEN] = { "cannot-open", E, OPEN, "cannot open",
		"check the path and your permission to read it" },
	[Q2_C_NOT_A_FILE] = { "not-a-file", E, OPEN,
		"not a regular file or a block device",
		"give the image file itself (a FIFO, socket, directory or character device is never read)" },
	[Q2_C_IO] = { "read-error", E, OPEN, "read error",
		"the storage under the image failed; check the device and the kernel log" },
	[Q2_C_TRUNCATED] = { "truncated", E, OPEN,
		"truncated: the file ends inside this structure", DAMAGED },
	[Q2_C_MAGIC] = { "bad-magic", E, OPEN, "not a qcow2 image: bad magic",
		"the file is not a qcow2 image (qemu-img info tells its format)" },
	[Q2_C_VERSION] = { "unsupported-version", E, OPEN,
		"unsupported qcow2 version (only 2 and 3 exist)", DAMAGED },
	[Q2_C_HEADER_LENGTH] = { "bad-header-length", E, OPEN,
		"header_length is below 104 or beyond the first cluster", DAMAGED },
	[Q2_C_CLUSTER_BITS] = { "bad-cluster-bits", E, OPEN,
		"cluster_bits is outside 9..21", DAMAGED },
	[Q2_C_BACKING_NAME_SIZE] = { "backing-name-too-long", E, OPEN,
		"backing file name is longer than 1023 bytes", DAMAGED },
	[Q2_C_EXT_OVERRUN] = { "extension-overrun", E, OPEN,
		"header extension runs past the end of the extension area", DAMAGED },
	[Q2_C_BITMAPS_EXT_LENGTH] = { "bitmaps-extension-too-short", E, OPEN,
		"bitmaps extension is shorter than its 24 bytes", DAMAGED },
	[Q2_C_TOO_MANY_BITMAPS] = { "too-many-bitmaps", E, OPEN,
		"nb_bitmaps exceeds QEMU's limit of 65535", DAMAGED },
	[Q2_C_DIR_TOO_LARGE] = { "directory-too-large", E, OPEN,
		"bitmap_directory_size exceeds QEMU's limit of 67107840 bytes", DAMAGED },
	[Q2_C_DIR_ENTRY_OVERRUN] = { "directory-entry-overrun", E, OPEN,
		"bitmap directory entry runs past the end of the directory", DAMAGED },
	[Q2_C_DIR_TOO_FEW] = { "directory-too-few-entries", E, OPEN,
		"bitmap directory holds fewer entries than nb_bitmaps", DAMAGED },
	[Q2_C_DIR_TRAILING] = { "directory-trailing-bytes", E, OPEN,
		"bitmap directory has bytes after its last entry", DAMAGED },
	[Q2_C_TABLE_TOO_LARGE] = { "bitmap-table-too-large", E, OPEN,
		"bitmap_table_size exceeds QEMU's limit", DAMAGED },
	[Q2_C_TABLES_BUDGET] = { "bitmap-tables-over-budget", E, OPEN,
		"bitmap tables add up to more than the file holds: they overlap, so this tool does not load them all",
		"the tables overlap one another; run qemu-img check, and restore the image from a backup" },
	[Q2_C_GRANULARITY] = { "bitmap-granularity-unreadable", E, OPEN,
		"granularity_bits is above 63: the bitmap cannot be read", DAMAGED },
	[Q2_C_TABLE_TOO_SMALL] = { "bitmap-table-short", E, OPEN,
		"bitmap table has fewer entries than the virtual size needs", DAMAGED },
	[Q2_C_TABLE_ENTRY] = { "bitmap-table-entry-unreadable", E, OPEN,
		"bitmap table entry has an offset and the all-ones bit", DAMAGED },
	[Q2_C_DATA_CLUSTER_SHARED] = { "data-cluster-shared", E, CHKS,
		"this bitmap data cluster was read already, for another table entry or bitmap: it is shared, so the ranges stop here",
		"the tables are damaged (qemu-img check reports the shared clusters); restore the image from a backup" },
	[Q2_C_NO_SUCH_BITMAP] = { "no-such-bitmap", E, NONE,
		"no bitmap of the name given with -n",
		"list the image's bitmaps with qcow2dump -b and give one of their names" },

	/* --check: header */
	[Q2_C_REFCOUNT_ORDER_TOO_LARGE] = { "refcount-order-too-large", E, OPEN,
		"refcount_order is above 6 (64-bit refcounts)", REFUSED },
	[Q2_C_HEADER_LENGTH_UNALIGNED] = { "header-length-unaligned", W, NONE,
		"header_length is not a multiple of 8, as the spec wants",
		"QEMU accepts it; the image was written by a broken tool" },
	[Q2_C_L1_TABLE_UNALIGNED] = { "l1-table-unaligned", E, OPEN,
		"l1_table_offset is not cluster aligned", REFUSED },
	[Q2_C_L1_TABLE_TOO_SMALL] = { "l1-table-too-small", E, OPEN,
		"l1_size is smaller than the virtual size needs", REFUSED },
	[Q2_C_L1_TABLE_TOO_LARGE] = { "l1-table-too-large", E, OPEN,
		"l1_size exceeds QEMU's limit of 32 MiB of L1 table", REFUSED },
	[Q2_C_L1_TABLE_BEYOND_EOF] = { "l1-table-beyond-eof", E, CHKS,
		"the L1 table ends a cluster or more beyond the end of the file",
		"the image is truncated; qemu-img check fails on it; restore it from a backup" },
	[Q2_C_REFCOUNT_TABLE_UNALIGNED] = { "refcount-table-unaligned", E, OPEN,
		"refcount_table_offset is not cluster aligned", REFUSED },
	[Q2_C_REFCOUNT_TABLE_EMPTY] = { "refcount-table-empty", E, OPEN,
		"refcount_table_clusters is 0: the image has no refcount table", REFUSED },
	[Q2_C_REFCOUNT_TABLE_TOO_LARGE] = { "refcount-table-too-large", E, OPEN,
		"the refcount table exceeds QEMU's limit of 8 MiB", REFUSED },
	[Q2_C_REFCOUNT_TABLE_BEYOND_EOF] = { "refcount-table-beyond-eof", E, CHKS,
		"the refcount table ends a cluster or more beyond the end of the file",
		"the image is truncated; qemu-img check fails on it; restore it from a backup" },
	[Q2_C_SNAPSHOT_TABLE_UNALIGNED] = { "snapshot-table-unaligned", E, OPEN,
		"snapshot_offset is not cluster aligned (QEMU checks it even with no snapshots)",
		REFUSED },
	[Q2_C_UNKNOWN_INCOMPATIBLE_BITS] = { "unknown-incompatible-bits", E, OPEN,
		"incompatible_features has bits this spec does not define",
		"QEMU refuses such an image; it was written by newer or foreign software" },
	[Q2_C_DIRTY] = { "dirty", W, NONE,
		"the dirty bit is set: refcounts may be stale (lazy refcounts, not closed cleanly)",
		"if no VM has the image open, run qemu-img check -r all" },
	[Q2_C_CORRUPT] = { "corrupt", W, NONE,
		"the corrupt bit is set: QEMU found corruption and will not write the image",
		"run qemu-img check -r all, then qemu-img amend or restore from a backup" },
	[Q2_C_COMPRESSION_TYPE_UNKNOWN] = { "compression-type-unknown", E, OPEN,
		"compression_type is neither 0 (deflate) nor 1 (zstd)",
		"QEMU refuses the image; it was written by foreign software or is damaged" },
	[Q2_C_COMPRESSION_TYPE_WITHOUT_BIT] = { "compression-type-without-bit", E, OPEN,
		"compression_type is non-zero but the compression type incompatible bit is clear",
		REFUSED },
	[Q2_C_COMPRESSION_BIT_WITHOUT_TYPE] = { "compression-bit-without-type", E, OPEN,
		"the compression type incompatible bit is set but compression_type is absent or zero",
		REFUSED },
	[Q2_C_EXTENDED_L2_SMALL_CLUSTERS] = { "extended-l2-small-clusters", E, OPEN,
		"extended L2 entries need clusters of 16 KiB at least (32 subclusters of 512 bytes)",
		REFUSED },
	[Q2_C_UNKNOWN_CRYPT_METHOD] = { "unknown-crypt-method", E, OPEN,
		"crypt_method is not 0, 1 (AES) or 2 (LUKS)", REFUSED },
	[Q2_C_BACKING_NAME_OUTSIDE_CLUSTER] = { "backing-name-outside-cluster", E, OPEN,
		"the backing file name does not lie inside the first cluster",
		"QEMU refuses the image; rebase it with qemu-img rebase -u" },

	/* --check: extensions */
	[Q2_C_DUPLICATE_EXTENSION] = { "duplicate-extension", W, NONE,
		"a header extension type appears more than once; QEMU uses the last one",
		"the image was edited by a broken tool; the last copy is the one that counts" },
	[Q2_C_BACKING_FORMAT_TOO_LONG] = { "backing-format-too-long", E, OPEN,
		"the backing format extension is 16 bytes or longer", REFUSED },
	[Q2_C_BITMAPS_EXTENSION_LENGTH] = { "bitmaps-extension-length", E, OPEN,
		"the bitmaps extension is not 24 bytes long", REMOVE },
	[Q2_C_BITMAPS_RESERVED] = { "bitmaps-reserved", E, OPEN,
		"the bitmaps extension's reserved32 field is not zero", REMOVE },
	[Q2_C_BITMAPS_NONE] = { "bitmaps-none", E, OPEN,
		"the bitmaps extension says nb_bitmaps is 0",
		"QEMU refuses to open the image; the extension should have gone with the last bitmap" },
	[Q2_C_DIRECTORY_UNALIGNED] = { "directory-unaligned", E, OPEN,
		"bitmap_directory_offset is not cluster aligned", REMOVE },
	[Q2_C_AUTOCLEAR_BITMAPS_CLEAR] = { "autoclear-bitmaps-clear", W, NONE,
		"the image has bitmaps but the autoclear bitmaps bit is clear: a program without bitmap support wrote it, so every bitmap is stale",
		"QEMU ignores every bitmap of the image and drops them at its next write; take a full backup and recreate them" },
	[Q2_C_AUTOCLEAR_BITMAPS_WITHOUT_EXTENSION] = { "autoclear-bitmaps-without-extension", W, NONE,
		"the autoclear bitmaps bit is set but there is no bitmaps extension",
		"QEMU accepts it; the header is inconsistent but harmless" },
	[Q2_C_CRYPTO_HEADER_WITHOUT_LUKS] = { "crypto-header-without-luks", E, OPEN,
		"a crypto header extension exists but crypt_method is not LUKS", REFUSED },
	[Q2_C_LUKS_WITHOUT_CRYPTO_HEADER] = { "luks-without-crypto-header", E, OPEN,
		"crypt_method is LUKS but there is no crypto header extension",
		"QEMU cannot open the image (qemu-img info even crashes on it); restore from a backup" },
	[Q2_C_CRYPTO_HEADER_LENGTH] = { "crypto-header-length", E, OPEN,
		"the crypto header extension is not 16 bytes long", REFUSED },
	[Q2_C_CRYPTO_HEADER_UNALIGNED] = { "crypto-header-unaligned", E, OPEN,
		"the crypto header offset is not cluster aligned", REFUSED },
	[Q2_C_CRYPTO_HEADER_BEYOND_EOF] = { "crypto-header-beyond-eof", E, OPEN,
		"the crypto header is empty or lies beyond the end of the file", REFUSED },
	[Q2_C_DATA_FILE_NAME_WITHOUT_BIT] = { "data-file-name-without-bit", W, NONE,
		"a data file name extension exists but the external data file bit is clear",
		"QEMU ignores the name; remove the extension or set the bit with qemu-img amend" },
	[Q2_C_DATA_FILE_BIT_WITHOUT_NAME] = { "data-file-bit-without-name", E, OPEN,
		"the external data file bit is set but no data file name extension says which file",
		"QEMU opens the image only when given the data file (qemu-img info works, qemu-img check and qemu-nbd fail); add it with qemu-img amend -o data_file=..." },
	[Q2_C_RAW_EXTERNAL_DATA_WITHOUT_DATA_FILE] = { "raw-external-data-without-data-file", E, OPEN,
		"the raw external data bit is set without the external data file bit",
		"QEMU refuses to open the image (qemu-img info works, qemu-img check fails)" },

	/* --check: bitmap directory entries */
	[Q2_C_TABLE_OFFSET_ZERO] = { "table-offset-zero", E, OPEN,
		"bitmap_table_offset is 0", REMOVE },
	[Q2_C_TABLE_UNALIGNED] = { "table-unaligned", E, OPEN,
		"bitmap_table_offset is not cluster aligned", REMOVE },
	[Q2_C_TABLE_BEYOND_EOF] = { "table-beyond-eof", E, CHKS,
		"the bitmap table ends a cluster or more beyond the end of the file (QEMU reads zeroes there)",
		"the image is truncated and the bitmap lost; qemu-img check fails; remove the bitmap" },
	[Q2_C_TABLE_CUT_SHORT] = { "table-cut-short", W, NONE,
		"the bitmap table ends beyond the end of the file, by less than a cluster (QEMU reads zeroes there)",
		"the image was cut short; take a full backup before trusting the bitmap" },
	[Q2_C_TABLE_SIZE_ZERO] = { "table-size-zero", E, OPEN,
		"bitmap_table_size is 0", REMOVE },
	[Q2_C_TABLE_SIZE_TOO_LARGE] = { "table-too-large", E, OPEN,
		"bitmap_table_size exceeds QEMU's limit (0x8000000 entries, 512 MiB of bitmap)",
		REMOVE },
	[Q2_C_TABLE_SIZE_TOO_SMALL] = { "table-too-small", E, OPEN,
		"the bitmap table is too small for the virtual size at this granularity",
		"QEMU refuses to open the image (was the disk grown by a tool that kept the bitmap?); remove the bitmap" },
	[Q2_C_TABLE_SIZE_EXCESS] = { "table-size-excess", E, OPEN,
		"the bitmap table is larger than the virtual size needs at this granularity (QEMU wants the exact size)",
		REMOVE },
	[Q2_C_RESERVED_FLAGS] = { "reserved-flags", E, OPEN,
		"a reserved bitmap flag (bits 3 to 31) is set", REMOVE },
	[Q2_C_EXTRA_DATA_COMPATIBLE_FLAG] = { "extra-data-compatible-flag", E, OPEN,
		"flag extra_data_compatible is set; QEMU treats it as reserved", REMOVE },
	[Q2_C_BITMAP_TYPE] = { "bitmap-type", E, OPEN,
		"the bitmap type is not 1 (dirty tracking)", REMOVE },
	[Q2_C_GRANULARITY_OUT_OF_RANGE] = { "granularity-out-of-range", E, OPEN,
		"granularity_bits is above 63", REMOVE },
	[Q2_C_GRANULARITY_BEYOND_QEMU] = { "granularity-beyond-qemu", E, OPEN,
		"granularity_bits is outside QEMU's 9..31", REMOVE },
	[Q2_C_NAME_EMPTY] = { "name-empty", W, NONE,
		"name_size is 0: QEMU loads the bitmap but no NBD client can ask for it",
		"the bitmap cannot serve a backup over NBD; remove it" },
	[Q2_C_NAME_TOO_LONG] = { "name-too-long", E, OPEN,
		"name_size exceeds 1023 bytes", REMOVE },
	[Q2_C_DUPLICATE_NAME] = { "duplicate-name", E, OPEN,
		"two bitmaps have the same name (QEMU compares names up to a NUL byte)",
		"QEMU refuses to open the image; after a full backup remove one of them" },
	[Q2_C_DUPLICATE_NAME_IN_USE] = { "duplicate-name-in-use", W, NONE,
		"a bitmap in use has the name of an earlier one; QEMU ignores it",
		"the later bitmap can never be used; remove it" },
	[Q2_C_NONZERO_PADDING] = { "nonzero-padding", W, NONE,
		"the padding after a directory entry is not zero",
		"QEMU ignores it; the directory was written by a broken tool" },
	[Q2_C_EXTRA_DATA] = { "extra-data", E, OPEN,
		"the bitmap has extra data, which QEMU does not support", REMOVE },
	[Q2_C_EXTRA_DATA_INCOMPATIBLE] = { "extra-data-incompatible", E, OPEN,
		"the bitmap has extra data and flag extra_data_compatible is clear: no software that does not know the extra data may use it",
		REMOVE },
	[Q2_C_BITMAP_IN_USE] = { "bitmap-in-use", W, NONE,
		"flag in_use is set: the bitmap was not saved cleanly, or a VM has the image open now",
		"if no VM has the image open the bitmap is inconsistent: take a full backup and recreate it" },

	/* --check: bitmap tables and data */
	[Q2_C_TABLE_ENTRY_RESERVED] = { "table-entry-reserved", E, OPEN,
		"a bitmap table entry has reserved bits set", REMOVE },
	[Q2_C_TABLE_ENTRY_UNALIGNED] = { "table-entry-unaligned", E, OPEN,
		"a bitmap table entry's offset is not cluster aligned", REMOVE },
	[Q2_C_TABLE_ENTRY_BEYOND_EOF] = { "table-entry-beyond-eof", E, CHKS,
		"a bitmap data cluster lies beyond the end of the file (QEMU reads zeroes)",
		"the image is truncated and the bitmap lost; qemu-img check fails; remove the bitmap" },
	[Q2_C_DATA_CLUSTER_CUT_SHORT] = { "data-cluster-cut-short", W, NONE,
		"a bitmap data cluster is cut short by the end of the file (QEMU reads zeroes for the rest)",
		"the image was cut short: the dirty bits that were there are lost; take a full backup" },
	[Q2_C_TABLE_ENTRY_INVALID] = { "table-entry-invalid", E, OPEN,
		"a bitmap table entry has both an offset and the all-ones bit", REMOVE },

	/* --check: refcounts of the bitmaps' clusters */
	[Q2_C_REFCOUNT_ZERO] = { "refcount-zero", E, CHKS,
		"a cluster of the bitmap metadata has refcount 0: QEMU may give it to guest data at any write",
		"qemu-img check reports it as an error; do not trust the bitmap: take a full backup and recreate it" },
	[Q2_C_REFCOUNT_EXCESS] = { "refcount-excess", W, NONE,
		"a cluster of the bitmap metadata has a refcount above its one reference (a leak)",
		"harmless; qemu-img check -r leaks reclaims it" },
	[Q2_C_REFCOUNT_UNREADABLE] = { "refcount-unreadable", E, CHKS,
		"the refcount block of a bitmap metadata cluster is unaligned or beyond the end of the file",
		"qemu-img check fails on the image; restore it from a backup" },

	/* --check: layout */
	[Q2_C_OVERLAP] = { "overlap", E, CHKS,
		"two metadata structures share bytes of the file",
		"qemu-img check reports the shared clusters; one structure is damaged: restore from a backup" },

	/* the run's verdict */
	[Q2_C_BITMAP_NOT_USABLE] = { "bitmap-not-usable", E, NONE,
		"not usable for an incremental backup now",
		"take a full backup and recreate the bitmap (qemu-img bitmap --remove, then --add); for a running VM, use QEMU's backup API (libvirt: virsh backup-begin) instead of the disk copy" },

	/* --backing-chain: the chain stops here.  QEMU refuses an image
	 * whose backing file is missing, loops or is not of its format; a
	 * name or format qcow2dump does not follow, or a chain beyond its
	 * depth limit, is an image it could not read whole.  No scope: the
	 * layer's own bitmaps are sound, the chain is not, and a checkpoint
	 * merged over it is incomplete (chain.c). */
	[Q2_C_BACKING_FILE_MISSING] = { "backing-file-missing", E, NONE,
		"the backing file cannot be opened",
		"QEMU refuses to open the image: bring the backing file back, or point the image at it with qemu-img rebase -u -b FILE -F FORMAT (a relative name is relative to the image's directory)" },
	[Q2_C_BACKING_CHAIN_LOOP] = { "backing-chain-loop", E, NONE,
		"the backing file is a layer already in the chain: the chain loops",
		"QEMU refuses to open the image; point the layer at its real backing file with qemu-img rebase -u -b FILE -F FORMAT" },
	[Q2_C_BACKING_CHAIN_TOO_DEEP] = { "backing-chain-too-deep", E, NONE,
		"the backing chain is deeper than qcow2dump follows (256 layers)",
		"shorten the chain (qemu-img commit, or virsh blockcommit for a running VM); qcow2dump shows the layers up to its limit" },
	[Q2_C_BACKING_NAME_UNSUPPORTED] = { "backing-name-unsupported", E, NONE,
		"the backing file name is a protocol or json: name, which qcow2dump does not follow",
		"qcow2dump reads local files only; inspect that layer by its own path" },
	[Q2_C_BACKING_FORMAT_UNSUPPORTED] = { "backing-format-unsupported", E, NONE,
		"the backing file is neither qcow2 nor raw, which qcow2dump does not follow",
		"qcow2dump follows qcow2 and raw layers only; qemu-img info --backing-chain shows the rest" },
	[Q2_C_BACKING_FORMAT_MISMATCH] = { "backing-format-mismatch", E, NONE,
		"the backing format extension says qcow2, but the backing file is not a qcow2 image",
		"QEMU refuses to open the image; set the backing file's real format with qemu-img rebase -u -b FILE -F FORMAT" },

	/* --backing-chain, -c: what QEMU accepts, and libvirt's rules for
	 * a checkpoint's bitmap spread over the chain */
	[Q2_C_BACKING_FORMAT_RAW_OVER_QCOW2] = { "backing-format-raw-over-qcow2", W, NONE,
		"the backing format extension says raw, but the backing file is a qcow2 image: QEMU reads its metadata as disk data",
		"if the backing file is meant as qcow2, set its format with qemu-img rebase -u -b FILE -F qcow2" },
	[Q2_C_BACKING_FILE_LARGER] = { "backing-file-larger", W, NONE,
		"the backing file is larger than this image: QEMU ignores its part beyond this image's size",
		"harmless for QEMU; make sure the image was not shrunk by mistake" },
	[Q2_C_CHECKPOINT_MISSING_IN_TOP] = { "checkpoint-missing-in-top", W, NONE,
		"the top layer of the chain has no bitmap of this name: libvirt refuses to back up the checkpoint",
		"take a full backup and start a new checkpoint; an incremental backup from this one would miss the writes to the top layer" },
	[Q2_C_CHECKPOINT_GAP] = { "checkpoint-gap", W, NONE,
		"a layer between the top and this one has no bitmap of this name: libvirt refuses to back up the checkpoint",
		"take a full backup and start a new checkpoint; the writes to the layer without the bitmap are not recorded" },
	[Q2_C_CHECKPOINT_COPY_NOT_USABLE] = { "checkpoint-copy-not-usable", W, NONE,
		"this layer's copy of the checkpoint's bitmap is not recording, persistent and consistent: libvirt refuses to back up the checkpoint",
		"take a full backup and start a new checkpoint; the state says why this copy cannot be trusted" },

	/* decoding stopped: the snapshot table */
	[Q2_C_TOO_MANY_SNAPSHOTS] = { "too-many-snapshots", E, OPEN,
		"nb_snapshots exceeds QEMU's limit of 65536",
		"QEMU refuses to open the image; the header is damaged, restore from a backup" },
	[Q2_C_SNAPSHOT_TABLE_OFFSET_INVALID] = { "snapshot-table-offset-invalid", E, OPEN,
		"the snapshot table ends past the largest offset QEMU reads (2^63 - 1, and 2^63 - 1 GiB for a read)",
		REFUSED },
	[Q2_C_SNAPSHOT_TABLE_TOO_LARGE] = { "snapshot-table-too-large", E, OPEN,
		"the snapshot table exceeds QEMU's limit of 64 MiB",
		"QEMU refuses to open the image; qemu-img check -r all drops the snapshots past the limit, and their data with them" },
	[Q2_C_SNAPSHOT_EXTRA_DATA_TOO_LARGE] = { "snapshot-extra-data-too-large", E, OPEN,
		"a snapshot's extra_data_size exceeds QEMU's limit of 1024 bytes",
		"QEMU refuses to open the image; the snapshot table is damaged, restore from a backup" },

	/* --check: snapshot table entries */
	[Q2_C_SNAPSHOT_EXTRA_DATA_TOO_SHORT] = { "snapshot-extra-data-too-short", E, CHKS,
		"a snapshot of a version 3 image has less than 16 bytes of extra data",
		"qemu-img check calls the entry incomplete; qemu-img check -r all rewrites it" },
	[Q2_C_SNAPSHOT_L1_UNALIGNED] = { "snapshot-l1-unaligned", E, CHKS,
		"a snapshot's l1_table_offset is not cluster aligned",
		"the snapshot table entry is damaged and the snapshot cannot be used; restore from a backup" },
	[Q2_C_SNAPSHOT_L1_TOO_LARGE] = { "snapshot-l1-too-large", E, CHKS,
		"a snapshot's l1_size exceeds QEMU's limit of 4194304 entries (32 MiB)",
		"the snapshot table entry is damaged and the snapshot cannot be used; restore from a backup" },
	[Q2_C_SNAPSHOT_L1_BEYOND_EOF] = { "snapshot-l1-beyond-eof", E, CHKS,
		"a snapshot's L1 table ends a cluster or more beyond the end of the file",
		"the image is truncated or the entry damaged; the snapshot is lost" },
	[Q2_C_SNAPSHOT_ID_EMPTY] = { "snapshot-id-empty", W, NONE,
		"a snapshot's id_str is empty",
		"QEMU accepts it; name the snapshot by its name rather than its id" },
	[Q2_C_SNAPSHOT_DUPLICATE_ID] = { "snapshot-duplicate-id", W, NONE,
		"two snapshots have the same id_str",
		"QEMU accepts it, but a command given that id acts on one of them only; give such commands the name" },
	[Q2_C_SNAPSHOT_DUPLICATE_NAME] = { "snapshot-duplicate-name", W, NONE,
		"two snapshots have the same name",
		"QEMU accepts it, but a command given that name acts on one of them only; check which with qemu-img snapshot -l" },

	/* --map: QEMU's read of a guest-data table fails (EIO): qemu-img
	 * map stops there, and so does the map */
	[Q2_C_MAP_IMAGE_REFUSED] = { "map-image-refused", E, OPEN,
		"QEMU refuses to open this layer (see its other problems), so it has no map",
		REFUSED },
	[Q2_C_L2_TABLE_UNALIGNED] = { "l2-table-unaligned", E, CHKS,
		"an L1 entry names an L2 table that is not cluster aligned: QEMU's reads of it fail (the map stops here) and qemu-img check reports corruption",
		DAMAGED },
	[Q2_C_DATA_CLUSTER_UNALIGNED] = { "data-cluster-unaligned", E, CHKS,
		"an L2 entry names a host cluster that is not cluster aligned: QEMU's reads of it fail (the map stops here) and qemu-img check reports corruption",
		DAMAGED },
	[Q2_C_SUBCLUSTER_BITMAP_INVALID] = { "subcluster-bitmap-invalid", E, CHKS,
		"an extended L2 entry's subcluster bitmaps are invalid (allocated and zero at once, or allocated without a host cluster): QEMU's reads fail (the map stops here) and qemu-img check reports corruption",
		DAMAGED },
	[Q2_C_ZERO_CLUSTER_IN_V2] = { "zero-cluster-in-v2", E, CHKS,
		"a version 2 image has a zero cluster, which only version 3 knows: QEMU's read fails, the map stops here",
		DAMAGED },
	[Q2_C_COMPRESSED_WITH_DATA_FILE] = { "compressed-with-data-file", E, CHKS,
		"a compressed cluster in an image with an external data file: QEMU's reads fail (the map stops here) and qemu-img check reports corruption",
		DAMAGED },
	[Q2_C_DATA_FILE_OFFSET_MISMATCH] = { "data-file-offset-mismatch", E, CHKS,
		"an L2 entry of an image with an external data file names a host offset other than its guest offset: QEMU's read fails, the map stops here",
		DAMAGED },
	[Q2_C_L2_TABLE_SHARED] = { "l2-table-shared", E, CHKS,
		"two L1 entries name the same L2 table: the refcounts cannot be right, and the guest data of one range shows in another; the map stops here",
		DAMAGED },
	/* QEMU reads zeroes there and maps on; qemu-img check reports it */
	[Q2_C_L2_TABLE_BEYOND_EOF] = { "l2-table-beyond-eof", E, CHKS,
		"an L2 table lies past the end of the file: QEMU reads it as zeroes (unallocated), qemu-img check reports corruption",
		DAMAGED },
	[Q2_C_GUEST_CLUSTER_BEYOND_EOF] = { "guest-cluster-beyond-eof", E, CHKS,
		"an L2 entry names a host cluster past the end of the file: its guest data reads as zeroes, qemu-img check reports corruption",
		DAMAGED },
	[Q2_C_DATA_FILE_UNREADABLE] = { "data-file-unreadable", E, OPEN,
		"the external data file cannot be opened: QEMU refuses the image",
		"put the data file where the image names it (QEMU resolves a relative name against the working directory), or fix the name with qemu-img amend -o data_file=..." },

	/* -c: the refcount rebuild (rebuild.c), each as qemu-img check
	 * counts it: a corruption is an error, a leak a warning */
	[Q2_C_L1_ENTRY_RESERVED] = { "l1-entry-reserved", E, CHKS,
		"an L1 entry has reserved bits set",
		DAMAGED },
	[Q2_C_L2_ENTRY_RESERVED] = { "l2-entry-reserved", E, CHKS,
		"an L2 entry has reserved bits set",
		DAMAGED },
	[Q2_C_COMPRESSED_COPIED] = { "compressed-copied", E, CHKS,
		"a compressed cluster's L2 entry has the COPIED flag, which compressed clusters never have",
		DAMAGED },
	[Q2_C_COMPRESSED_SUBCLUSTER_BITMAP] = { "compressed-subcluster-bitmap", E, CHKS,
		"a compressed cluster's extended L2 entry has a subcluster bitmap other than 0: qemu-img check does not count the cluster",
		DAMAGED },
	[Q2_C_SNAPSHOTS_WITH_DATA_FILE] = { "snapshots-with-data-file", E, CHKS,
		"an image with an external data file has internal snapshots, which QEMU does not allow",
		DAMAGED },
	[Q2_C_REFERENCE_BEYOND_EOF] = { "reference-beyond-eof", E, CHKS,
		"a structure or cluster ends a cluster or more past the end of the file (truncated image, or a damaged entry)",
		"the image is truncated or damaged: what lies past the end is lost; restore it from a backup" },
	[Q2_C_REFCOUNT_OVERFLOW] = { "refcount-overflow", E, CHKS,
		"a cluster is referenced more often than the refcount width can count",
		"qemu-img amend -o refcount_bits=16 widens the refcounts (on a copy); if references are wrong, restore from a backup" },
	[Q2_C_REFCOUNT_BLOCK_RESERVED] = { "refcount-block-reserved", E, CHKS,
		"a refcount table entry has reserved bits set",
		DAMAGED },
	[Q2_C_REFCOUNT_BLOCK_UNALIGNED] = { "refcount-block-unaligned", E, CHKS,
		"a refcount table entry names a refcount block that is not cluster aligned",
		DAMAGED },
	[Q2_C_REFCOUNT_BLOCK_BEYOND_EOF] = { "refcount-block-beyond-eof", E, CHKS,
		"a refcount block lies outside the image",
		DAMAGED },
	[Q2_C_REFCOUNT_BLOCK_SHARED] = { "refcount-block-shared", E, CHKS,
		"a refcount block's cluster is referenced by something else too (or twice by the refcount table)",
		DAMAGED },
	[Q2_C_REFCOUNT_TOO_LOW] = { "refcount-too-low", E, CHKS,
		"a cluster is referenced more often than its refcount says: QEMU may give it out again and overwrite what it holds",
		"do not write to the image; qemu-img check -r all repairs the refcounts of a copy, but data two owners share is damaged: restore from a backup" },
	[Q2_C_CLUSTER_LEAKED] = { "cluster-leaked", W, NONE,
		"a cluster's refcount is above its references (a leak): space is wasted, no data is harmed",
		"harmless; qemu-img check -r leaks reclaims the space" },
	[Q2_C_REFCOUNT_LOOKUP_FAILED] = { "refcount-lookup-failed", E, CHKS,
		"the refcounts of some clusters cannot be read (their refcount block is unaligned or unreadable): qemu-img check counts an internal error for each",
		DAMAGED },
	[Q2_C_COPIED_FLAG_WRONG] = { "copied-flag-wrong", E, CHKS,
		"an active L1 or L2 entry's COPIED flag disagrees with its cluster's refcount (set exactly when the refcount is 1)",
		"qemu-img check -r all repairs it on a copy; until then a write may change data a snapshot shares" },
	[Q2_C_CHECK_FAILED] = { "check-failed", E, CHKS,
		"qemu-img check stops on this image without a result",
		DAMAGED },
	[Q2_C_BITMAP_CLUSTER_SHARED] = { "bitmap-cluster-shared", E, CHKS,
		"a cluster of the bitmap (its directory, table or data) is also another structure's or guest data's: its ranges are garbage, even where QEMU would export them",
		"do not use the bitmap: take a full backup, then delete and recreate it (qemu-img bitmap --remove / --add on a copy); qemu-img check reports the shared cluster" },
	[Q2_C_AT_BEYOND_EOF] = { "at-beyond-eof", E, NONE,
		"the offset --at asks about lies past the end of the file",
		"ask about an offset below the file's size (ls -l, or stat -c %s)" },
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

bool q2_problems_reserve(struct q2_problems *p, size_t n)
{
	struct q2_problem *v;

	if (p->cap >= n)
		return true;
	v = realloc(p->v, n * sizeof *v);
	if (!v)
		return false;
	p->v = v;
	p->cap = n;
	return true;
}

struct q2_problem *q2_problems_add(struct q2_problems *p, enum q2_code code,
				   uint64_t offset, uint32_t bitmap,
				   enum q2_origin origin, char *message)
{
	if (p->n == p->cap) {
		size_t cap = p->cap ? p->cap * 2 : 16;
		struct q2_problem *v = realloc(p->v, cap * sizeof *v);

		if (!v) {
			free(message);
			p->lost = true;
			return NULL;
		}
		p->v = v;
		p->cap = cap;
	}
	p->v[p->n] = (struct q2_problem){
		.code = code, .offset = offset, .bitmap = bitmap,
		.index = Q2_NO_INDEX, .origin = origin,
		.scope = q2_codes[code].scope, .message = message,
	};
	return &p->v[p->n++];
}

void q2_problems_add_decode(struct q2_problems *p, enum q2_code code,
			    enum q2_where where, uint32_t index,
			    uint64_t offset, int sys_errno, uint32_t bitmap)
{
	char idx[16] = "";
	struct q2_problem *pb;
	char *msg;

	if (index != Q2_NO_INDEX)
		snprintf(idx, sizeof idx, " %" PRIu32, index);
	/* the file as a whole needs no "where" */
	if (where == Q2_W_FILE) {
		if (asprintf(&msg, "%s%s%s", q2_codes[code].message,
			     sys_errno ? ": " : "",
			     sys_errno ? strerror(sys_errno) : "") < 0)
			msg = NULL;
	} else if (asprintf(&msg, "%s%s%s (where: %s%s, offset 0x%" PRIx64 ")",
			    q2_codes[code].message, sys_errno ? ": " : "",
			    sys_errno ? strerror(sys_errno) : "",
			    (unsigned)where < Q2_W_COUNT_ ? where_names[where]
							  : "structure",
			    idx, offset) < 0) {
		msg = NULL;
	}
	pb = q2_problems_add(p, code, offset, bitmap, Q2_FROM_DECODE, msg);
	if (pb) {
		pb->where = where;
		pb->index = index;
	}
}

struct q2_problem *q2_problems_addf(struct q2_problems *p, enum q2_origin origin,
				    enum q2_code code, uint64_t offset,
				    uint32_t bitmap, const char *fmt, ...)
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
	return q2_problems_add(p, code, offset, bitmap, origin, msg);
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
