#include "config.h"

#include "walk.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "extents.h"
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

#define IMAGE_COL { .key = "image", .in = Q2_IN_JSON, .hex_key = "image_hex", \
		    .get = get_image }
#define PROBLEMS_IF_ANY { .key = "problems", .in = Q2_IN_JSON, \
			  .walk = q2_walk_problems_if_any, .child = &q2_desc_problem }
#define EXTENSIONS_COL { .key = "header_extensions", .in = Q2_IN_ALL, \
			 .walk = q2_walk_extensions, .child = &q2_desc_extension }

static const struct q2_col default_cols[] = {
	IMAGE_COL,
	{ .key = "header", .in = Q2_IN_TEXT | Q2_IN_JSON, .walk = q2_walk_header,
	  .child = &q2_desc_header },
	{ .key = "backing_file", .in = Q2_IN_JSON, .hex_key = "backing_file_hex",
	  .get = get_backing_file },
	EXTENSIONS_COL,
	PROBLEMS_IF_ANY,
};

static const struct q2_col extensions_cols[] = {
	IMAGE_COL, EXTENSIONS_COL, PROBLEMS_IF_ANY,
};

static const struct q2_col bitmaps_cols[] = {
	IMAGE_COL,
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
		.text_label = true, .text_label_blank = true,
	},
	[Q2_VIEW_EXTENSIONS] = {
		.image = &extensions_image, .csv_row = &q2_desc_extension,
		.csv_row_table = &q2_desc_extension,
		.text_label = true, .text_label_blank = true,
	},
	[Q2_VIEW_BITMAPS] = {
		.image = &bitmaps_image, .csv_row = &q2_desc_bitmap,
		.csv_row_table = &q2_desc_table_entry,
		.text_label = true, .text_label_blank = true,
	},
	[Q2_VIEW_CHECK] = {
		.image = &check_image, .csv_row = &q2_desc_problem,
		.csv_row_table = &q2_desc_problem,
		.load_tables = true, .check = true, .load_snapshots = true,
	},
	[Q2_VIEW_EXTENTS] = {
		.image = &extents_image, .csv_row = &q2_desc_extent,
		.csv_row_table = &q2_desc_extent,
		.load_tables = true,
		/* each bitmap already ends with a blank line */
		.text_label = true, .text_label_blank = false,
	},
	[Q2_VIEW_SNAPSHOTS] = {
		.image = &snapshots_image, .csv_row = &q2_desc_snapshot,
		.csv_row_table = &q2_desc_snapshot,
		/* each snapshot already ends with a blank line */
		.text_label = true, .text_label_blank = false,
		.load_snapshots = true,
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
	for (uint32_t i = 0; i < bm->bitmap_table_size; i++)
		q2_walk_record(w, col->child, &bm->table[i], NULL);
	list_end(w, col, bm->bitmap_table_size);
}

void q2_walk_xbitmaps(struct q2_walker *w, const void *obj,
		      const struct q2_col *col)
{
	const struct q2_bitmaps_ext *bx = q2_image_bitmaps(obj);
	struct q2_problems *problems = &w->src->img->problems;
	size_t n = 0;

	list_begin(w, col);
	for (uint32_t i = 0; bx && i < bx->n_bitmaps; i++) {
		const struct q2_bitmap *bm = &bx->bitmaps[i];

		if (!selected(w, i))
			continue;
		if (bm->flags & Q2_BME_FLAG_IN_USE)
			q2_problems_add(problems, Q2_C_BITMAP_IN_USE,
					q2_dir_entry_at(bm, Q2_DF_FLAGS), i, false,
					strdup("in use, so its data may be stale"));
		w->bitmap = bm;
		w->bitmap_index = i;
		w->dirty_bytes = 0;
		q2_walk_record(w, col->child, bm, NULL);
		n++;
	}
	list_end(w, col, n);
}

struct extent_sink {
	struct q2_walker *w;
	const struct q2_col *col;
	size_t n;
};

static int on_extent(void *ctx, uint64_t start, uint64_t length)
{
	struct extent_sink *s = ctx;
	const uint64_t extent[2] = { start, length };

	q2_walk_record(s->w, s->col->child, extent, NULL);
	s->n++;
	return 0;
}

void q2_walk_extents(struct q2_walker *w, const void *obj,
		     const struct q2_col *col)
{
	struct extent_sink sink = { w, col, 0 };

	(void)obj;
	list_begin(w, col);
	q2_extents_scan(w->src->r, w->src->img, w->bitmap_index, on_extent, &sink,
			&w->dirty_bytes, &w->src->img->problems);
	list_end(w, col, sink.n);
}

void q2_walk_problems(struct q2_walker *w, const void *obj,
		      const struct q2_col *col)
{
	const struct q2_problems *p = &((const struct q2_image *)obj)->problems;

	list_begin(w, col);
	for (size_t i = 0; i < p->n; i++)
		q2_walk_record(w, col->child, &p->v[i], NULL);
	list_end(w, col, p->n);
}

void q2_walk_problems_if_any(struct q2_walker *w, const void *obj,
			     const struct q2_col *col)
{
	if (((const struct q2_image *)obj)->problems.n)
		q2_walk_problems(w, obj, col);
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

struct q2_decode_opts q2_run_decode_opts(const struct q2_run_opts *opts)
{
	struct q2_decode_opts d = {
		.load_tables = opts->bitmap_table ||
			       q2_views[opts->view].load_tables,
		.load_snapshots = q2_views[opts->view].load_snapshots,
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

static bool name_is(const struct q2_bitmap *bm, const char *name)
{
	return bm->name_size == strlen(name) &&
	       memcmp(bm->name, name, bm->name_size) == 0;
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
				false, NULL);
		return NULL;
	}
	for (size_t k = 0; k < opts->n_names; k++) {
		bool found = false;

		for (size_t i = 0; i < n; i++)
			if (name_is(&bx->bitmaps[i], opts->names[k]))
				sel[i] = found = true;
		if (!found)
			q2_problems_add(&img->problems, Q2_C_NO_SUCH_BITMAP,
					bx ? bx->bitmap_directory_offset : 0,
					Q2_NO_INDEX, false,
					missing_message(opts->names[k], bx));
	}
	return sel;
}

void q2_run_image(struct q2_run *run, const struct q2_source *src)
{
	const struct q2_view *view = &q2_views[run->opts->view];
	struct q2_walker w = { .em = &run->em, .opts = run->opts, .src = src };
	bool *sel = select_bitmaps(run->opts, src->img);

	/* out of memory for the selection: show nothing rather than all */
	if (run->opts->n_names && !sel)
		return;
	w.selected = sel;
	if (view->check)
		q2_check(src->img);
	run->em.image = src->path;
	q2_walk_record(&w, view->image, src->img, NULL);
	run->em.images_shown++;
	free(sel);
}

void q2_run_end(struct q2_run *run)
{
	run->em.fmt->end(&run->em);
	free(run->em.state);
	run->em.state = NULL;
}
