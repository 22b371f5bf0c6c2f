/* The snapshot table's decoder: fills img->snapshots (model.h) from the
 * table the header points to. */
#ifndef QCOW2DUMP_SNAPSHOT_H
#define QCOW2DUMP_SNAPSHOT_H

#include "model.h"
#include "reader.h"

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

#endif
