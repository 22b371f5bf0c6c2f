/* The layout: every metadata structure of an image as a byte span of the
 * file with its owner (what kind of structure, whose, which entry),
 * sorted by offset.  Built once from the model, for every question that
 * is about where things lie: the overlap check, the refcounts of the
 * bitmaps' clusters, and what owns an offset. */
#ifndef QCOW2DUMP_LAYOUT_H
#define QCOW2DUMP_LAYOUT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "model.h"

enum q2_span_kind {
	Q2_SPAN_HEADER,          /* the header cluster */
	Q2_SPAN_L1,              /* the active L1 table */
	Q2_SPAN_REFCOUNT_TABLE,
	Q2_SPAN_CRYPTO,          /* the crypto header */
	Q2_SPAN_BITMAP_DIR,
	Q2_SPAN_BITMAP_TABLE,    /* index: the bitmap */
	Q2_SPAN_BITMAP_DATA,     /* index: the bitmap, sub: the table entry */
	Q2_SPAN_SNAPSHOT_TABLE,
	Q2_SPAN_SNAPSHOT_L1,     /* index: the snapshot */
	Q2_SPAN_KIND_COUNT_
};

struct q2_span {
	uint64_t start, end;     /* end saturates at UINT64_MAX */
	uint32_t index;          /* the bitmap or snapshot, or Q2_NO_INDEX */
	uint32_t sub;            /* the table entry, or Q2_NO_INDEX */
	enum q2_span_kind kind;
};

struct q2_layout {
	struct q2_span *v;       /* sorted by start, then end; stable */
	size_t n;
	bool failed;             /* out of memory: the list is not whole */
};

/* Lists the structures of img: the header cluster, the L1 and refcount
 * tables, the crypto header, the bitmap directory, each bitmap's table
 * and, when its table was loaded, each distinct data cluster it names,
 * the snapshot table and each snapshot's L1 table.  Spans of no length
 * are left out.  Memory: one span per structure and per table entry
 * held, so bounded by the file, as the tables held are. */
void q2_layout_build(const struct q2_image *img, struct q2_layout *out);
void q2_layout_free(struct q2_layout *l);

/* "bitmap table of bitmap 3 (name)" and the like, into buf. */
void q2_span_describe(const struct q2_image *img, const struct q2_span *s,
		      char *buf, size_t size);
/* The bitmap a span belongs to, or Q2_NO_INDEX (a snapshot's L1 table
 * holds the snapshot's index, not a bitmap's). */
uint32_t q2_span_bitmap(const struct q2_span *s);

#endif
