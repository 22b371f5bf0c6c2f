/* Checkpoints: the bitmaps of a chain by name, each as the checkpoint
 * libvirt would back up (the bitmap of that name merged over the layers
 * from the top), with its verdict under libvirt's rules.  Judged once,
 * after every layer's own verdicts; the walk only reads the list. */
#ifndef QCOW2DUMP_CHECKPOINT_H
#define QCOW2DUMP_CHECKPOINT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "chain.h"
#include "findings.h"

struct q2_checkpoint {
	const char *name;      /* QEMU's name: the bytes up to a NUL */
	size_t name_len;
	/* the layers holding it, top first, and its directory index in each */
	const uint64_t *depths;
	const uint32_t *indexes;
	size_t n_depths;
	/* The layers merged: the consecutive ones from the topmost holding
	 * it (for a usable checkpoint: from IMAGE down), as libvirt merges;
	 * they are depths[0, run_n). */
	uint32_t run_first, run_n;
	uint64_t granularity;  /* the finest of theirs; 0 when none is known */
	/* The verdict: usable, or the rule broken (missing-in-top, gap, the
	 * state of a copy that is not usable, incomplete, invalid) */
	struct q2_verdict verdict;
	uint32_t at;           /* the layer behind the state, or Q2_NO_INDEX */
	bool selected;         /* -n names it, or there is no -n (the judge's) */
};

/* Every name of the chain's bitmaps, top first, each once: a name comes
 * in the order of the first layer holding it. */
struct q2_checkpoints {
	struct q2_checkpoint *v;
	size_t n;
	uint64_t *depths;      /* the checkpoints' depths and indexes, in */
	uint32_t *indexes;     /* one array each */
};

/* Lists the checkpoints of c; findings[l] holds the verdicts of layer
 * l's bitmaps.  false when out of memory. */
bool q2_checkpoints_build(struct q2_checkpoints *out, const struct q2_chain *c,
			  const struct q2_findings *findings);
void q2_checkpoints_free(struct q2_checkpoints *cps);
/* The checkpoint NAME, or NULL when no layer holds it. */
const struct q2_checkpoint *q2_checkpoints_find(const struct q2_checkpoints *cps,
						const char *name, size_t len);

/* -c: the rules a checkpoint breaks, as findings (warnings) of the
 * layers holding it: to findings[l].problems. */
void q2_checkpoint_report(const struct q2_chain *c, const struct q2_checkpoint *cp,
			  struct q2_findings *findings);

#endif
