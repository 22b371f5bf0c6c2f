/* The 291-style text of QEMU's qcow2.py: "dump-header" for the default
 * view, "dump-header-exts" for -e, byte for byte, with the bitmap table of
 * current qcow2.py under -t. */
#include "config.h"

#include <inttypes.h>
#include <string.h>

#include "describe.h"
#include "emit.h"
#include "utf8.h"

#define LABEL "%-25s "

static void put_bitlist(FILE *out, uint64_t v)
{
	const char *sep = "";

	fputc('[', out);
	for (unsigned bit = 0; bit < 64; bit++) {
		if (v & (1ull << bit)) {
			fprintf(out, "%s%u", sep, bit);
			sep = ", ";
		}
	}
	fputc(']', out);
}

/* qcow2.py's names for the flag bits, in its Python list notation. */
static void put_bitmap_flags(FILE *out, uint64_t v)
{
	const char *sep = "";

	fprintf(out, "0x%" PRIx64 " ([", v);
	for (unsigned bit = 0; bit < 32; bit++) {
		if (!(v & (1ull << bit)))
			continue;
		if (bit == 0)
			fprintf(out, "%s'in-use'", sep);
		else if (bit == 1)
			fprintf(out, "%s'auto'", sep);
		else
			fprintf(out, "%s'bit-%u'", sep, bit);
		sep = ", ";
	}
	fputs("])", out);
}

static void put_fields(FILE *out, const void *obj,
		       const struct q2_field *fields, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		uint64_t v = q2_field_get(obj, &fields[i]);

		fprintf(out, LABEL, fields[i].name);
		switch (fields[i].fmt) {
		case Q2_FMT_DEC: fprintf(out, "%" PRIu64, v); break;
		case Q2_FMT_HEX: fprintf(out, "0x%" PRIx64, v); break;
		case Q2_FMT_BITS: put_bitlist(out, v); break;
		case Q2_FMT_BMFLAGS: put_bitmap_flags(out, v); break;
		}
		fputc('\n', out);
	}
}

static void put_ext_data(FILE *out, const struct q2_ext *x)
{
	if (!q2_ext_data_printable(x)) {
		fprintf(out, LABEL "<binary>\n", "data");
		return;
	}
	fprintf(out, LABEL "'", "data");
	fwrite(x->data, 1, x->length, out);
	fputs("'\n", out);
}

static void put_bitmap_table(FILE *out, const struct q2_bitmap *bm,
			     uint64_t cluster_size)
{
	fprintf(out, "%-14s %-15s %-12s %s\n", "Bitmap table", "type", "size",
		"offset");
	for (uint32_t i = 0; i < bm->bitmap_table_size; i++) {
		enum q2_bte_type t = q2_bte_classify(bm->table[i]);

		fprintf(out, "%-14" PRIu32 " %-15s %-12" PRIu64 " %" PRIu64 "\n",
			i, q2_bte_type_name(t),
			t == Q2_BTE_SERIALIZED ? cluster_size : 0,
			(uint64_t)(bm->table[i] & Q2_BTE_OFFSET_MASK));
	}
}

static void put_bitmap(FILE *out, const struct q2_bitmap *bm,
		       uint64_t cluster_size, const struct q2_emit_opts *opts)
{
	fprintf(out, LABEL, "Bitmap name");
	fput_terminal_safe(out, (const uint8_t *)bm->name, bm->name_size);
	fputc('\n', out);
	put_fields(out, bm, q2_dir_entry_fields, q2_n_dir_entry_fields);
	if (opts->bitmap_table && bm->table_loaded)
		put_bitmap_table(out, bm, cluster_size);
}

static void put_bitmaps_ext(FILE *out, const struct q2_emit_image *im,
			    const struct q2_bitmaps_ext *bx,
			    const struct q2_emit_opts *opts)
{
	uint64_t cluster_size = q2_image_cluster_size(im->img);

	put_fields(out, bx, q2_bitmaps_ext_fields, q2_n_bitmaps_ext_fields);
	for (size_t i = 0; i < bx->n_bitmaps; i++) {
		if (!q2_emit_selected(im, i))
			continue;
		fputc('\n', out);
		put_bitmap(out, &bx->bitmaps[i], cluster_size, opts);
	}
}

static void put_extensions(FILE *out, const struct q2_emit_image *im,
			   const struct q2_emit_opts *opts)
{
	const struct q2_image *img = im->img;

	for (size_t i = 0; i < img->n_exts; i++) {
		const struct q2_ext *x = &img->exts[i];

		fputs("Header extension:\n", out);
		fprintf(out, LABEL "0x%" PRIx32 " (%s)\n", "magic", x->magic,
			q2_ext_name(x->magic));
		fprintf(out, LABEL "%" PRIu32 "\n", "length", x->length);
		if (x->bitmaps)
			put_bitmaps_ext(out, im, x->bitmaps, opts);
		else
			put_ext_data(out, x);
		fputc('\n', out);
	}
}

/* -b: the directory's entries alone, each followed by a blank line. */
static void put_directory(FILE *out, const struct q2_emit_image *im,
			  const struct q2_emit_opts *opts)
{
	const struct q2_bitmaps_ext *bx = q2_image_bitmaps(im->img);
	uint64_t cluster_size = q2_image_cluster_size(im->img);

	for (size_t i = 0; bx && i < bx->n_bitmaps; i++) {
		if (!q2_emit_selected(im, i))
			continue;
		put_bitmap(out, &bx->bitmaps[i], cluster_size, opts);
		fputc('\n', out);
	}
}

/* Several images are told apart the way head(1) does it: a blank line,
 * unless the output before already ends with one, then ==> IMAGE <==. */
static void put_label(FILE *out, const struct q2_emit_image *im,
		      const struct q2_emit_opts *opts, bool blank_before)
{
	if (opts->n_images > 1) {
		fputs(im->index && blank_before ? "\n==> " : "==> ", out);
		fput_terminal_safe(out, (const uint8_t *)im->path, strlen(im->path));
		fputs(" <==\n", out);
	}
}

/* -c: one line per problem, compiler style, so grep and editors read it */
static void put_problems(FILE *out, const struct q2_emit_image *im)
{
	const struct q2_problems *p = im->problems;

	for (size_t i = 0; p && i < p->n; i++) {
		const struct q2_problem *pb = &p->v[i];
		const struct q2_bitmap *bm = q2_problem_bitmap(im->img, pb);

		fput_terminal_safe(out, (const uint8_t *)im->path, strlen(im->path));
		fprintf(out, ": %s: %s: ", q2_severity_name(pb->severity), pb->code);
		if (pb->message)
			fput_terminal_safe(out, (const uint8_t *)pb->message,
					   strlen(pb->message));
		fputs(" (", out);
		if (bm) {
			fputs("bitmap ", out);
			fput_terminal_safe(out, (const uint8_t *)bm->name, bm->name_size);
			fputs(", ", out);
		}
		fprintf(out, "offset 0x%" PRIx64 ")\n", pb->offset);
	}
	if (!p || !p->n) {
		fput_terminal_safe(out, (const uint8_t *)im->path, strlen(im->path));
		fputs(": no problems found\n", out);
	}
}

static int text_image(FILE *out, const struct q2_emit_image *im,
		      const struct q2_emit_opts *opts)
{
	if (opts->view == Q2_VIEW_CHECK) {
		put_problems(out, im);
		return ferror(out) ? -1 : 0;
	}
	put_label(out, im, opts, true);
	switch (opts->view) {
	case Q2_VIEW_DEFAULT:
		if (im->img->header_decoded) {
			put_fields(out, &im->img->header, q2_header_fields,
				   q2_n_header_fields);
			fputc('\n', out);
		}
		put_extensions(out, im, opts);
		break;
	case Q2_VIEW_EXTENSIONS:
		put_extensions(out, im, opts);
		break;
	case Q2_VIEW_BITMAPS:
		put_directory(out, im, opts);
		break;
	case Q2_VIEW_CHECK:
	case Q2_VIEW_EXTENTS:
		break;
	}
	return ferror(out) ? -1 : 0;
}

/* -x: under each bitmap's name and granularity, one "start length" pair
 * per line in the 25-column layout, then the dirty byte count. */
static int text_x_image_begin(FILE *out, const struct q2_emit_image *im,
			      const struct q2_emit_opts *opts)
{
	/* each bitmap before ended with a blank line */
	put_label(out, im, opts, false);
	return ferror(out) ? -1 : 0;
}

static int text_x_bitmap_begin(FILE *out, const struct q2_emit_image *im,
			       const struct q2_bitmap *bm, size_t nth,
			       const struct q2_emit_opts *opts)
{
	uint64_t g = 0; /* shown as 0 when 2^granularity_bits overflows */

	(void)im, (void)nth, (void)opts;
	q2_bitmap_granularity(bm, &g);
	fprintf(out, LABEL, "Bitmap name");
	fput_terminal_safe(out, (const uint8_t *)bm->name, bm->name_size);
	fprintf(out, "\n" LABEL "%" PRIu64 "\n", "granularity", g);
	return ferror(out) ? -1 : 0;
}

static int text_x_extent(FILE *out, const struct q2_emit_image *im,
			 const struct q2_bitmap *bm, size_t nth, uint64_t start,
			 uint64_t length, const struct q2_emit_opts *opts)
{
	(void)im, (void)bm, (void)nth, (void)opts;
	return fprintf(out, "%-25" PRIu64 " %" PRIu64 "\n", start, length) < 0 ? -1 : 0;
}

static int text_x_bitmap_end(FILE *out, const struct q2_bitmap *bm,
			     size_t n_extents, uint64_t dirty_bytes,
			     const struct q2_emit_opts *opts)
{
	(void)bm, (void)n_extents, (void)opts;
	fprintf(out, LABEL "%" PRIu64 "\n\n", "dirty_bytes", dirty_bytes);
	return ferror(out) ? -1 : 0;
}

const struct q2_emitter q2_emitter_text = {
	.name = "text",
	.image = text_image,
	.x_image_begin = text_x_image_begin,
	.x_bitmap_begin = text_x_bitmap_begin,
	.x_extent = text_x_extent,
	.x_bitmap_end = text_x_bitmap_end,
};
