/* The internal snapshot table: one struct per entry in the model, its
 * decoder, the field tables of an entry's fixed part and of its extra
 * data, and the --check rules for it.
 *
 * The table lies at the header's snapshot_offset and holds nb_snapshots
 * entries, each starting on an 8-byte boundary: a 40-byte fixed part,
 * then extra_data_size bytes of extra data, the id (id_str_size bytes)
 * and the name (name_size bytes), neither NUL-terminated.  The last
 * entry is not padded, so the file may end right after its name. */
#ifndef QCOW2DUMP_SNAPSHOT_H
#define QCOW2DUMP_SNAPSHOT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "problem.h"
#include "qcow2.h"
#include "reader.h"

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

/* Decodes the table the header of img points to into img->snapshots
 * (an empty table when nb_snapshots is 0).  QEMU's limits are checked
 * before anything is allocated for them; memory and work are bounded by
 * the file's size, whatever the header and entries claim.  Each problem
 * that stops decoding is appended to img->problems. */
void q2_snapshots_decode(const struct q2_reader *r, struct q2_image *img);
/* What QEMU's open reads of the table, without decoding it: whether QEMU
 * refuses the image for its snapshot table (too many entries, an entry's
 * extra data, the table's size; zeroes past the end of the file, as QEMU
 * reads them).  Appends such a problem to img->problems; allocates
 * nothing.  For the verdict of a view that does not show the table. */
void q2_snapshots_open_limits(const struct q2_reader *r, struct q2_image *img);
void q2_snapshots_free(struct q2_snapshot_table *t);

/* --check: holds the decoded table to what QEMU's qcow2_read_snapshots
 * and qemu-img check require (check_snapshot.c).  cluster_size is the
 * image's, non-zero. */
void q2_check_snapshots(const struct q2_image *img, struct q2_problems *p,
			uint64_t cluster_size);

#endif
