/* The usable verdict: whether each bitmap's data can be trusted now, as
 * "every write since the bitmap started recording", for an incremental
 * backup.  Computed once per image, after the checks, from the problems
 * found, the flags and what the lock probe saw; every format shows it,
 * none derives it again. */
#ifndef QCOW2DUMP_VERDICT_H
#define QCOW2DUMP_VERDICT_H

#include <stdbool.h>

#include "findings.h"
#include "lock.h"
#include "model.h"

/* Fills f->verdicts, one per decoded bitmap, from the decoder's problems
 * and the judge's in f, the flags and the lock probe's answer.  false
 * when out of memory (f->verdicts stays NULL). */
bool q2_verdict(const struct q2_image *img, enum q2_lock lock,
		struct q2_findings *f);

#endif
