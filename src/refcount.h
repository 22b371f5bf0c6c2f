/* Refcounts of the bitmaps' own clusters, read as qemu-img check reads
 * them: the refcount table, and only the refcount blocks that the bitmap
 * directory, the bitmap tables and their data clusters fall in. */
#ifndef QCOW2DUMP_REFCOUNT_H
#define QCOW2DUMP_REFCOUNT_H

#include "qcow2.h"
#include "reader.h"

/* Fills img->refcount_faults with every cluster of the directory, of the
 * loaded tables and of their serialized data clusters that lies in the
 * file and whose refcount is not 1, or whose refcount cannot be read.
 * Work: one pass over those clusters, sorted, each refcount block read
 * once; memory: one entry per cluster referenced, one block. */
void q2_read_bitmap_refcounts(const struct q2_reader *r, struct q2_image *img);

/* The refcount of width 1 << order bits at index i of a refcount block,
 * as QEMU lays them out (sub-byte widths from the low bits up). */
uint64_t q2_refcount_at(const uint8_t *block, unsigned order, uint64_t i);

#endif
