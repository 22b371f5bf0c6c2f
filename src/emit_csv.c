/* CSV (RFC 4180, LF line ends): one table per view, one header row for
 * all images.  Bitmap rows take their columns from q2_bitmap_cols, the
 * table the JSON emitter uses too. */
#include "config.h"

#include <inttypes.h>
#include <string.h>

#include "describe.h"
#include "emit.h"

enum csv_table { CSV_BITMAPS, CSV_EXTENSIONS, CSV_BITMAP_TABLES, CSV_PROBLEMS,
		 CSV_EXTENTS };

static enum csv_table table_of(const struct q2_emit_opts *opts)
{
	if (opts->view == Q2_VIEW_EXTENSIONS)
		return CSV_EXTENSIONS;
	if (opts->view == Q2_VIEW_CHECK)
		return CSV_PROBLEMS;
	if (opts->view == Q2_VIEW_EXTENTS)
		return CSV_EXTENTS;
	return opts->bitmap_table ? CSV_BITMAP_TABLES : CSV_BITMAPS;
}

/* A field is quoted when a parser needs it (separator, quote, line
 * break) and when it starts with a character a spreadsheet would take
 * for a formula, so that it stays text there; the bytes are kept as
 * they are either way. */
static void put_field(FILE *out, const char *p, size_t n)
{
	bool quote = n && strchr("=+-@\t\r ", p[0]);

	for (size_t i = 0; i < n && !quote; i++)
		quote = p[i] == ',' || p[i] == '"' || p[i] == '\n' ||
			p[i] == '\r';
	if (!quote) {
		fwrite(p, 1, n, out);
		return;
	}
	fputc('"', out);
	for (size_t i = 0; i < n; i++) {
		if (p[i] == '"')
			fputc('"', out);
		fputc(p[i], out);
	}
	fputc('"', out);
}

static void put_str(FILE *out, const char *s)
{
	put_field(out, s, strlen(s));
}

static void put_hex(FILE *out, const uint8_t *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		fprintf(out, "%02x", p[i]);
}

static int csv_begin(FILE *out, const struct q2_emit_opts *opts)
{
	switch (table_of(opts)) {
	case CSV_BITMAPS:
		fputs("image", out);
		for (size_t c = 0; c < q2_n_bitmap_cols; c++)
			fprintf(out, ",%s", q2_bitmap_col_name(&q2_bitmap_cols[c]));
		fputc('\n', out);
		break;
	case CSV_EXTENSIONS:
		fputs("image,index,name,magic,length,data\n", out);
		break;
	case CSV_BITMAP_TABLES:
		fputs("image,bitmap,index,type,offset,reserved\n", out);
		break;
	case CSV_PROBLEMS:
		fputs("image,severity,code,offset,bitmap,message\n", out);
		break;
	case CSV_EXTENTS:
		fputs("image,bitmap,start,length\n", out);
		break;
	}
	return ferror(out) ? -1 : 0;
}

static void put_bitmap_row(FILE *out, const char *path,
			   const struct q2_bitmap *bm)
{
	char buf[Q2_NAME_BUF];

	put_str(out, path);
	for (size_t c = 0; c < q2_n_bitmap_cols; c++) {
		const struct q2_bitmap_col *col = &q2_bitmap_cols[c];
		const char *sep = "";
		uint64_t g;

		fputc(',', out);
		switch (col->kind) {
		case Q2_COL_FIELD:
			fprintf(out, "%" PRIu64, q2_field_get(bm, col->field));
			break;
		case Q2_COL_NAME:
			put_field(out, bm->name, bm->name_size);
			break;
		case Q2_COL_FLAG_NAMES:
			for (unsigned bit = 0; bit < 32; bit++) {
				if (!(bm->flags & (1u << bit)))
					continue;
				fprintf(out, "%s%s", sep, q2_bitmap_flag_name(bit, buf));
				sep = " ";
			}
			break;
		case Q2_COL_GRANULARITY:
			if (q2_bitmap_granularity(bm, &g))
				fprintf(out, "%" PRIu64, g);
			break;
		}
	}
	fputc('\n', out);
}

static void put_table_rows(FILE *out, const char *path,
			   const struct q2_bitmap *bm)
{
	for (uint32_t i = 0; bm->table_loaded && i < bm->bitmap_table_size; i++) {
		uint64_t e = bm->table[i];

		put_str(out, path);
		fputc(',', out);
		put_field(out, bm->name, bm->name_size);
		fprintf(out, ",%" PRIu32 ",%s,%" PRIu64 ",%" PRIu64 "\n", i,
			q2_bte_type_name(q2_bte_classify(e)),
			(uint64_t)(e & Q2_BTE_OFFSET_MASK),
			(uint64_t)(e & Q2_BTE_RESERVED_MASK));
	}
}

static void put_extension_row(FILE *out, const char *path, size_t index,
			      const struct q2_ext *x)
{
	put_str(out, path);
	fprintf(out, ",%zu,", index);
	put_str(out, q2_ext_name(x->magic));
	fprintf(out, ",%" PRIu32 ",%" PRIu32 ",", x->magic, x->length);
	/* the two string extensions as text, any other as hex */
	if (x->kind == Q2_EXTK_BACKING_FORMAT || x->kind == Q2_EXTK_DATA_FILE)
		put_field(out, (const char *)x->data, x->length);
	else
		put_hex(out, x->data, x->length);
	fputc('\n', out);
}

static void put_problem_rows(FILE *out, const struct q2_emit_image *im)
{
	for (size_t i = 0; im->problems && i < im->problems->n; i++) {
		const struct q2_problem *pb = &im->problems->v[i];
		const struct q2_bitmap *bm = q2_problem_bitmap(im->img, pb);

		put_str(out, im->path);
		fprintf(out, ",%s,%s,%" PRIu64 ",", q2_severity_name(pb->severity),
			pb->code, pb->offset);
		if (bm)
			put_field(out, bm->name, bm->name_size);
		fputc(',', out);
		put_str(out, pb->message ? pb->message : "");
		fputc('\n', out);
	}
}

static int csv_image(FILE *out, const struct q2_emit_image *im,
		     const struct q2_emit_opts *opts)
{
	const struct q2_image *img = im->img;
	const struct q2_bitmaps_ext *bx = q2_image_bitmaps(img);
	enum csv_table t = table_of(opts);

	if (t == CSV_PROBLEMS) {
		put_problem_rows(out, im);
		return ferror(out) ? -1 : 0;
	}
	if (t == CSV_EXTENSIONS) {
		for (size_t i = 0; i < img->n_exts; i++)
			put_extension_row(out, im->path, i, &img->exts[i]);
		return ferror(out) ? -1 : 0;
	}
	for (size_t i = 0; bx && i < bx->n_bitmaps; i++) {
		if (!q2_emit_selected(im, i))
			continue;
		if (t == CSV_BITMAPS)
			put_bitmap_row(out, im->path, &bx->bitmaps[i]);
		else
			put_table_rows(out, im->path, &bx->bitmaps[i]);
	}
	return ferror(out) ? -1 : 0;
}

static int csv_x_extent(FILE *out, const struct q2_emit_image *im,
			const struct q2_bitmap *bm, size_t nth, uint64_t start,
			uint64_t length, const struct q2_emit_opts *opts)
{
	(void)nth, (void)opts;
	put_str(out, im->path);
	fputc(',', out);
	put_field(out, bm->name, bm->name_size);
	fprintf(out, ",%" PRIu64 ",%" PRIu64 "\n", start, length);
	return ferror(out) ? -1 : 0;
}

const struct q2_emitter q2_emitter_csv = {
	.name = "csv",
	.begin = csv_begin,
	.image = csv_image,
	.x_extent = csv_x_extent,
};
