/* Decoding errors: a code with a fixed message, the structure it concerns
 * and the file offset, returned up to main, which alone talks to the user. */
#ifndef QCOW2DUMP_ERROR_H
#define QCOW2DUMP_ERROR_H

#include <stddef.h>
#include <stdint.h>

enum q2_code {
	Q2_OK = 0,
	Q2_E_NOMEM,
	Q2_E_OPEN,
	Q2_E_IO,
	Q2_E_TRUNCATED,
	Q2_E_MAGIC,
	Q2_E_VERSION,
	Q2_E_HEADER_LENGTH,
	Q2_E_CLUSTER_BITS,
	Q2_E_BACKING_NAME_SIZE,
	Q2_E_EXT_OVERRUN,
	Q2_E_BITMAPS_EXT_LENGTH,
	Q2_E_TOO_MANY_BITMAPS,
	Q2_E_DIR_TOO_LARGE,
	Q2_E_DIR_ENTRY_OVERRUN,
	Q2_E_DIR_TOO_FEW,
	Q2_E_DIR_TRAILING,
	Q2_E_TABLE_TOO_LARGE,
	Q2_E_TABLES_BUDGET,
	Q2_E_GRANULARITY,
	Q2_E_TABLE_TOO_SMALL,
	Q2_E_TABLE_ENTRY,
	Q2_E_COUNT_ /* number of codes, not a code */
};

/* The on-disk structure an error is about. */
enum q2_where {
	Q2_W_FILE = 0,
	Q2_W_HEADER,
	Q2_W_BACKING_NAME,
	Q2_W_EXT_AREA,
	Q2_W_EXT,
	Q2_W_BITMAPS_EXT,
	Q2_W_DIR,
	Q2_W_DIR_ENTRY,
	Q2_W_TABLE,
	Q2_W_DATA,
	Q2_W_COUNT_
};

#define Q2_NO_INDEX UINT32_MAX

struct q2_error {
	enum q2_code code;
	enum q2_where where;
	uint32_t index;   /* extension or bitmap number, or Q2_NO_INDEX */
	uint64_t offset;  /* file offset of the structure or field at fault */
	int sys_errno;    /* for Q2_E_OPEN and Q2_E_IO, else 0 */
};

const char *q2_code_message(enum q2_code code);
/* A stable kebab-case name for scripts, such as "truncated". */
const char *q2_code_name(enum q2_code code);
const char *q2_where_name(enum q2_where where);

/* "MESSAGE (where: STRUCTURE N, offset 0xOFF)" into buf; returns buf. */
char *q2_error_format(const struct q2_error *e, char *buf, size_t size);

#endif
