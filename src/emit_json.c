/* JSON: one document per image, in the shapes of the interface contract.
 *
 * Small parts are built as jansson values; a streaming writer lays them
 * out, so that a directory of 65535 bitmaps is never one tree in memory.
 * The writer also prints integers as unsigned: jansson's integers are
 * signed 64-bit, qcow2's fields unsigned, and no value of these documents
 * is negative, so a u64 is stored bit for bit and printed back as u64. */
#include "config.h"

#include <inttypes.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "describe.h"
#include "emit.h"
#include "utf8.h"

/* ---- layout ---- */

struct jw {
	FILE *out;
	bool compact;
	int depth;
	bool first;     /* nothing written yet in the open container */
};

static void jw_indent(struct jw *w, int depth)
{
	if (w->compact)
		return;
	fputc('\n', w->out);
	for (int i = 0; i < depth; i++)
		fputs("  ", w->out);
}

/* Before a member of the open container: a comma, a new line. */
static void jw_sep(struct jw *w)
{
	if (w->depth == 0)
		return;
	if (!w->first)
		fputc(',', w->out);
	w->first = false;
	jw_indent(w, w->depth);
}

static void jw_key(struct jw *w, const char *key)
{
	jw_sep(w);
	fprintf(w->out, w->compact ? "\"%s\":" : "\"%s\": ", key);
}

static void jw_open(struct jw *w, char c)
{
	fputc(c, w->out);
	w->depth++;
	w->first = true;
}

static void jw_close(struct jw *w, char c)
{
	w->depth--;
	if (!w->first)
		jw_indent(w, w->depth);
	fputc(c, w->out);
	w->first = false;
}

static void jw_value(struct jw *w, json_t *v)
{
	const char *key;
	json_t *member;
	size_t i;

	switch (json_typeof(v)) {
	case JSON_OBJECT:
		jw_open(w, '{');
		json_object_foreach(v, key, member) {
			jw_key(w, key);
			jw_value(w, member);
		}
		jw_close(w, '}');
		break;
	case JSON_ARRAY:
		jw_open(w, '[');
		json_array_foreach(v, i, member) {
			jw_sep(w);
			jw_value(w, member);
		}
		jw_close(w, ']');
		break;
	case JSON_STRING: {
		char *s = json_dumps(v, JSON_ENCODE_ANY);

		if (s)
			fputs(s, w->out);
		free(s);
		break;
	}
	case JSON_INTEGER:
		fprintf(w->out, "%" PRIu64, (uint64_t)json_integer_value(v));
		break;
	case JSON_TRUE: fputs("true", w->out); break;
	case JSON_FALSE: fputs("false", w->out); break;
	default: fputs("null", w->out); break;
	}
}

/* The members of object o, into the object open in w. */
static void jw_value_members(struct jw *w, json_t *o)
{
	const char *key;
	json_t *member;

	json_object_foreach(o, key, member) {
		jw_key(w, key);
		jw_value(w, member);
	}
}

/* key: value, consuming the reference to v */
static void jw_member(struct jw *w, const char *key, json_t *v)
{
	jw_key(w, key);
	jw_value(w, v);
	json_decref(v);
}

/* ---- values ---- */

static json_t *jnum(uint64_t v)
{
	return json_integer((json_int_t)v);
}

static json_t *jhex(const uint8_t *p, size_t n)
{
	static const char digits[] = "0123456789abcdef";
	char *s = malloc(2 * n + 1);
	json_t *v;

	if (!s)
		return json_null();
	for (size_t i = 0; i < n; i++) {
		s[2 * i] = digits[p[i] >> 4];
		s[2 * i + 1] = digits[p[i] & 15];
	}
	v = json_stringn(s, 2 * n);
	free(s);
	return v;
}

/* Bytes as a JSON string: as they are when they are UTF-8, else with
 * U+FFFD for each byte that is not, and the raw bytes in hex under
 * hex_key, so that nothing is lost. */
static void set_text(json_t *obj, const char *key, const char *hex_key,
		     const uint8_t *p, size_t n)
{
	char *s;
	size_t len = 0;

	if (utf8_valid(p, n)) {
		json_object_set_new(obj, key, json_stringn((const char *)p, n));
		return;
	}
	s = malloc(3 * n + 1);
	if (!s)
		return;
	for (size_t i = 0; i < n;) {
		size_t k = utf8_seq_len(p + i, n - i);

		if (k) {
			memcpy(s + len, p + i, k);
			len += k;
			i += k;
		} else {
			memcpy(s + len, "\xef\xbf\xbd", 3);
			len += 3;
			i++;
		}
	}
	json_object_set_new(obj, key, json_stringn(s, len));
	json_object_set_new(obj, hex_key, jhex(p, n));
	free(s);
}

static json_t *feature_names(const struct q2_image *img,
			     enum q2_feature_type t, uint64_t bits)
{
	json_t *a = json_array();
	char buf[Q2_NAME_BUF];

	for (unsigned bit = 0; bit < 64; bit++)
		if (bits & (1ull << bit))
			json_array_append_new(
				a, json_string(q2_feature_name(img, t, bit, buf)));
	return a;
}

static json_t *header_json(const struct q2_image *img)
{
	const struct q2_header *h = &img->header;
	json_t *o = json_object();

	for (size_t i = 0; i < q2_n_header_fields; i++)
		json_object_set_new(o, q2_header_fields[i].name,
				    jnum(q2_field_get(h, &q2_header_fields[i])));
	if (h->has_compression_type)
		json_object_set_new(o, "compression_type",
				    jnum(h->compression_type));
	json_object_set_new(o, "incompatible_feature_names",
			    feature_names(img, Q2_FEAT_INCOMPATIBLE,
					  h->incompatible_features));
	json_object_set_new(o, "compatible_feature_names",
			    feature_names(img, Q2_FEAT_COMPATIBLE,
					  h->compatible_features));
	json_object_set_new(o, "autoclear_feature_names",
			    feature_names(img, Q2_FEAT_AUTOCLEAR,
					  h->autoclear_features));
	return o;
}

/* -t: the table streamed entry by entry (up to 2^20 of them per bitmap) */
static void put_bitmap_table(struct jw *w, const struct q2_bitmap *bm)
{
	jw_key(w, "bitmap_table");
	jw_open(w, '[');
	for (uint32_t i = 0; i < bm->bitmap_table_size; i++) {
		uint64_t e = bm->table[i];

		jw_sep(w);
		jw_open(w, '{');
		jw_key(w, "type");
		fprintf(w->out, "\"%s\"", q2_bte_type_name(q2_bte_classify(e)));
		jw_key(w, "offset");
		fprintf(w->out, "%" PRIu64, (uint64_t)(e & Q2_BTE_OFFSET_MASK));
		jw_key(w, "reserved");
		fprintf(w->out, "%" PRIu64, (uint64_t)(e & Q2_BTE_RESERVED_MASK));
		jw_close(w, '}');
	}
	jw_close(w, ']');
}

static json_t *bitmap_json(const struct q2_bitmap *bm)
{
	json_t *o = json_object();
	char buf[Q2_NAME_BUF];

	for (size_t c = 0; c < q2_n_bitmap_cols; c++) {
		const struct q2_bitmap_col *col = &q2_bitmap_cols[c];
		const char *key = q2_bitmap_col_name(col);
		uint64_t g;

		switch (col->kind) {
		case Q2_COL_FIELD:
			json_object_set_new(o, key, jnum(q2_field_get(bm, col->field)));
			break;
		case Q2_COL_NAME:
			set_text(o, key, "name_hex", (const uint8_t *)bm->name,
				 bm->name_size);
			break;
		case Q2_COL_FLAG_NAMES: {
			json_t *a = json_array();

			for (unsigned bit = 0; bit < 32; bit++)
				if (bm->flags & (1u << bit))
					json_array_append_new(
						a, json_string(q2_bitmap_flag_name(bit, buf)));
			json_object_set_new(o, key, a);
			break;
		}
		case Q2_COL_GRANULARITY:
			json_object_set_new(o, key, q2_bitmap_granularity(bm, &g)
							    ? jnum(g) : json_null());
			break;
		}
	}
	if (bm->extra_data_size)
		json_object_set_new(o, "extra_data_hex",
				    jhex(bm->extra_data, bm->extra_data_size));
	return o;
}

/* The selected entries of the directory as the members of an array. */
static void put_bitmap_array(struct jw *w, const struct q2_emit_image *im,
			     const struct q2_bitmaps_ext *bx,
			     const struct q2_emit_opts *opts)
{
	jw_open(w, '[');
	for (size_t i = 0; bx && i < bx->n_bitmaps; i++) {
		if (!q2_emit_selected(im, i))
			continue;
		const struct q2_bitmap *bm = &bx->bitmaps[i];
		json_t *b = bitmap_json(bm);

		jw_sep(w);
		jw_open(w, '{');
		jw_value_members(w, b);
		json_decref(b);
		if (opts->bitmap_table && bm->table_loaded)
			put_bitmap_table(w, bm);
		jw_close(w, '}');
	}
	jw_close(w, ']');
}

/* qcow2.py's data_str */
static json_t *data_str(const struct q2_ext *x)
{
	json_t *v;
	char *s;

	if (!q2_ext_data_printable(x))
		return json_string("<binary>");
	s = malloc((size_t)x->length + 3);
	if (!s)
		return json_null();
	s[0] = '\'';
	memcpy(s + 1, x->data, x->length);
	s[x->length + 1] = '\'';
	v = json_stringn(s, (size_t)x->length + 2);
	free(s);
	return v;
}

static void put_extension(struct jw *w, const struct q2_emit_image *im,
			  const struct q2_ext *x,
			  const struct q2_emit_opts *opts)
{
	json_t *o = json_object();

	json_object_set_new(o, "name", json_string(q2_ext_name(x->magic)));
	json_object_set_new(o, "magic", jnum(x->magic));
	json_object_set_new(o, "length", jnum(x->length));
	json_object_set_new(o, "offset", jnum(x->offset));
	if (!x->bitmaps) {
		json_object_set_new(o, "data_str", data_str(x));
		json_object_set_new(o, "data_hex", jhex(x->data, x->length));
	}
	switch (x->kind) {
	case Q2_EXTK_BACKING_FORMAT:
	case Q2_EXTK_DATA_FILE:
		set_text(o, "string", "string_hex", x->data, x->length);
		break;
	case Q2_EXTK_FEATURE_TABLE: {
		json_t *a = json_array();

		for (size_t i = 0; i < x->n_features; i++) {
			const struct q2_feature *f = &x->features[i];
			json_t *e = json_object();

			json_object_set_new(e, "type", jnum(f->type));
			json_object_set_new(e, "type_name",
					    json_string(q2_feature_type_name(f->type)));
			json_object_set_new(e, "bit", jnum(f->bit));
			set_text(e, "name", "name_hex", (const uint8_t *)f->name,
				 strlen(f->name));
			json_array_append_new(a, e);
		}
		json_object_set_new(o, "features", a);
		break;
	}
	case Q2_EXTK_CRYPTO:
		if (x->has_crypto) {
			json_t *c = json_object();

			json_object_set_new(c, "offset", jnum(x->crypto_offset));
			json_object_set_new(c, "length", jnum(x->crypto_length));
			json_object_set_new(o, "crypto", c);
		}
		break;
	default:
		break;
	}

	/* The bitmaps extension's "data" streams its directory. */
	jw_sep(w);
	jw_open(w, '{');
	jw_value_members(w, o);
	json_decref(o);
	if (x->bitmaps) {
		const struct q2_bitmaps_ext *bx = x->bitmaps;

		jw_key(w, "data");
		jw_open(w, '{');
		for (size_t i = 0; i < q2_n_bitmaps_ext_fields; i++)
			jw_member(w, q2_bitmaps_ext_fields[i].name,
				  jnum(q2_field_get(bx, &q2_bitmaps_ext_fields[i])));
		if (bx->dir_decoded) {
			jw_key(w, "bitmap_directory");
			put_bitmap_array(w, im, bx, opts);
		}
		jw_close(w, '}');
	}
	jw_close(w, '}');
}

static json_t *problems_json(const struct q2_emit_image *im)
{
	const struct q2_problems *p = im->problems;
	json_t *a = json_array();

	for (size_t i = 0; p && i < p->n; i++) {
		const struct q2_problem *pb = &p->v[i];
		const struct q2_bitmap *bm = q2_problem_bitmap(im->img, pb);
		json_t *o = json_object();

		json_object_set_new(o, "severity",
				    json_string(q2_severity_name(pb->severity)));
		json_object_set_new(o, "code", json_string(pb->code));
		if (pb->message)
			set_text(o, "message", "message_hex",
				 (const uint8_t *)pb->message, strlen(pb->message));
		json_object_set_new(o, "offset", jnum(pb->offset));
		if (bm)
			set_text(o, "bitmap", "bitmap_hex",
				 (const uint8_t *)bm->name, bm->name_size);
		json_array_append_new(a, o);
	}
	return a;
}

static int json_image(FILE *out, const struct q2_emit_image *im,
		      const struct q2_emit_opts *opts)
{
	const struct q2_image *img = im->img;
	struct jw w = { .out = out, .compact = opts->compact };
	json_t *top = json_object();

	set_text(top, "image", "image_hex", (const uint8_t *)im->path,
		 strlen(im->path));
	if (opts->view == Q2_VIEW_DEFAULT && img->header_decoded) {
		json_object_set_new(top, "header", header_json(img));
		if (img->backing_file)
			set_text(top, "backing_file", "backing_file_hex",
				 (const uint8_t *)img->backing_file,
				 img->header.backing_file_size);
	}
	jw_open(&w, '{');
	jw_value_members(&w, top);
	json_decref(top);

	if (opts->view == Q2_VIEW_BITMAPS) {
		jw_key(&w, "bitmaps");
		put_bitmap_array(&w, im, q2_image_bitmaps(img), opts);
	} else if (opts->view != Q2_VIEW_CHECK && opts->view != Q2_VIEW_EXTENTS) {
		jw_key(&w, "header_extensions");
		jw_open(&w, '[');
		for (size_t i = 0; i < img->n_exts; i++)
			put_extension(&w, im, &img->exts[i], opts);
		jw_close(&w, ']');
	}
	if (opts->view == Q2_VIEW_CHECK || (im->problems && im->problems->n))
		jw_member(&w, "problems", problems_json(im));
	jw_close(&w, '}');
	fputc('\n', out);
	return ferror(out) ? -1 : 0;
}

/* -x: {"image", "bitmaps": [{"name", "granularity", "extents": [...],
 * "dirty_bytes"}], "problems"}, streamed.  Each hook rebuilds the writer
 * at its fixed depth; nth says whether a comma is due. */
static int json_x_image_begin(FILE *out, const struct q2_emit_image *im,
			      const struct q2_emit_opts *opts)
{
	struct jw w = { .out = out, .compact = opts->compact };
	json_t *o = json_object();

	set_text(o, "image", "image_hex", (const uint8_t *)im->path,
		 strlen(im->path));
	jw_open(&w, '{');
	jw_value_members(&w, o);
	json_decref(o);
	jw_key(&w, "bitmaps");
	jw_open(&w, '[');
	return ferror(out) ? -1 : 0;
}

static int json_x_bitmap_begin(FILE *out, const struct q2_emit_image *im,
			       const struct q2_bitmap *bm, size_t nth,
			       const struct q2_emit_opts *opts)
{
	struct jw w = { .out = out, .compact = opts->compact, .depth = 2,
			.first = nth == 0 };
	json_t *o = json_object();
	uint64_t g;
	(void)im;

	set_text(o, "name", "name_hex", (const uint8_t *)bm->name, bm->name_size);
	json_object_set_new(o, "granularity", q2_bitmap_granularity(bm, &g)
						      ? jnum(g) : json_null());
	jw_sep(&w);
	jw_open(&w, '{');
	jw_value_members(&w, o);
	json_decref(o);
	jw_key(&w, "extents");
	jw_open(&w, '[');
	return ferror(out) ? -1 : 0;
}

static int json_x_extent(FILE *out, const struct q2_emit_image *im,
			 const struct q2_bitmap *bm, size_t nth, uint64_t start,
			 uint64_t length, const struct q2_emit_opts *opts)
{
	struct jw w = { .out = out, .compact = opts->compact, .depth = 4,
			.first = nth == 0 };
	(void)im, (void)bm;

	jw_sep(&w);
	jw_open(&w, '{');
	jw_key(&w, "start");
	fprintf(out, "%" PRIu64, start);
	jw_key(&w, "length");
	fprintf(out, "%" PRIu64, length);
	jw_close(&w, '}');
	return ferror(out) ? -1 : 0;
}

static int json_x_bitmap_end(FILE *out, const struct q2_bitmap *bm,
			     size_t n_extents, uint64_t dirty_bytes,
			     const struct q2_emit_opts *opts)
{
	struct jw w = { .out = out, .compact = opts->compact, .depth = 4,
			.first = n_extents == 0 };
	(void)bm;

	jw_close(&w, ']');
	jw_key(&w, "dirty_bytes");
	fprintf(out, "%" PRIu64, dirty_bytes);
	jw_close(&w, '}');
	return ferror(out) ? -1 : 0;
}

static int json_x_image_end(FILE *out, const struct q2_emit_image *im,
			    size_t n_bitmaps, const struct q2_emit_opts *opts)
{
	struct jw w = { .out = out, .compact = opts->compact, .depth = 2,
			.first = n_bitmaps == 0 };

	jw_close(&w, ']');
	if (im->problems && im->problems->n)
		jw_member(&w, "problems", problems_json(im));
	jw_close(&w, '}');
	fputc('\n', out);
	return ferror(out) ? -1 : 0;
}

const struct q2_emitter q2_emitter_json = {
	.name = "json",
	.image = json_image,
	.x_image_begin = json_x_image_begin,
	.x_bitmap_begin = json_x_bitmap_begin,
	.x_extent = json_x_extent,
	.x_bitmap_end = json_x_bitmap_end,
	.x_image_end = json_x_image_end,
};
