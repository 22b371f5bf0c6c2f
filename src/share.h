/* Whether a bitmap's clusters (its directory, table and data) are also
 * another structure's, guest data included: found by the walk of every
 * reference (refwalk.h), as qemu-img check would count them twice.  Such
 * a bitmap's ranges are garbage even where QEMU would load it, so the
 * verdict calls it invalid. */
#ifndef QCOW2DUMP_SHARE_H
#define QCOW2DUMP_SHARE_H

#include "layout.h"
#include "model.h"
#include "problem.h"
#include "reader.h"

/* One problem bitmap-cluster-shared per bitmap (and kind of its
 * clusters) that shares one, naming the other owner.  Memory: one entry
 * per bitmap cluster of the layout. */
void q2_check_bitmap_sharing(const struct q2_reader *r, const struct q2_image *img,
			     const struct q2_layout *layout, struct q2_problems *p);

#endif
