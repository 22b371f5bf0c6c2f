#include "config.h"

#include "walk.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "extents.h"
#include "verdict.h"
#include "snapshot.h"

/* ---- the document of one image, per view ---- */

static void get_image(const struct q2_walker *w, const void *obj,
		      struct q2_value *v)
{
	(void)obj;
	v->type = Q2_V_BYTES;
	v->p = w->src->path;
	v->n = strlen(w->src->path);
}

static void get_backing_file(const struct q2_walker *w, const void *obj,
			     struct q2_value *v)
{
	const struct q2_image *img = obj;

	(void)w;
	if (!img->header_decoded || !img->backing_file)
		return;
	v->type = Q2_V_BYTES;
	v->p = img->backing_file;
	v->n = img->header.backing_file_size;
}

/* what the lock probe saw: null when it could not tell */
static void get_locked(const struct q2_walker *w, const void *obj,
		       struct q2_value *v)
{
	enum q2_lock lock = ((const struct q2_image *)obj)->lock;

	(void)w;
	v->type = lock == Q2_LOCK_UNKNOWN ? Q2_V_NULL : Q2_V_BOOL;
	v->u = lock == Q2_LOCK_READ || lock == Q2_LOCK_WRITE;
}

/* --backing-chain: where the layer lies in the chain of which IMAGE */
static bool in_chain(const struct q2_walker *w)
{
	return w->opts->backing_chain && w->src->layer;
}

static void get_backing_depth(const struct q2_walker *w, const void *obj,
			      struct q2_value *v)
{
	(void)obj;
	if (in_chain(w)) {
		v->type = Q2_V_U64;
		v->u = w->src->backing_depth;
	}
}

static void get_top_image(const struct q2_walker *w, const void *obj,
			  struct q2_value *v)
{
	(void)obj;
	if (in_chain(w)) {
		v->type = Q2_V_BYTES;
		v->p = w->src->top;
		v->n = strlen(w->src->top);
	}
}

static void get_format(const struct q2_walker *w, const void *obj,
		       struct q2_value *v)
{
	const char *f;

	(void)obj;
	if (!in_chain(w) || !w->src->layer->opened)
		return;
	f = q2_layer_format_name(w->src->layer->format);
	v->type = Q2_V_WORD;
	v->p = f;
	v->n = strlen(f);
}

/* text: a layer that is not qcow2 says so (a qcow2 one is qcow2.py's) */
static void get_other_format(const struct q2_walker *w, const void *obj,
			     struct q2_value *v)
{
	if (in_chain(w) && w->src->layer->format != Q2_LAYER_QCOW2)
		get_format(w, obj, v);
}

#define IMAGE_COL { .key = "image", .in = Q2_IN_JSON, .hex_key = "image_hex", \
		    .get = get_image }, \
		  { .key = "backing_depth", .in = Q2_IN_JSON, \
		    .get = get_backing_depth }, \
		  { .key = "top_image", .in = Q2_IN_JSON, .hex_key = "top_image_hex", \
		    .get = get_top_image }, \
		  { .key = "format", .in = Q2_IN_JSON, .get = get_format }, \
		  { .key = "locked", .in = Q2_IN_JSON, .get = get_locked }
#define OTHER_FORMAT_COL { .key = "format", .in = Q2_IN_TEXT, \
			   .get = get_other_format }
#define PROBLEMS_IF_ANY { .key = "problems", .in = Q2_IN_JSON, \
			  .walk = q2_walk_problems_if_any, .child = &q2_desc_problem }
#define EXTENSIONS_COL { .key = "header_extensions", .in = Q2_IN_ALL, \
			 .walk = q2_walk_extensions, .child = &q2_desc_extension }

static const struct q2_col default_cols[] = {
	IMAGE_COL,
	OTHER_FORMAT_COL,
	{ .key = "header", .in = Q2_IN_TEXT | Q2_IN_JSON, .walk = q2_walk_header,
	  .child = &q2_desc_header },
	{ .key = "backing_file", .in = Q2_IN_JSON, .hex_key = "backing_file_hex",
	  .get = get_backing_file },
	EXTENSIONS_COL,
	PROBLEMS_IF_ANY,
};

static const struct q2_col extensions_cols[] = {
	IMAGE_COL, OTHER_FORMAT_COL, EXTENSIONS_COL, PROBLEMS_IF_ANY,
};

static const struct q2_col bitmaps_cols[] = {
	IMAGE_COL,
	OTHER_FORMAT_COL,
	{ .key = "bitmaps", .in = Q2_IN_ALL, .walk = q2_walk_image_bitmaps,
	  .child = &q2_desc_bitmap },
	PROBLEMS_IF_ANY,
};

static const struct q2_col check_cols[] = {
	IMAGE_COL,
	{ .key = "problems", .in = Q2_IN_ALL, .walk = q2_walk_problems,
	  .child = &q2_desc_problem },
};

static const struct q2_col extents_cols[] = {
	IMAGE_COL,
	{ .key = "bitmaps", .in = Q2_IN_ALL, .walk = q2_walk_xbitmaps,
	  .child = &q2_desc_xbitmap },
	PROBLEMS_IF_ANY,
};

static const struct q2_col snapshots_cols[] = {
	IMAGE_COL,
	{ .key = "snapshots", .in = Q2_IN_ALL, .walk = q2_walk_snapshots,
	  .child = &q2_desc_snapshot },
	PROBLEMS_IF_ANY,
};

#define IMAGE_DESC(c) \
	{ .rec = Q2_REC_IMAGE, .cols = (c), .n_cols = sizeof(c) / sizeof((c)[0]) }

static const struct q2_desc default_image = IMAGE_DESC(default_cols);
static const struct q2_desc extensions_image = IMAGE_DESC(extensions_cols);
static const struct q2_desc bitmaps_image = IMAGE_DESC(bitmaps_cols);
static const struct q2_desc check_image = IMAGE_DESC(check_cols);
static const struct q2_desc extents_image = IMAGE_DESC(extents_cols);
static const struct q2_desc snapshots_image = IMAGE_DESC(snapshots_cols);

const struct q2_view q2_views[Q2_VIEW_COUNT_] = {
	[Q2_VIEW_DEFAULT] = {
		.image = &default_image, .csv_row = &q2_desc_bitmap,
		.csv_row_table = &q2_desc_table_entry,
		.text_label = true,
	},
	[Q2_VIEW_EXTENSIONS] = {
		.image = &extensions_image, .csv_row = &q2_desc_extension,
		.csv_row_table = &q2_desc_extension,
		.text_label = true,
	},
	[Q2_VIEW_BITMAPS] = {
		.image = &bitmaps_image, .csv_row = &q2_desc_bitmap,
		.csv_row_table = &q2_desc_table_entry,
		.text_label = true,
	},
	[Q2_VIEW_CHECK] = {
		.image = &check_image, .csv_row = &q2_desc_problem,
		.csv_row_table = &q2_desc_problem,
		.load_tables = true, .check = true, .verdict = true,
		.load_snapshots = true,
	},
	[Q2_VIEW_EXTENTS] = {
		.image = &extents_image, .csv_row = &q2_desc_extent,
		.csv_row_table = &q2_desc_extent, .csv_group = &q2_desc_xbitmap,
		.load_tables = true, .verdict = true,
		.text_label = true,
	},
	[Q2_VIEW_CODES] = {
		.csv_row = &q2_desc_code, .csv_row_table = &q2_desc_code,
		.csv_no_image = true, .no_bitmaps = true,
	},
	[Q2_VIEW_CHAIN_EXTENTS] = {
		.image = &q2_chain_document, .csv_row = &q2_desc_extent,
		.csv_row_table = &q2_desc_extent, .csv_group = &q2_desc_checkpoint,
		.load_tables = true, .verdict = true,
		.text_label = true, .chain_doc = true,
	},
	[Q2_VIEW_SNAPSHOTS] = {
		.image = &snapshots_image, .csv_row = &q2_desc_snapshot,
		.csv_row_table = &q2_desc_snapshot,
		/* each snapshot already ends with a blank line */
		.text_label = true, .load_snapshots = true, .no_bitmaps = true,
	},
};

/* ---- records and lists ---- */

void q2_walk_record(struct q2_walker *w, const struct q2_desc *d,
		    const void *obj, const char *key)
{
	struct q2_emitter *em = w->em;
	const struct q2_format *fmt = em->fmt;

	fmt->record_begin(em, d, key);
	for (size_t i = 0; i < d->n_cols; i++) {
		const struct q2_col *c = &d->cols[i];
		struct q2_value v = { .type = Q2_V_ABSENT };

		if (!(c->in & fmt->in))
			continue;
		if (c->walk) {
			c->walk(w, obj, c);
			continue;
		}
		if (c->field) {
			v.type = Q2_V_U64;
			v.u = q2_field_get(obj, c->field);
		} else {
			c->get(w, obj, &v);
		}
		fmt->field(em, c, &v);
	}
	fmt->record_end(em, d);
}

static void list_begin(struct q2_walker *w, const struct q2_col *col)
{
	w->em->fmt->list_begin(w->em, col->child, q2_col_key(col));
}

static void list_end(struct q2_walker *w, const struct q2_col *col, size_t n)
{
	w->em->fmt->list_end(w->em, col->child, n);
}

static bool selected(const struct q2_walker *w, size_t i)
{
	return !w->selected || w->selected[i];
}

/* ---- traversal steps ---- */

void q2_walk_header(struct q2_walker *w, const void *obj,
		    const struct q2_col *col)
{
	const struct q2_image *img = obj;

	if (img->header_decoded)
		q2_walk_record(w, col->child, &img->header, q2_col_key(col));
}

void q2_walk_extensions(struct q2_walker *w, const void *obj,
			const struct q2_col *col)
{
	const struct q2_image *img = obj;

	list_begin(w, col);
	for (size_t i = 0; i < img->n_exts; i++)
		q2_walk_record(w, col->child, &img->exts[i], NULL);
	list_end(w, col, img->n_exts);
}

void q2_walk_features(struct q2_walker *w, const void *obj,
		      const struct q2_col *col)
{
	const struct q2_ext *x = obj;

	if (x->kind != Q2_EXTK_FEATURE_TABLE)
		return;
	list_begin(w, col);
	for (size_t i = 0; i < x->n_features; i++)
		q2_walk_record(w, col->child, &x->features[i], NULL);
	list_end(w, col, x->n_features);
}

void q2_walk_crypto(struct q2_walker *w, const void *obj,
		    const struct q2_col *col)
{
	const struct q2_ext *x = obj;

	if (x->has_crypto)
		q2_walk_record(w, col->child, x, q2_col_key(col));
}

void q2_walk_bitmaps_ext(struct q2_walker *w, const void *obj,
			 const struct q2_col *col)
{
	const struct q2_ext *x = obj;

	if (x->bitmaps)
		q2_walk_record(w, col->child, x->bitmaps, q2_col_key(col));
}

/* The selected entries of bx (NULL: none) as a list. */
static void walk_bitmap_list(struct q2_walker *w,
			     const struct q2_bitmaps_ext *bx,
			     const struct q2_col *col)
{
	size_t n = 0;

	list_begin(w, col);
	for (uint32_t i = 0; bx && i < bx->n_bitmaps; i++) {
		if (!selected(w, i))
			continue;
		w->bitmap = &bx->bitmaps[i];
		w->bitmap_index = i;
		q2_walk_record(w, col->child, w->bitmap, NULL);
		n++;
	}
	list_end(w, col, n);
}

void q2_walk_directory(struct q2_walker *w, const void *obj,
		       const struct q2_col *col)
{
	const struct q2_bitmaps_ext *bx = obj;

	/* only the directory the image uses was decoded */
	if (bx->dir_decoded)
		walk_bitmap_list(w, bx, col);
}

void q2_walk_image_bitmaps(struct q2_walker *w, const void *obj,
			   const struct q2_col *col)
{
	walk_bitmap_list(w, q2_image_bitmaps(obj), col);
}

void q2_walk_bitmap_table(struct q2_walker *w, const void *obj,
			  const struct q2_col *col)
{
	const struct q2_bitmap *bm = obj;

	if (!w->opts->bitmap_table || !bm->table_loaded)
		return;
	list_begin(w, col);
	for (uint32_t i = 0; i < bm->bitmap_table_size; i++) {
		struct q2_table_ref ref = { i, q2_bitmap_table_entry(bm, i) };

		q2_walk_record(w, col->child, &ref, NULL);
	}
	list_end(w, col, bm->bitmap_table_size);
}

/* The verdict on a bitmap shown (-x) or named (-c -n) that is not
 * usable: an error, so that the exit status says it too. */
static void add_not_usable(struct q2_image *img, const struct q2_bitmap *bm,
			   uint32_t i)
{
	if (q2_state_usable(bm->state))
		return;
	q2_problems_addf(&img->problems, Q2_FROM_RUN, Q2_C_BITMAP_NOT_USABLE,
			 q2_dir_entry_at(bm, Q2_DF_FLAGS), i, "%s: %s%s%s",
			 q2_state_name(bm->state), q2_state_meaning(bm->state),
			 bm->has_reason ? "; see " : "",
			 bm->has_reason ? q2_codes[bm->reason].name : "");
}

void q2_walk_xbitmaps(struct q2_walker *w, const void *obj,
		      const struct q2_col *col)
{
	const struct q2_bitmaps_ext *bx = q2_image_bitmaps(obj);
	struct q2_seen seen;
	size_t n = 0;

	if (!q2_seen_init(&seen, obj))
		q2_problems_add(&w->src->img->problems, Q2_C_NOMEM, 0, Q2_NO_INDEX,
				Q2_FROM_DECODE, NULL);
	w->seen = &seen;
	list_begin(w, col);
	for (uint32_t i = 0; bx && i < bx->n_bitmaps; i++) {
		const struct q2_bitmap *bm = &bx->bitmaps[i];

		if (!selected(w, i))
			continue;
		add_not_usable(w->src->img, bm, i);
		w->bitmap = bm;
		w->bitmap_index = i;
		w->dirty_bytes = 0;
		q2_walk_record(w, col->child, bm, NULL);
		n++;
	}
	list_end(w, col, n);
	w->seen = NULL;
	q2_seen_free(&seen);
}

int q2_walk_on_extent(void *ctx, uint64_t start, uint64_t length)
{
	struct q2_extent_sink *s = ctx;
	const uint64_t extent[2] = { start, length };

	q2_walk_record(s->w, s->col->child, extent, NULL);
	s->n++;
	return 0;
}

void q2_walk_extents(struct q2_walker *w, const void *obj,
		     const struct q2_col *col)
{
	struct q2_extent_sink sink = { w, col, 0 };

	(void)obj;
	list_begin(w, col);
	if (w->src->r)
		q2_extents_scan(w->src->r, w->src->img, w->bitmap_index, q2_walk_on_extent,
				&sink, &w->dirty_bytes, &w->src->img->problems,
				w->seen && w->seen->pages ? w->seen : NULL);
	list_end(w, col, sink.n);
}

/* The problems a view shows: --check's findings only in -c. */
static bool shown(const struct q2_walker *w, const struct q2_problem *pb)
{
	return pb->origin != Q2_FROM_CHECK || q2_views[w->opts->view].check;
}

void q2_walk_problems(struct q2_walker *w, const void *obj,
		      const struct q2_col *col)
{
	const struct q2_problems *p = &((const struct q2_image *)obj)->problems;
	size_t n = 0;

	list_begin(w, col);
	for (size_t i = 0; i < p->n; i++)
		if (shown(w, &p->v[i])) {
			q2_walk_record(w, col->child, &p->v[i], NULL);
			n++;
		}
	list_end(w, col, n);
}

void q2_walk_problems_if_any(struct q2_walker *w, const void *obj,
			     const struct q2_col *col)
{
	const struct q2_problems *p = &((const struct q2_image *)obj)->problems;

	for (size_t i = 0; i < p->n; i++)
		if (shown(w, &p->v[i])) {
			q2_walk_problems(w, obj, col);
			return;
		}
}

void q2_walk_snapshots(struct q2_walker *w, const void *obj,
		       const struct q2_col *col)
{
	const struct q2_snapshot_table *t = ((const struct q2_image *)obj)->snapshots;
	size_t n = t ? t->n : 0;

	list_begin(w, col);
	for (size_t i = 0; i < n; i++)
		q2_walk_record(w, col->child, &t->v[i], NULL);
	list_end(w, col, n);
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
		.load_refcounts = verdict || q2_views[opts->view].check,
		.load_snapshots = q2_views[opts->view].load_snapshots,
		/* QEMU refuses an image for its snapshot table: the verdict
		 * reads that much of it */
		.snapshot_limits = verdict,
	};

	return d;
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

/* QEMU, and so libvirt and qemu-nbd -B, know a bitmap by its name up
 * to the first NUL */
static bool name_is(const struct q2_bitmap *bm, const char *name)
{
	size_t len = q2_bitmap_qemu_name_len(bm);

	return len == strlen(name) && memcmp(bm->name, name, len) == 0;
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
	for (size_t i = 0; i < n && i < 20; i++)
		fprintf(f, "%s%.*s", i ? ", " : "", (int)bx->bitmaps[i].name_size,
			bx->bitmaps[i].name);
	if (n > 20)
		fprintf(f, ", and %zu more", n - 20);
	fputc(')', f);
	if (fclose(f) != 0) {
		free(msg);
		return NULL;
	}
	return msg;
}

/* The entries -n names; each NAME the image lacks is a problem. */
static bool *select_bitmaps(const struct q2_run_opts *opts,
			    struct q2_image *img)
{
	const struct q2_bitmaps_ext *bx = q2_image_bitmaps(img);
	size_t n = bx ? bx->n_bitmaps : 0;
	bool *sel;

	if (!opts->n_names)
		return NULL;
	sel = calloc(n ? n : 1, sizeof *sel);
	if (!sel) {
		q2_problems_add(&img->problems, Q2_C_NOMEM, 0, Q2_NO_INDEX,
				Q2_FROM_DECODE, NULL);
		return NULL;
	}
	for (size_t k = 0; k < opts->n_names; k++) {
		bool found = false;

		for (size_t i = 0; i < n; i++)
			if (name_is(&bx->bitmaps[i], opts->names[k]))
				sel[i] = found = true;
		/* in a chain, a NAME no layer has is the chain's problem */
		if (!found && !opts->backing_chain)
			q2_problems_add(&img->problems, Q2_C_NO_SUCH_BITMAP,
					bx ? bx->bitmap_directory_offset : 0,
					Q2_NO_INDEX, Q2_FROM_DECODE,
					missing_message(opts->names[k], bx));
	}
	return sel;
}

/* -c -n NAME: the findings about NAME and about the whole image, and
 * the verdict on NAME as an error when it is not usable. */
static void keep_selected(struct q2_image *img, const bool *sel,
			  bool chain)
{
	struct q2_problems *p = &img->problems;
	const struct q2_bitmaps_ext *bx = q2_image_bitmaps(img);
	size_t kept = 0;

	for (size_t i = 0; i < p->n; i++) {
		struct q2_problem *pb = &p->v[i];

		if (pb->origin == Q2_FROM_CHECK && pb->bitmap != Q2_NO_INDEX &&
		    !sel[pb->bitmap]) {
			free(pb->message);
			continue;
		}
		p->v[kept++] = *pb;
	}
	p->n = kept;
	/* in a chain, the checkpoint merged is judged, not each copy */
	for (uint32_t i = 0; bx && !chain && i < bx->n_bitmaps; i++)
		if (sel[i])
			add_not_usable(img, &bx->bitmaps[i], i);
}

bool *q2_run_select(struct q2_run *run, const struct q2_source *src, bool *ok)
{
	bool *sel = select_bitmaps(run->opts, src->img);

	*ok = !run->opts->n_names || sel;
	return sel;
}

void q2_run_judge(struct q2_run *run, const struct q2_source *src)
{
	bool verdict = needs_verdict(run);

	if (q2_views[run->opts->view].check || verdict)
		q2_check(src->img);
	if (verdict)
		q2_verdict(src->img);
}

void q2_run_show(struct q2_run *run, const struct q2_source *src,
		 const bool *sel)
{
	const struct q2_view *view = &q2_views[run->opts->view];
	struct q2_walker w = { .em = &run->em, .opts = run->opts, .src = src };

	w.selected = sel;
	w.verdict = needs_verdict(run);
	if (view->check && sel)
		keep_selected(src->img, sel, run->opts->backing_chain);
	run->em.image = src->path;
	run->em.unopened = src->unopened;
	run->em.backing_depth = src->backing_depth;
	q2_walk_record(&w, view->image, src->img, NULL);
	run->em.images_shown++;
}

void q2_run_image(struct q2_run *run, const struct q2_source *src)
{
	bool ok;
	bool *sel;

	/* a chain's view of one image: the chain of one layer */
	if (q2_views[run->opts->view].chain_doc) {
		q2_run_chain_of_one(run, src);
		return;
	}
	sel = q2_run_select(run, src, &ok);
	/* out of memory for the selection: show nothing rather than all */
	if (!ok)
		return;
	q2_run_judge(run, src);
	q2_run_show(run, src, sel);
	free(sel);
}

bool q2_run_needs_verdict(const struct q2_run *run)
{
	return needs_verdict(run);
}

void q2_run_codes(struct q2_run *run)
{
	struct q2_emitter *em = &run->em;

	em->fmt->list_begin(em, &q2_desc_code, NULL);
	for (size_t i = 0; i < Q2_CODE_COUNT_; i++) {
		struct q2_source src = { .path = "" };
		struct q2_walker w = { .em = em, .opts = run->opts, .src = &src };

		q2_walk_record(&w, &q2_desc_code, &q2_codes[i], NULL);
	}
	em->fmt->list_end(em, &q2_desc_code, Q2_CODE_COUNT_);
}

void q2_run_end(struct q2_run *run)
{
	run->em.fmt->end(&run->em);
	free(run->em.state);
	run->em.state = NULL;
}
