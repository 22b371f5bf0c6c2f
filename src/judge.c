#include "config.h"

#include "judge.h"

#include <assert.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "layout.h"
#include "rebuild.h"
#include "share.h"
#include "refcount.h"
#include "verdict.h"

/* problems each list has room for before it is first written */
#define PROBLEMS_AHEAD 16u
/* names listed in a message about a NAME that is missing */
#define NAMES_LISTED 20

/* QEMU, and so libvirt and qemu-nbd -B, know a bitmap by its name up
 * to the first NUL */
static bool name_is(const struct q2_bitmap *bm, const char *name)
{
	size_t len = q2_bitmap_qemu_name_len(bm);

	return len == strlen(name) && memcmp(bm->name, name, len) == 0;
}

static bool named(const struct q2_judge_opts *opts, const char *name, size_t len)
{
	if (!opts->n_names)
		return true;
	for (size_t k = 0; k < opts->n_names; k++)
		if (strlen(opts->names[k]) == len && !memcmp(opts->names[k], name, len))
			return true;
	return false;
}

/* "no bitmap named 'NAME' (bitmaps: a, b, and N more)" */
static char *missing_message(const char *name, const struct q2_bitmaps_ext *bx)
{
	size_t n = bx ? bx->n_bitmaps : 0;
	char *msg = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&msg, &len);

	if (!f)
		return NULL;
	fprintf(f, "no bitmap named '%s' (%s", name,
		n ? "bitmaps: " : "the image has no bitmaps");
	for (size_t i = 0; i < n && i < NAMES_LISTED; i++)
		fprintf(f, "%s%.*s", i ? ", " : "", (int)bx->bitmaps[i].name_size,
			bx->bitmaps[i].name);
	if (n > NAMES_LISTED)
		fprintf(f, ", and %zu more", n - NAMES_LISTED);
	fputc(')', f);
	if (fclose(f) != 0) {
		free(msg);
		return NULL;
	}
	return msg;
}

/* "no layer of the backing chain has a bitmap named 'NAME' (bitmaps:
 * a, b, and N more)" */
static char *chain_missing_message(const char *name, const struct q2_checkpoints *cps)
{
	char *msg = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&msg, &len);

	if (!f)
		return NULL;
	fprintf(f, "no layer of the backing chain has a bitmap named '%s'", name);
	for (size_t i = 0; i < cps->n && i < NAMES_LISTED; i++)
		fprintf(f, "%s%.*s", i ? ", " : " (bitmaps: ",
			(int)cps->v[i].name_len, cps->v[i].name);
	if (cps->n > NAMES_LISTED)
		fprintf(f, ", and %zu more", cps->n - NAMES_LISTED);
	fputs(cps->n ? ")" : " (the chain has no bitmaps)", f);
	if (fclose(f) != 0) {
		free(msg);
		return NULL;
	}
	return msg;
}

static void nomem(struct q2_problems *p, const char *what)
{
	q2_problems_add(p, Q2_C_NOMEM, 0, Q2_NO_INDEX, Q2_FROM_DECODE,
			what ? strdup(what) : NULL);
}

/* The entries -n names; each NAME the image lacks is a problem, unless
 * the chain answers for it. */
static bool select_bitmaps(const struct q2_judge_opts *opts,
			   const struct q2_image *img, struct q2_findings *f)
{
	const struct q2_bitmaps_ext *bx = q2_image_bitmaps(img);
	size_t n = bx ? bx->n_bitmaps : 0;

	if (!opts->n_names)
		return true;
	f->selected = calloc(n ? n : 1, sizeof *f->selected);
	if (!f->selected) {
		nomem(&f->problems, NULL);
		return false;
	}
	for (size_t k = 0; k < opts->n_names; k++) {
		bool found = false;

		for (size_t i = 0; i < n; i++)
			if (name_is(&bx->bitmaps[i], opts->names[k]))
				f->selected[i] = found = true;
		/* in a chain, a NAME no layer has is the chain's problem */
		if (!found && !opts->backing_chain)
			q2_problems_add(&f->problems, Q2_C_NO_SUCH_BITMAP,
					bx ? bx->bitmap_directory_offset : 0,
					Q2_NO_INDEX, Q2_FROM_DECODE,
					missing_message(opts->names[k], bx));
	}
	return true;
}

/* The verdict on a bitmap shown (-x) or named (-c -n) that is not
 * usable: an error, so that the exit status says it too. */
static void add_not_usable(struct q2_findings *f, const struct q2_bitmap *bm,
			   uint32_t i)
{
	const struct q2_verdict *v = q2_findings_verdict(f, i);

	if (!v || q2_state_usable(v->state))
		return;
	q2_problems_addf(&f->problems, Q2_FROM_RUN, Q2_C_BITMAP_NOT_USABLE,
			 q2_dir_entry_at(bm, Q2_DF_FLAGS), i, "%s: %s%s%s",
			 q2_state_name(v->state), q2_state_meaning(v->state),
			 v->has_reason ? "; see " : "",
			 v->has_reason ? q2_codes[v->reason].name : "");
}

/* "checkpoint 'NAME' over the backing chain: STATE: MEANING (layer N,
 * PATH); see CODE" as the error bitmap-not-usable, of the top layer's
 * copy when it has one */
static void add_checkpoint_not_usable(const struct q2_chain *c,
				      const struct q2_checkpoint *cp,
				      struct q2_problems *to)
{
	const struct q2_verdict *v = &cp->verdict;
	uint32_t top = cp->n_depths && cp->depths[0] == 0 ? cp->indexes[0] : Q2_NO_INDEX;
	const struct q2_bitmap *bm = q2_image_bitmap(&c->layers[0].img, top);
	char where[64] = "";

	if (q2_state_usable(v->state))
		return;
	if (cp->at != Q2_NO_INDEX)
		snprintf(where, sizeof where, " (layer %u, ", cp->at);
	q2_problems_addf(to, Q2_FROM_RUN, Q2_C_BITMAP_NOT_USABLE,
			 bm ? q2_dir_entry_at(bm, Q2_DF_FLAGS) : 0, top,
			 "checkpoint '%.*s' over the backing chain: %s: %s%s%s%s%s%s",
			 (int)cp->name_len, cp->name, q2_state_name(v->state),
			 q2_state_meaning(v->state), where,
			 cp->at != Q2_NO_INDEX ? c->layers[cp->at].path : "",
			 cp->at != Q2_NO_INDEX ? ")" : "",
			 v->has_reason ? "; see " : "",
			 v->has_reason ? q2_codes[v->reason].name : "");
}

/* What following layer l to its backing file found that --check holds
 * the overlay to: a raw format over a qcow2 file, a backing file larger
 * than its overlay. */
static void check_backing(const struct q2_chain *c, size_t l, struct q2_problems *p)
{
	const struct q2_layer *ol = &c->layers[l], *b;
	uint64_t bsize, size;

	if (l + 1 >= c->n)
		return;
	b = &c->layers[l + 1];
	if (b->raw_probed_qcow2) {
		const struct q2_ext *fx = q2_backing_format_ext(&ol->img);

		q2_problems_addf(p, Q2_FROM_CHECK, Q2_C_BACKING_FORMAT_RAW_OVER_QCOW2,
				 fx ? fx->offset : 0, Q2_NO_INDEX, "%s", b->path);
	}
	if (q2_layer_size(b, &bsize) && q2_layer_size(ol, &size) && bsize > size)
		q2_problems_addf(p, Q2_FROM_CHECK, Q2_C_BACKING_FILE_LARGER,
				 q2_header_at(Q2_HF_SIZE), Q2_NO_INDEX,
				 "%s has %llu bytes, this image %llu", b->path,
				 (unsigned long long)bsize, (unsigned long long)size);
}

/* Whether qemu-img check cannot open the image: QEMU refuses it, and
 * not for what the check's own open lets pass (an empty refcount
 * table).  The snapshot table, which that open does not read, the check
 * reads, and fails on where the open would have. */
static bool check_refuses(const struct q2_image *img, const struct q2_findings *f)
{
	for (size_t i = 0; i < q2_image_n_problems(img, f); i++) {
		const struct q2_problem *pb = q2_image_problem(img, f, i);

		if (q2_problem_refuses(pb) && pb->code != Q2_C_REFCOUNT_TABLE_EMPTY)
			return true;
	}
	return false;
}

/* A layer's own findings: refcounts, the -n selection, the checks and
 * the verdicts, in that order (which is the order they are shown in). */
static void judge_layer(const struct q2_chain *c, size_t l,
			const struct q2_judge_opts *opts, struct q2_judgement *j)
{
	struct q2_findings *f = &j->layers[l];
	const struct q2_layer *layer = &c->layers[l];
	const struct q2_image *img = &layer->img;
	bool judged = opts->check || opts->verdict;
	struct q2_layout layout = { 0 };

	if (judged && img->header_decoded) {
		q2_layout_build(img, &layout);
		if (layer->opened && q2_image_bitmaps(img))
			q2_read_bitmap_refcounts(&layer->reader, img, &layout,
						 &f->refcounts, &f->problems);
	}
	check_backing(c, l, &f->problems);
	if (!select_bitmaps(opts, img, f))
		j->selection_failed = true;
	if (judged)
		q2_check(img, &layout, f, &f->problems);
	if (judged && layer->opened && img->header_decoded && q2_image_bitmaps(img))
		q2_check_bitmap_sharing(&layer->reader, img, &layout, &f->problems);
	if (opts->verdict && !q2_verdict(img, layer->lock, f))
		nomem(&f->problems, "out of memory: no verdict on the bitmaps");
	for (size_t i = 0; i < q2_image_n_problems(img, f) && !f->refused; i++)
		f->refused = q2_problem_refuses(q2_image_problem(img, f, i));
	/* -c: qemu-img check's totals, or none (null) where it would give
	 * no result: the image it cannot open, the file it cannot read */
	if (opts->checking && layer->opened) {
		f->has_totals = true;
		if (img->header_decoded && !check_refuses(img, f))
			q2_rebuild(&layer->reader, img, &f->totals, &f->problems);
	}
	q2_layout_free(&layout);
}

/* -c -n NAME: the findings about NAME and about the whole image, and
 * (of an image alone) the verdict on NAME as an error when it is not
 * usable.  -x: the verdict on each bitmap shown. */
static void keep_selected(const struct q2_judge_opts *opts,
			  const struct q2_image *img, struct q2_findings *f)
{
	const struct q2_bitmaps_ext *bx = q2_image_bitmaps(img);
	struct q2_problems *p = &f->problems;
	size_t kept = 0;

	if (opts->extents && !opts->backing_chain)
		for (uint32_t i = 0; bx && i < bx->n_bitmaps; i++)
			if (q2_findings_selected(f, i))
				add_not_usable(f, &bx->bitmaps[i], i);
	if (!opts->checking || !f->selected)
		return;
	for (size_t i = 0; i < p->n; i++) {
		struct q2_problem *pb = &p->v[i];

		if (pb->origin == Q2_FROM_CHECK && pb->bitmap != Q2_NO_INDEX &&
		    !f->selected[pb->bitmap]) {
			free(pb->message);
			continue;
		}
		p->v[kept++] = *pb;
	}
	p->n = kept;
	/* in a chain, the checkpoint merged is judged, not each copy */
	for (uint32_t i = 0; bx && !opts->backing_chain && i < bx->n_bitmaps; i++)
		if (f->selected[i])
			add_not_usable(f, &bx->bitmaps[i], i);
}

/* The chain's checkpoints: -n NAME, -c's rules, -x's verdicts. */
static void judge_chain(const struct q2_chain *c, const struct q2_judge_opts *opts,
			struct q2_judgement *j)
{
	struct q2_problems *to = opts->chain_doc ? &j->chain : &j->layers[0].problems;
	const struct q2_checkpoints *cps = &j->checkpoints;

	if (!opts->n_names && !opts->checking && !opts->chain_doc)
		return;
	j->has_checkpoints = q2_checkpoints_build(&j->checkpoints, c, j->layers);
	if (!j->has_checkpoints) {
		q2_checkpoints_free(&j->checkpoints);
		nomem(to, NULL);
		return;
	}
	for (size_t k = 0; k < opts->n_names; k++) {
		const char *name = opts->names[k];
		const struct q2_checkpoint *cp =
			q2_checkpoints_find(cps, name, strlen(name));

		if (cp) {
			/* -c -n NAME: the gate before a backup */
			if (opts->checking)
				add_checkpoint_not_usable(c, cp, to);
			continue;
		}
		q2_problems_add(to, Q2_C_NO_SUCH_BITMAP, 0, Q2_NO_INDEX,
				Q2_FROM_DECODE, chain_missing_message(name, cps));
	}
	for (size_t i = 0; i < cps->n; i++) {
		struct q2_checkpoint *cp = &j->checkpoints.v[i];

		cp->selected = named(opts, cp->name, cp->name_len);
		if (!cp->selected)
			continue;
		/* -c: libvirt's rules, for every name (or those of -n) */
		if (opts->checking)
			q2_checkpoint_report(c, cp, j->layers);
		/* -x: each checkpoint shown */
		if (opts->chain_doc)
			add_checkpoint_not_usable(c, cp, to);
	}
}

/* Without --backing-chain a chain is followed only for the map (--map,
 * -x --map): its backing layers are not shown, only checked for what
 * QEMU refuses, so that the map can say it has none. */
static const struct q2_judge_opts *layer_opts(const struct q2_judge_opts *opts,
					      size_t l, struct q2_judge_opts *below)
{
	if (l == 0 || opts->backing_chain)
		return opts;
	*below = (struct q2_judge_opts){ .check = opts->check };
	return below;
}

bool q2_judge(const struct q2_chain *c, const struct q2_judge_opts *opts,
	      struct q2_judgement *j)
{
	struct q2_judge_opts below;

	memset(j, 0, sizeof *j);
	assert(c->n > 0);
	j->layers = calloc(c->n, sizeof *j->layers);
	if (!j->layers)
		return false;
	j->n = c->n;
	/* room ahead for what running out of memory would add: the lists
	 * are the run's own, new, and a problem out-of-memory must fit */
	q2_problems_reserve(&j->chain, PROBLEMS_AHEAD);
	q2_problems_reserve(&j->chain_faults, PROBLEMS_AHEAD);
	for (size_t l = 0; l < c->n; l++) {
		q2_problems_reserve(&j->layers[l].problems, PROBLEMS_AHEAD);
		q2_problems_reserve(&j->layers[l].faults, PROBLEMS_AHEAD);
	}
	for (size_t l = 0; l < c->n; l++)
		judge_layer(c, l, layer_opts(opts, l, &below), j);
	if (opts->backing_chain)
		judge_chain(c, opts, j);
	for (size_t l = 0; l < c->n; l++)
		keep_selected(layer_opts(opts, l, &below), &c->layers[l].img,
			      &j->layers[l]);
	return true;
}

void q2_judgement_free(struct q2_judgement *j)
{
	for (size_t l = 0; l < j->n; l++)
		q2_findings_free(&j->layers[l]);
	free(j->layers);
	q2_problems_free(&j->chain);
	q2_problems_free(&j->chain_faults);
	q2_checkpoints_free(&j->checkpoints);
	memset(j, 0, sizeof *j);
}

enum q2_exit q2_problem_status(const struct q2_problem *pb, bool checking)
{
	if (q2_problem_severity(pb) != Q2_SEV_ERROR)
		return Q2_EXIT_OK;
	switch (pb->origin) {
	case Q2_FROM_DECODE:
		return Q2_EXIT_UNREADABLE;
	case Q2_FROM_CHECK:
		return checking ? Q2_EXIT_PROBLEMS : Q2_EXIT_OK;
	default:
		return Q2_EXIT_PROBLEMS;
	}
}

static enum q2_exit worst(enum q2_exit a, enum q2_exit b)
{
	return a > b ? a : b;
}

static enum q2_exit list_status(const struct q2_problems *p, bool checking)
{
	enum q2_exit s = p->lost ? Q2_EXIT_UNREADABLE : Q2_EXIT_OK;

	for (size_t i = 0; i < p->n; i++)
		s = worst(s, q2_problem_status(&p->v[i], checking));
	return s;
}

enum q2_exit q2_judgement_status(const struct q2_chain *c,
				 const struct q2_judgement *j, bool checking)
{
	enum q2_exit s = list_status(&j->chain, checking);

	assert(j->n == c->n);
	for (size_t l = 0; l < c->n; l++) {
		s = worst(s, list_status(&c->layers[l].img.problems, checking));
		s = worst(s, list_status(&j->layers[l].problems, checking));
	}
	return s;
}

enum q2_exit q2_faults_status(const struct q2_judgement *j, bool checking)
{
	enum q2_exit s = list_status(&j->chain_faults, checking);

	for (size_t l = 0; l < j->n; l++)
		s = worst(s, list_status(&j->layers[l].faults, checking));
	return s;
}
