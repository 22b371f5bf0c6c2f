/* The usable verdict: whether each bitmap's data can be trusted now, as
 * "every write since the bitmap started recording", for an incremental
 * backup.  Computed once per image, after the checks, from the problems
 * found, the flags and what the lock probe saw; every format shows it,
 * none derives it again. */
#ifndef QCOW2DUMP_VERDICT_H
#define QCOW2DUMP_VERDICT_H

#include <stdbool.h>

#include "qcow2.h"

/* Sets the state (and the problem behind it) of every decoded bitmap;
 * img->problems must hold the checks' findings and img->lock the probe's
 * answer. */
void q2_verdict(struct q2_image *img);

const char *q2_state_name(enum q2_state s);
/* What the state means, one line. */
const char *q2_state_meaning(enum q2_state s);

static inline bool q2_state_usable(enum q2_state s)
{
	return s == Q2_STATE_USABLE;
}

#endif
