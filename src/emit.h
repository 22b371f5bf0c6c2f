/* The emitter seam: each output format is one struct of functions that only
 * read the model.  main picks one by name; adding a format adds a row to
 * the table in emit.c and touches no decoder code. */
#ifndef QCOW2DUMP_EMIT_H
#define QCOW2DUMP_EMIT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include "check.h"
#include "qcow2.h"

enum q2_view {
	Q2_VIEW_DEFAULT,     /* header, then every extension */
	Q2_VIEW_EXTENSIONS,  /* extensions only */
	Q2_VIEW_BITMAPS,     /* bitmap directory entries only */
	Q2_VIEW_CHECK,       /* problems found against the spec */
	Q2_VIEW_EXTENTS,     /* dirty ranges of each bitmap */
};

struct q2_emit_opts {
	enum q2_view view;
	bool bitmap_table;   /* -t */
	bool compact;        /* --compact: one line per JSON document */
	size_t n_images;     /* how many images this run renders */
};

/* One image to render. */
struct q2_emit_image {
	const char *path;
	size_t index;              /* among the images of this run */
	const struct q2_image *img;
	/* Per entry of q2_image_bitmaps(img): shown or not (-n); NULL for
	 * all. */
	const bool *selected;
	/* Decoding errors, then (with --check) what the checks found. */
	const struct q2_problems *problems;
};

static inline bool q2_emit_selected(const struct q2_emit_image *im, size_t i)
{
	return !im->selected || im->selected[i];
}

struct q2_emitter {
	const char *name;
	/* Each may be NULL.  They return 0, or -1 when writing failed. */
	int (*begin)(FILE *out, const struct q2_emit_opts *opts);
	int (*image)(FILE *out, const struct q2_emit_image *im,
		     const struct q2_emit_opts *opts);
	int (*end)(FILE *out, const struct q2_emit_opts *opts);

	/* -x: main scans the selected bitmaps one after another and streams
	 * their extents through these, in this order:
	 * x_image_begin, then per bitmap x_bitmap_begin, x_extent...,
	 * x_bitmap_end, and last x_image_end.  nth counts from 0. */
	int (*x_image_begin)(FILE *out, const struct q2_emit_image *im,
			     const struct q2_emit_opts *opts);
	int (*x_bitmap_begin)(FILE *out, const struct q2_emit_image *im,
			      const struct q2_bitmap *bm, size_t nth,
			      const struct q2_emit_opts *opts);
	int (*x_extent)(FILE *out, const struct q2_emit_image *im,
			const struct q2_bitmap *bm, size_t nth, uint64_t start,
			uint64_t length, const struct q2_emit_opts *opts);
	int (*x_bitmap_end)(FILE *out, const struct q2_bitmap *bm,
			    size_t n_extents, uint64_t dirty_bytes,
			    const struct q2_emit_opts *opts);
	int (*x_image_end)(FILE *out, const struct q2_emit_image *im,
			   size_t n_bitmaps, const struct q2_emit_opts *opts);
};

extern const struct q2_emitter q2_emitter_text;
extern const struct q2_emitter q2_emitter_json;
extern const struct q2_emitter q2_emitter_csv;

/* -x for one image: scans each selected bitmap of im with the extent
 * scanner and streams the extents through em's x_* hooks.  An in_use
 * bitmap and a bitmap whose data cannot be read are added to problems.
 * Returns 0, or -1 when writing failed. */
int q2_emit_extents(FILE *out, const struct q2_emitter *em,
		    const struct q2_reader *r, const struct q2_emit_image *im,
		    const struct q2_emit_opts *opts, struct q2_problems *problems);

const struct q2_emitter *q2_emitter_find(const char *name);
/* "text, json, csv": the table's names into buf, for messages. */
char *q2_emitter_names(char *buf, size_t size);

#endif
