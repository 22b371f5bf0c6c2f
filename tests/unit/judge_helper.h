/* The judge's checks on a model built in memory, for the unit tests that
 * look at decoding's and checking's problems as one list: lays out the
 * model, runs the checks into findings, then moves those findings to
 * the end of the model's own list (a test owns its model; the program
 * never writes the judge's findings there). */
#ifndef QCOW2DUMP_TEST_JUDGE_HELPER_H
#define QCOW2DUMP_TEST_JUDGE_HELPER_H

#include <stdlib.h>

#include "check.h"
#include "findings.h"
#include "layout.h"

static inline void check_image(struct q2_image *img)
{
	struct q2_layout layout;
	struct q2_findings f = { 0 };

	q2_layout_build(img, &layout);
	q2_check(img, &layout, &f, &f.problems);
	for (size_t i = 0; i < f.problems.n; i++) {
		const struct q2_problem *src = &f.problems.v[i];
		struct q2_problem *pb = q2_problems_add(&img->problems, src->code,
							 src->offset, src->bitmap,
							 src->origin, src->message);

		if (!pb)
			abort();
		pb->scope = src->scope;
		pb->where = src->where;
		pb->index = src->index;
		f.problems.v[i].message = NULL;
	}
	q2_findings_free(&f);
	q2_layout_free(&layout);
}

#endif
