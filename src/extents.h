/* Dirty extents: a bitmap's data clusters read one at a time and turned
 * into merged byte ranges of the virtual disk, as qemu-nbd -B exports
 * them.  Memory is one data cluster, whatever the bitmap's size. */
#ifndef QCOW2DUMP_EXTENTS_H
#define QCOW2DUMP_EXTENTS_H

#include <stdint.h>

#include "qcow2.h"
#include "reader.h"

/* Called for each extent in ascending order; a non-zero return stops
 * the scan (and is passed back). */
typedef int (*q2_extent_fn)(void *ctx, uint64_t start, uint64_t length);

/* Scans bitmap index idx of img's directory.  Returns 0 when done, the
 * callback's non-zero value when it stopped the scan, or -1 after adding
 * to problems what could not be read or decoded.  *dirty_bytes adds up
 * the extents reported. */
int q2_extents_scan(const struct q2_reader *r, const struct q2_image *img,
		    uint32_t idx, q2_extent_fn fn, void *ctx,
		    uint64_t *dirty_bytes, struct q2_problems *problems);

#endif
