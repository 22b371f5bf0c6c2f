/* --backing-chain: the walk over every layer of a chain, and (-x) over
 * its bitmaps merged by name as libvirt merges a checkpoint for a
 * backup.  The layers are the images; the chain adds what no single
 * layer can say: a checkpoint's verdict under libvirt's rules, its
 * merged ranges, a NAME that no layer has. */
#include "config.h"

#include "walk.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "chain.h"
#include "merge.h"
#include "verdict.h"

/* ---- the document of a chain (-x) ---- */

static void get_chain_image(const struct q2_walker *w, const void *obj,
			    struct q2_value *v)
{
	(void)obj;
	v->type = Q2_V_BYTES;
	v->p = w->src->path;
	v->n = strlen(w->src->path);
}

static const struct q2_col chain_cols[] = {
	{ .key = "image", .in = Q2_IN_JSON, .hex_key = "image_hex",
	  .get = get_chain_image },
	/* text: the layers first; JSON: after the bitmaps, so that a layer
	 * that could not be read while merging shows it */
	{ .key = "backing_chain", .in = Q2_IN_TEXT,
	  .walk = q2_walk_layers, .child = &q2_desc_layer },
	{ .key = "bitmaps", .in = Q2_IN_ALL, .walk = q2_walk_checkpoints,
	  .child = &q2_desc_checkpoint },
	{ .key = "backing_chain", .in = Q2_IN_JSON,
	  .walk = q2_walk_layers, .child = &q2_desc_layer },
	{ .key = "problems", .in = Q2_IN_JSON, .walk = q2_walk_chain_problems,
	  .child = &q2_desc_problem },
};

const struct q2_desc q2_chain_document = {
	.rec = Q2_REC_IMAGE, .cols = chain_cols,
	.n_cols = sizeof chain_cols / sizeof chain_cols[0],
};

/* ---- traversal steps ---- */

void q2_walk_layers(struct q2_walker *w, const void *obj,
		    const struct q2_col *col)
{
	const struct q2_source *top = w->src;

	(void)obj;
	w->em->fmt->list_begin(w->em, col->child, q2_col_key(col));
	for (size_t l = 0; l < w->chain->n; l++) {
		w->src = &w->layers[l];
		q2_walk_record(w, col->child, &w->layers[l], NULL);
	}
	w->src = top;
	w->em->fmt->list_end(w->em, col->child, w->chain->n);
}

/* a list of problems, each about the image of w->src */
static void walk_problem_list(struct q2_walker *w, const struct q2_problems *p,
			      const struct q2_col *col)
{
	if (!p->n)
		return;
	w->em->fmt->list_begin(w->em, col->child, q2_col_key(col));
	for (size_t i = 0; i < p->n; i++)
		q2_walk_record(w, col->child, &p->v[i], NULL);
	w->em->fmt->list_end(w->em, col->child, p->n);
}

/* a layer's problems: -x shows no --check findings */
void q2_walk_layer_problems(struct q2_walker *w, const void *obj,
			    const struct q2_col *col)
{
	const struct q2_problems *p = &((const struct q2_source *)obj)->img->problems;
	size_t n = 0;

	for (size_t i = 0; i < p->n; i++)
		n += p->v[i].origin != Q2_FROM_CHECK;
	if (!n)
		return;
	w->em->fmt->list_begin(w->em, col->child, q2_col_key(col));
	for (size_t i = 0; i < p->n; i++)
		if (p->v[i].origin != Q2_FROM_CHECK)
			q2_walk_record(w, col->child, &p->v[i], NULL);
	w->em->fmt->list_end(w->em, col->child, n);
}

void q2_walk_chain_problems(struct q2_walker *w, const void *obj,
			    const struct q2_col *col)
{
	(void)obj;
	walk_problem_list(w, w->chain_problems, col);
}

static bool named(const struct q2_run_opts *opts, const char *name, size_t len)
{
	if (!opts->n_names)
		return true;
	for (size_t k = 0; k < opts->n_names; k++)
		if (strlen(opts->names[k]) == len && !memcmp(opts->names[k], name, len))
			return true;
	return false;
}

/* "checkpoint 'NAME' over the backing chain: STATE: MEANING (layer N,
 * PATH); see CODE" as the error bitmap-not-usable, of the top layer's
 * copy when it has one */
static void add_not_usable(const struct q2_chain *c, const struct q2_checkpoint *cp,
			   struct q2_problems *to)
{
	const struct q2_bitmap *top = q2_image_bitmap(&c->layers[0].img, cp->index[0]);
	char where[64] = "";

	if (q2_state_usable(cp->state))
		return;
	if (cp->at != Q2_NO_INDEX)
		snprintf(where, sizeof where, " (layer %u, ", cp->at);
	q2_problems_addf(to, Q2_FROM_RUN, Q2_C_BITMAP_NOT_USABLE,
			 top ? q2_dir_entry_at(top, Q2_DF_FLAGS) : 0, cp->index[0],
			 "checkpoint '%.*s' over the backing chain: %s: %s%s%s%s%s%s",
			 (int)cp->name_len, cp->name, q2_state_name(cp->state),
			 q2_state_meaning(cp->state), where,
			 cp->at != Q2_NO_INDEX ? c->layers[cp->at].path : "",
			 cp->at != Q2_NO_INDEX ? ")" : "",
			 cp->has_reason ? "; see " : "",
			 cp->has_reason ? q2_codes[cp->reason].name : "");
}

void q2_walk_checkpoints(struct q2_walker *w, const void *obj,
			 const struct q2_col *col)
{
	struct q2_checkpoints *it = w->checkpoints;
	size_t n = 0;

	(void)obj;
	w->em->fmt->list_begin(w->em, col->child, q2_col_key(col));
	while (it && q2_checkpoints_next(it)) {
		if (!named(w->opts, it->cp.name, it->cp.name_len))
			continue;
		add_not_usable(w->chain, &it->cp, w->chain_problems);
		w->dirty_bytes = 0;
		q2_walk_record(w, col->child, &it->cp, NULL);
		n++;
	}
	w->em->fmt->list_end(w->em, col->child, n);
}

void q2_walk_merged_extents(struct q2_walker *w, const void *obj,
			    const struct q2_col *col)
{
	const struct q2_checkpoint *cp = obj;
	struct q2_chain *c = w->chain;
	struct q2_merge_input *in = calloc(cp->run_n ? cp->run_n : 1, sizeof *in);
	struct q2_extent_sink sink = { w, col, 0 };

	w->em->fmt->list_begin(w->em, col->child, q2_col_key(col));
	if (!in) {
		q2_problems_add(w->chain_problems, Q2_C_NOMEM, 0, Q2_NO_INDEX,
				Q2_FROM_DECODE, NULL);
	} else {
		for (uint32_t k = 0; k < cp->run_n; k++) {
			struct q2_layer *l = &c->layers[cp->run_first + k];
			struct q2_seen *seen = &w->layer_seen[cp->run_first + k];

			in[k] = (struct q2_merge_input){
				.r = &l->reader, .img = &l->img,
				.idx = cp->index[cp->run_first + k],
				.problems = &l->img.problems,
				.seen = seen->pages ? seen : NULL,
			};
		}
		/* every layer clamped to the top's disk, in whole sectors */
		q2_merge_scan(in, cp->run_n, q2_disk_bytes(&c->layers[0].img),
			      q2_walk_on_extent, &sink, &w->dirty_bytes, w->chain_problems);
	}
	free(in);
	w->em->fmt->list_end(w->em, col->child, sink.n);
}

/* ---- the run ---- */

/* "no layer of the backing chain has a bitmap named 'NAME' (bitmaps:
 * a, b, and N more)" */
static char *missing_message(const char *name, const struct q2_chain *c)
{
	struct q2_checkpoints it;
	char *msg = NULL;
	size_t len = 0, n = 0;
	FILE *f = open_memstream(&msg, &len);

	if (!f)
		return NULL;
	fprintf(f, "no layer of the backing chain has a bitmap named '%s'", name);
	if (q2_checkpoints_begin(&it, c))
		while (q2_checkpoints_next(&it)) {
			if (n < 20)
				fprintf(f, "%s%.*s", n ? ", " : " (bitmaps: ",
					(int)it.cp.name_len, it.cp.name);
			n++;
		}
	q2_checkpoints_end(&it);
	if (n > 20)
		fprintf(f, ", and %zu more", n - 20);
	fputs(n ? ")" : " (the chain has no bitmaps)", f);
	if (fclose(f) != 0) {
		free(msg);
		return NULL;
	}
	return msg;
}

void q2_run_chain(struct q2_run *run, struct q2_chain *c)
{
	const struct q2_run_opts *opts = run->opts;
	const struct q2_view *view = &q2_views[opts->view];
	struct q2_source *src = calloc(c->n, sizeof *src);
	bool **sel = calloc(c->n, sizeof *sel);
	struct q2_seen *seen = calloc(c->n, sizeof *seen);
	struct q2_problems *chain_problems =
		view->chain_doc ? &c->problems : &c->layers[0].img.problems;
	struct q2_checkpoints it;
	bool checkpoints = false, ok = true;

	if (!src || !sel || !seen) {
		q2_problems_add(&c->layers[0].img.problems, Q2_C_NOMEM, 0,
				Q2_NO_INDEX, Q2_FROM_DECODE, NULL);
		goto out;
	}
	for (size_t l = 0; l < c->n && ok; l++) {
		struct q2_layer *layer = &c->layers[l];

		src[l] = (struct q2_source){
			.path = layer->path, .r = layer->opened ? &layer->reader : NULL,
			.img = &layer->img, .unopened = !layer->opened,
			.layer = layer, .backing_depth = (uint32_t)l,
			.top = c->layers[0].path,
		};
		sel[l] = q2_run_select(run, &src[l], &ok);
		q2_run_judge(run, &src[l]);
	}
	/* out of memory for a selection: show nothing rather than all */
	if (!ok)
		goto out;
	/* the names, with the layers' verdicts in */
	if (opts->n_names || view->check || view->chain_doc) {
		checkpoints = q2_checkpoints_begin(&it, c);
		if (!checkpoints) {
			q2_checkpoints_end(&it);
			q2_problems_add(chain_problems, Q2_C_NOMEM, 0, Q2_NO_INDEX,
					Q2_FROM_DECODE, NULL);
			goto out;
		}
	}
	for (size_t k = 0; k < opts->n_names; k++) {
		const char *name = opts->names[k];

		if (q2_checkpoints_find(&it, name, strlen(name))) {
			/* -c -n NAME: the gate before a backup */
			if (view->check)
				add_not_usable(c, &it.cp, chain_problems);
			continue;
		}
		q2_problems_add(chain_problems, Q2_C_NO_SUCH_BITMAP, 0, Q2_NO_INDEX,
				Q2_FROM_DECODE, missing_message(name, c));
	}
	/* -c: libvirt's rules, for every name (or those of -n) */
	if (view->check) {
		struct q2_checkpoints all;

		if (q2_checkpoints_begin(&all, c))
			while (q2_checkpoints_next(&all))
				if (named(opts, all.cp.name, all.cp.name_len))
					q2_checkpoint_report(c, &all.cp);
		q2_checkpoints_end(&all);
	}
	if (view->chain_doc) {
		struct q2_walker w = {
			.em = &run->em, .opts = opts, .src = &src[0],
			.verdict = true, .chain = c, .layers = src,
			.layer_seen = seen, .chain_problems = chain_problems,
			.checkpoints = &it,
		};

		/* the scan of the names starts again for the walk */
		q2_checkpoints_end(&it);
		checkpoints = q2_checkpoints_begin(&it, c);
		if (!checkpoints)
			q2_checkpoints_end(&it);
		for (size_t l = 0; l < c->n; l++)
			if (c->layers[l].opened && !q2_seen_init(&seen[l], &c->layers[l].img))
				q2_problems_add(&c->layers[l].img.problems, Q2_C_NOMEM, 0,
						Q2_NO_INDEX, Q2_FROM_DECODE, NULL);
		if (!checkpoints)
			w.checkpoints = NULL;
		run->em.image = c->layers[0].path;
		run->em.unopened = false;
		run->em.backing_depth = 0;
		q2_walk_record(&w, view->image, c, NULL);
		run->em.images_shown++;
	} else {
		for (size_t l = 0; l < c->n; l++)
			q2_run_show(run, &src[l], sel[l]);
	}
out:
	if (checkpoints)
		q2_checkpoints_end(&it);
	for (size_t l = 0; seen && l < c->n; l++)
		q2_seen_free(&seen[l]);
	for (size_t l = 0; sel && l < c->n; l++)
		free(sel[l]);
	free(seen);
	free(sel);
	free(src);
}

void q2_run_chain_of_one(struct q2_run *run, const struct q2_source *src)
{
	struct q2_layer layer = {
		.path = (char *)src->path, .opened = !src->unopened,
		.format = Q2_LAYER_QCOW2, .bitmaps_known = true, .img = *src->img,
	};
	struct q2_chain c = { .layers = &layer, .n = 1 };

	if (src->r)
		layer.reader = *src->r;
	else
		layer.reader.fd = -1;
	layer.bitmaps_known = q2_layer_bitmaps_known(src->img);
	q2_run_chain(run, &c);
	/* the layer's problems, grown by the walk, are the image's again;
	 * the chain's own go with it */
	*src->img = layer.img;
	for (size_t i = 0; i < c.problems.n; i++) {
		struct q2_problem *pb = &c.problems.v[i];

		if (q2_problems_add(&src->img->problems, pb->code, pb->offset,
				    pb->bitmap, pb->origin, pb->message))
			pb->message = NULL;
	}
	q2_problems_free(&c.problems);
}
