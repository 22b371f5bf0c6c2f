/* The judge: everything a run concludes about its chain before anything
 * is shown.  For each layer it lays out the structures, reads the
 * bitmaps' refcounts, selects the bitmaps -n names, runs the checks and
 * makes each bitmap's verdict; for the chain it lists the checkpoints
 * and their verdicts; and it computes the exit status.  It writes only
 * into the judgement, which the run owns: the models stay as decoded. */
#ifndef QCOW2DUMP_JUDGE_H
#define QCOW2DUMP_JUDGE_H

#include <stdbool.h>
#include <stddef.h>

#include "chain.h"
#include "checkpoint.h"
#include "findings.h"

enum q2_exit {
	Q2_EXIT_OK = 0,
	Q2_EXIT_PROBLEMS = 1,   /* -c found an error, or a bitmap shown is not usable */
	Q2_EXIT_UNREADABLE = 2, /* decoding stopped, a NAME is missing, out of memory */
	Q2_EXIT_USAGE = 64,
};

struct q2_judge_opts {
	bool check;             /* run --check's rules */
	bool verdict;           /* make each bitmap's verdict */
	bool checking;          /* -c: its findings are shown, an error exits 1 */
	bool extents;           /* -x: a bitmap shown that is not usable is an error */
	bool backing_chain;     /* the chain's checkpoints and rules */
	bool chain_doc;         /* the chain's problems are a list of their own */
	char *const *names;     /* -n NAME... */
	size_t n_names;
};

struct q2_judgement {
	struct q2_findings *layers;    /* one per layer of the chain */
	size_t n;
	/* the chain's own problems (a checkpoint not usable, a NAME no
	 * layer has), when it has a list of its own; else they are the top
	 * layer's */
	struct q2_problems chain;
	/* and what the walk of merged checkpoints met */
	struct q2_problems chain_faults;
	struct q2_checkpoints checkpoints;
	bool has_checkpoints;
	/* -n's selection could not be made (out of memory): nothing is
	 * shown rather than every bitmap */
	bool selection_failed;
};

/* Judges c (read with the layers' readers); false only when out of
 * memory before any layer could be judged (j is then empty, to free). */
bool q2_judge(const struct q2_chain *c, const struct q2_judge_opts *opts,
	      struct q2_judgement *j);
void q2_judgement_free(struct q2_judgement *j);

/* The exit status the problems of the run call for: a decoding error 2,
 * an error of --check (in -c) or of the verdict on a bitmap shown 1;
 * problems lost for want of memory 2.  Known before anything is shown;
 * what the walk meets later can only make it worse (q2_faults_status). */
enum q2_exit q2_judgement_status(const struct q2_chain *c,
				 const struct q2_judgement *j, bool checking);
/* That of the faults streaming steps met while the chain was walked. */
enum q2_exit q2_faults_status(const struct q2_judgement *j, bool checking);
/* That of one problem. */
enum q2_exit q2_problem_status(const struct q2_problem *pb, bool checking);

#endif
