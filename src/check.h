/* --check: the image against the QCOW2 spec and QEMU's limits.  Each
 * finding is a problem with a code of problem.h's table, so scripts can
 * match on it and the man page can say what each means and what to do. */
#ifndef QCOW2DUMP_CHECK_H
#define QCOW2DUMP_CHECK_H

#include <stdint.h>

#include "findings.h"
#include "layout.h"
#include "model.h"

/* Every check over what was decoded (tables included when they were
 * loaded), the layout and the refcounts in f; the findings are appended
 * to p. */
void q2_check(const struct q2_image *img, const struct q2_layout *layout,
	      const struct q2_findings *f, struct q2_problems *p);

/* The snapshot table held to what QEMU's qcow2_read_snapshots and
 * qemu-img check require (check_snapshot.c).  cluster_size is the
 * image's, non-zero. */
void q2_check_snapshots(const struct q2_image *img, struct q2_problems *p,
			uint64_t cluster_size);

#endif
