#include "config.h"

#include "error.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

static const char *const code_messages[Q2_E_COUNT_] = {
	[Q2_OK] = "no error",
	[Q2_E_NOMEM] = "out of memory",
	[Q2_E_OPEN] = "cannot open",
	[Q2_E_IO] = "read error",
	[Q2_E_TRUNCATED] = "truncated: the file ends inside this structure",
	[Q2_E_MAGIC] = "not a qcow2 image: bad magic",
	[Q2_E_VERSION] = "unsupported qcow2 version (only 2 and 3 exist)",
	[Q2_E_HEADER_LENGTH] = "header_length is below 104 or beyond the first cluster",
	[Q2_E_CLUSTER_BITS] = "cluster_bits is outside 9..21",
	[Q2_E_BACKING_NAME_SIZE] = "backing file name is longer than 1023 bytes",
	[Q2_E_EXT_OVERRUN] = "header extension runs past the end of the extension area",
	[Q2_E_BITMAPS_EXT_LENGTH] = "bitmaps extension is shorter than its 24 bytes",
	[Q2_E_TOO_MANY_BITMAPS] = "nb_bitmaps exceeds QEMU's limit of 65535",
	[Q2_E_DIR_TOO_LARGE] = "bitmap_directory_size exceeds QEMU's limit of 67107840 bytes",
	[Q2_E_DIR_ENTRY_OVERRUN] = "bitmap directory entry runs past the end of the directory",
	[Q2_E_DIR_TOO_FEW] = "bitmap directory holds fewer entries than nb_bitmaps",
	[Q2_E_DIR_TRAILING] = "bitmap directory has bytes after its last entry",
	[Q2_E_TABLE_TOO_LARGE] = "bitmap_table_size exceeds QEMU's limit",
	[Q2_E_TABLES_BUDGET] = "bitmap tables exceed the 256 MiB this tool loads at most",
	[Q2_E_GRANULARITY] = "granularity_bits is above 63: the bitmap cannot be read",
	[Q2_E_TABLE_TOO_SMALL] = "bitmap table has fewer entries than the virtual size needs",
	[Q2_E_TABLE_ENTRY] = "bitmap table entry has an offset and the all-ones bit",
};

static const char *const code_names[Q2_E_COUNT_] = {
	[Q2_OK] = "ok",
	[Q2_E_NOMEM] = "out-of-memory",
	[Q2_E_OPEN] = "cannot-open",
	[Q2_E_IO] = "read-error",
	[Q2_E_TRUNCATED] = "truncated",
	[Q2_E_MAGIC] = "bad-magic",
	[Q2_E_VERSION] = "unsupported-version",
	[Q2_E_HEADER_LENGTH] = "bad-header-length",
	[Q2_E_CLUSTER_BITS] = "bad-cluster-bits",
	[Q2_E_BACKING_NAME_SIZE] = "backing-name-too-long",
	[Q2_E_EXT_OVERRUN] = "extension-overrun",
	[Q2_E_BITMAPS_EXT_LENGTH] = "bitmaps-extension-too-short",
	[Q2_E_TOO_MANY_BITMAPS] = "too-many-bitmaps",
	[Q2_E_DIR_TOO_LARGE] = "directory-too-large",
	[Q2_E_DIR_ENTRY_OVERRUN] = "directory-entry-overrun",
	[Q2_E_DIR_TOO_FEW] = "directory-too-few-entries",
	[Q2_E_DIR_TRAILING] = "directory-trailing-bytes",
	[Q2_E_TABLE_TOO_LARGE] = "bitmap-table-too-large",
	[Q2_E_TABLES_BUDGET] = "bitmap-tables-over-budget",
	[Q2_E_GRANULARITY] = "bitmap-granularity-unreadable",
	[Q2_E_TABLE_TOO_SMALL] = "bitmap-table-short",
	[Q2_E_TABLE_ENTRY] = "bitmap-table-entry-unreadable",
};

static const char *const where_names[Q2_W_COUNT_] = {
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
};

const char *q2_code_message(enum q2_code code)
{
	if ((unsigned)code >= Q2_E_COUNT_ || !code_messages[code])
		return "unknown error";
	return code_messages[code];
}

const char *q2_code_name(enum q2_code code)
{
	if ((unsigned)code >= Q2_E_COUNT_ || !code_names[code])
		return "unknown";
	return code_names[code];
}

const char *q2_where_name(enum q2_where where)
{
	if ((unsigned)where >= Q2_W_COUNT_ || !where_names[where])
		return "structure";
	return where_names[where];
}

char *q2_error_format(const struct q2_error *e, char *buf, size_t size)
{
	char index[16] = "";
	char sys[128] = "";

	if (e->index != Q2_NO_INDEX)
		snprintf(index, sizeof index, " %" PRIu32, e->index);
	if (e->sys_errno)
		snprintf(sys, sizeof sys, ": %s", strerror(e->sys_errno));
	snprintf(buf, size, "%s%s (where: %s%s, offset 0x%" PRIx64 ")",
		 q2_code_message(e->code), sys, q2_where_name(e->where),
		 index, e->offset);
	return buf;
}
