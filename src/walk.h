/* The walker: the one traversal of the model.  It owns the view (what to
 * show), the -n selection and the order of records, and drives a format's
 * leaf callbacks (emit.h) through the descriptions (describe.h).  A new
 * view is a row of the view table and a traversal step here. */
#ifndef QCOW2DUMP_WALK_H
#define QCOW2DUMP_WALK_H

#include <stdbool.h>
#include <stddef.h>

#include "describe.h"
#include "emit.h"
#include "out.h"
#include "qcow2.h"
#include "reader.h"

enum q2_view_id {
	Q2_VIEW_DEFAULT,     /* header, then every extension */
	Q2_VIEW_EXTENSIONS,  /* extensions only */
	Q2_VIEW_BITMAPS,     /* bitmap directory entries only */
	Q2_VIEW_CHECK,       /* problems found against the spec */
	Q2_VIEW_EXTENTS,     /* dirty ranges of each bitmap */
	Q2_VIEW_SNAPSHOTS,   /* the internal snapshot table */
	Q2_VIEW_COUNT_
};

struct q2_run_opts {
	enum q2_view_id view;
	bool bitmap_table;       /* -t */
	bool compact;            /* --compact: one line per JSON document */
	size_t n_images;         /* how many images this run shows */
	char *const *names;      /* -n NAME..., or none */
	size_t n_names;
};

struct q2_view {
	const struct q2_desc *image;   /* one image's document */
	/* CSV's table: the record each row shows, and with -t */
	const struct q2_desc *csv_row, *csv_row_table;
	bool load_tables;              /* reads the bitmap tables */
	bool check;                    /* runs --check */
	bool text_label;               /* text heads each image (several) */
	bool text_label_blank;         /* with a blank line before it */
	bool load_snapshots;           /* decodes the snapshot table */
};

extern const struct q2_view q2_views[Q2_VIEW_COUNT_];

/* One image to show. */
struct q2_source {
	const char *path;
	const struct q2_reader *r;     /* -x reads the data clusters */
	struct q2_image *img;          /* the walk adds problems to it */
};

struct q2_walker {
	struct q2_emitter *em;
	const struct q2_run_opts *opts;
	const struct q2_source *src;
	const bool *selected;          /* per directory entry; NULL: all */
	/* the bitmap being walked, for records under it */
	const struct q2_bitmap *bitmap;
	uint32_t bitmap_index;
	uint64_t dirty_bytes;          /* of the -x bitmap being walked */
};

/* A run: one format over the images given, in order. */
struct q2_run {
	struct q2_emitter em;
	const struct q2_run_opts *opts;
};

/* What the decoder must load for the run's view. */
struct q2_decode_opts q2_run_decode_opts(const struct q2_run_opts *opts);
/* false when out of memory */
bool q2_run_begin(struct q2_run *run, const struct q2_format *fmt,
		  const struct q2_run_opts *opts, struct q2_out *out);
/* Selects the bitmaps -n names (a NAME the image lacks is a problem),
 * runs the checks the view asks for, and walks the image. */
void q2_run_image(struct q2_run *run, const struct q2_source *src);
void q2_run_end(struct q2_run *run);

/* ---- for the descriptions' columns ---- */

/* The record obj described by d, under key (NULL in a list). */
void q2_walk_record(struct q2_walker *w, const struct q2_desc *d,
		    const void *obj, const char *key);

/* Traversal steps the descriptions name. */
void q2_walk_header(struct q2_walker *w, const void *img,
		    const struct q2_col *col);
void q2_walk_extensions(struct q2_walker *w, const void *img,
			const struct q2_col *col);
void q2_walk_features(struct q2_walker *w, const void *ext,
		      const struct q2_col *col);
void q2_walk_crypto(struct q2_walker *w, const void *ext,
		    const struct q2_col *col);
void q2_walk_bitmaps_ext(struct q2_walker *w, const void *ext,
			 const struct q2_col *col);
void q2_walk_directory(struct q2_walker *w, const void *bx,
		       const struct q2_col *col);
void q2_walk_image_bitmaps(struct q2_walker *w, const void *img,
			   const struct q2_col *col);
void q2_walk_bitmap_table(struct q2_walker *w, const void *bm,
			  const struct q2_col *col);
void q2_walk_xbitmaps(struct q2_walker *w, const void *img,
		      const struct q2_col *col);
void q2_walk_extents(struct q2_walker *w, const void *bm,
		     const struct q2_col *col);
void q2_walk_problems(struct q2_walker *w, const void *img,
		      const struct q2_col *col);
void q2_walk_problems_if_any(struct q2_walker *w, const void *img,
			     const struct q2_col *col);
void q2_walk_snapshots(struct q2_walker *w, const void *img,
		       const struct q2_col *col);

#endif
