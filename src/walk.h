/* The walker: the one traversal of what a run shows, after the judge.
 * It reads the models and the judgement, selects and orders the records
 * of the view, and drives a format's leaf callbacks (emit.h) through the
 * descriptions of describe.h.  It changes neither: the only thing it
 * writes is what a streaming step (the extent scan, the merge of a
 * checkpoint) meets while it reads, into the judgement's fault lists,
 * which the documents show in their trailer. */
#ifndef QCOW2DUMP_WALK_H
#define QCOW2DUMP_WALK_H

#include <stdbool.h>
#include <stddef.h>

#include "chain.h"
#include "describe.h"
#include "emit.h"
#include "judge.h"
#include "out.h"
#include "qcow2.h"

/* A run: one format over the images given, in order. */
struct q2_run {
	struct q2_emitter em;
	const struct q2_run_opts *opts;
};

/* false when out of memory */
bool q2_run_begin(struct q2_run *run, const struct q2_format *fmt,
		  const struct q2_run_opts *opts, struct q2_out *out);
/* What the decoder must load, and the judge conclude, for the run's
 * view and format. */
struct q2_decode_opts q2_run_decode_opts(const struct q2_run *run);
struct q2_judge_opts q2_run_judge_opts(const struct q2_run *run);
/* Shows the chain c as judged in j: a document per layer, or one for
 * the chain (-x --backing-chain).  Streaming faults go to j. */
void q2_run_show(struct q2_run *run, const struct q2_chain *c,
		 struct q2_judgement *j);
/* The phases after decoding: judge c into j, then show it; returns the
 * exit status (j to report and free, whatever happened; j->n is 0 when
 * memory ran out before any layer was judged). */
enum q2_exit q2_run_chain(struct q2_run *run, const struct q2_chain *c,
			  struct q2_judgement *j);
void q2_run_end(struct q2_run *run);
/* --list-checks: every code of the problem table, as one list. */
void q2_run_codes(struct q2_run *run);

#endif
