/* Names and derived values that the structured emitters (JSON, CSV) share,
 * and the one table of bitmap columns they both render: a field added
 * here shows up in both. */
#ifndef QCOW2DUMP_DESCRIBE_H
#define QCOW2DUMP_DESCRIBE_H

#include <stdbool.h>
#include <stdint.h>

#include "qcow2.h"

enum q2_feature_type {
	Q2_FEAT_INCOMPATIBLE = 0,
	Q2_FEAT_COMPATIBLE = 1,
	Q2_FEAT_AUTOCLEAR = 2,
};

#define Q2_NAME_BUF 64

/* The spec's name of a feature bit; an unknown bit takes its name from
 * the image's feature name table when it has one, else "bit-N".  The
 * result may live in buf. */
const char *q2_feature_name(const struct q2_image *img, enum q2_feature_type t,
			    unsigned bit, char buf[Q2_NAME_BUF]);
const char *q2_feature_type_name(unsigned type);

/* qcow2.py shows an extension's data quoted when every byte is in
 * Python's string.printable (ASCII graphics and " \t\n\r\v\f"), else
 * as <binary>. */
bool q2_ext_data_printable(const struct q2_ext *x);

/* in_use, auto, extra_data_compatible, else bit-N (in buf). */
const char *q2_bitmap_flag_name(unsigned bit, char buf[Q2_NAME_BUF]);

/* 1 << granularity_bits, false when that does not fit in 64 bits. */
bool q2_bitmap_granularity(const struct q2_bitmap *bm, uint64_t *out);

/* What one bitmap column holds. */
enum q2_col_kind {
	Q2_COL_FIELD,        /* a row of q2_dir_entry_fields */
	Q2_COL_NAME,         /* the name bytes */
	Q2_COL_FLAG_NAMES,   /* the names of the set flag bits */
	Q2_COL_GRANULARITY,  /* bytes, or none when it overflows */
};

struct q2_bitmap_col {
	const char *name;
	enum q2_col_kind kind;
	const struct q2_field *field; /* for Q2_COL_FIELD */
};

static inline const char *q2_bitmap_col_name(const struct q2_bitmap_col *c)
{
	return c->name ? c->name : c->field->name;
}

extern const struct q2_bitmap_col q2_bitmap_cols[];
extern const size_t q2_n_bitmap_cols;

#endif
