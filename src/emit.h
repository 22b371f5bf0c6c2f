/* The output formats: each is a small table of leaf callbacks that the
 * walker (walk.h) drives through the descriptions of describe.h.  A
 * format knows how to lay out a record, a list and a field; it never
 * looks at the model, and adding one touches no decoder code. */
#ifndef QCOW2DUMP_EMIT_H
#define QCOW2DUMP_EMIT_H

#include <stdbool.h>
#include <stddef.h>

#include "describe.h"
#include "out.h"


/* A format at work over one run of images. */
struct q2_emitter {
	const struct q2_format *fmt;
	struct q2_out *out;
	const struct q2_run_opts *opts;
	const struct q2_view *view;
	const char *image;        /* path of the image being shown */
	bool unopened;            /* it could not be opened: only problems */
	uint32_t backing_depth;   /* --backing-chain: the layer's */
	uint64_t at;              /* --at: the offset of the document */
	size_t images_shown;      /* before this one */
	void *state;              /* the format's own, state_size bytes */
};

struct q2_format {
	const char *name;
	unsigned in;              /* its Q2_IN_* bit */
	size_t state_size;
	/* the run begins and ends (CSV's header row) */
	void (*begin)(struct q2_emitter *e);
	void (*end)(struct q2_emitter *e);
	/* a record: under key in the enclosing record, or (key NULL) an
	 * item of a list or a whole document */
	void (*record_begin)(struct q2_emitter *e, const struct q2_desc *d,
			     const char *key);
	void (*record_end)(struct q2_emitter *e, const struct q2_desc *d);
	/* a list of records described by item, under key */
	void (*list_begin)(struct q2_emitter *e, const struct q2_desc *item,
			   const char *key);
	void (*list_end)(struct q2_emitter *e, const struct q2_desc *item,
			 size_t n_items);
	void (*field)(struct q2_emitter *e, const struct q2_col *c,
		      const struct q2_value *v);
};

extern const struct q2_format q2_format_text;
extern const struct q2_format q2_format_json;
extern const struct q2_format q2_format_csv;

const struct q2_format *q2_format_find(const char *name);
/* "text, json, csv": the table's names into buf, for messages. */
char *q2_format_names(char *buf, size_t size);

#endif
