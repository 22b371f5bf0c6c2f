/* The byte union of several bitmaps' dirty ranges, as a backup of a
 * checkpoint spread over a backing chain needs it (libvirt merges the
 * bitmap of every layer into one).  Each bitmap is read by its own
 * extent iterator (extents.h), which yields sorted, disjoint ranges; a
 * k-way merge joins them into sorted, disjoint, non-adjacent ranges.
 * Granularities may differ: the union is exact in bytes.  Memory: the
 * inputs' iterators (one block of a data cluster each), nothing per
 * range. */
#ifndef QCOW2DUMP_MERGE_H
#define QCOW2DUMP_MERGE_H

#include <stddef.h>
#include <stdint.h>

#include "extents.h"
#include "qcow2.h"
#include "reader.h"

/* One bitmap to merge: bitmap idx of img, read through r; what cannot be
 * read is added to problems (the image's own). */
struct q2_merge_input {
	const struct q2_reader *r;
	const struct q2_image *img;
	uint32_t idx;
	struct q2_problems *problems;
	struct q2_seen *seen;      /* the image's data clusters read, or NULL */
};

/* Calls fn for each range of the union of the inputs' extents, each
 * clamped to size bytes (the top layer's disk, in whole sectors), in
 * ascending order; *dirty_bytes adds up the ranges reported.  Returns 0
 * when done, fn's non-zero value when it stopped, -1 when an input
 * could not be read or out of memory (the ranges reported until then
 * stand; the input's problems say why). */
int q2_merge_scan(const struct q2_merge_input *in, size_t n, uint64_t size,
		  q2_extent_fn fn, void *ctx, uint64_t *dirty_bytes,
		  struct q2_problems *nomem);

#endif
