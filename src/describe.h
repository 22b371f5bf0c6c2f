/* What every output shows: one description per record (an on-disk
 * structure, or a derived one such as a dirty range or a problem), as a
 * table of columns in the order JSON keys, text lines and CSV cells take
 * them (as lsblk's infos[] and libsmartcols' column tables do).  Every
 * format renders these descriptions; a field added here shows up in each
 * format its column names. */
#ifndef QCOW2DUMP_DESCRIBE_H
#define QCOW2DUMP_DESCRIBE_H

#include <assert.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "chain.h"
#include "checkpoint.h"
#include "findings.h"
#include "map.h"
#include "model.h"

/* ---- what a run shows: views, options, the image being shown ---- */

enum q2_view_id {
	Q2_VIEW_DEFAULT,     /* header, then every extension */
	Q2_VIEW_EXTENSIONS,  /* extensions only */
	Q2_VIEW_BITMAPS,     /* bitmap directory entries only */
	Q2_VIEW_CHECK,       /* problems found against the spec */
	Q2_VIEW_EXTENTS,     /* dirty ranges of each bitmap */
	Q2_VIEW_CODES,       /* --list-checks: the problem table */
	Q2_VIEW_CHAIN_EXTENTS, /* -x --backing-chain: bitmaps merged by name */
	Q2_VIEW_SNAPSHOTS,   /* the internal snapshot table */
	Q2_VIEW_MAP,         /* --map: the allocation map of the chain */
	Q2_VIEW_EXTENTS_MAP, /* -x --map: dirty ranges split by the map */
	Q2_VIEW_CHAIN_EXTENTS_MAP, /* -x --map --backing-chain */
	Q2_VIEW_AT,          /* --at OFFSET: what owns that byte of the file */
	Q2_VIEW_LAYOUT,      /* --layout: every structure of the file, in order */
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
	/* --map: the range walked, as qemu-img map's --start-offset and
	 * --max-length */
	uint64_t start_offset;
	uint64_t max_length;
	bool has_max_length;
	/* --at: the offsets asked about, in the order given */
	const uint64_t *at;
	size_t n_at;
};

struct q2_desc;

struct q2_view {
	const struct q2_desc *image;   /* one image's document */
	/* CSV's table: the record each row shows, and with -t; a group
	 * record's columns go around each of its rows' (and a group with
	 * no rows still gets one) */
	const struct q2_desc *csv_row, *csv_row_table, *csv_group;
	bool load_tables;              /* reads the bitmap tables */
	bool scans_data;               /* reads the bitmaps' data clusters */
	bool check;                    /* runs --check */
	bool verdict;                  /* shows the usable verdict (in JSON
					* and CSV it always does) */
	bool csv_no_image;             /* CSV rows are not about an image */
	bool text_label;               /* text heads each image (several) */
	bool chain_doc;                /* one document per backing chain, not
					* per layer (-x --backing-chain) */
	bool load_snapshots;           /* decodes the snapshot table */
	bool no_bitmaps;               /* shows no bitmap: no verdict to make */
	bool extents;                  /* -x: a bitmap shown not usable is an error */
	/* reads the guest-data tables of the whole backing chain (the map),
	 * whether or not --backing-chain shows its layers */
	bool map;
};

extern const struct q2_view q2_views[Q2_VIEW_COUNT_];

/* One layer of the chain being shown, and what the judge found of it. */
struct q2_source {
	const char *path;
	const struct q2_layer *layer;
	const struct q2_image *img;
	const struct q2_findings *findings;
	uint32_t backing_depth;
	const char *top;               /* the IMAGE at the top */
};

/* What a column's value may depend on besides its record: the run, the
 * layer shown and where the walk is in it.  The walker keeps it. */
struct q2_cursor {
	const struct q2_run_opts *opts;
	const struct q2_source *src;
	bool verdict;                  /* the bitmaps' verdicts were made */
	/* the bitmap being walked, for records under it */
	const struct q2_bitmap *bitmap;
	uint32_t bitmap_index;
	uint64_t dirty_bytes;          /* of the -x bitmap being walked */
	uint64_t data_bytes, zero_bytes; /* -x --map: its pieces, by kind */
	bool pieces_unknown;           /* and some piece is unknown */
	uint64_t at;                   /* --at: the offset of the document */
};

/* The traversal steps that nested records take (walk.c has one function
 * for each). */
enum q2_step {
	Q2_STEP_NONE,
	Q2_STEP_HEADER,
	Q2_STEP_EXTENSIONS,
	Q2_STEP_FEATURES,
	Q2_STEP_CRYPTO,
	Q2_STEP_BITMAPS_EXT,
	Q2_STEP_DIRECTORY,
	Q2_STEP_IMAGE_BITMAPS,
	Q2_STEP_BITMAP_TABLE,
	Q2_STEP_EXTENTS,
	Q2_STEP_PROBLEMS,         /* every problem of the image, a list */
	Q2_STEP_PROBLEMS_IF_ANY,  /* the same, when there are any */
	Q2_STEP_SNAPSHOTS,
	Q2_STEP_LAYERS,
	Q2_STEP_LAYER_PROBLEMS,
	Q2_STEP_CHECKPOINTS,
	Q2_STEP_MERGED_EXTENTS,
	Q2_STEP_CHAIN_PROBLEMS,
	Q2_STEP_MAP,              /* --map: the map's entries */
	Q2_STEP_TOTALS,           /* -c: qemu-img check's totals, one record */
	Q2_STEP_OWNERS_AT,        /* --at: the owners of the cursor's offset */
	Q2_STEP_LAYOUT,           /* --layout: every structure, in file order */
	Q2_STEP_COUNT_
};

/* Formats a column may be shown in. */
enum {
	Q2_IN_TEXT = 1u << 0,
	Q2_IN_JSON = 1u << 1,
	Q2_IN_CSV = 1u << 2,
	Q2_IN_ALL = Q2_IN_TEXT | Q2_IN_JSON | Q2_IN_CSV,
};

enum q2_vtype {
	Q2_V_ABSENT,   /* not there: no JSON key, no text line, empty CSV cell */
	Q2_V_NULL,     /* there but undefined: JSON null */
	Q2_V_U64,
	Q2_V_BOOL,
	Q2_V_WORD,     /* a fixed ASCII word of this program: "serialized" */
	Q2_V_BYTES,    /* bytes from the image (names, strings), lossless */
	Q2_V_QUOTED,   /* qcow2.py's data_str: the bytes in single quotes */
	Q2_V_HEX,      /* bytes written as hex digits */
	Q2_V_BITS,     /* a set of named bits */
	Q2_V_U64_LIST, /* n numbers at p (uint64_t) */
};

/* The name of one bit of a Q2_V_BITS value; may live in buf. */
#define Q2_NAME_BUF 64
typedef const char *(*q2_bit_name_fn)(const void *ctx, unsigned bit,
				      char buf[Q2_NAME_BUF]);

struct q2_value {
	enum q2_vtype type;
	uint64_t u;              /* U64, BOOL, BITS */
	const void *p;           /* WORD (NUL-terminated), BYTES, QUOTED, HEX */
	size_t n;
	q2_bit_name_fn bit_name; /* BITS */
	const void *bit_ctx;
};

struct q2_desc;

/* A column is named by its id: an enum per record (Q2_PC_* for the
 * problem's, the others' in describe.c), its index in the record's
 * column array, as lsblk's COL_* index its infos[].  Code that picks a
 * column picks it by id, never by key or by position. */
struct q2_col {
	unsigned id;              /* its index in its array */
	const char *key;          /* JSON key, CSV column name */
	const char *csv_key;      /* CSV column name, when it differs */
	const char *label;        /* text label, when it differs from key */
	unsigned in;              /* Q2_IN_* */
	enum q2_fmt text;         /* numbers in text, but for a field's,
				   * which its field gives (q2_col_text_fmt) */
	unsigned width;           /* text rows: the column's width */
	const char *hex_key;      /* BYTES that are not UTF-8: JSON key of
				   * their hex beside the text */
	/* The value: an on-disk field of the record's struct, or computed. */
	const struct q2_field *field;
	void (*get)(const struct q2_cursor *w, const void *obj,
		    struct q2_value *v);
	/* Or nested records: the walk emits them (a list or one record). */
	enum q2_step step;
	const struct q2_desc *child;
};

static inline const char *q2_col_key(const struct q2_col *c)
{
	return c->key ? c->key : c->field->name;
}

static inline const char *q2_col_csv_key(const struct q2_col *c)
{
	return c->csv_key ? c->csv_key : q2_col_key(c);
}

static inline const char *q2_col_label(const struct q2_col *c)
{
	return c->label ? c->label : q2_col_key(c);
}

/* The one print format of the column's numbers in text: its field's, or
 * its own .text; a field's column gives none of its own. */
static inline enum q2_fmt q2_col_text_fmt(const struct q2_col *c)
{
	assert(!c->field || c->text == Q2_FMT_DEC);
	return c->field ? c->field->fmt : c->text;
}

/* The records, for formats that lay some out their own way. */
enum q2_rec {
	Q2_REC_IMAGE,
	Q2_REC_HEADER,
	Q2_REC_EXTENSION,
	Q2_REC_FEATURE,
	Q2_REC_CRYPTO,
	Q2_REC_BITMAPS_EXT,
	Q2_REC_BITMAP,
	Q2_REC_TABLE_ENTRY,
	Q2_REC_XBITMAP,          /* -x: a bitmap and its dirty ranges */
	Q2_REC_EXTENT,
	Q2_REC_PROBLEM,
	Q2_REC_CODE,             /* --list-checks: a row of the problem table */
	Q2_REC_LAYER,            /* --backing-chain: a layer of the chain */
	Q2_REC_CHECKPOINT,       /* -x --backing-chain: a bitmap merged */
	Q2_REC_SNAPSHOT,         /* -s: a snapshot table entry */
	Q2_REC_MAP_ENTRY,        /* --map: a range of the map */
	Q2_REC_PIECE,            /* -x --map: a dirty range within one */
	Q2_REC_TOTALS,           /* -c: the rebuild's totals */
	Q2_REC_OWNER,            /* --at, --layout: a structure's bytes */
	Q2_REC_COUNT_
};

struct q2_desc {
	enum q2_rec rec;
	const struct q2_col *cols;
	size_t n_cols;
	/* Columns after all of cols: what streaming steps under cols (the
	 * extent scan, the merge) may add to, the problems above all, so
	 * that they show what was met while cols were walked. */
	const struct q2_col *trailer;
	size_t n_trailer;
	/* CSV's column order when it differs from cols': their ids */
	const unsigned *csv_order;
	size_t n_csv_order;
};

extern const struct q2_desc q2_desc_header;
extern const struct q2_desc q2_desc_extension;
extern const struct q2_desc q2_desc_feature;
extern const struct q2_desc q2_desc_crypto;
extern const struct q2_desc q2_desc_bitmaps_ext;
extern const struct q2_desc q2_desc_bitmap;
extern const struct q2_desc q2_desc_table_entry;
extern const struct q2_desc q2_desc_xbitmap;
extern const struct q2_desc q2_desc_xbitmap_map;    /* -x --map */
extern const struct q2_desc q2_desc_extent;
extern const struct q2_desc q2_desc_problem;
/* The problem's column ids (text lays a problem out on a line of its
 * own, picking its fields by them). */
enum q2_problem_col {
	Q2_PC_SEVERITY,
	Q2_PC_CODE,
	Q2_PC_MESSAGE,
	Q2_PC_OFFSET,
	Q2_PC_BITMAP,
	Q2_PC_COUNT_
};
extern const struct q2_desc q2_desc_code;
extern const struct q2_desc q2_desc_layer;
extern const struct q2_desc q2_desc_checkpoint;
extern const struct q2_desc q2_desc_checkpoint_map; /* -x --map --backing-chain */
extern const struct q2_desc q2_desc_snapshot;
/* --map: a range, struct q2_map_entry; text lays it out as qemu-img
 * map's human output, picking its fields by these ids */
extern const struct q2_desc q2_desc_map_entry;
enum q2_map_col {
	Q2_MC_START,
	Q2_MC_LENGTH,
	Q2_MC_DEPTH,
	Q2_MC_PRESENT,
	Q2_MC_ZERO,
	Q2_MC_DATA,
	Q2_MC_COMPRESSED,
	Q2_MC_OFFSET,
	Q2_MC_FILE,
	Q2_MC_COUNT_
};
/* -c: qemu-img check's totals (struct q2_totals); text lays them out as
 * qemu-img check's human report, by these ids */
extern const struct q2_desc q2_desc_totals;
enum q2_totals_col {
	Q2_TC_CORRUPTIONS,
	Q2_TC_LEAKS,
	Q2_TC_CHECK_ERRORS,
	Q2_TC_IMAGE_END_OFFSET,
	Q2_TC_TOTAL_CLUSTERS,
	Q2_TC_ALLOCATED_CLUSTERS,
	Q2_TC_FRAGMENTED_CLUSTERS,
	Q2_TC_COMPRESSED_CLUSTERS,
	Q2_TC_COUNT_
};
/* --at, --layout: a span of the file and its owner (struct
 * q2_owner_rec); text lays it out by these ids */
extern const struct q2_desc q2_desc_owner;
enum q2_owner_col {
	Q2_OC_STRUCTURE,
	Q2_OC_START,
	Q2_OC_LENGTH,
	Q2_OC_REFCOUNT,
	Q2_OC_L1_INDEX,
	Q2_OC_GUEST_OFFSET,
	Q2_OC_SNAPSHOT,
	Q2_OC_BITMAP,
	Q2_OC_INDEX,
	Q2_OC_COUNT_
};
/* -x --map: a piece of a dirty range, struct q2_map_entry too */
extern const struct q2_desc q2_desc_piece;
/* -x --backing-chain: the document of one chain */
extern const struct q2_desc q2_desc_chain;

/* A bitmap table entry, for the records that show one. */
struct q2_table_ref {
	uint32_t index;
	uint64_t entry;
};

/* The column at CSV position i of d. */
static inline const struct q2_col *q2_csv_col(const struct q2_desc *d,
					      size_t i)
{
	size_t id;

	assert(i < (d->csv_order ? d->n_csv_order : d->n_cols));
	id = d->csv_order ? d->csv_order[i] : i;
	assert(id < d->n_cols && d->cols[id].id == id);
	return &d->cols[id];
}

static inline size_t q2_csv_n_cols(const struct q2_desc *d)
{
	return d->csv_order ? d->n_csv_order : d->n_cols;
}

/* ---- names and derived values ---- */

enum q2_feature_type {
	Q2_FEAT_INCOMPATIBLE = 0,
	Q2_FEAT_COMPATIBLE = 1,
	Q2_FEAT_AUTOCLEAR = 2,
};

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

#endif
