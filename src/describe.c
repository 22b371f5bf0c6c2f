#include "config.h"

#include "describe.h"

#include <assert.h>
#include <stdio.h>
#include <string.h>

#include "owners.h"
#include "util.h"

/* ---- names ---- */

static const struct {
	enum q2_feature_type type;
	uint64_t bit;
	const char *name;
} known_features[] = {
	{ Q2_FEAT_INCOMPATIBLE, Q2_INCOMPAT_DIRTY, "dirty" },
	{ Q2_FEAT_INCOMPATIBLE, Q2_INCOMPAT_CORRUPT, "corrupt" },
	{ Q2_FEAT_INCOMPATIBLE, Q2_INCOMPAT_DATA_FILE, "external_data_file" },
	{ Q2_FEAT_INCOMPATIBLE, Q2_INCOMPAT_COMPRESSION, "compression_type" },
	{ Q2_FEAT_INCOMPATIBLE, Q2_INCOMPAT_EXTL2, "extended_l2" },
	{ Q2_FEAT_COMPATIBLE, Q2_COMPAT_LAZY_REFCOUNTS, "lazy_refcounts" },
	{ Q2_FEAT_AUTOCLEAR, Q2_AUTOCLEAR_BITMAPS, "bitmaps" },
	{ Q2_FEAT_AUTOCLEAR, Q2_AUTOCLEAR_DATA_FILE_RAW, "raw_external_data" },
};

const char *q2_feature_name(const struct q2_image *img, enum q2_feature_type t,
			    unsigned bit, char buf[Q2_NAME_BUF])
{
	for (size_t i = 0; i < Q2_ARRAY_SIZE(known_features); i++)
		if (known_features[i].type == t && known_features[i].bit == 1ull << bit)
			return known_features[i].name;
	for (size_t i = 0; img && i < img->n_exts; i++) {
		const struct q2_ext *x = &img->exts[i];

		for (size_t k = 0; k < x->n_features; k++)
			if (x->features[k].type == t && x->features[k].bit == bit &&
			    x->features[k].name[0])
				return x->features[k].name;
	}
	snprintf(buf, Q2_NAME_BUF, "bit-%u", bit);
	return buf;
}

const char *q2_feature_type_name(unsigned type)
{
	switch (type) {
	case Q2_FEAT_INCOMPATIBLE: return "incompatible";
	case Q2_FEAT_COMPATIBLE: return "compatible";
	case Q2_FEAT_AUTOCLEAR: return "autoclear";
	default: return "unknown";
	}
}

bool q2_ext_data_printable(const struct q2_ext *x)
{
	for (uint32_t i = 0; i < x->length; i++) {
		uint8_t c = x->data[i];

		if (!((c >= 0x20 && c < 0x7f) || (c >= 0x09 && c <= 0x0d)))
			return false;
	}
	return true;
}

const char *q2_bitmap_flag_name(unsigned bit, char buf[Q2_NAME_BUF])
{
	switch (1u << bit) {
	case Q2_BME_FLAG_IN_USE: return "in_use";
	case Q2_BME_FLAG_AUTO: return "auto";
	case Q2_BME_FLAG_EXTRA_DATA_COMPATIBLE: return "extra_data_compatible";
	default:
		snprintf(buf, Q2_NAME_BUF, "bit-%u", bit);
		return buf;
	}
}

/* ---- value helpers ---- */

static void set_u64(struct q2_value *v, uint64_t u)
{
	v->type = Q2_V_U64;
	v->u = u;
}

static void set_word(struct q2_value *v, const char *word)
{
	v->type = Q2_V_WORD;
	v->p = word;
	v->n = strlen(word);
}

static void set_bytes(struct q2_value *v, const void *p, size_t n)
{
	v->type = Q2_V_BYTES;
	v->p = p;
	v->n = n;
}

static void set_hex(struct q2_value *v, const void *p, size_t n)
{
	v->type = Q2_V_HEX;
	v->p = p;
	v->n = n;
}

/* Each record's columns are an array indexed by an enum of their ids, in
 * the order every format walks them; each column says its id again, for
 * the emitters that pick a column (emit_text.c, emit_csv.c). */
#define COL(id_, ...) [id_] = { .id = (id_), __VA_ARGS__ }
#define FIELD_COL(id_, table, row, formats) \
	COL(id_, .in = (formats), .field = &(table)[row])

/* ---- header ---- */

static const char *feature_bit_name(const void *ctx, unsigned bit,
				    char buf[Q2_NAME_BUF], enum q2_feature_type t)
{
	return q2_feature_name(ctx, t, bit, buf);
}

static const char *incompatible_name(const void *ctx, unsigned bit, char buf[Q2_NAME_BUF])
{
	return feature_bit_name(ctx, bit, buf, Q2_FEAT_INCOMPATIBLE);
}

static const char *compatible_name(const void *ctx, unsigned bit, char buf[Q2_NAME_BUF])
{
	return feature_bit_name(ctx, bit, buf, Q2_FEAT_COMPATIBLE);
}

static const char *autoclear_name(const void *ctx, unsigned bit, char buf[Q2_NAME_BUF])
{
	return feature_bit_name(ctx, bit, buf, Q2_FEAT_AUTOCLEAR);
}

static void get_compression_type(const struct q2_cursor *w, const void *obj,
				 struct q2_value *v)
{
	const struct q2_header *h = obj;

	(void)w;
	if (h->has_compression_type)
		set_u64(v, h->compression_type);
}

static void set_features(const struct q2_cursor *w, struct q2_value *v,
			 uint64_t bits, q2_bit_name_fn fn)
{
	v->type = Q2_V_BITS;
	v->u = bits;
	v->bit_name = fn;
	v->bit_ctx = w->src->img;
}

static void get_incompatible_names(const struct q2_cursor *w, const void *obj,
				   struct q2_value *v)
{
	set_features(w, v, ((const struct q2_header *)obj)->incompatible_features,
		     incompatible_name);
}

static void get_compatible_names(const struct q2_cursor *w, const void *obj,
				 struct q2_value *v)
{
	set_features(w, v, ((const struct q2_header *)obj)->compatible_features,
		     compatible_name);
}

static void get_autoclear_names(const struct q2_cursor *w, const void *obj,
				struct q2_value *v)
{
	set_features(w, v, ((const struct q2_header *)obj)->autoclear_features,
		     autoclear_name);
}

enum header_col {
	HDR_MAGIC,
	HDR_VERSION,
	HDR_BACKING_FILE_OFFSET,
	HDR_BACKING_FILE_SIZE,
	HDR_CLUSTER_BITS,
	HDR_SIZE,
	HDR_CRYPT_METHOD,
	HDR_L1_SIZE,
	HDR_L1_TABLE_OFFSET,
	HDR_REFCOUNT_TABLE_OFFSET,
	HDR_REFCOUNT_TABLE_CLUSTERS,
	HDR_NB_SNAPSHOTS,
	HDR_SNAPSHOT_OFFSET,
	HDR_INCOMPATIBLE_FEATURES,
	HDR_COMPATIBLE_FEATURES,
	HDR_AUTOCLEAR_FEATURES,
	HDR_REFCOUNT_ORDER,
	HDR_HEADER_LENGTH,
	HDR_COMPRESSION_TYPE,
	HDR_INCOMPATIBLE_NAMES,
	HDR_COMPATIBLE_NAMES,
	HDR_AUTOCLEAR_NAMES,
	HDR_COUNT_
};

#define HF(id_, row) \
	FIELD_COL(id_, q2_header_fields, row, Q2_IN_TEXT | Q2_IN_JSON)

static const struct q2_col header_cols[] = {
	HF(HDR_MAGIC, Q2_HF_MAGIC),
	HF(HDR_VERSION, Q2_HF_VERSION),
	HF(HDR_BACKING_FILE_OFFSET, Q2_HF_BACKING_FILE_OFFSET),
	HF(HDR_BACKING_FILE_SIZE, Q2_HF_BACKING_FILE_SIZE),
	HF(HDR_CLUSTER_BITS, Q2_HF_CLUSTER_BITS),
	HF(HDR_SIZE, Q2_HF_SIZE),
	HF(HDR_CRYPT_METHOD, Q2_HF_CRYPT_METHOD),
	HF(HDR_L1_SIZE, Q2_HF_L1_SIZE),
	HF(HDR_L1_TABLE_OFFSET, Q2_HF_L1_TABLE_OFFSET),
	HF(HDR_REFCOUNT_TABLE_OFFSET, Q2_HF_REFCOUNT_TABLE_OFFSET),
	HF(HDR_REFCOUNT_TABLE_CLUSTERS, Q2_HF_REFCOUNT_TABLE_CLUSTERS),
	HF(HDR_NB_SNAPSHOTS, Q2_HF_NB_SNAPSHOTS),
	HF(HDR_SNAPSHOT_OFFSET, Q2_HF_SNAPSHOT_OFFSET),
	HF(HDR_INCOMPATIBLE_FEATURES, Q2_HF_INCOMPATIBLE_FEATURES),
	HF(HDR_COMPATIBLE_FEATURES, Q2_HF_COMPATIBLE_FEATURES),
	HF(HDR_AUTOCLEAR_FEATURES, Q2_HF_AUTOCLEAR_FEATURES),
	HF(HDR_REFCOUNT_ORDER, Q2_HF_REFCOUNT_ORDER),
	HF(HDR_HEADER_LENGTH, Q2_HF_HEADER_LENGTH),
	COL(HDR_COMPRESSION_TYPE, .key = "compression_type", .in = Q2_IN_JSON,
	    .get = get_compression_type),
	COL(HDR_INCOMPATIBLE_NAMES, .key = "incompatible_feature_names",
	    .in = Q2_IN_JSON, .hex_key = "incompatible_feature_names_hex",
	    .get = get_incompatible_names),
	COL(HDR_COMPATIBLE_NAMES, .key = "compatible_feature_names",
	    .in = Q2_IN_JSON, .hex_key = "compatible_feature_names_hex",
	    .get = get_compatible_names),
	COL(HDR_AUTOCLEAR_NAMES, .key = "autoclear_feature_names",
	    .in = Q2_IN_JSON, .hex_key = "autoclear_feature_names_hex",
	    .get = get_autoclear_names),
};
Q2_STATIC_ASSERT(Q2_ARRAY_SIZE(header_cols) == HDR_COUNT_,
		 "a column for every id of the header");

/* ---- header extensions ---- */

static const struct q2_ext *ext_of(const void *obj)
{
	return obj;
}

static bool is_string_ext(const struct q2_ext *x)
{
	return x->kind == Q2_EXTK_BACKING_FORMAT || x->kind == Q2_EXTK_DATA_FILE;
}

static void get_ext_index(const struct q2_cursor *w, const void *obj,
			  struct q2_value *v)
{
	set_u64(v, (uint64_t)(ext_of(obj) - w->src->img->exts));
}

static void get_ext_name(const struct q2_cursor *w, const void *obj,
			 struct q2_value *v)
{
	(void)w;
	set_word(v, q2_ext_name(ext_of(obj)->magic));
}

static void get_ext_magic(const struct q2_cursor *w, const void *obj,
			  struct q2_value *v)
{
	(void)w;
	set_u64(v, ext_of(obj)->magic);
}

static void get_ext_length(const struct q2_cursor *w, const void *obj,
			   struct q2_value *v)
{
	(void)w;
	set_u64(v, ext_of(obj)->length);
}

static void get_ext_offset(const struct q2_cursor *w, const void *obj,
			   struct q2_value *v)
{
	(void)w;
	set_u64(v, ext_of(obj)->offset);
}

/* qcow2.py's data_str; the bitmaps extension shows its fields instead */
static void get_ext_data_str(const struct q2_cursor *w, const void *obj,
			     struct q2_value *v)
{
	const struct q2_ext *x = ext_of(obj);

	(void)w;
	if (x->bitmaps)
		return;
	if (!q2_ext_data_printable(x)) {
		set_word(v, "<binary>");
		return;
	}
	v->type = Q2_V_QUOTED;
	v->p = x->data;
	v->n = x->length;
}

static void get_ext_data_hex(const struct q2_cursor *w, const void *obj,
			     struct q2_value *v)
{
	const struct q2_ext *x = ext_of(obj);

	(void)w;
	if (!x->bitmaps)
		set_hex(v, x->data, x->length);
}

/* CSV: the two string extensions as text, any other as hex */
static void get_ext_csv_data(const struct q2_cursor *w, const void *obj,
			     struct q2_value *v)
{
	const struct q2_ext *x = ext_of(obj);

	(void)w;
	if (is_string_ext(x))
		set_bytes(v, x->data, x->length);
	else
		set_hex(v, x->data, x->length);
}

static void get_ext_string(const struct q2_cursor *w, const void *obj,
			   struct q2_value *v)
{
	const struct q2_ext *x = ext_of(obj);

	(void)w;
	if (is_string_ext(x))
		set_bytes(v, x->data, x->length);
}

enum extension_col {
	EXT_INDEX,
	EXT_NAME,
	EXT_MAGIC,
	EXT_LENGTH,
	EXT_OFFSET,
	EXT_DATA_STR,
	EXT_DATA_HEX,
	EXT_CSV_DATA,
	EXT_STRING,
	EXT_FEATURES,
	EXT_CRYPTO,
	EXT_BITMAPS,
	EXT_COUNT_
};

static const struct q2_col extension_cols[] = {
	COL(EXT_INDEX, .key = "index", .in = Q2_IN_CSV, .get = get_ext_index),
	COL(EXT_NAME, .key = "name", .in = Q2_IN_JSON | Q2_IN_CSV,
	    .get = get_ext_name),
	COL(EXT_MAGIC, .key = "magic", .in = Q2_IN_ALL, .text = Q2_FMT_EXTMAGIC,
	    .get = get_ext_magic),
	COL(EXT_LENGTH, .key = "length", .in = Q2_IN_ALL, .get = get_ext_length),
	COL(EXT_OFFSET, .key = "offset", .in = Q2_IN_JSON, .get = get_ext_offset),
	COL(EXT_DATA_STR, .key = "data_str", .label = "data",
	    .in = Q2_IN_TEXT | Q2_IN_JSON, .get = get_ext_data_str),
	COL(EXT_DATA_HEX, .key = "data_hex", .in = Q2_IN_JSON,
	    .get = get_ext_data_hex),
	COL(EXT_CSV_DATA, .key = "data", .in = Q2_IN_CSV, .get = get_ext_csv_data),
	COL(EXT_STRING, .key = "string", .in = Q2_IN_JSON, .hex_key = "string_hex",
	    .get = get_ext_string),
	COL(EXT_FEATURES, .key = "features", .in = Q2_IN_JSON,
	    .step = Q2_STEP_FEATURES, .child = &q2_desc_feature),
	COL(EXT_CRYPTO, .key = "crypto", .in = Q2_IN_JSON, .step = Q2_STEP_CRYPTO,
	    .child = &q2_desc_crypto),
	/* CSV walks through it to the directory's entries */
	COL(EXT_BITMAPS, .key = "data", .in = Q2_IN_ALL,
	    .step = Q2_STEP_BITMAPS_EXT, .child = &q2_desc_bitmaps_ext),
};
Q2_STATIC_ASSERT(Q2_ARRAY_SIZE(extension_cols) == EXT_COUNT_,
		 "a column for every id of the extension");

static void get_feature_type(const struct q2_cursor *w, const void *obj,
			     struct q2_value *v)
{
	(void)w;
	set_u64(v, ((const struct q2_feature *)obj)->type);
}

static void get_feature_type_name(const struct q2_cursor *w, const void *obj,
				  struct q2_value *v)
{
	(void)w;
	set_word(v, q2_feature_type_name(((const struct q2_feature *)obj)->type));
}

static void get_feature_bit(const struct q2_cursor *w, const void *obj,
			    struct q2_value *v)
{
	(void)w;
	set_u64(v, ((const struct q2_feature *)obj)->bit);
}

static void get_feature_name(const struct q2_cursor *w, const void *obj,
			     struct q2_value *v)
{
	const struct q2_feature *f = obj;

	(void)w;
	set_bytes(v, f->name, strlen(f->name));
}

enum feature_col {
	FEAT_TYPE,
	FEAT_TYPE_NAME,
	FEAT_BIT,
	FEAT_NAME,
	FEAT_COUNT_
};

static const struct q2_col feature_cols[] = {
	COL(FEAT_TYPE, .key = "type", .in = Q2_IN_JSON, .get = get_feature_type),
	COL(FEAT_TYPE_NAME, .key = "type_name", .in = Q2_IN_JSON,
	    .get = get_feature_type_name),
	COL(FEAT_BIT, .key = "bit", .in = Q2_IN_JSON, .get = get_feature_bit),
	COL(FEAT_NAME, .key = "name", .in = Q2_IN_JSON, .hex_key = "name_hex",
	    .get = get_feature_name),
};
Q2_STATIC_ASSERT(Q2_ARRAY_SIZE(feature_cols) == FEAT_COUNT_,
		 "a column for every id of the feature");

static void get_crypto_offset(const struct q2_cursor *w, const void *obj,
			      struct q2_value *v)
{
	(void)w;
	set_u64(v, ext_of(obj)->crypto_offset);
}

static void get_crypto_length(const struct q2_cursor *w, const void *obj,
			      struct q2_value *v)
{
	(void)w;
	set_u64(v, ext_of(obj)->crypto_length);
}

enum crypto_col {
	CRYPTO_OFFSET,
	CRYPTO_LENGTH,
	CRYPTO_COUNT_
};

static const struct q2_col crypto_cols[] = {
	COL(CRYPTO_OFFSET, .key = "offset", .in = Q2_IN_JSON,
	    .get = get_crypto_offset),
	COL(CRYPTO_LENGTH, .key = "length", .in = Q2_IN_JSON,
	    .get = get_crypto_length),
};
Q2_STATIC_ASSERT(Q2_ARRAY_SIZE(crypto_cols) == CRYPTO_COUNT_,
		 "a column for every id of the crypto header");

enum bitmaps_ext_col {
	BEXT_NB_BITMAPS,
	BEXT_RESERVED32,
	BEXT_DIRECTORY_SIZE,
	BEXT_DIRECTORY_OFFSET,
	BEXT_DIRECTORY,
	BEXT_COUNT_
};

#define BF(id_, row) \
	FIELD_COL(id_, q2_bitmaps_ext_fields, row, Q2_IN_TEXT | Q2_IN_JSON)

static const struct q2_col bitmaps_ext_cols[] = {
	BF(BEXT_NB_BITMAPS, Q2_BF_NB_BITMAPS),
	BF(BEXT_RESERVED32, Q2_BF_RESERVED32),
	BF(BEXT_DIRECTORY_SIZE, Q2_BF_DIRECTORY_SIZE),
	BF(BEXT_DIRECTORY_OFFSET, Q2_BF_DIRECTORY_OFFSET),
	COL(BEXT_DIRECTORY, .key = "bitmap_directory", .in = Q2_IN_ALL,
	    .step = Q2_STEP_DIRECTORY, .child = &q2_desc_bitmap),
};
Q2_STATIC_ASSERT(Q2_ARRAY_SIZE(bitmaps_ext_cols) == BEXT_COUNT_,
		 "a column for every id of the bitmaps extension");

/* ---- bitmap directory entries ---- */

static const struct q2_bitmap *bitmap_of(const void *obj)
{
	return obj;
}

static void get_bitmap_name(const struct q2_cursor *w, const void *obj,
			    struct q2_value *v)
{
	const struct q2_bitmap *bm = bitmap_of(obj);

	(void)w;
	set_bytes(v, bm->name, bm->name_size);
}

static const char *flag_name(const void *ctx, unsigned bit, char buf[Q2_NAME_BUF])
{
	(void)ctx;
	return q2_bitmap_flag_name(bit, buf);
}

static void get_flag_names(const struct q2_cursor *w, const void *obj,
			   struct q2_value *v)
{
	(void)w;
	v->type = Q2_V_BITS;
	v->u = bitmap_of(obj)->flags;
	v->bit_name = flag_name;
}

static void get_granularity(const struct q2_cursor *w, const void *obj,
			    struct q2_value *v)
{
	uint64_t g;

	(void)w;
	if (q2_bitmap_granularity(bitmap_of(obj), &g))
		set_u64(v, g);
	else
		v->type = Q2_V_NULL;
}

static void get_extra_data_hex(const struct q2_cursor *w, const void *obj,
			       struct q2_value *v)
{
	const struct q2_bitmap *bm = bitmap_of(obj);

	(void)w;
	if (bm->extra_data_size)
		set_hex(v, bm->extra_data, bm->extra_data_size);
}

/* The verdict on the bitmap being walked, where the run made one (the
 * judge's, verdict.h): NULL where it did not. */
static const struct q2_verdict *verdict_of(const struct q2_cursor *w,
					   const void *obj)
{
	assert(obj == w->bitmap);
	(void)obj;
	return w->verdict ? q2_findings_verdict(w->src->findings, w->bitmap_index)
			  : NULL;
}

static void get_usable(const struct q2_cursor *w, const void *obj,
		       struct q2_value *v)
{
	const struct q2_verdict *vd = verdict_of(w, obj);

	if (!vd)
		return;
	v->type = Q2_V_BOOL;
	v->u = q2_state_usable(vd->state);
}

static void get_state(const struct q2_cursor *w, const void *obj,
		      struct q2_value *v)
{
	const struct q2_verdict *vd = verdict_of(w, obj);

	if (vd)
		set_word(v, q2_state_name(vd->state));
}

/* the problem behind a state other than usable, by its code */
static void get_reason(const struct q2_cursor *w, const void *obj,
		       struct q2_value *v)
{
	const struct q2_verdict *vd = verdict_of(w, obj);

	if (!vd)
		return;
	if (vd->has_reason && !q2_state_usable(vd->state))
		set_word(v, q2_codes[vd->reason].name);
	else
		v->type = Q2_V_NULL;
}

/* text, -x: "yes", or "no (STATE)" */
static const char *const usable_words[] = {
	[Q2_STATE_USABLE] = "yes",
	[Q2_STATE_DISABLED] = "no (disabled)",
	[Q2_STATE_LIVE] = "no (live)",
	[Q2_STATE_INCONSISTENT] = "no (inconsistent)",
	[Q2_STATE_STALE] = "no (stale)",
	[Q2_STATE_INVALID] = "no (invalid)",
	[Q2_STATE_UNSUPPORTED] = "no (unsupported)",
	[Q2_STATE_MISSING_IN_TOP] = "no (missing-in-top)",
	[Q2_STATE_GAP] = "no (gap)",
	[Q2_STATE_INCOMPLETE] = "no (incomplete)",
};
Q2_STATIC_ASSERT(Q2_ARRAY_SIZE(usable_words) == Q2_STATE_COUNT_,
		 "every state has its word in text");

static void get_usable_text(const struct q2_cursor *w, const void *obj,
			    struct q2_value *v)
{
	const struct q2_verdict *vd = verdict_of(w, obj);

	if (vd)
		set_word(v, usable_words[vd->state]);
}

/* the verdict's columns, at the record's ids for them */
#define VERDICT_COLS(usable_id, state_id, reason_id) \
	COL(usable_id, .key = "usable", .in = Q2_IN_JSON | Q2_IN_CSV, \
	    .get = get_usable), \
	COL(state_id, .key = "state", .in = Q2_IN_JSON | Q2_IN_CSV, \
	    .get = get_state), \
	COL(reason_id, .key = "reason", .in = Q2_IN_JSON | Q2_IN_CSV, \
	    .get = get_reason)

enum bitmap_col {
	BM_NAME,
	BM_TABLE_OFFSET,
	BM_TABLE_SIZE,
	BM_FLAGS,
	BM_FLAG_NAMES,
	BM_TYPE,
	BM_GRANULARITY_BITS,
	BM_GRANULARITY,
	BM_NAME_SIZE,
	BM_EXTRA_DATA_SIZE,
	BM_EXTRA_DATA_HEX,
	BM_USABLE,
	BM_STATE,
	BM_REASON,
	BM_TABLE,
	BM_COUNT_
};

#define DF(id_, row) FIELD_COL(id_, q2_dir_entry_fields, row, Q2_IN_ALL)

static const struct q2_col bitmap_cols[] = {
	COL(BM_NAME, .key = "name", .label = "Bitmap name", .in = Q2_IN_ALL,
	    .hex_key = "name_hex", .get = get_bitmap_name),
	DF(BM_TABLE_OFFSET, Q2_DF_TABLE_OFFSET),
	DF(BM_TABLE_SIZE, Q2_DF_TABLE_SIZE),
	DF(BM_FLAGS, Q2_DF_FLAGS),
	COL(BM_FLAG_NAMES, .key = "flag_names", .in = Q2_IN_JSON | Q2_IN_CSV,
	    .get = get_flag_names),
	DF(BM_TYPE, Q2_DF_TYPE),
	DF(BM_GRANULARITY_BITS, Q2_DF_GRANULARITY_BITS),
	COL(BM_GRANULARITY, .key = "granularity", .in = Q2_IN_JSON | Q2_IN_CSV,
	    .get = get_granularity),
	DF(BM_NAME_SIZE, Q2_DF_NAME_SIZE),
	DF(BM_EXTRA_DATA_SIZE, Q2_DF_EXTRA_DATA_SIZE),
	COL(BM_EXTRA_DATA_HEX, .key = "extra_data_hex", .in = Q2_IN_JSON,
	    .get = get_extra_data_hex),
	VERDICT_COLS(BM_USABLE, BM_STATE, BM_REASON),
	COL(BM_TABLE, .key = "bitmap_table", .in = Q2_IN_ALL,
	    .step = Q2_STEP_BITMAP_TABLE, .child = &q2_desc_table_entry),
};
Q2_STATIC_ASSERT(Q2_ARRAY_SIZE(bitmap_cols) == BM_COUNT_,
		 "a column for every id of the bitmap");

/* ---- bitmap table entries: obj is a struct q2_table_ref ---- */

static uint64_t entry_of(const void *obj)
{
	return ((const struct q2_table_ref *)obj)->entry;
}

/* the bitmap the record belongs to, for CSV rows */
static void get_current_bitmap(const struct q2_cursor *w, const void *obj,
			       struct q2_value *v)
{
	(void)obj;
	set_bytes(v, w->bitmap->name, w->bitmap->name_size);
}

static void get_entry_index(const struct q2_cursor *w, const void *obj,
			    struct q2_value *v)
{
	(void)w;
	set_u64(v, ((const struct q2_table_ref *)obj)->index);
}

static void get_entry_type(const struct q2_cursor *w, const void *obj,
			   struct q2_value *v)
{
	(void)w;
	set_word(v, q2_bte_type_name(q2_bte_classify(entry_of(obj))));
}

/* qcow2.py's size column: a serialized entry maps one cluster */
static void get_entry_size(const struct q2_cursor *w, const void *obj,
			   struct q2_value *v)
{
	set_u64(v, q2_bte_classify(entry_of(obj)) == Q2_BTE_SERIALIZED
		   ? q2_image_cluster_size(w->src->img) : 0);
}

static void get_entry_offset(const struct q2_cursor *w, const void *obj,
			     struct q2_value *v)
{
	(void)w;
	set_u64(v, entry_of(obj) & Q2_BTE_OFFSET_MASK);
}

static void get_entry_reserved(const struct q2_cursor *w, const void *obj,
			       struct q2_value *v)
{
	(void)w;
	set_u64(v, entry_of(obj) & Q2_BTE_RESERVED_MASK);
}

enum table_entry_col {
	TE_BITMAP,
	TE_INDEX,
	TE_TYPE,
	TE_SIZE,
	TE_OFFSET,
	TE_RESERVED,
	TE_COUNT_
};

static const struct q2_col table_entry_cols[] = {
	COL(TE_BITMAP, .key = "bitmap", .in = Q2_IN_CSV,
	    .get = get_current_bitmap),
	COL(TE_INDEX, .key = "index", .label = "Bitmap table",
	    .in = Q2_IN_TEXT | Q2_IN_CSV, .width = 14, .get = get_entry_index),
	COL(TE_TYPE, .key = "type", .in = Q2_IN_ALL, .width = 15,
	    .get = get_entry_type),
	COL(TE_SIZE, .key = "size", .in = Q2_IN_TEXT, .width = 12,
	    .get = get_entry_size),
	COL(TE_OFFSET, .key = "offset", .in = Q2_IN_ALL, .get = get_entry_offset),
	COL(TE_RESERVED, .key = "reserved", .in = Q2_IN_JSON | Q2_IN_CSV,
	    .get = get_entry_reserved),
};
Q2_STATIC_ASSERT(Q2_ARRAY_SIZE(table_entry_cols) == TE_COUNT_,
		 "a column for every id of the table entry");

/* ---- -x: a bitmap's dirty ranges ---- */

static void get_dirty_bytes(const struct q2_cursor *w, const void *obj,
			    struct q2_value *v)
{
	(void)obj;
	set_u64(v, w->dirty_bytes);
}

/* -x --map: what the bitmap's pieces add up to, by what a backup does
 * with them: read (data) or write as zeroes */
static void get_data_bytes(const struct q2_cursor *w, const void *obj,
			   struct q2_value *v)
{
	(void)obj;
	/* null when the map could not say what some dirty range holds */
	if (q2_views[w->opts->view].map && w->pieces_unknown)
		v->type = Q2_V_NULL;
	else if (q2_views[w->opts->view].map)
		set_u64(v, w->data_bytes);
}

static void get_zero_bytes(const struct q2_cursor *w, const void *obj,
			   struct q2_value *v)
{
	(void)obj;
	if (q2_views[w->opts->view].map && w->pieces_unknown)
		v->type = Q2_V_NULL;
	else if (q2_views[w->opts->view].map)
		set_u64(v, w->zero_bytes);
}

/* CSV shows it as a group of rows: its own columns around each extent's */
enum xbitmap_col {
	XB_NAME,
	XB_GRANULARITY,
	XB_USABLE_TEXT,
	XB_USABLE,
	XB_STATE,
	XB_REASON,
	XB_EXTENTS,
	XB_DIRTY_BYTES,
	XB_DATA_BYTES,
	XB_ZERO_BYTES,
	XB_COUNT_
};

/* -x's bitmap; with --map, its ranges are the pieces the map cuts */
#define XBITMAP_COLS(extents) \
	COL(XB_NAME, .key = "name", .csv_key = "bitmap", .label = "Bitmap name", \
	    .in = Q2_IN_ALL, .hex_key = "name_hex", .get = get_bitmap_name), \
	COL(XB_GRANULARITY, .key = "granularity", .in = Q2_IN_TEXT | Q2_IN_JSON, \
	    .get = get_granularity), \
	COL(XB_USABLE_TEXT, .key = "usable_text", .label = "usable", \
	    .in = Q2_IN_TEXT, .get = get_usable_text), \
	VERDICT_COLS(XB_USABLE, XB_STATE, XB_REASON), \
	COL(XB_EXTENTS, .key = "extents", .in = Q2_IN_ALL, \
	    .step = Q2_STEP_EXTENTS, .child = (extents)), \
	COL(XB_DIRTY_BYTES, .key = "dirty_bytes", .in = Q2_IN_TEXT | Q2_IN_JSON, \
	    .get = get_dirty_bytes), \
	COL(XB_DATA_BYTES, .key = "data_bytes", .in = Q2_IN_TEXT | Q2_IN_JSON, \
	    .get = get_data_bytes), \
	COL(XB_ZERO_BYTES, .key = "zero_bytes", .in = Q2_IN_TEXT | Q2_IN_JSON, \
	    .get = get_zero_bytes),

static const struct q2_col xbitmap_cols[] = { XBITMAP_COLS(&q2_desc_extent) };
static const struct q2_col xbitmap_map_cols[] = { XBITMAP_COLS(&q2_desc_piece) };
Q2_STATIC_ASSERT(Q2_ARRAY_SIZE(xbitmap_cols) == XB_COUNT_ &&
		 Q2_ARRAY_SIZE(xbitmap_map_cols) == XB_COUNT_,
		 "a column for every id of the -x bitmap");
/* image,bitmap,start,length,usable,state,reason */
static const unsigned xbitmap_csv_order[] = {
	XB_NAME, XB_EXTENTS, XB_USABLE, XB_STATE, XB_REASON,
};

/* obj points to two u64: start and length */
static void get_extent_start(const struct q2_cursor *w, const void *obj,
			     struct q2_value *v)
{
	(void)w;
	set_u64(v, ((const uint64_t *)obj)[0]);
}

static void get_extent_length(const struct q2_cursor *w, const void *obj,
			      struct q2_value *v)
{
	(void)w;
	set_u64(v, ((const uint64_t *)obj)[1]);
}

enum extent_col {
	EXTENT_START,
	EXTENT_LENGTH,
	EXTENT_COUNT_
};

static const struct q2_col extent_cols[] = {
	COL(EXTENT_START, .key = "start", .in = Q2_IN_ALL, .width = 25,
	    .get = get_extent_start),
	COL(EXTENT_LENGTH, .key = "length", .in = Q2_IN_ALL,
	    .get = get_extent_length),
};
Q2_STATIC_ASSERT(Q2_ARRAY_SIZE(extent_cols) == EXTENT_COUNT_,
		 "a column for every id of the extent");

/* ---- --map: obj is a struct q2_map_entry ---- */

static const struct q2_map_entry *map_entry_of(const void *obj)
{
	return obj;
}

static void get_me_start(const struct q2_cursor *w, const void *obj,
			 struct q2_value *v)
{
	(void)w;
	set_u64(v, map_entry_of(obj)->start);
}

static void get_me_length(const struct q2_cursor *w, const void *obj,
			  struct q2_value *v)
{
	(void)w;
	set_u64(v, map_entry_of(obj)->length);
}

static void get_me_depth(const struct q2_cursor *w, const void *obj,
			 struct q2_value *v)
{
	(void)w;
	if (map_entry_of(obj)->unknown)
		v->type = Q2_V_NULL;
	else
		set_u64(v, map_entry_of(obj)->depth);
}

static void set_bool(struct q2_value *v, bool b)
{
	v->type = Q2_V_BOOL;
	v->u = b;
}

/* a flag of a map entry: null in a piece whose contents are unknown */
static void set_flag(struct q2_value *v, const struct q2_map_entry *e, bool b)
{
	if (e->unknown)
		v->type = Q2_V_NULL;
	else
		set_bool(v, b);
}

static void get_me_present(const struct q2_cursor *w, const void *obj,
			   struct q2_value *v)
{
	(void)w;
	set_flag(v, map_entry_of(obj), map_entry_of(obj)->present);
}

static void get_me_zero(const struct q2_cursor *w, const void *obj,
			struct q2_value *v)
{
	(void)w;
	set_flag(v, map_entry_of(obj), map_entry_of(obj)->zero);
}

static void get_me_data(const struct q2_cursor *w, const void *obj,
			struct q2_value *v)
{
	(void)w;
	set_flag(v, map_entry_of(obj), map_entry_of(obj)->data);
}

static void get_me_compressed(const struct q2_cursor *w, const void *obj,
			      struct q2_value *v)
{
	(void)w;
	set_flag(v, map_entry_of(obj), map_entry_of(obj)->compressed);
}

/* only where qemu-img map gives one */
static void get_me_offset(const struct q2_cursor *w, const void *obj,
			  struct q2_value *v)
{
	const struct q2_map_entry *e = map_entry_of(obj);

	(void)w;
	if (e->has_offset)
		set_u64(v, e->offset);
}

static void get_me_file(const struct q2_cursor *w, const void *obj,
			struct q2_value *v)
{
	const struct q2_map_entry *e = map_entry_of(obj);

	(void)w;
	if (e->file)
		set_bytes(v, e->file, strlen(e->file));
}

/* What a backup does with a piece: "data" to read, "zero" to write as
 * zeroes (or punch), "compressed" data QEMU must read for it; "unknown"
 * where the map could not say (read it, to be safe). */
static void get_piece_kind(const struct q2_cursor *w, const void *obj,
			   struct q2_value *v)
{
	const struct q2_map_entry *e = map_entry_of(obj);

	(void)w;
	set_word(v, e->unknown ? "unknown" : e->zero ? "zero"
		    : e->compressed ? "compressed" : "data");
}

/* text: the offset, or "-" where there is none, so that rows line up */
static void get_piece_offset_text(const struct q2_cursor *w, const void *obj,
				  struct q2_value *v)
{
	get_me_offset(w, obj, v);
	if (v->type == Q2_V_ABSENT)
		set_word(v, "-");
}

static const struct q2_col map_entry_cols[] = {
	COL(Q2_MC_START, .key = "start", .in = Q2_IN_ALL, .get = get_me_start),
	COL(Q2_MC_LENGTH, .key = "length", .in = Q2_IN_ALL, .get = get_me_length),
	COL(Q2_MC_DEPTH, .key = "depth", .in = Q2_IN_ALL, .get = get_me_depth),
	COL(Q2_MC_PRESENT, .key = "present", .in = Q2_IN_ALL,
	    .get = get_me_present),
	COL(Q2_MC_ZERO, .key = "zero", .in = Q2_IN_ALL, .get = get_me_zero),
	COL(Q2_MC_DATA, .key = "data", .in = Q2_IN_ALL, .get = get_me_data),
	COL(Q2_MC_COMPRESSED, .key = "compressed", .in = Q2_IN_ALL,
	    .get = get_me_compressed),
	COL(Q2_MC_OFFSET, .key = "offset", .in = Q2_IN_ALL, .text = Q2_FMT_HEX,
	    .get = get_me_offset),
	/* qemu-img map's human output names it; its JSON does not */
	COL(Q2_MC_FILE, .key = "file", .in = Q2_IN_TEXT | Q2_IN_CSV,
	    .get = get_me_file),
};
Q2_STATIC_ASSERT(Q2_ARRAY_SIZE(map_entry_cols) == Q2_MC_COUNT_,
		 "a column for every id of the map entry");

enum piece_col {
	PC_START,
	PC_LENGTH,
	PC_DEPTH,
	PC_KIND,
	PC_PRESENT,
	PC_ZERO,
	PC_DATA,
	PC_COMPRESSED,
	PC_OFFSET,
	PC_OFFSET_TEXT,
	PC_COUNT_
};

/* text: a row of start, length, depth, kind, offset */
static const struct q2_col piece_cols[] = {
	COL(PC_START, .key = "start", .in = Q2_IN_ALL, .width = 25,
	    .get = get_me_start),
	COL(PC_LENGTH, .key = "length", .in = Q2_IN_ALL, .width = 16,
	    .get = get_me_length),
	COL(PC_DEPTH, .key = "depth", .in = Q2_IN_ALL, .width = 5,
	    .get = get_me_depth),
	COL(PC_KIND, .key = "kind", .in = Q2_IN_TEXT, .width = 10,
	    .get = get_piece_kind),
	COL(PC_PRESENT, .key = "present", .in = Q2_IN_JSON | Q2_IN_CSV,
	    .get = get_me_present),
	COL(PC_ZERO, .key = "zero", .in = Q2_IN_JSON | Q2_IN_CSV,
	    .get = get_me_zero),
	COL(PC_DATA, .key = "data", .in = Q2_IN_JSON | Q2_IN_CSV,
	    .get = get_me_data),
	COL(PC_COMPRESSED, .key = "compressed", .in = Q2_IN_JSON | Q2_IN_CSV,
	    .get = get_me_compressed),
	COL(PC_OFFSET, .key = "offset", .in = Q2_IN_JSON | Q2_IN_CSV,
	    .get = get_me_offset),
	COL(PC_OFFSET_TEXT, .key = "offset", .in = Q2_IN_TEXT, .text = Q2_FMT_HEX,
	    .get = get_piece_offset_text),
};
Q2_STATIC_ASSERT(Q2_ARRAY_SIZE(piece_cols) == PC_COUNT_,
		 "a column for every id of the piece");

/* ---- problems ---- */

static const struct q2_problem *problem_of(const void *obj)
{
	return obj;
}

static void get_problem_severity(const struct q2_cursor *w, const void *obj,
				 struct q2_value *v)
{
	(void)w;
	set_word(v, q2_severity_name(q2_problem_severity(problem_of(obj))));
}

static void get_problem_code(const struct q2_cursor *w, const void *obj,
			     struct q2_value *v)
{
	(void)w;
	set_word(v, q2_codes[problem_of(obj)->code].name);
}

static void get_problem_message(const struct q2_cursor *w, const void *obj,
				struct q2_value *v)
{
	const char *m = q2_problem_message(problem_of(obj));

	(void)w;
	set_bytes(v, m, strlen(m));
}

static void get_problem_offset(const struct q2_cursor *w, const void *obj,
			       struct q2_value *v)
{
	(void)w;
	set_u64(v, problem_of(obj)->offset);
}

static void get_problem_bitmap(const struct q2_cursor *w, const void *obj,
			       struct q2_value *v)
{
	const struct q2_bitmap *bm =
		q2_image_bitmap(w->src->img, problem_of(obj)->bitmap);

	if (bm)
		set_bytes(v, bm->name, bm->name_size);
}

static const struct q2_col problem_cols[] = {
	COL(Q2_PC_SEVERITY, .key = "severity", .in = Q2_IN_ALL,
	    .get = get_problem_severity),
	COL(Q2_PC_CODE, .key = "code", .in = Q2_IN_ALL, .get = get_problem_code),
	COL(Q2_PC_MESSAGE, .key = "message", .in = Q2_IN_ALL,
	    .hex_key = "message_hex", .get = get_problem_message),
	COL(Q2_PC_OFFSET, .key = "offset", .in = Q2_IN_ALL, .text = Q2_FMT_HEX,
	    .get = get_problem_offset),
	COL(Q2_PC_BITMAP, .key = "bitmap", .in = Q2_IN_ALL,
	    .hex_key = "bitmap_hex", .get = get_problem_bitmap),
};
Q2_STATIC_ASSERT(Q2_ARRAY_SIZE(problem_cols) == Q2_PC_COUNT_,
		 "a column for every id of the problem");
/* image,severity,code,offset,bitmap,message */
static const unsigned problem_csv_order[] = {
	Q2_PC_SEVERITY, Q2_PC_CODE, Q2_PC_OFFSET, Q2_PC_BITMAP, Q2_PC_MESSAGE,
};

/* ---- the problem table, for --list-checks: obj is a q2_code_info ---- */

static const struct q2_code_info *code_of(const void *obj)
{
	return obj;
}

static void get_code_name(const struct q2_cursor *w, const void *obj,
			  struct q2_value *v)
{
	(void)w;
	set_word(v, code_of(obj)->name);
}

static void get_code_severity(const struct q2_cursor *w, const void *obj,
			      struct q2_value *v)
{
	(void)w;
	set_word(v, q2_severity_name(code_of(obj)->severity));
}

static void get_code_meaning(const struct q2_cursor *w, const void *obj,
			     struct q2_value *v)
{
	(void)w;
	set_bytes(v, code_of(obj)->message, strlen(code_of(obj)->message));
}

static void get_code_advice(const struct q2_cursor *w, const void *obj,
			    struct q2_value *v)
{
	(void)w;
	set_bytes(v, code_of(obj)->advice, strlen(code_of(obj)->advice));
}

enum code_col {
	CODE_CODE,
	CODE_SEVERITY,
	CODE_MEANING,
	CODE_ADVICE,
	CODE_COUNT_
};

static const struct q2_col code_cols[] = {
	COL(CODE_CODE, .key = "code", .in = Q2_IN_ALL, .get = get_code_name),
	COL(CODE_SEVERITY, .key = "severity", .in = Q2_IN_ALL,
	    .get = get_code_severity),
	COL(CODE_MEANING, .key = "meaning", .in = Q2_IN_ALL,
	    .get = get_code_meaning),
	COL(CODE_ADVICE, .key = "advice", .in = Q2_IN_ALL,
	    .get = get_code_advice),
};
Q2_STATIC_ASSERT(Q2_ARRAY_SIZE(code_cols) == CODE_COUNT_,
		 "a column for every id of the problem table's row");

/* ---- --backing-chain: a layer (obj: its struct q2_source) ---- */

static const struct q2_source *source_of(const void *obj)
{
	return obj;
}

static void get_layer_depth(const struct q2_cursor *w, const void *obj,
			    struct q2_value *v)
{
	(void)w;
	set_u64(v, source_of(obj)->backing_depth);
}

static void get_layer_format(const struct q2_cursor *w, const void *obj,
			     struct q2_value *v)
{
	const struct q2_layer *l = source_of(obj)->layer;

	(void)w;
	if (l->opened)
		set_word(v, q2_layer_format_name(l->format));
	else
		v->type = Q2_V_NULL;
}

/* the layer being shown: IMAGE, or a backing file as opened */
static void get_image(const struct q2_cursor *w, const void *obj,
		      struct q2_value *v)
{
	(void)obj;
	v->type = Q2_V_BYTES;
	v->p = w->src->path;
	v->n = strlen(w->src->path);
}

/* what the lock probe saw: null when it could not tell */
static void get_locked(const struct q2_cursor *w, const void *obj,
		       struct q2_value *v)
{
	enum q2_lock lock = w->src->layer->lock;

	(void)obj;
	v->type = lock == Q2_LOCK_UNKNOWN ? Q2_V_NULL : Q2_V_BOOL;
	v->u = lock == Q2_LOCK_READ || lock == Q2_LOCK_WRITE;
}

static void get_layer_backing_file(const struct q2_cursor *w, const void *obj,
				   struct q2_value *v)
{
	const struct q2_image *img = source_of(obj)->img;

	(void)w;
	if (img->header_decoded && img->backing_file)
		set_bytes(v, img->backing_file, img->header.backing_file_size);
}

enum layer_col {
	LAYER_BACKING_DEPTH,
	LAYER_FORMAT,
	LAYER_IMAGE,
	LAYER_LOCKED,
	LAYER_BACKING_FILE,
	LAYER_PROBLEMS,
	LAYER_COUNT_
};

static const struct q2_col layer_cols[] = {
	COL(LAYER_BACKING_DEPTH, .key = "backing_depth", .label = "Backing depth",
	    .in = Q2_IN_TEXT | Q2_IN_JSON, .width = 14, .get = get_layer_depth),
	COL(LAYER_FORMAT, .key = "format", .in = Q2_IN_TEXT | Q2_IN_JSON,
	    .width = 8, .get = get_layer_format),
	COL(LAYER_IMAGE, .key = "image", .in = Q2_IN_TEXT | Q2_IN_JSON,
	    .hex_key = "image_hex", .get = get_image),
	COL(LAYER_LOCKED, .key = "locked", .in = Q2_IN_JSON,
	    .get = get_locked),
	COL(LAYER_BACKING_FILE, .key = "backing_file", .in = Q2_IN_JSON,
	    .hex_key = "backing_file_hex", .get = get_layer_backing_file),
	COL(LAYER_PROBLEMS, .key = "problems", .in = Q2_IN_JSON,
	    .step = Q2_STEP_LAYER_PROBLEMS, .child = &q2_desc_problem),
};
Q2_STATIC_ASSERT(Q2_ARRAY_SIZE(layer_cols) == LAYER_COUNT_,
		 "a column for every id of the layer");

/* ---- -x --backing-chain: a bitmap merged over the chain (obj: its
 * struct q2_checkpoint) ---- */

static const struct q2_checkpoint *checkpoint_of(const void *obj)
{
	return obj;
}

static void get_cp_name(const struct q2_cursor *w, const void *obj,
			struct q2_value *v)
{
	(void)w;
	set_bytes(v, checkpoint_of(obj)->name, checkpoint_of(obj)->name_len);
}

static void get_cp_layers(const struct q2_cursor *w, const void *obj,
			  struct q2_value *v)
{
	(void)w;
	v->type = Q2_V_U64_LIST;
	v->p = checkpoint_of(obj)->depths;
	v->n = checkpoint_of(obj)->n_depths;
}

static void get_cp_granularity(const struct q2_cursor *w, const void *obj,
			       struct q2_value *v)
{
	(void)w;
	if (checkpoint_of(obj)->granularity)
		set_u64(v, checkpoint_of(obj)->granularity);
	else
		v->type = Q2_V_NULL;
}

static void get_cp_usable(const struct q2_cursor *w, const void *obj,
			  struct q2_value *v)
{
	(void)w;
	v->type = Q2_V_BOOL;
	v->u = q2_state_usable(checkpoint_of(obj)->verdict.state);
}

static void get_cp_state(const struct q2_cursor *w, const void *obj,
			 struct q2_value *v)
{
	(void)w;
	set_word(v, q2_state_name(checkpoint_of(obj)->verdict.state));
}

static void get_cp_reason(const struct q2_cursor *w, const void *obj,
			  struct q2_value *v)
{
	const struct q2_checkpoint *cp = checkpoint_of(obj);

	(void)w;
	if (cp->verdict.has_reason && !q2_state_usable(cp->verdict.state))
		set_word(v, q2_codes[cp->verdict.reason].name);
	else
		v->type = Q2_V_NULL;
}

static void get_cp_usable_text(const struct q2_cursor *w, const void *obj,
			       struct q2_value *v)
{
	(void)w;
	set_word(v, usable_words[checkpoint_of(obj)->verdict.state]);
}

enum checkpoint_col {
	CP_NAME,
	CP_LAYERS,
	CP_GRANULARITY,
	CP_USABLE_TEXT,
	CP_USABLE,
	CP_STATE,
	CP_REASON,
	CP_EXTENTS,
	CP_DIRTY_BYTES,
	CP_DATA_BYTES,
	CP_ZERO_BYTES,
	CP_COUNT_
};

/* a checkpoint; with --map, its ranges are the pieces the map cuts */
#define CHECKPOINT_COLS(extents) \
	COL(CP_NAME, .key = "name", .csv_key = "bitmap", .label = "Bitmap name", \
	    .in = Q2_IN_ALL, .hex_key = "name_hex", .get = get_cp_name), \
	COL(CP_LAYERS, .key = "layers", .in = Q2_IN_ALL, .get = get_cp_layers), \
	COL(CP_GRANULARITY, .key = "granularity", .in = Q2_IN_TEXT | Q2_IN_JSON, \
	    .get = get_cp_granularity), \
	COL(CP_USABLE_TEXT, .key = "usable_text", .label = "usable", \
	    .in = Q2_IN_TEXT, .get = get_cp_usable_text), \
	COL(CP_USABLE, .key = "usable", .in = Q2_IN_JSON | Q2_IN_CSV, \
	    .get = get_cp_usable), \
	COL(CP_STATE, .key = "state", .in = Q2_IN_JSON | Q2_IN_CSV, \
	    .get = get_cp_state), \
	COL(CP_REASON, .key = "reason", .in = Q2_IN_JSON | Q2_IN_CSV, \
	    .get = get_cp_reason), \
	COL(CP_EXTENTS, .key = "extents", .in = Q2_IN_ALL, \
	    .step = Q2_STEP_MERGED_EXTENTS, .child = (extents)), \
	COL(CP_DIRTY_BYTES, .key = "dirty_bytes", .in = Q2_IN_TEXT | Q2_IN_JSON, \
	    .get = get_dirty_bytes), \
	COL(CP_DATA_BYTES, .key = "data_bytes", .in = Q2_IN_TEXT | Q2_IN_JSON, \
	    .get = get_data_bytes), \
	COL(CP_ZERO_BYTES, .key = "zero_bytes", .in = Q2_IN_TEXT | Q2_IN_JSON, \
	    .get = get_zero_bytes),

static const struct q2_col checkpoint_cols[] = { CHECKPOINT_COLS(&q2_desc_extent) };
static const struct q2_col checkpoint_map_cols[] = { CHECKPOINT_COLS(&q2_desc_piece) };
Q2_STATIC_ASSERT(Q2_ARRAY_SIZE(checkpoint_cols) == CP_COUNT_ &&
		 Q2_ARRAY_SIZE(checkpoint_map_cols) == CP_COUNT_,
		 "a column for every id of the checkpoint");
/* image,bitmap,layers,start,length,usable,state,reason */
static const unsigned checkpoint_csv_order[] = {
	CP_NAME, CP_LAYERS, CP_EXTENTS, CP_USABLE, CP_STATE, CP_REASON,
};

#define DESC(rec_, cols_) \
	{ .rec = (rec_), .cols = (cols_), .n_cols = Q2_ARRAY_SIZE(cols_) }
/* with CSV's column order, a list of ids */
#define DESC_CSV(rec_, cols_, order_) \
	{ .rec = (rec_), .cols = (cols_), .n_cols = Q2_ARRAY_SIZE(cols_), \
	  .csv_order = (order_), .n_csv_order = Q2_ARRAY_SIZE(order_) }

const struct q2_desc q2_desc_header = DESC(Q2_REC_HEADER, header_cols);
const struct q2_desc q2_desc_extension = DESC(Q2_REC_EXTENSION, extension_cols);
const struct q2_desc q2_desc_feature = DESC(Q2_REC_FEATURE, feature_cols);
const struct q2_desc q2_desc_crypto = DESC(Q2_REC_CRYPTO, crypto_cols);
const struct q2_desc q2_desc_bitmaps_ext = DESC(Q2_REC_BITMAPS_EXT, bitmaps_ext_cols);
const struct q2_desc q2_desc_bitmap = DESC(Q2_REC_BITMAP, bitmap_cols);
const struct q2_desc q2_desc_table_entry = DESC(Q2_REC_TABLE_ENTRY, table_entry_cols);
const struct q2_desc q2_desc_xbitmap =
	DESC_CSV(Q2_REC_XBITMAP, xbitmap_cols, xbitmap_csv_order);
const struct q2_desc q2_desc_xbitmap_map =
	DESC_CSV(Q2_REC_XBITMAP, xbitmap_map_cols, xbitmap_csv_order);
const struct q2_desc q2_desc_extent = DESC(Q2_REC_EXTENT, extent_cols);
const struct q2_desc q2_desc_map_entry = DESC(Q2_REC_MAP_ENTRY, map_entry_cols);
const struct q2_desc q2_desc_piece = DESC(Q2_REC_PIECE, piece_cols);
const struct q2_desc q2_desc_code = DESC(Q2_REC_CODE, code_cols);
const struct q2_desc q2_desc_layer = DESC(Q2_REC_LAYER, layer_cols);
const struct q2_desc q2_desc_checkpoint =
	DESC_CSV(Q2_REC_CHECKPOINT, checkpoint_cols, checkpoint_csv_order);
const struct q2_desc q2_desc_checkpoint_map =
	DESC_CSV(Q2_REC_CHECKPOINT, checkpoint_map_cols, checkpoint_csv_order);
const struct q2_desc q2_desc_problem =
	DESC_CSV(Q2_REC_PROBLEM, problem_cols, problem_csv_order);

/* ---- snapshot table entries (-s) ---- */

static const struct q2_snapshot *snapshot_of(const void *obj)
{
	return obj;
}

static void get_snapshot_id(const struct q2_cursor *w, const void *obj,
			    struct q2_value *v)
{
	const struct q2_snapshot *sn = snapshot_of(obj);

	(void)w;
	set_bytes(v, sn->id_str, sn->id_str_size);
}

static void get_snapshot_name(const struct q2_cursor *w, const void *obj,
			      struct q2_value *v)
{
	const struct q2_snapshot *sn = snapshot_of(obj);

	(void)w;
	set_bytes(v, sn->name, sn->name_size);
}

/* a field of the extra data, absent when the extra data is too short */
static void get_snapshot_extra(const struct q2_snapshot *sn,
			       enum q2_snapshot_extra_field f,
			       struct q2_value *v)
{
	if (q2_snapshot_has_extra(sn, f))
		set_u64(v, q2_field_get(sn, &q2_snapshot_extra_fields[f]));
}

static void get_vm_state_size_large(const struct q2_cursor *w,
				    const void *obj, struct q2_value *v)
{
	(void)w;
	get_snapshot_extra(snapshot_of(obj), Q2_SXF_VM_STATE_SIZE_LARGE, v);
}

static void get_disk_size(const struct q2_cursor *w, const void *obj,
			  struct q2_value *v)
{
	(void)w;
	get_snapshot_extra(snapshot_of(obj), Q2_SXF_DISK_SIZE, v);
}

static void get_icount(const struct q2_cursor *w, const void *obj,
		       struct q2_value *v)
{
	(void)w;
	get_snapshot_extra(snapshot_of(obj), Q2_SXF_ICOUNT, v);
}

/* the extra data's bytes after the fields above */
static void get_snapshot_extra_hex(const struct q2_cursor *w, const void *obj,
				   struct q2_value *v)
{
	size_t n;
	const uint8_t *p = q2_snapshot_unknown_extra(snapshot_of(obj), &n);

	(void)w;
	if (n)
		set_hex(v, p, n);
}

static void get_snapshot_offset(const struct q2_cursor *w, const void *obj,
				struct q2_value *v)
{
	(void)w;
	set_u64(v, snapshot_of(obj)->entry_offset);
}

enum snapshot_col {
	SN_ID_STR,
	SN_NAME,
	SN_L1_TABLE_OFFSET,
	SN_L1_SIZE,
	SN_ID_STR_SIZE,
	SN_NAME_SIZE,
	SN_DATE_SEC,
	SN_DATE_NSEC,
	SN_VM_CLOCK_NSEC,
	SN_VM_STATE_SIZE,
	SN_EXTRA_DATA_SIZE,
	SN_VM_STATE_SIZE_LARGE,
	SN_DISK_SIZE,
	SN_ICOUNT,
	SN_EXTRA_DATA_HEX,
	SN_OFFSET,
	SN_COUNT_
};

#define SF(id_, row) FIELD_COL(id_, q2_snapshot_fields, row, Q2_IN_ALL)

static const struct q2_col snapshot_cols[] = {
	COL(SN_ID_STR, .key = "id_str", .label = "Snapshot id", .in = Q2_IN_ALL,
	    .hex_key = "id_str_hex", .get = get_snapshot_id),
	COL(SN_NAME, .key = "name", .in = Q2_IN_ALL, .hex_key = "name_hex",
	    .get = get_snapshot_name),
	SF(SN_L1_TABLE_OFFSET, Q2_SF_L1_TABLE_OFFSET),
	SF(SN_L1_SIZE, Q2_SF_L1_SIZE),
	SF(SN_ID_STR_SIZE, Q2_SF_ID_STR_SIZE),
	SF(SN_NAME_SIZE, Q2_SF_NAME_SIZE),
	SF(SN_DATE_SEC, Q2_SF_DATE_SEC),
	SF(SN_DATE_NSEC, Q2_SF_DATE_NSEC),
	SF(SN_VM_CLOCK_NSEC, Q2_SF_VM_CLOCK_NSEC),
	SF(SN_VM_STATE_SIZE, Q2_SF_VM_STATE_SIZE),
	SF(SN_EXTRA_DATA_SIZE, Q2_SF_EXTRA_DATA_SIZE),
	COL(SN_VM_STATE_SIZE_LARGE, .key = "vm_state_size_large",
	    .in = Q2_IN_ALL, .get = get_vm_state_size_large),
	COL(SN_DISK_SIZE, .key = "disk_size", .in = Q2_IN_ALL,
	    .get = get_disk_size),
	COL(SN_ICOUNT, .key = "icount", .in = Q2_IN_ALL, .get = get_icount),
	COL(SN_EXTRA_DATA_HEX, .key = "extra_data_hex", .label = "extra_data",
	    .in = Q2_IN_ALL, .get = get_snapshot_extra_hex),
	COL(SN_OFFSET, .key = "offset", .in = Q2_IN_JSON | Q2_IN_CSV,
	    .get = get_snapshot_offset),
};
Q2_STATIC_ASSERT(Q2_ARRAY_SIZE(snapshot_cols) == SN_COUNT_,
		 "a column for every id of the snapshot");

const struct q2_desc q2_desc_snapshot = DESC(Q2_REC_SNAPSHOT, snapshot_cols);

/* ---- the document of one image, per view ---- */

static void get_backing_file(const struct q2_cursor *w, const void *obj,
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

/* --backing-chain: where the layer lies in the chain of which IMAGE */
static bool in_chain(const struct q2_cursor *w)
{
	return w->opts->backing_chain;
}

static void get_backing_depth(const struct q2_cursor *w, const void *obj,
			      struct q2_value *v)
{
	(void)obj;
	if (in_chain(w)) {
		v->type = Q2_V_U64;
		v->u = w->src->backing_depth;
	}
}

static void get_top_image(const struct q2_cursor *w, const void *obj,
			  struct q2_value *v)
{
	(void)obj;
	if (in_chain(w)) {
		v->type = Q2_V_BYTES;
		v->p = w->src->top;
		v->n = strlen(w->src->top);
	}
}

static void get_format(const struct q2_cursor *w, const void *obj,
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
static void get_other_format(const struct q2_cursor *w, const void *obj,
			     struct q2_value *v)
{
	if (in_chain(w) && w->src->layer->format != Q2_LAYER_QCOW2)
		get_format(w, obj, v);
}

/* The columns every view's document starts with; each view's ids go on
 * from IMG_COUNT_. */
enum image_col {
	IMG_IMAGE,
	IMG_BACKING_DEPTH,
	IMG_TOP_IMAGE,
	IMG_FORMAT,
	IMG_LOCKED,
	IMG_COUNT_
};

#define IMAGE_COLS \
	COL(IMG_IMAGE, .key = "image", .in = Q2_IN_JSON, .hex_key = "image_hex", \
	    .get = get_image), \
	COL(IMG_BACKING_DEPTH, .key = "backing_depth", .in = Q2_IN_JSON, \
	    .get = get_backing_depth), \
	COL(IMG_TOP_IMAGE, .key = "top_image", .in = Q2_IN_JSON, \
	    .hex_key = "top_image_hex", .get = get_top_image), \
	COL(IMG_FORMAT, .key = "format", .in = Q2_IN_JSON, .get = get_format), \
	COL(IMG_LOCKED, .key = "locked", .in = Q2_IN_JSON, .get = get_locked)
#define OTHER_FORMAT_COL(id_) \
	COL(id_, .key = "format", .in = Q2_IN_TEXT, .get = get_other_format)
#define EXTENSIONS_COL(id_) \
	COL(id_, .key = "header_extensions", .in = Q2_IN_ALL, \
	    .step = Q2_STEP_EXTENSIONS, .child = &q2_desc_extension)

enum default_col {
	DEF_OTHER_FORMAT = IMG_COUNT_,
	DEF_HEADER,
	DEF_BACKING_FILE,
	DEF_EXTENSIONS,
	DEF_COUNT_
};

static const struct q2_col default_cols[] = {
	IMAGE_COLS,
	OTHER_FORMAT_COL(DEF_OTHER_FORMAT),
	COL(DEF_HEADER, .key = "header", .in = Q2_IN_TEXT | Q2_IN_JSON,
	    .step = Q2_STEP_HEADER, .child = &q2_desc_header),
	COL(DEF_BACKING_FILE, .key = "backing_file", .in = Q2_IN_JSON,
	    .hex_key = "backing_file_hex", .get = get_backing_file),
	EXTENSIONS_COL(DEF_EXTENSIONS),
};
Q2_STATIC_ASSERT(Q2_ARRAY_SIZE(default_cols) == DEF_COUNT_,
		 "a column for every id of the default view's document");

enum extensions_col {
	EXTS_OTHER_FORMAT = IMG_COUNT_,
	EXTS_EXTENSIONS,
	EXTS_COUNT_
};

static const struct q2_col extensions_cols[] = {
	IMAGE_COLS,
	OTHER_FORMAT_COL(EXTS_OTHER_FORMAT),
	EXTENSIONS_COL(EXTS_EXTENSIONS),
};
Q2_STATIC_ASSERT(Q2_ARRAY_SIZE(extensions_cols) == EXTS_COUNT_,
		 "a column for every id of -e's document");

enum bitmaps_col {
	BMS_OTHER_FORMAT = IMG_COUNT_,
	BMS_BITMAPS,
	BMS_COUNT_
};

static const struct q2_col bitmaps_cols[] = {
	IMAGE_COLS,
	OTHER_FORMAT_COL(BMS_OTHER_FORMAT),
	COL(BMS_BITMAPS, .key = "bitmaps", .in = Q2_IN_ALL,
	    .step = Q2_STEP_IMAGE_BITMAPS, .child = &q2_desc_bitmap),
};
Q2_STATIC_ASSERT(Q2_ARRAY_SIZE(bitmaps_cols) == BMS_COUNT_,
		 "a column for every id of -b's document");

/* ---- -c: qemu-img check's totals; the record's (JSON, text) and, in
 * CSV, the check document's own columns around each problem row ---- */

static const struct q2_totals *totals_of(const struct q2_cursor *w)
{
	const struct q2_findings *f = w->src->findings;

	return f && f->has_totals ? &f->totals : NULL;
}

/* null where qemu-img check gives no result */
#define TOTAL_GETTER(name_, member_) \
	static void get_total_##name_(const struct q2_cursor *w, const void *obj, \
				      struct q2_value *v) \
	{ \
		const struct q2_totals *t = totals_of(w); \
		(void)obj; \
		if (!t) \
			return; \
		v->type = t->complete ? Q2_V_U64 : Q2_V_NULL; \
		v->u = t->member_; \
	}
TOTAL_GETTER(corruptions, corruptions)
TOTAL_GETTER(leaks, leaks)
TOTAL_GETTER(check_errors, check_errors)
TOTAL_GETTER(image_end_offset, image_end_offset)
TOTAL_GETTER(total_clusters, total_clusters)
TOTAL_GETTER(allocated_clusters, allocated_clusters)
TOTAL_GETTER(fragmented_clusters, fragmented_clusters)
TOTAL_GETTER(compressed_clusters, compressed_clusters)

/* the columns, at ids first_ on, shown in formats_ */
#define TOTALS_COLS(first_, formats_) \
	COL((first_) + Q2_TC_CORRUPTIONS, .key = "corruptions", .in = (formats_), \
	    .get = get_total_corruptions), \
	COL((first_) + Q2_TC_LEAKS, .key = "leaks", .in = (formats_), \
	    .get = get_total_leaks), \
	COL((first_) + Q2_TC_CHECK_ERRORS, .key = "check_errors", .in = (formats_), \
	    .get = get_total_check_errors), \
	COL((first_) + Q2_TC_IMAGE_END_OFFSET, .key = "image_end_offset", \
	    .in = (formats_), .get = get_total_image_end_offset), \
	COL((first_) + Q2_TC_TOTAL_CLUSTERS, .key = "total_clusters", \
	    .in = (formats_), .get = get_total_total_clusters), \
	COL((first_) + Q2_TC_ALLOCATED_CLUSTERS, .key = "allocated_clusters", \
	    .in = (formats_), .get = get_total_allocated_clusters), \
	COL((first_) + Q2_TC_FRAGMENTED_CLUSTERS, .key = "fragmented_clusters", \
	    .in = (formats_), .get = get_total_fragmented_clusters), \
	COL((first_) + Q2_TC_COMPRESSED_CLUSTERS, .key = "compressed_clusters", \
	    .in = (formats_), .get = get_total_compressed_clusters)

static const struct q2_col totals_cols[] = {
	TOTALS_COLS(0, Q2_IN_JSON | Q2_IN_TEXT),
};
Q2_STATIC_ASSERT(Q2_ARRAY_SIZE(totals_cols) == Q2_TC_COUNT_,
		 "a column for every id of the totals");

const struct q2_desc q2_desc_totals = {
	.rec = Q2_REC_TOTALS, .cols = totals_cols, .n_cols = Q2_ARRAY_SIZE(totals_cols),
};

/* ---- --at, --layout: a span of the file and its owner (obj: its
 * struct q2_owner_rec) ---- */

static void get_owner_structure(const struct q2_cursor *w, const void *obj,
				struct q2_value *v)
{
	const struct q2_owner_rec *r = obj;

	(void)w;
	set_word(v, q2_owner_name(r->o.kind));
}

static void get_owner_start(const struct q2_cursor *w, const void *obj,
			    struct q2_value *v)
{
	(void)w;
	v->type = Q2_V_U64;
	v->u = ((const struct q2_owner_rec *)obj)->o.start;
}

static void get_owner_length(const struct q2_cursor *w, const void *obj,
			     struct q2_value *v)
{
	(void)w;
	v->type = Q2_V_U64;
	v->u = ((const struct q2_owner_rec *)obj)->o.length;
}

static void get_owner_refcount(const struct q2_cursor *w, const void *obj,
			       struct q2_value *v)
{
	const struct q2_owner_rec *r = obj;

	(void)w;
	v->type = r->refcount_known ? Q2_V_U64 : Q2_V_NULL;
	v->u = r->refcount;
}

static void get_owner_l1_index(const struct q2_cursor *w, const void *obj,
			       struct q2_value *v)
{
	const struct q2_owner_rec *r = obj;

	(void)w;
	if (r->o.kind != Q2_O_L2)
		return;
	v->type = Q2_V_U64;
	v->u = r->o.index;
}

static void get_owner_guest_offset(const struct q2_cursor *w, const void *obj,
				   struct q2_value *v)
{
	const struct q2_owner_rec *r = obj;

	(void)w;
	if (r->o.kind != Q2_O_DATA && r->o.kind != Q2_O_COMPRESSED)
		return;
	v->type = Q2_V_U64;
	v->u = r->o.guest;
}

static void get_owner_snapshot(const struct q2_cursor *w, const void *obj,
			       struct q2_value *v)
{
	const struct q2_owner_rec *r = obj;
	const struct q2_snapshot_table *t = w->src->img->snapshots;

	if (r->o.snapshot == Q2_NO_INDEX || !t || r->o.snapshot >= t->n)
		return;
	set_bytes(v, t->v[r->o.snapshot].id_str, t->v[r->o.snapshot].id_str_size);
}

static void get_owner_bitmap(const struct q2_cursor *w, const void *obj,
			     struct q2_value *v)
{
	const struct q2_owner_rec *r = obj;
	const struct q2_bitmap *bm = q2_image_bitmap(w->src->img, r->o.bitmap);

	if (bm)
		set_bytes(v, bm->name, bm->name_size);
}

static void get_owner_index(const struct q2_cursor *w, const void *obj,
			    struct q2_value *v)
{
	const struct q2_owner_rec *r = obj;

	(void)w;
	if (r->o.kind != Q2_O_REFBLOCK && r->o.kind != Q2_O_BITMAP_DATA)
		return;
	v->type = Q2_V_U64;
	v->u = r->o.index;
}

static const struct q2_col owner_cols[] = {
	COL(Q2_OC_STRUCTURE, .key = "structure", .in = Q2_IN_ALL, .get = get_owner_structure),
	COL(Q2_OC_START, .key = "start", .in = Q2_IN_ALL, .text = Q2_FMT_HEX,
	    .get = get_owner_start),
	COL(Q2_OC_LENGTH, .key = "length", .in = Q2_IN_ALL, .text = Q2_FMT_HEX,
	    .get = get_owner_length),
	COL(Q2_OC_REFCOUNT, .key = "refcount", .in = Q2_IN_ALL, .get = get_owner_refcount),
	COL(Q2_OC_L1_INDEX, .key = "l1_index", .in = Q2_IN_ALL, .get = get_owner_l1_index),
	COL(Q2_OC_GUEST_OFFSET, .key = "guest_offset", .in = Q2_IN_ALL,
	    .text = Q2_FMT_HEX, .get = get_owner_guest_offset),
	COL(Q2_OC_SNAPSHOT, .key = "snapshot", .in = Q2_IN_ALL, .hex_key = "snapshot_hex",
	    .get = get_owner_snapshot),
	COL(Q2_OC_BITMAP, .key = "bitmap", .in = Q2_IN_ALL, .hex_key = "bitmap_hex",
	    .get = get_owner_bitmap),
	COL(Q2_OC_INDEX, .key = "index", .in = Q2_IN_ALL, .get = get_owner_index),
};
Q2_STATIC_ASSERT(Q2_ARRAY_SIZE(owner_cols) == Q2_OC_COUNT_,
		 "a column for every id of the owner record");

const struct q2_desc q2_desc_owner = {
	.rec = Q2_REC_OWNER, .cols = owner_cols, .n_cols = Q2_ARRAY_SIZE(owner_cols),
};

static void get_at(const struct q2_cursor *w, const void *obj, struct q2_value *v)
{
	(void)obj;
	v->type = Q2_V_U64;
	v->u = w->at;
}

enum at_col {
	AT_AT = IMG_COUNT_,
	AT_OWNERS,
	AT_COUNT_
};

static const struct q2_col at_cols[] = {
	IMAGE_COLS,
	COL(AT_AT, .key = "at", .in = Q2_IN_JSON | Q2_IN_CSV, .get = get_at),
	COL(AT_OWNERS, .key = "owners", .in = Q2_IN_ALL,
	    .step = Q2_STEP_OWNERS_AT, .child = &q2_desc_owner),
};
Q2_STATIC_ASSERT(Q2_ARRAY_SIZE(at_cols) == AT_COUNT_,
		 "a column for every id of --at's document");

enum layout_col {
	LAY_LAYOUT = IMG_COUNT_,
	LAY_COUNT_
};

static const struct q2_col layout_cols[] = {
	IMAGE_COLS,
	COL(LAY_LAYOUT, .key = "layout", .in = Q2_IN_ALL,
	    .step = Q2_STEP_LAYOUT, .child = &q2_desc_owner),
};
Q2_STATIC_ASSERT(Q2_ARRAY_SIZE(layout_cols) == LAY_COUNT_,
		 "a column for every id of --layout's document");

/* CSV's totals are taken before the problems' rows are written (a
 * group's cells are known when its rows go out), and shown after them */
enum check_col {
	CHK_CSV_TOTALS = IMG_COUNT_,
	CHK_PROBLEMS = CHK_CSV_TOTALS + Q2_TC_COUNT_,
	CHK_TOTALS,
	CHK_COUNT_
};

static const struct q2_col check_cols[] = {
	IMAGE_COLS,
	TOTALS_COLS(CHK_CSV_TOTALS, Q2_IN_CSV),
	COL(CHK_PROBLEMS, .key = "problems", .in = Q2_IN_ALL,
	    .step = Q2_STEP_PROBLEMS, .child = &q2_desc_problem),
	COL(CHK_TOTALS, .key = "totals", .in = Q2_IN_JSON | Q2_IN_TEXT,
	    .step = Q2_STEP_TOTALS, .child = &q2_desc_totals),
};

static const unsigned check_csv_order[] = {
	IMG_IMAGE, IMG_BACKING_DEPTH, IMG_TOP_IMAGE, IMG_FORMAT, IMG_LOCKED,
	CHK_PROBLEMS, CHK_TOTALS,
	CHK_CSV_TOTALS + Q2_TC_CORRUPTIONS, CHK_CSV_TOTALS + Q2_TC_LEAKS,
	CHK_CSV_TOTALS + Q2_TC_CHECK_ERRORS, CHK_CSV_TOTALS + Q2_TC_IMAGE_END_OFFSET,
	CHK_CSV_TOTALS + Q2_TC_TOTAL_CLUSTERS, CHK_CSV_TOTALS + Q2_TC_ALLOCATED_CLUSTERS,
	CHK_CSV_TOTALS + Q2_TC_FRAGMENTED_CLUSTERS, CHK_CSV_TOTALS + Q2_TC_COMPRESSED_CLUSTERS,
};
Q2_STATIC_ASSERT(Q2_ARRAY_SIZE(check_csv_order) == CHK_COUNT_,
		 "every column of -c's document in CSV's order");
Q2_STATIC_ASSERT(Q2_ARRAY_SIZE(check_cols) == CHK_COUNT_,
		 "a column for every id of -c's document");

enum extents_col {
	XS_BITMAPS = IMG_COUNT_,
	XS_COUNT_
};

static const struct q2_col extents_cols[] = {
	IMAGE_COLS,
	COL(XS_BITMAPS, .key = "bitmaps", .in = Q2_IN_ALL,
	    .step = Q2_STEP_IMAGE_BITMAPS, .child = &q2_desc_xbitmap),
};
static const struct q2_col extents_map_cols[] = {
	IMAGE_COLS,
	COL(XS_BITMAPS, .key = "bitmaps", .in = Q2_IN_ALL,
	    .step = Q2_STEP_IMAGE_BITMAPS, .child = &q2_desc_xbitmap_map),
};
Q2_STATIC_ASSERT(Q2_ARRAY_SIZE(extents_cols) == XS_COUNT_ &&
		 Q2_ARRAY_SIZE(extents_map_cols) == XS_COUNT_,
		 "a column for every id of -x's document");

enum snapshots_col {
	SNS_SNAPSHOTS = IMG_COUNT_,
	SNS_COUNT_
};

static const struct q2_col snapshots_cols[] = {
	IMAGE_COLS,
	COL(SNS_SNAPSHOTS, .key = "snapshots", .in = Q2_IN_ALL,
	    .step = Q2_STEP_SNAPSHOTS, .child = &q2_desc_snapshot),
};
Q2_STATIC_ASSERT(Q2_ARRAY_SIZE(snapshots_cols) == SNS_COUNT_,
		 "a column for every id of -s's document");

/* JSON: the problems, after all that may add to them */
enum image_trailer_col {
	IMGT_PROBLEMS,
	IMGT_COUNT_
};

static const struct q2_col problems_trailer[] = {
	COL(IMGT_PROBLEMS, .key = "problems", .in = Q2_IN_JSON,
	    .step = Q2_STEP_PROBLEMS_IF_ANY, .child = &q2_desc_problem),
};
Q2_STATIC_ASSERT(Q2_ARRAY_SIZE(problems_trailer) == IMGT_COUNT_,
		 "a column for every id of the documents' trailer");

#define IMAGE_DESC(c) \
	{ .rec = Q2_REC_IMAGE, .cols = (c), .n_cols = Q2_ARRAY_SIZE(c), \
	  .trailer = problems_trailer, .n_trailer = Q2_ARRAY_SIZE(problems_trailer) }

static const struct q2_desc default_image = IMAGE_DESC(default_cols);
static const struct q2_desc extensions_image = IMAGE_DESC(extensions_cols);
static const struct q2_desc bitmaps_image = IMAGE_DESC(bitmaps_cols);
/* -c: the problems are the document (nothing streams under it) */
static const struct q2_desc check_image = {
	.rec = Q2_REC_IMAGE, .cols = check_cols, .n_cols = Q2_ARRAY_SIZE(check_cols),
	.csv_order = check_csv_order, .n_csv_order = Q2_ARRAY_SIZE(check_csv_order),
};
static const struct q2_desc extents_image = IMAGE_DESC(extents_cols);
static const struct q2_desc extents_map_image = IMAGE_DESC(extents_map_cols);
static const struct q2_desc snapshots_image = IMAGE_DESC(snapshots_cols);
static const struct q2_desc at_image = IMAGE_DESC(at_cols);
static const struct q2_desc layout_image = IMAGE_DESC(layout_cols);

static const struct q2_desc map_doc, chain_map_doc;

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
		.csv_row_table = &q2_desc_problem, .csv_group = &check_image,
		.load_tables = true, .check = true, .verdict = true,
		.load_snapshots = true,
	},
	[Q2_VIEW_EXTENTS] = {
		.image = &extents_image, .csv_row = &q2_desc_extent,
		.csv_row_table = &q2_desc_extent, .csv_group = &q2_desc_xbitmap,
		.load_tables = true, .scans_data = true, .verdict = true,
		.text_label = true, .extents = true,
	},
	[Q2_VIEW_EXTENTS_MAP] = {
		.image = &extents_map_image, .csv_row = &q2_desc_piece,
		.csv_row_table = &q2_desc_piece, .csv_group = &q2_desc_xbitmap_map,
		.load_tables = true, .scans_data = true, .verdict = true,
		.text_label = true, .extents = true, .map = true,
	},
	[Q2_VIEW_CODES] = {
		.csv_row = &q2_desc_code, .csv_row_table = &q2_desc_code,
		.csv_no_image = true, .no_bitmaps = true,
	},
	[Q2_VIEW_CHAIN_EXTENTS] = {
		.image = &q2_desc_chain, .csv_row = &q2_desc_extent,
		.csv_row_table = &q2_desc_extent, .csv_group = &q2_desc_checkpoint,
		.load_tables = true, .scans_data = true, .verdict = true,
		.text_label = true, .chain_doc = true,
	},
	[Q2_VIEW_CHAIN_EXTENTS_MAP] = {
		.image = &chain_map_doc, .csv_row = &q2_desc_piece,
		.csv_row_table = &q2_desc_piece, .csv_group = &q2_desc_checkpoint_map,
		.load_tables = true, .scans_data = true, .verdict = true,
		.text_label = true, .chain_doc = true, .map = true,
	},
	[Q2_VIEW_MAP] = {
		.image = &map_doc, .csv_row = &q2_desc_map_entry,
		.csv_row_table = &q2_desc_map_entry,
		.load_tables = true, .load_snapshots = true, .text_label = true,
		.chain_doc = true, .no_bitmaps = true, .map = true,
	},
	[Q2_VIEW_AT] = {
		.image = &at_image, .csv_row = &q2_desc_owner,
		.csv_row_table = &q2_desc_owner, .csv_group = &at_image,
		.load_tables = true, .load_snapshots = true, .no_bitmaps = true,
	},
	[Q2_VIEW_LAYOUT] = {
		.image = &layout_image, .csv_row = &q2_desc_owner,
		.csv_row_table = &q2_desc_owner,
		.load_tables = true, .load_snapshots = true, .no_bitmaps = true,
		.text_label = true,
	},
	[Q2_VIEW_SNAPSHOTS] = {
		.image = &snapshots_image, .csv_row = &q2_desc_snapshot,
		.csv_row_table = &q2_desc_snapshot,
		/* each snapshot already ends with a blank line */
		.text_label = true, .load_snapshots = true, .no_bitmaps = true,
	},
};

/* ---- the document of a chain (-x) ---- */

enum chain_col {
	CHAIN_IMAGE,
	CHAIN_LAYERS,
	CHAIN_BITMAPS,
	CHAIN_COUNT_
};

#define CHAIN_COLS(checkpoint) \
	COL(CHAIN_IMAGE, .key = "image", .in = Q2_IN_JSON, \
	    .hex_key = "image_hex", .get = get_image), \
	/* text: the layers first; JSON: in the trailer */ \
	COL(CHAIN_LAYERS, .key = "backing_chain", .in = Q2_IN_TEXT, \
	    .step = Q2_STEP_LAYERS, .child = &q2_desc_layer), \
	COL(CHAIN_BITMAPS, .key = "bitmaps", .in = Q2_IN_ALL, \
	    .step = Q2_STEP_CHECKPOINTS, .child = (checkpoint))

static const struct q2_col chain_cols[] = { CHAIN_COLS(&q2_desc_checkpoint) };
/* -x --map --backing-chain: the checkpoints' ranges cut by the map */
static const struct q2_col chain_map_cols[] = { CHAIN_COLS(&q2_desc_checkpoint_map) };
Q2_STATIC_ASSERT(Q2_ARRAY_SIZE(chain_cols) == CHAIN_COUNT_ &&
		 Q2_ARRAY_SIZE(chain_map_cols) == CHAIN_COUNT_,
		 "a column for every id of the chain's document");

/* JSON: each layer with its problems (those met while merging among
 * them), then the chain's own */
enum chain_trailer_col {
	CHAINT_LAYERS,
	CHAINT_PROBLEMS,
	CHAINT_COUNT_
};

static const struct q2_col chain_trailer[] = {
	COL(CHAINT_LAYERS, .key = "backing_chain", .in = Q2_IN_JSON,
	    .step = Q2_STEP_LAYERS, .child = &q2_desc_layer),
	COL(CHAINT_PROBLEMS, .key = "problems", .in = Q2_IN_JSON,
	    .step = Q2_STEP_CHAIN_PROBLEMS, .child = &q2_desc_problem),
};
Q2_STATIC_ASSERT(Q2_ARRAY_SIZE(chain_trailer) == CHAINT_COUNT_,
		 "a column for every id of the chain's trailer");

const struct q2_desc q2_desc_chain = {
	.rec = Q2_REC_IMAGE, .cols = chain_cols, .n_cols = Q2_ARRAY_SIZE(chain_cols),
	.trailer = chain_trailer, .n_trailer = Q2_ARRAY_SIZE(chain_trailer),
};
static const struct q2_desc chain_map_doc = {
	.rec = Q2_REC_IMAGE, .cols = chain_map_cols,
	.n_cols = Q2_ARRAY_SIZE(chain_map_cols),
	.trailer = chain_trailer, .n_trailer = Q2_ARRAY_SIZE(chain_trailer),
};

/* ---- --map: the document of a chain's map ---- */

enum map_doc_col {
	MAPD_IMAGE,
	MAPD_LOCKED,
	MAPD_MAP,
	MAPD_COUNT_
};

static const struct q2_col map_doc_cols[] = {
	COL(MAPD_IMAGE, .key = "image", .in = Q2_IN_JSON,
	    .hex_key = "image_hex", .get = get_image),
	COL(MAPD_LOCKED, .key = "locked", .in = Q2_IN_JSON, .get = get_locked),
	COL(MAPD_MAP, .key = "map", .in = Q2_IN_ALL,
	    .step = Q2_STEP_MAP, .child = &q2_desc_map_entry),
};
Q2_STATIC_ASSERT(Q2_ARRAY_SIZE(map_doc_cols) == MAPD_COUNT_,
		 "a column for every id of --map's document");

/* JSON: the layers the depths name, with their problems, then the
 * chain's */
static const struct q2_desc map_doc = {
	.rec = Q2_REC_IMAGE, .cols = map_doc_cols,
	.n_cols = Q2_ARRAY_SIZE(map_doc_cols),
	.trailer = chain_trailer, .n_trailer = Q2_ARRAY_SIZE(chain_trailer),
};


