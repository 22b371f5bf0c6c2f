#include "config.h"

#include "verdict.h"

#include <stdlib.h>

static bool unsupported_code(enum q2_code code)
{
	return code == Q2_C_EXTRA_DATA || code == Q2_C_EXTRA_DATA_INCOMPATIBLE ||
	       code == Q2_C_RESERVED_FLAGS || code == Q2_C_EXTRA_DATA_COMPATIBLE_FLAG;
}

static void set(struct q2_verdict *v, enum q2_state state, bool has_reason,
		enum q2_code reason)
{
	v->state = state;
	v->has_reason = has_reason;
	v->reason = reason;
}

bool q2_verdict(const struct q2_image *img, enum q2_lock lock,
		struct q2_findings *f)
{
	const struct q2_bitmaps_ext *bx = q2_image_bitmaps(img);
	const struct q2_problem *refused = NULL; /* QEMU refuses the image */
	struct q2_verdict *v;

	if (!bx)
		return true;
	v = calloc(bx->n_bitmaps ? bx->n_bitmaps : 1, sizeof *v);
	if (!v)
		return false;
	for (uint32_t i = 0; i < bx->n_bitmaps; i++)
		set(&v[i], Q2_STATE_USABLE, false, Q2_C_BITMAP_IN_USE);
	/* First the problems: an error about one bitmap makes it invalid;
	 * one that stops QEMU from opening the image makes all of them so.
	 * The first found stays the reason. */
	for (size_t k = 0; k < img->problems.n + f->problems.n; k++) {
		const struct q2_problem *pb = q2_image_problem(img, f, k);

		if (q2_problem_severity(pb) != Q2_SEV_ERROR ||
		    pb->origin == Q2_FROM_RUN || pb->scope == Q2_SCOPE_NONE)
			continue;
		/* an error QEMU refuses to open the image for stops every
		 * bitmap of it, whichever bitmap it is about */
		if (pb->scope == Q2_SCOPE_OPEN && !refused)
			refused = pb;
		if (pb->bitmap >= bx->n_bitmaps || v[pb->bitmap].has_reason)
			continue;
		set(&v[pb->bitmap], unsupported_code(pb->code) ? Q2_STATE_UNSUPPORTED
							       : Q2_STATE_INVALID,
		    true, pb->code);
	}
	for (uint32_t i = 0; i < bx->n_bitmaps; i++) {
		const struct q2_bitmap *bm = &bx->bitmaps[i];

		if (refused && !v[i].has_reason)
			set(&v[i], Q2_STATE_INVALID, true, refused->code);
		else if (v[i].has_reason)
			continue;
		else if (!(img->header.autoclear_features & Q2_AUTOCLEAR_BITMAPS))
			set(&v[i], Q2_STATE_STALE, true, Q2_C_AUTOCLEAR_BITMAPS_CLEAR);
		else if (bm->flags & Q2_BME_FLAG_IN_USE)
			/* only a writer's lock means the true bitmap is in a
			 * QEMU's memory; a reader's leaves it inconsistent */
			set(&v[i], lock == Q2_LOCK_WRITE ? Q2_STATE_LIVE
							 : Q2_STATE_INCONSISTENT,
			    true, Q2_C_BITMAP_IN_USE);
		else if (!(bm->flags & Q2_BME_FLAG_AUTO))
			set(&v[i], Q2_STATE_DISABLED, false, Q2_C_BITMAP_IN_USE);
	}
	f->verdicts = v;
	return true;
}
