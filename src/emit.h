/* The emitter seam: each output format is one struct of functions that only
 * read the model.  main picks one by name; adding a format adds a row to
 * the table in emit.c and touches no decoder code. */
#ifndef QCOW2DUMP_EMIT_H
#define QCOW2DUMP_EMIT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include "qcow2.h"

enum q2_view {
	Q2_VIEW_DEFAULT,     /* header, then every extension */
	Q2_VIEW_EXTENSIONS,  /* extensions only */
};

struct q2_emit_opts {
	enum q2_view view;
	bool bitmap_table;   /* -t */
	size_t n_images;     /* how many images this run renders */
};

struct q2_emitter {
	const char *name;
	/* Each may be NULL.  They return 0, or -1 when writing failed. */
	int (*begin)(FILE *out, const struct q2_emit_opts *opts);
	int (*image)(FILE *out, const char *path, size_t index,
		     const struct q2_image *img, const struct q2_emit_opts *opts);
	int (*end)(FILE *out, const struct q2_emit_opts *opts);
};

extern const struct q2_emitter q2_emitter_text;

const struct q2_emitter *q2_emitter_find(const char *name);
/* "text, json, csv": the names, for --help and error messages. */
const char *q2_emitter_names(void);

#endif
