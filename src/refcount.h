/* Refcounts of the bitmaps' own clusters, read as qemu-img check reads
 * them: the refcount table, and only the refcount blocks that the bitmap
 * directory, the bitmap tables and their data clusters (as the layout
 * lists them) fall in. */
#ifndef QCOW2DUMP_REFCOUNT_H
#define QCOW2DUMP_REFCOUNT_H

#include <stdint.h>

#include "findings.h"
#include "layout.h"
#include "model.h"
#include "reader.h"

/* Fills out with every cluster of the directory, of the loaded tables
 * and of their serialized data clusters that lies in the file and whose
 * refcount is not 1, or whose refcount cannot be read; what stops the
 * reading goes to problems.  Work: one pass over those clusters, sorted,
 * each refcount block read once; memory: one entry per cluster
 * referenced, one block. */
void q2_read_bitmap_refcounts(const struct q2_reader *r, const struct q2_image *img,
			      const struct q2_layout *layout,
			      struct q2_refcounts *out, struct q2_problems *problems);


#endif
