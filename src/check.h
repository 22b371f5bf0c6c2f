/* --check: the image against the QCOW2 spec and QEMU's limits.  Each
 * finding is a problem with a code of problem.h's table, so scripts can
 * match on it and the man page can say what each means and what to do. */
#ifndef QCOW2DUMP_CHECK_H
#define QCOW2DUMP_CHECK_H

#include "qcow2.h"

/* Every check over what was decoded (tables included when they were
 * loaded); the findings are appended to img->problems. */
void q2_check(struct q2_image *img);

#endif
