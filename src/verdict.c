#include "config.h"

#include "verdict.h"

static const struct {
	const char *name;
	const char *meaning;
} states[Q2_STATE_COUNT_] = {
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
	return states[s].name;
}

const char *q2_state_meaning(enum q2_state s)
{
	return states[s].meaning;
}

static bool unsupported_code(enum q2_code code)
{
	return code == Q2_C_EXTRA_DATA || code == Q2_C_EXTRA_DATA_INCOMPATIBLE ||
	       code == Q2_C_RESERVED_FLAGS || code == Q2_C_EXTRA_DATA_COMPATIBLE_FLAG;
}

static void set(struct q2_bitmap *bm, enum q2_state state, bool has_reason,
		enum q2_code reason)
{
	bm->state = state;
	bm->has_reason = has_reason;
	bm->reason = reason;
}

void q2_verdict(struct q2_image *img)
{
	const struct q2_bitmaps_ext *cbx = q2_image_bitmaps(img);
	struct q2_bitmaps_ext *bx = (struct q2_bitmaps_ext *)cbx;
	const struct q2_problems *p = &img->problems;
	const struct q2_problem *refused = NULL; /* QEMU refuses the image */

	if (!bx)
		return;
	for (uint32_t i = 0; i < bx->n_bitmaps; i++)
		set(&bx->bitmaps[i], Q2_STATE_USABLE, false, Q2_C_BITMAP_IN_USE);
	/* First the problems: an error about one bitmap makes it invalid;
	 * one that stops QEMU from opening the image makes all of them so.
	 * The first found stays the reason. */
	for (size_t k = 0; k < p->n; k++) {
		const struct q2_problem *pb = &p->v[k];
		struct q2_bitmap *bm;

		if (q2_problem_severity(pb) != Q2_SEV_ERROR ||
		    pb->origin == Q2_FROM_RUN || pb->scope == Q2_SCOPE_NONE)
			continue;
		/* an error QEMU refuses to open the image for stops every
		 * bitmap of it, whichever bitmap it is about */
		if (pb->scope == Q2_SCOPE_OPEN && !refused)
			refused = pb;
		if (pb->bitmap >= bx->n_bitmaps)
			continue;
		bm = &bx->bitmaps[pb->bitmap];
		if (bm->has_reason)
			continue;
		set(bm, unsupported_code(pb->code) ? Q2_STATE_UNSUPPORTED
						    : Q2_STATE_INVALID, true, pb->code);
	}
	for (uint32_t i = 0; i < bx->n_bitmaps; i++) {
		struct q2_bitmap *bm = &bx->bitmaps[i];

		if (refused && !bm->has_reason)
			set(bm, Q2_STATE_INVALID, true, refused->code);
		else if (bm->has_reason)
			continue;
		else if (!(img->header.autoclear_features & Q2_AUTOCLEAR_BITMAPS))
			set(bm, Q2_STATE_STALE, true, Q2_C_AUTOCLEAR_BITMAPS_CLEAR);
		else if (bm->flags & Q2_BME_FLAG_IN_USE)
			set(bm, img->lock == Q2_LOCK_WRITE ? Q2_STATE_LIVE
							   : Q2_STATE_INCONSISTENT,
			    true, Q2_C_BITMAP_IN_USE);
		else if (!(bm->flags & Q2_BME_FLAG_AUTO))
			set(bm, Q2_STATE_DISABLED, false, Q2_C_BITMAP_IN_USE);
	}
}
