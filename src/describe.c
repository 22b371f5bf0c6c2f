#include "config.h"

#include "describe.h"

#include <stdio.h>
#include <string.h>

static const struct {
	enum q2_feature_type type;
	unsigned bit;
	const char *name;
} known_features[] = {
	{ Q2_FEAT_INCOMPATIBLE, 0, "dirty" },
	{ Q2_FEAT_INCOMPATIBLE, 1, "corrupt" },
	{ Q2_FEAT_INCOMPATIBLE, 2, "external_data_file" },
	{ Q2_FEAT_INCOMPATIBLE, 3, "compression_type" },
	{ Q2_FEAT_INCOMPATIBLE, 4, "extended_l2" },
	{ Q2_FEAT_COMPATIBLE, 0, "lazy_refcounts" },
	{ Q2_FEAT_AUTOCLEAR, 0, "bitmaps" },
	{ Q2_FEAT_AUTOCLEAR, 1, "raw_external_data" },
};

const char *q2_feature_name(const struct q2_image *img, enum q2_feature_type t,
			    unsigned bit, char buf[Q2_NAME_BUF])
{
	for (size_t i = 0; i < sizeof known_features / sizeof known_features[0]; i++)
		if (known_features[i].type == t && known_features[i].bit == bit)
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
	switch (bit) {
	case 0: return "in_use";
	case 1: return "auto";
	case 2: return "extra_data_compatible";
	default:
		snprintf(buf, Q2_NAME_BUF, "bit-%u", bit);
		return buf;
	}
}

bool q2_bitmap_granularity(const struct q2_bitmap *bm, uint64_t *out)
{
	if (bm->granularity_bits >= 64)
		return false;
	*out = 1ull << bm->granularity_bits;
	return true;
}

#define COL_FIELD(df) \
	{ NULL, Q2_COL_FIELD, &q2_dir_entry_fields[df] }

/* The order of the CSV columns and of the JSON keys. */
const struct q2_bitmap_col q2_bitmap_cols[] = {
	{ "name", Q2_COL_NAME, NULL },
	COL_FIELD(Q2_DF_TABLE_OFFSET),
	COL_FIELD(Q2_DF_TABLE_SIZE),
	COL_FIELD(Q2_DF_FLAGS),
	{ "flag_names", Q2_COL_FLAG_NAMES, NULL },
	COL_FIELD(Q2_DF_TYPE),
	COL_FIELD(Q2_DF_GRANULARITY_BITS),
	{ "granularity", Q2_COL_GRANULARITY, NULL },
	COL_FIELD(Q2_DF_NAME_SIZE),
	COL_FIELD(Q2_DF_EXTRA_DATA_SIZE),
};
const size_t q2_n_bitmap_cols = sizeof q2_bitmap_cols / sizeof q2_bitmap_cols[0];
