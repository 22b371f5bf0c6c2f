/* Every reference to the file's clusters, in the order and by the rules
 * of qemu-img check 7.2 (block/qcow2-refcount.c, calculate_refcounts):
 * the header cluster, the active L1 table, its L2 tables and the
 * clusters they name, each snapshot's, the snapshot table, the refcount
 * table, the crypto header, the bitmap directory, tables and data, and
 * last the refcount blocks.  Each is a span of the file with its owner;
 * the defects met on the way (an entry with reserved bits, a table not
 * aligned) are told as they are met.  The refcount rebuild (rebuild.c)
 * counts the spans, and --at and --layout list them (owners.c): one
 * walk, so that the check and the owners cannot disagree.
 *
 * Memory: an L1 table (QEMU's limit, 32 MiB) and Q2_L2_RUN bytes of L2
 * tables at a time, one refcount table; work: one read of each table
 * the file holds. */
#ifndef QCOW2DUMP_REFWALK_H
#define QCOW2DUMP_REFWALK_H

#include <stdbool.h>
#include <stdint.h>

#include "model.h"
#include "problem.h"
#include "reader.h"

enum q2_owner_kind {
	Q2_O_HEADER,
	Q2_O_L1,              /* the active L1 table */
	Q2_O_L2,              /* index: its L1 entry */
	Q2_O_DATA,            /* guest: the guest offset it holds; a span
			       * may be a run of clusters, following each
			       * other in the file and in the guest, their
			       * entries' COPIED alike (entry: the first's) */
	Q2_O_COMPRESSED,      /* the same, compressed */
	Q2_O_REFTABLE,
	Q2_O_REFBLOCK,        /* index: its refcount table entry */
	Q2_O_SNAPSHOT_TABLE,
	Q2_O_SNAPSHOT_L1,
	Q2_O_BITMAP_DIR,
	Q2_O_BITMAP_TABLE,    /* bitmap: the directory entry */
	Q2_O_BITMAP_DATA,     /* index: its bitmap table entry */
	Q2_O_CRYPTO,
	Q2_O_LEAKED,          /* no owner, a refcount above 0 (--layout) */
	Q2_O_FREE,            /* no owner, refcount 0 */
	Q2_O_COUNT_
};

#define Q2_NO_INDEX64 UINT64_MAX

struct q2_owner {
	enum q2_owner_kind kind;
	uint64_t start, length;   /* bytes of the file */
	uint32_t snapshot;        /* the snapshot whose tables, or Q2_NO_INDEX */
	uint32_t bitmap;          /* the bitmap, or Q2_NO_INDEX */
	uint64_t index;           /* see the kinds; Q2_NO_INDEX64 */
	uint64_t guest;           /* DATA, COMPRESSED: the guest offset */
	uint64_t entry;           /* the table entry that names the span, 0 */
	/* references the span stands for: an L2 table several entries of
	 * one L1 name, or a bitmap table several bitmaps name, is walked
	 * once for all (1 for the rest) */
	uint64_t times;
};

/* How a defect counts for qemu-img check. */
enum q2_defect_kind {
	Q2_D_CORRUPTION,          /* one of its corruptions */
	Q2_D_CHECK_ERROR,         /* one of its check errors */
	Q2_D_FATAL,               /* the check stops: qemu-img check prints
				   * "Check failed" and no result */
};

/* qemu-img check's fragmentation statistics, of the active tables */
struct q2_frag {
	uint64_t allocated, fragmented, compressed;
};

struct q2_walk_hooks {
	/* one reference to each cluster [start, start + length) touches */
	void (*span)(void *ctx, const struct q2_owner *o);
	/* a defect: code and the file offset of what is wrong (the entry,
	 * or the structure), detail a short text (may be NULL); o the
	 * owner concerned, or NULL.  NULL: the defects are not wanted (the
	 * walk stops where it would all the same) */
	void (*defect)(void *ctx, enum q2_defect_kind kind, enum q2_code code,
		       uint64_t offset, const struct q2_owner *o, const char *detail);
};

struct q2_walk_opts {
	/* the refcount tables are not walked (the owners need them; the
	 * question whether a bitmap shares a cluster does not) */
	bool no_refblocks;
	/* the guest-data tables are not walked */
	bool no_guest;
};

/* Walks img's references; false when the walk stopped early (a fatal
 * defect told, or out of memory / a read failed: a problem added to
 * problems).  Work is bounded by the file: tables that name more entries
 * than some multiple of the file's size stop the walk (a fatal defect:
 * qemu-img check would walk them all, for hours). */
bool q2_refwalk(const struct q2_reader *r, const struct q2_image *img,
		const struct q2_walk_opts *opts, const struct q2_walk_hooks *hooks,
		void *ctx, struct q2_frag *frag, struct q2_problems *problems);

/* Whether QEMU 7.2 sees img's bitmaps (the extension is there and the
 * autoclear bit kept): else it counts none of their clusters. */
bool q2_refwalk_sees_bitmaps(const struct q2_image *img);

/* The kind's name in --at and --layout ("l2-table"). */
const char *q2_owner_name(enum q2_owner_kind k);

#endif
