/* The findings: what the judge (judge.h) concludes about one image of a
 * run, owned by the run and never written into the model.  The model
 * holds what decoding found; the findings hold what the checks, the
 * refcounts, the -n selection and the verdicts add, and (apart, as the
 * walk meets them) what a streaming step such as the extent scan could
 * not read.  Every output shows the three lists one after the other, in
 * that order: q2_image_problem() reads them as one. */
#ifndef QCOW2DUMP_FINDINGS_H
#define QCOW2DUMP_FINDINGS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "model.h"
#include "problem.h"

/* Whether a bitmap's data can be trusted now as "every write since it
 * started recording" (verdict.c decides it, once, for every bitmap). */
enum q2_state {
	Q2_STATE_USABLE,        /* recording, consistent, QEMU would load it */
	Q2_STATE_DISABLED,      /* auto clear: later writes are not in it */
	Q2_STATE_LIVE,          /* in_use, and a QEMU holds the image for writing */
	Q2_STATE_INCONSISTENT,  /* in_use, and nobody holds the image */
	Q2_STATE_STALE,         /* the autoclear bitmaps bit is clear */
	Q2_STATE_INVALID,       /* QEMU refuses its metadata or the image */
	Q2_STATE_UNSUPPORTED,   /* extra data or flags QEMU does not know */
	/* --backing-chain: a checkpoint's bitmap merged over the chain
	 * (checkpoint.c) breaks one of libvirt's rules, or the chain */
	Q2_STATE_MISSING_IN_TOP, /* the top layer lacks it */
	Q2_STATE_GAP,           /* a layer between two holding it lacks it */
	Q2_STATE_INCOMPLETE,    /* the chain could not be read to its end */
	Q2_STATE_COUNT_
};

struct q2_verdict {
	enum q2_state state;
	enum q2_code reason;    /* the problem behind it, when has_reason */
	bool has_reason;
};

/* A cluster of the directory, a bitmap table or a data cluster whose
 * refcount is not the 1 its single reference calls for. */
struct q2_refcount_fault {
	uint64_t offset;       /* of the cluster */
	uint64_t refcount;
	uint32_t bitmap;       /* whose table or data; Q2_NO_INDEX: directory */
	bool unreadable;       /* its refcount block could not be read */
};

struct q2_refcounts {
	struct q2_refcount_fault *v;
	size_t n;
};

/* What qemu-img check --output=json says of the image (-c), rebuilt
 * (rebuild.h): complete false when it would give no result. */
struct q2_totals {
	bool complete;
	uint64_t corruptions, leaks, check_errors, image_end_offset;
	uint64_t total_clusters, allocated_clusters, fragmented_clusters;
	uint64_t compressed_clusters;
};

struct q2_findings {
	/* what the judge found, in the order found */
	struct q2_problems problems;
	/* per directory entry of the image's directory: the verdict (NULL
	 * when the run makes none) and whether -n selected it (NULL: every
	 * entry is shown) */
	struct q2_verdict *verdicts;
	bool *selected;
	struct q2_refcounts refcounts;
	/* -c: the refcount rebuild's totals (has_totals: it was run) */
	struct q2_totals totals;
	bool has_totals;
	/* QEMU refuses to open the image (an error of its scope found, by
	 * the decoder or the checks): it has no map */
	bool refused;
	/* what a streaming step met while the image was walked: the only
	 * part written after the judge is done */
	struct q2_problems faults;
};

void q2_findings_free(struct q2_findings *f);

/* The problems of an image in the order they are shown: the decoder's,
 * the judge's, then those met while walking (f may be NULL). */
static inline size_t q2_image_n_problems(const struct q2_image *img,
					 const struct q2_findings *f)
{
	return img->problems.n + (f ? f->problems.n + f->faults.n : 0);
}

static inline const struct q2_problem *
q2_image_problem(const struct q2_image *img, const struct q2_findings *f,
		 size_t i)
{
	if (i < img->problems.n)
		return &img->problems.v[i];
	i -= img->problems.n;
	if (i < f->problems.n)
		return &f->problems.v[i];
	return &f->faults.v[i - f->problems.n];
}

/* The verdict on entry i (NULL when none was made). */
static inline const struct q2_verdict *
q2_findings_verdict(const struct q2_findings *f, uint32_t i)
{
	return f && f->verdicts ? &f->verdicts[i] : NULL;
}

static inline bool q2_findings_selected(const struct q2_findings *f, uint32_t i)
{
	return !f || !f->selected || f->selected[i];
}

const char *q2_state_name(enum q2_state s);
/* What the state means, one line. */
const char *q2_state_meaning(enum q2_state s);

static inline bool q2_state_usable(enum q2_state s)
{
	return s == Q2_STATE_USABLE;
}

#endif
