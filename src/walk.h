/* The walker: the one traversal of the model.  It owns the view (what to
 * show), the -n selection and the order of records, and drives a format's
 * leaf callbacks (emit.h) through the descriptions (describe.h).  A new
 * view is a row of the view table and a traversal step here. */
#ifndef QCOW2DUMP_WALK_H
#define QCOW2DUMP_WALK_H

#include <stdbool.h>
#include <stddef.h>

#include "chain.h"
#include "describe.h"
#include "emit.h"
#include "extents.h"
#include "out.h"
#include "qcow2.h"
#include "reader.h"

enum q2_view_id {
	Q2_VIEW_DEFAULT,     /* header, then every extension */
	Q2_VIEW_EXTENSIONS,  /* extensions only */
	Q2_VIEW_BITMAPS,     /* bitmap directory entries only */
	Q2_VIEW_CHECK,       /* problems found against the spec */
	Q2_VIEW_EXTENTS,     /* dirty ranges of each bitmap */
	Q2_VIEW_CODES,       /* --list-checks: the problem table */
	Q2_VIEW_CHAIN_EXTENTS, /* -x --backing-chain: bitmaps merged by name */
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
	bool backing_chain;      /* --backing-chain: every layer of each IMAGE */
};

struct q2_view {
	const struct q2_desc *image;   /* one image's document */
	/* CSV's table: the record each row shows, and with -t; a group
	 * record's columns go around each of its rows' (and a group with
	 * no rows still gets one) */
	const struct q2_desc *csv_row, *csv_row_table, *csv_group;
	bool load_tables;              /* reads the bitmap tables */
	bool check;                    /* runs --check */
	bool verdict;                  /* shows the usable verdict (in JSON
					* and CSV it always does) */
	bool csv_no_image;             /* CSV rows are not about an image */
	bool text_label;               /* text heads each image (several) */
	bool chain_doc;                /* one document per backing chain, not
					* per layer (-x --backing-chain) */
	bool load_snapshots;           /* decodes the snapshot table */
	bool no_bitmaps;               /* shows no bitmap: no verdict to make */
};

extern const struct q2_view q2_views[Q2_VIEW_COUNT_];

/* One image to show. */
struct q2_source {
	const char *path;
	const struct q2_reader *r;     /* -x reads the data clusters */
	struct q2_image *img;          /* the walk adds problems to it */
	bool unopened;                 /* img only says why it could not be
					* opened */
	/* --backing-chain: the layer and the IMAGE at the top */
	const struct q2_layer *layer;
	uint32_t backing_depth;
	const char *top;
};

struct q2_walker {
	struct q2_emitter *em;
	const struct q2_run_opts *opts;
	const struct q2_source *src;
	const bool *selected;          /* per directory entry; NULL: all */
	bool verdict;                  /* the bitmaps' states are computed */
	/* the bitmap being walked, for records under it */
	const struct q2_bitmap *bitmap;
	uint32_t bitmap_index;
	uint64_t dirty_bytes;          /* of the -x bitmap being walked */
	struct q2_seen *seen;          /* -x: data clusters read so far */
	/* -x --backing-chain: the chain's layers, per layer the data
	 * clusters read, the problems of the chain itself, the names */
	struct q2_chain *chain;
	const struct q2_source *layers;
	struct q2_seen *layer_seen;
	struct q2_problems *chain_problems;
	struct q2_checkpoints *checkpoints;
};

/* A bitmap table entry, for the records that show one. */
struct q2_table_ref {
	uint32_t index;
	uint64_t entry;
};

/* A run: one format over the images given, in order. */
struct q2_run {
	struct q2_emitter em;
	const struct q2_run_opts *opts;
};

/* false when out of memory */
bool q2_run_begin(struct q2_run *run, const struct q2_format *fmt,
		  const struct q2_run_opts *opts, struct q2_out *out);
/* What the decoder must load for the run's view and format. */
struct q2_decode_opts q2_run_decode_opts(const struct q2_run *run);
/* Selects the bitmaps -n names (a NAME the image lacks is a problem),
 * runs the checks and the verdict the view asks for, and walks the
 * image.  src->img->lock must hold the lock probe's answer. */
void q2_run_image(struct q2_run *run, const struct q2_source *src);
/* The same in three steps, for --backing-chain (walk_chain.c): the -n
 * selection (NULL: all, or out of memory when names were given: then
 * *ok is false), the checks and verdict the view asks for, the walk. */
bool *q2_run_select(struct q2_run *run, const struct q2_source *src, bool *ok);
void q2_run_judge(struct q2_run *run, const struct q2_source *src);
void q2_run_show(struct q2_run *run, const struct q2_source *src,
		 const bool *sel);
/* --backing-chain: every layer of the chain c of one IMAGE, or (-x) its
 * bitmaps merged by name; the chain's own problems (a merged bitmap
 * not usable, a NAME no layer has) go to c->problems with -x, else to
 * the top layer's. */
struct q2_chain;
void q2_run_chain(struct q2_run *run, struct q2_chain *c);
/* A chain's view (-x --backing-chain) of one image alone, as the chain
 * of that one layer; what the walk finds is added to src->img. */
void q2_run_chain_of_one(struct q2_run *run, const struct q2_source *src);
/* Whether the run computes the bitmaps' verdicts. */
bool q2_run_needs_verdict(const struct q2_run *run);
/* -x --backing-chain: the document of one chain */
extern const struct q2_desc q2_chain_document;
void q2_run_end(struct q2_run *run);
/* --list-checks: every code of the problem table, as one list. */
void q2_run_codes(struct q2_run *run);

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
/* Where the extent scans of one image and of a merged chain send each
 * range: one record of col's child, counted in n. */
struct q2_extent_sink {
	struct q2_walker *w;
	const struct q2_col *col;
	size_t n;
};
int q2_walk_on_extent(void *ctx, uint64_t start, uint64_t length);

void q2_walk_extents(struct q2_walker *w, const void *bm,
		     const struct q2_col *col);
void q2_walk_problems(struct q2_walker *w, const void *img,
		      const struct q2_col *col);
void q2_walk_problems_if_any(struct q2_walker *w, const void *img,
			     const struct q2_col *col);
/* --backing-chain (walk_chain.c) */
void q2_walk_layers(struct q2_walker *w, const void *chain,
		    const struct q2_col *col);
void q2_walk_layer_problems(struct q2_walker *w, const void *src,
			    const struct q2_col *col);
void q2_walk_checkpoints(struct q2_walker *w, const void *chain,
			 const struct q2_col *col);
void q2_walk_merged_extents(struct q2_walker *w, const void *cp,
			    const struct q2_col *col);
void q2_walk_chain_problems(struct q2_walker *w, const void *chain,
			    const struct q2_col *col);
void q2_walk_snapshots(struct q2_walker *w, const void *img,
		       const struct q2_col *col);

#endif
