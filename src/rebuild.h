/* The refcount rebuild of qemu-img check 7.2 (qcow2_check_refcounts),
 * read-only: every reference the walk (refwalk.h) meets counted per host
 * cluster, compared with the refcounts the file stores, and the COPIED
 * flags of the active tables held to the stored refcounts.  Its totals
 * are those qemu-img check --output=json prints; each defect is a
 * problem (at most Q2_REBUILD_LISTED of one code listed, the totals
 * exact).  Memory: the counters (about a byte per host cluster
 * referenced), the walk's tables and at most Q2_ONDISK_CACHE_BYTES of refcount blocks. */
#ifndef QCOW2DUMP_REBUILD_H
#define QCOW2DUMP_REBUILD_H

#include <stdbool.h>
#include <stdint.h>

#include "findings.h"
#include "model.h"
#include "reader.h"

#define Q2_REBUILD_LISTED 100u

/* Fills t (t->complete false when qemu-img check would print no result:
 * a problem then says why) and appends the findings to p. */
void q2_rebuild(const struct q2_reader *r, const struct q2_image *img,
		struct q2_totals *t, struct q2_problems *p);

#endif
