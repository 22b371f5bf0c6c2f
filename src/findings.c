/* The findings' own helpers: the names of the states, and the one way
 * to free what the judge and the walk wrote. */
#include "config.h"

#include "findings.h"

#include <assert.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"

static const struct {
	const char *name;
	const char *meaning;
} states[] = {
	[Q2_STATE_USABLE] = { "usable",
		"recording and consistent: QEMU loads it" },
	[Q2_STATE_DISABLED] = { "disabled",
		"flag auto is clear: it does not record, writes since it was disabled are not in it" },
	[Q2_STATE_LIVE] = { "live",
		"a running QEMU holds the image and the bitmap: the true bitmap is in its memory, the copy on disk is stale until it closes the image" },
	[Q2_STATE_INCONSISTENT] = { "inconsistent",
		"flag in_use is set and no QEMU holds the image: its writer did not save it, QEMU refuses to use it" },
	[Q2_STATE_STALE] = { "stale",
		"the autoclear bitmaps bit is clear: a program without bitmap support wrote the image, every bitmap is void" },
	[Q2_STATE_INVALID] = { "invalid",
		"QEMU refuses its metadata, or the image" },
	[Q2_STATE_UNSUPPORTED] = { "unsupported",
		"it has extra data or flags QEMU does not know" },
	[Q2_STATE_MISSING_IN_TOP] = { "missing-in-top",
		"the top layer of the chain has no bitmap of this name: the writes to it are not recorded, and libvirt refuses the checkpoint" },
	[Q2_STATE_GAP] = { "gap",
		"a layer between the top and a lower one holding the bitmap has none: the writes to it are not recorded, and libvirt refuses the checkpoint" },
	[Q2_STATE_INCOMPLETE] = { "incomplete",
		"the backing chain could not be read to its end: a lower layer may hold more of the bitmap" },
};

const char *q2_state_name(enum q2_state s)
{
	assert((unsigned)s < Q2_STATE_COUNT_);
	return states[s].name;
}

const char *q2_state_meaning(enum q2_state s)
{
	assert((unsigned)s < Q2_STATE_COUNT_);
	return states[s].meaning;
}

Q2_STATIC_ASSERT(Q2_ARRAY_SIZE(states) == Q2_STATE_COUNT_,
		 "every state has a name and a meaning");

void q2_findings_free(struct q2_findings *f)
{
	q2_problems_free(&f->problems);
	q2_problems_free(&f->faults);
	free(f->verdicts);
	free(f->selected);
	free(f->refcounts.v);
	memset(f, 0, sizeof *f);
}
