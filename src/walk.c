#include "config.h"

#include "walk.h"

#include <assert.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "extents.h"
#include "map.h"
#include "merge.h"
#include "owners.h"
#include "util.h"

struct q2_walker {
	struct q2_cursor cur;            /* what the columns see */
	struct q2_emitter *em;
	const struct q2_chain *chain;
	/* the judgement: read, but for the fault lists of streaming steps */
	struct q2_judgement *j;
	const struct q2_source *layers;  /* one per layer of the chain */
	struct q2_seen *seen;            /* per layer: data clusters read (-x) */
	/* --map, -x --map: the chain's map, NULL when it has none (a fault
	 * says why); map_failed: a read failed, the map stops there */
	struct q2_map *map;
	bool map_failed;
};

static void run_step(struct q2_walker *w, const void *obj,
		     const struct q2_col *col);

/* ---- records and lists ---- */

static void walk_cols(struct q2_walker *w, const struct q2_col *cols, size_t n,
		      const void *obj)
{
	struct q2_emitter *em = w->em;
	const struct q2_format *fmt = em->fmt;

	for (size_t i = 0; i < n; i++) {
		const struct q2_col *c = &cols[i];
		struct q2_value v;

		if (!(c->in & fmt->in))
			continue;
		/* each column at its id, none left out of the array */
		assert(c->id == i && (c->key || c->field));
		if (c->step != Q2_STEP_NONE) {
			run_step(w, obj, c);
			continue;
		}
		if (c->field) {
			v = (struct q2_value){ .type = Q2_V_U64,
					       .u = q2_field_get(obj, c->field) };
		} else {
			assert(c->get);
			v = (struct q2_value){ .type = Q2_V_ABSENT };
			c->get(&w->cur, obj, &v);
		}
		fmt->field(em, c, &v);
	}
}

/* The record obj described by d, under key (NULL in a list): its
 * columns, then its trailer. */
static void walk_record(struct q2_walker *w, const struct q2_desc *d,
			const void *obj, const char *key)
{
	w->em->fmt->record_begin(w->em, d, key);
	walk_cols(w, d->cols, d->n_cols, obj);
	if (d->n_trailer)
		walk_cols(w, d->trailer, d->n_trailer, obj);
	w->em->fmt->record_end(w->em, d);
}

static void list_begin(struct q2_walker *w, const struct q2_col *col)
{
	w->em->fmt->list_begin(w->em, col->child, q2_col_key(col));
}

static void list_end(struct q2_walker *w, const struct q2_col *col, size_t n)
{
	w->em->fmt->list_end(w->em, col->child, n);
}

/* the layer being walked */
static size_t layer_index(const struct q2_walker *w)
{
	size_t l = (size_t)(w->cur.src - w->layers);

	assert(l < w->chain->n);
	return l;
}

static const struct q2_image *image(const struct q2_walker *w)
{
	return w->cur.src->img;
}

/* ---- traversal steps of one image ---- */

static void walk_header(struct q2_walker *w, const void *obj,
			const struct q2_col *col)
{
	const struct q2_image *img = obj;

	if (img->header_decoded)
		walk_record(w, col->child, &img->header, q2_col_key(col));
}

static void walk_extensions(struct q2_walker *w, const void *obj,
			    const struct q2_col *col)
{
	const struct q2_image *img = obj;

	list_begin(w, col);
	for (size_t i = 0; i < img->n_exts; i++)
		walk_record(w, col->child, &img->exts[i], NULL);
	list_end(w, col, img->n_exts);
}

static void walk_features(struct q2_walker *w, const void *obj,
			  const struct q2_col *col)
{
	const struct q2_ext *x = obj;

	if (x->kind != Q2_EXTK_FEATURE_TABLE)
		return;
	list_begin(w, col);
	for (size_t i = 0; i < x->n_features; i++)
		walk_record(w, col->child, &x->features[i], NULL);
	list_end(w, col, x->n_features);
}

static void walk_crypto(struct q2_walker *w, const void *obj,
			const struct q2_col *col)
{
	const struct q2_ext *x = obj;

	if (x->has_crypto)
		walk_record(w, col->child, x, q2_col_key(col));
}

static void walk_bitmaps_ext(struct q2_walker *w, const void *obj,
			     const struct q2_col *col)
{
	const struct q2_ext *x = obj;

	if (x->bitmaps)
		walk_record(w, col->child, x->bitmaps, q2_col_key(col));
}

/* The selected entries of bx (NULL: none) as a list. */
static void walk_bitmap_list(struct q2_walker *w, const struct q2_bitmaps_ext *bx,
			     const struct q2_col *col)
{
	size_t n = 0;

	list_begin(w, col);
	for (uint32_t i = 0; bx && i < bx->n_bitmaps; i++) {
		if (!q2_findings_selected(w->cur.src->findings, i))
			continue;
		w->cur.bitmap = &bx->bitmaps[i];
		w->cur.bitmap_index = i;
		/* -x: what its extents add up to */
		w->cur.dirty_bytes = w->cur.data_bytes = w->cur.zero_bytes = 0;
		w->cur.pieces_unknown = false;
		walk_record(w, col->child, w->cur.bitmap, NULL);
		n++;
	}
	list_end(w, col, n);
}

static void walk_directory(struct q2_walker *w, const void *obj,
			   const struct q2_col *col)
{
	const struct q2_bitmaps_ext *bx = obj;

	/* only the directory the image uses was decoded */
	if (bx->dir_decoded)
		walk_bitmap_list(w, bx, col);
}

static void walk_image_bitmaps(struct q2_walker *w, const void *obj,
			       const struct q2_col *col)
{
	walk_bitmap_list(w, q2_image_bitmaps(obj), col);
}

static void walk_bitmap_table(struct q2_walker *w, const void *obj,
			      const struct q2_col *col)
{
	const struct q2_bitmap *bm = obj;

	if (!w->cur.opts->bitmap_table || !bm->table_loaded)
		return;
	list_begin(w, col);
	for (uint32_t i = 0; i < bm->bitmap_table_size; i++) {
		struct q2_table_ref ref = { i, q2_bitmap_table_entry(bm, i) };

		walk_record(w, col->child, &ref, NULL);
	}
	list_end(w, col, bm->bitmap_table_size);
}

/* The faults a streaming step meets in the layer being walked. */
static struct q2_problems *faults(struct q2_walker *w)
{
	return &w->j->layers[layer_index(w)].faults;
}

/* The data clusters read so far in layer l, NULL when they could not
 * be tracked (then every one is read: the work is still bounded by the
 * tables held). */
static struct q2_seen *seen(struct q2_walker *w, size_t l)
{
	return w->seen && w->seen[l].pages ? &w->seen[l] : NULL;
}

/* Where the extent scans of one image and of a merged chain send each
 * range: one record of d, counted in n. */
struct extent_sink {
	struct q2_walker *w;
	const struct q2_desc *d;
	size_t n;
};

static void piece(struct extent_sink *s, const struct q2_map_entry *e)
{
	struct q2_walker *w = s->w;

	walk_record(w, s->d, e, NULL);
	s->n++;
	if (e->unknown)
		w->cur.pieces_unknown = true;
	else if (e->zero)
		w->cur.zero_bytes += e->length;
	else
		w->cur.data_bytes += e->length;
}

/* -x --map: a dirty range as the pieces the map's entries cut it in;
 * where the map has nothing to say (none, or it stopped: a fault says
 * why), the rest of the range is one piece whose contents are unknown,
 * so that no dirty byte goes missing */
static int on_extent_pieces(struct extent_sink *s, uint64_t start,
			    uint64_t length)
{
	struct q2_walker *w = s->w;
	uint64_t at = start, end = start + length;
	struct q2_map_entry e;
	int ret;

	if (w->map && !w->map_failed) {
		q2_map_begin(w->map, start, end);
		while ((ret = q2_map_next(w->map, &e)) == 1) {
			piece(s, &e);
			at = e.start + e.length;
		}
		w->map_failed = ret < 0;
	}
	if (at < end) {
		e = (struct q2_map_entry){ .start = at, .length = end - at,
					   .unknown = true };
		piece(s, &e);
	}
	return 0;
}

static int on_extent(void *ctx, uint64_t start, uint64_t length)
{
	struct extent_sink *s = ctx;
	const uint64_t extent[2] = { start, length };

	if (q2_views[s->w->cur.opts->view].map)
		return on_extent_pieces(s, start, length);
	walk_record(s->w, s->d, extent, NULL);
	s->n++;
	return 0;
}

static void walk_extents(struct q2_walker *w, const void *obj,
			 const struct q2_col *col)
{
	const struct q2_layer *layer = w->cur.src->layer;
	struct extent_sink sink = { w, col->child, 0 };

	(void)obj;
	list_begin(w, col);
	if (layer->opened)
		q2_extents_scan(&layer->reader, image(w), w->cur.bitmap_index,
				on_extent, &sink, &w->cur.dirty_bytes, faults(w),
				seen(w, layer_index(w)));
	list_end(w, col, sink.n);
}

/* The problems a view shows: --check's findings only in -c, but for
 * those that say why a map has none. */
static bool shown(const struct q2_walker *w, const struct q2_problem *pb)
{
	const struct q2_view *view = &q2_views[w->cur.opts->view];

	return pb->origin != Q2_FROM_CHECK || view->check ||
	       (view->map && q2_problem_refuses(pb));
}

/* The problems of the layer src that the view shows, as a list; with
 * if_any, nothing when there are none. */
static void walk_problem_list(struct q2_walker *w, const struct q2_source *src,
			      const struct q2_col *col, bool if_any)
{
	size_t total = q2_image_n_problems(src->img, src->findings), n = 0;

	for (size_t i = 0; i < total; i++)
		n += shown(w, q2_image_problem(src->img, src->findings, i));
	if (!n && if_any)
		return;
	list_begin(w, col);
	for (size_t i = 0; i < total; i++) {
		const struct q2_problem *pb = q2_image_problem(src->img, src->findings, i);

		if (shown(w, pb))
			walk_record(w, col->child, pb, NULL);
	}
	list_end(w, col, n);
}

static void walk_problems(struct q2_walker *w, const void *obj,
			  const struct q2_col *col)
{
	(void)obj;
	walk_problem_list(w, w->cur.src, col, false);
}

static void walk_problems_if_any(struct q2_walker *w, const void *obj,
				 const struct q2_col *col)
{
	(void)obj;
	walk_problem_list(w, w->cur.src, col, true);
}

static void walk_snapshots(struct q2_walker *w, const void *obj,
			   const struct q2_col *col)
{
	const struct q2_snapshot_table *t = ((const struct q2_image *)obj)->snapshots;
	size_t n = t ? t->n : 0;

	list_begin(w, col);
	for (size_t i = 0; i < n; i++)
		walk_record(w, col->child, &t->v[i], NULL);
	list_end(w, col, n);
}

/* ---- traversal steps of a chain (-x --backing-chain) ---- */

static void walk_layers(struct q2_walker *w, const void *obj,
			const struct q2_col *col)
{
	const struct q2_source *top = w->cur.src;

	(void)obj;
	list_begin(w, col);
	for (size_t l = 0; l < w->chain->n; l++) {
		w->cur.src = &w->layers[l];
		walk_record(w, col->child, &w->layers[l], NULL);
	}
	w->cur.src = top;
	list_end(w, col, w->chain->n);
}

/* a layer's problems: -x shows no --check findings */
static void walk_layer_problems(struct q2_walker *w, const void *obj,
				const struct q2_col *col)
{
	walk_problem_list(w, obj, col, true);
}

static void walk_chain_problems(struct q2_walker *w, const void *obj,
				const struct q2_col *col)
{
	const struct q2_problems *lists[] = { &w->j->chain, &w->j->chain_faults };
	size_t n = w->j->chain.n + w->j->chain_faults.n;

	(void)obj;
	if (!n)
		return;
	list_begin(w, col);
	for (size_t k = 0; k < Q2_ARRAY_SIZE(lists); k++)
		for (size_t i = 0; i < lists[k]->n; i++)
			walk_record(w, col->child, &lists[k]->v[i], NULL);
	list_end(w, col, n);
}

static void walk_checkpoints(struct q2_walker *w, const void *obj,
			     const struct q2_col *col)
{
	const struct q2_checkpoints *cps = &w->j->checkpoints;
	size_t n = 0;

	(void)obj;
	list_begin(w, col);
	for (size_t i = 0; w->j->has_checkpoints && i < cps->n; i++) {
		/* the judge decided which -n names */
		if (!cps->v[i].selected)
			continue;
		w->cur.dirty_bytes = w->cur.data_bytes = w->cur.zero_bytes = 0;
		w->cur.pieces_unknown = false;
		walk_record(w, col->child, &cps->v[i], NULL);
		n++;
	}
	list_end(w, col, n);
}

static void walk_merged_extents(struct q2_walker *w, const void *obj,
				const struct q2_col *col)
{
	const struct q2_checkpoint *cp = obj;
	const struct q2_chain *c = w->chain;
	struct q2_merge_input *in = calloc(cp->run_n ? cp->run_n : 1, sizeof *in);
	struct extent_sink sink = { w, col->child, 0 };

	list_begin(w, col);
	if (!in) {
		q2_problems_add(&w->j->chain_faults, Q2_C_NOMEM, 0, Q2_NO_INDEX,
				Q2_FROM_DECODE, NULL);
	} else {
		for (uint32_t k = 0; k < cp->run_n; k++) {
			size_t l = cp->depths[k];

			in[k] = (struct q2_merge_input){
				.r = &c->layers[l].reader, .img = &c->layers[l].img,
				.idx = cp->indexes[k],
				.problems = &w->j->layers[l].faults,
				.seen = seen(w, l),
			};
		}
		/* every layer clamped to the top's disk, in whole sectors */
		q2_merge_scan(in, cp->run_n, q2_disk_bytes(&c->layers[0].img),
			      on_extent, &sink, &w->cur.dirty_bytes, &w->j->chain_faults);
	}
	free(in);
	list_end(w, col, sink.n);
}

/* --map: the chain's map over the range asked, as qemu-img map walks it */
static void walk_map(struct q2_walker *w, const void *obj,
		     const struct q2_col *col)
{
	const struct q2_run_opts *opts = w->cur.opts;
	struct q2_map_entry e;
	uint64_t end;
	size_t n = 0;

	(void)obj;
	/* an IMAGE that could not be opened: its problem says so */
	if (!w->chain->layers[0].opened)
		return;
	list_begin(w, col);
	if (w->map) {
		end = q2_map_length(w->map);
		if (opts->has_max_length && opts->max_length < end &&
		    opts->start_offset < end - opts->max_length)
			end = opts->start_offset + opts->max_length;
		q2_map_begin(w->map, opts->start_offset, end);
		while (q2_map_next(w->map, &e) == 1) {
			walk_record(w, col->child, &e, NULL);
			n++;
		}
	}
	list_end(w, col, n);
}

/* -c: the rebuild's totals, when it ran */
static void walk_totals(struct q2_walker *w, const void *obj,
			const struct q2_col *col)
{
	const struct q2_findings *f = w->cur.src->findings;

	(void)obj;
	if (!f || !f->has_totals)
		return;
	if (f->totals.complete) {
		walk_record(w, col->child, &f->totals, q2_col_key(col));
		return;
	}
	/* no result: JSON says null; text has no report to show */
	if (!(w->em->fmt->in & Q2_IN_TEXT)) {
		struct q2_value v = { .type = Q2_V_NULL };

		w->em->fmt->field(w->em, col, &v);
	}
}

/* an image whose header was not decoded has no structures to lay out
 * (its problem says why) */
static bool can_lay_out(const struct q2_walker *w)
{
	return w->cur.src->layer->opened && q2_image_has_layout(w->cur.src->img);
}

/* the owners found, as the column's list (then freed) */
static void owner_list(struct q2_walker *w, const struct q2_col *col,
		       struct q2_owners *o)
{
	list_begin(w, col);
	for (size_t i = 0; i < o->n; i++)
		walk_record(w, col->child, &o->v[i], NULL);
	list_end(w, col, o->n);
	q2_owners_free(o);
}

/* --at: what owns the cursor's offset */
static void walk_owners_at(struct q2_walker *w, const void *obj,
			   const struct q2_col *col)
{
	const struct q2_image *img = obj;
	struct q2_owners o = { 0 };

	if (!can_lay_out(w))
		return;
	if (w->cur.at >= img->file_size)
		q2_problems_addf(faults(w), Q2_FROM_RUN, Q2_C_AT_BEYOND_EOF, w->cur.at,
				 Q2_NO_INDEX, "--at 0x%" PRIx64 ": the file has 0x%" PRIx64 " bytes",
				 w->cur.at, img->file_size);
	else
		q2_owners_at(&w->cur.src->layer->reader, img, w->cur.at, &o, faults(w));
	owner_list(w, col, &o);
}

/* --layout: every structure of the file, in order */
static void walk_layout(struct q2_walker *w, const void *obj,
			const struct q2_col *col)
{
	const struct q2_image *img = obj;
	struct q2_owners o = { 0 };

	if (!can_lay_out(w))
		return;
	q2_owners_layout(&w->cur.src->layer->reader, img, &o, faults(w));
	owner_list(w, col, &o);
}

typedef void (*step_fn)(struct q2_walker *w, const void *obj,
			const struct q2_col *col);

static const step_fn steps[] = {
	[Q2_STEP_NONE] = NULL,
	[Q2_STEP_HEADER] = walk_header,
	[Q2_STEP_EXTENSIONS] = walk_extensions,
	[Q2_STEP_FEATURES] = walk_features,
	[Q2_STEP_CRYPTO] = walk_crypto,
	[Q2_STEP_BITMAPS_EXT] = walk_bitmaps_ext,
	[Q2_STEP_DIRECTORY] = walk_directory,
	[Q2_STEP_IMAGE_BITMAPS] = walk_image_bitmaps,
	[Q2_STEP_BITMAP_TABLE] = walk_bitmap_table,
	[Q2_STEP_EXTENTS] = walk_extents,
	[Q2_STEP_PROBLEMS] = walk_problems,
	[Q2_STEP_PROBLEMS_IF_ANY] = walk_problems_if_any,
	[Q2_STEP_SNAPSHOTS] = walk_snapshots,
	[Q2_STEP_LAYERS] = walk_layers,
	[Q2_STEP_LAYER_PROBLEMS] = walk_layer_problems,
	[Q2_STEP_CHECKPOINTS] = walk_checkpoints,
	[Q2_STEP_MERGED_EXTENTS] = walk_merged_extents,
	[Q2_STEP_CHAIN_PROBLEMS] = walk_chain_problems,
	[Q2_STEP_MAP] = walk_map,
	[Q2_STEP_TOTALS] = walk_totals,
	[Q2_STEP_OWNERS_AT] = walk_owners_at,
	[Q2_STEP_LAYOUT] = walk_layout,
};
Q2_STATIC_ASSERT(Q2_ARRAY_SIZE(steps) == Q2_STEP_COUNT_,
		 "every traversal step has its function");

static void run_step(struct q2_walker *w, const void *obj,
		     const struct q2_col *col)
{
	assert(col->step > Q2_STEP_NONE && col->step < Q2_STEP_COUNT_);
	assert(steps[col->step] && col->child);
	steps[col->step](w, obj, col);
}

/* ---- the run ---- */

/* The verdict needs the tables and the checks; text shows it in -x and
 * -c only, the structured formats wherever a bitmap appears. */
static bool needs_verdict(const struct q2_run *run)
{
	const struct q2_view *view = &q2_views[run->opts->view];

	return view->verdict ||
	       (!view->no_bitmaps && run->em.fmt != &q2_format_text);
}

struct q2_decode_opts q2_run_decode_opts(const struct q2_run *run)
{
	const struct q2_run_opts *opts = run->opts;
	bool verdict = needs_verdict(run);
	struct q2_decode_opts d = {
		.load_tables = opts->bitmap_table || verdict ||
			       q2_views[opts->view].load_tables,
		.load_snapshots = q2_views[opts->view].load_snapshots ||
				  q2_views[opts->view].map,
		/* QEMU refuses an image for its snapshot table: the verdict
		 * and the map read that much of it */
		.snapshot_limits = verdict || q2_views[opts->view].map,
		.direct_io = q2_views[opts->view].map,
	};

	return d;
}

struct q2_judge_opts q2_run_judge_opts(const struct q2_run *run)
{
	const struct q2_run_opts *opts = run->opts;
	const struct q2_view *view = &q2_views[opts->view];
	struct q2_judge_opts j = {
		/* the map needs to know what QEMU refuses */
		.check = view->check || view->map,
		.verdict = needs_verdict(run),
		.checking = view->check,
		.extents = view->extents,
		.backing_chain = opts->backing_chain,
		.chain_doc = view->chain_doc,
		.names = opts->names,
		.n_names = opts->n_names,
	};

	return j;
}

bool q2_run_begin(struct q2_run *run, const struct q2_format *fmt,
		  const struct q2_run_opts *opts, struct q2_out *out)
{
	memset(run, 0, sizeof *run);
	run->opts = opts;
	run->em.fmt = fmt;
	run->em.out = out;
	run->em.opts = opts;
	run->em.view = &q2_views[opts->view];
	if (fmt->state_size) {
		run->em.state = calloc(1, fmt->state_size);
		if (!run->em.state)
			return false;
	}
	fmt->begin(&run->em);
	return true;
}

static void show_document(struct q2_run *run, struct q2_walker *w,
			  const struct q2_desc *doc, const void *obj,
			  const struct q2_source *src, bool unopened)
{
	w->cur.src = src;
	run->em.image = src->path;
	run->em.unopened = unopened;
	run->em.backing_depth = src->backing_depth;
	run->em.at = w->cur.at;
	walk_record(w, doc, obj, NULL);
	run->em.images_shown++;
}

/* The chain's map into m, NULL when it has none: a layer QEMU refuses
 * (the judge said which), or a fault met opening it. */
static struct q2_map *make_map(const struct q2_chain *c, struct q2_judgement *j,
			       struct q2_map *m)
{
	bool *refused = calloc(c->n, sizeof *refused);
	struct q2_problems **faults = calloc(c->n, sizeof *faults);
	bool ok = false;

	if (!refused || !faults) {
		q2_problems_add(&j->layers[0].faults, Q2_C_NOMEM, 0, Q2_NO_INDEX,
				Q2_FROM_DECODE, NULL);
		goto out;
	}
	for (size_t l = 0; l < c->n; l++) {
		faults[l] = &j->layers[l].faults;
		refused[l] = j->layers[l].refused;
	}
	ok = q2_map_init(m, c, refused, faults);
out:
	free(refused);
	free(faults);
	return ok ? m : NULL;
}

void q2_run_show(struct q2_run *run, const struct q2_chain *c,
		 struct q2_judgement *j)
{
	struct q2_map map;
	const struct q2_view *view = &q2_views[run->opts->view];
	struct q2_source *src = calloc(c->n, sizeof *src);
	struct q2_walker w = {
		.cur = { .opts = run->opts, .verdict = needs_verdict(run) },
		.em = &run->em, .chain = c, .j = j,
	};
	bool data = view->scans_data;

	assert(j->n == c->n);
	/* out of memory for a selection: show nothing rather than all */
	if (j->selection_failed)
		goto out;
	if (!src || (data && !(w.seen = calloc(c->n, sizeof *w.seen)))) {
		q2_problems_add(&j->layers[0].faults, Q2_C_NOMEM, 0, Q2_NO_INDEX,
				Q2_FROM_DECODE, NULL);
		goto out;
	}
	w.layers = src;
	for (size_t l = 0; l < c->n; l++) {
		src[l] = (struct q2_source){
			.path = c->layers[l].path, .layer = &c->layers[l],
			.img = &c->layers[l].img, .findings = &j->layers[l],
			.backing_depth = (uint32_t)l, .top = c->layers[0].path,
		};
		if (data && c->layers[l].opened &&
		    !q2_seen_init(&w.seen[l], &c->layers[l].img))
			q2_problems_add(&j->layers[l].faults, Q2_C_NOMEM, 0,
					Q2_NO_INDEX, Q2_FROM_DECODE, NULL);
	}
	if (view->map && c->layers[0].opened)
		w.map = make_map(c, j, &map);
	if (view->chain_doc)
		show_document(run, &w, view->image, c, &src[0], false);
	else
		/* without --backing-chain the chain was followed for the map
		 * alone: IMAGE is the one document */
		for (size_t l = 0; l < (run->opts->backing_chain ? c->n : 1); l++) {
			/* --at: a document per offset asked about */
			size_t docs = run->opts->view == Q2_VIEW_AT ? run->opts->n_at : 1;

			for (size_t k = 0; k < docs; k++) {
				w.cur.at = run->opts->view == Q2_VIEW_AT ? run->opts->at[k] : 0;
				show_document(run, &w, view->image, &c->layers[l].img,
					      &src[l], !c->layers[l].opened);
			}
		}
	if (w.map)
		q2_map_free(w.map);
out:
	for (size_t l = 0; w.seen && l < c->n; l++)
		q2_seen_free(&w.seen[l]);
	free(w.seen);
	free(src);
}

enum q2_exit q2_run_chain(struct q2_run *run, const struct q2_chain *c,
			  struct q2_judgement *j)
{
	struct q2_judge_opts jopts = q2_run_judge_opts(run);
	enum q2_exit status, faults;

	if (!q2_judge(c, &jopts, j))
		return Q2_EXIT_UNREADABLE;
	/* the exit status is the judge's, before anything is shown ... */
	status = q2_judgement_status(c, j, jopts.checking);
	q2_run_show(run, c, j);
	/* ... unless the walk met what the judge could not see */
	faults = q2_faults_status(j, jopts.checking);
	return faults > status ? faults : status;
}

void q2_run_codes(struct q2_run *run)
{
	struct q2_emitter *em = &run->em;
	struct q2_source src = { .path = "" };
	struct q2_walker w = { .cur = { .opts = run->opts, .src = &src }, .em = em };

	em->fmt->list_begin(em, &q2_desc_code, NULL);
	for (size_t i = 0; i < Q2_CODE_COUNT_; i++)
		walk_record(&w, &q2_desc_code, &q2_codes[i], NULL);
	em->fmt->list_end(em, &q2_desc_code, Q2_CODE_COUNT_);
}

void q2_run_end(struct q2_run *run)
{
	run->em.fmt->end(&run->em);
	free(run->em.state);
	run->em.state = NULL;
}
