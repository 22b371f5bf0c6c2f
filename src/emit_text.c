/* The 291-style text of QEMU's qcow2.py: "dump-header" for the default
 * view, "dump-header-exts" for -e, byte for byte, with the bitmap table of
 * current qcow2.py under -t.  Most records are labelled lines (a label
 * padded to 25 columns, a space, the value); table entries and dirty
 * ranges are rows; a problem is one compiler-style line. */
#include "config.h"

#include <assert.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "emit.h"
#include "utf8.h"
#include "describe.h"

#define LABEL_WIDTH 25
#define MAX_DEPTH 16
#define ROW_CELL 64

/* LABELLED: a line per field; ROW: one line, cells padded to their
 * column's width; LINE: one line in a format of its own; TSV: one line,
 * fields separated by tabs */
enum layout { LABELLED, ROW, LINE, TSV };

static const enum layout layouts[Q2_REC_COUNT_] = {
	[Q2_REC_TABLE_ENTRY] = ROW,
	[Q2_REC_EXTENT] = ROW,
	[Q2_REC_PROBLEM] = LINE,
	[Q2_REC_CODE] = TSV,
	[Q2_REC_LAYER] = ROW,
	[Q2_REC_MAP_ENTRY] = LINE,
	[Q2_REC_PIECE] = ROW,
	[Q2_REC_TOTALS] = LINE,
	[Q2_REC_OWNER] = LINE,
};

struct text_state {
	enum q2_rec open[MAX_DEPTH];  /* records open, outermost first */
	int depth;
	size_t cells;                 /* written in the current row */
	/* a problem's fields by column id, until its line is written */
	struct q2_value problem[Q2_PC_COUNT_];
	/* and a map entry's, and -c's totals */
	struct q2_value map[Q2_MC_COUNT_];
	struct q2_value totals[Q2_TC_COUNT_];
	struct q2_value owner[Q2_OC_COUNT_];
};

static struct text_state *st(struct q2_emitter *e)
{
	return e->state;
}

static enum q2_rec parent(const struct text_state *s)
{
	return s->depth >= 2 ? s->open[s->depth - 2] : Q2_REC_COUNT_;
}

static void put_safe(struct q2_out *o, const void *data, size_t n)
{
	const uint8_t *p = data;
	static const char digits[] = "0123456789abcdef";

	for (size_t i = 0; i < n;) {
		size_t run = utf8_terminal_run(p + i, n - i);

		if (run) {
			q2_out_write(o, p + i, run);
			i += run;
			continue;
		}
		q2_out_write(o, "\\x", 2);
		q2_out_char(o, digits[p[i] >> 4]);
		q2_out_char(o, digits[p[i] & 15]);
		i++;
	}
}

static void put_bitlist(struct q2_out *o, uint64_t v)
{
	const char *sep = "";

	q2_out_char(o, '[');
	for (unsigned bit = 0; bit < 64; bit++) {
		if (v & (1ull << bit)) {
			q2_out_str(o, sep);
			q2_out_u64(o, bit);
			sep = ", ";
		}
	}
	q2_out_char(o, ']');
}

/* qcow2.py's names for the flag bits, in its Python list notation. */
static void put_bitmap_flags(struct q2_out *o, uint64_t v)
{
	const char *sep = "";

	q2_out_str(o, "0x");
	q2_out_hex(o, v);
	q2_out_str(o, " ([");
	for (unsigned bit = 0; bit < 32; bit++) {
		if (!(v & (1ull << bit)))
			continue;
		q2_out_str(o, sep);
		if (1u << bit == Q2_BME_FLAG_IN_USE) {
			q2_out_str(o, "'in-use'");
		} else if (1u << bit == Q2_BME_FLAG_AUTO) {
			q2_out_str(o, "'auto'");
		} else {
			q2_out_str(o, "'bit-");
			q2_out_u64(o, bit);
			q2_out_char(o, '\'');
		}
		sep = ", ";
	}
	q2_out_str(o, "])");
}

static void put_number(struct q2_out *o, const struct q2_col *c, uint64_t v)
{
	switch (q2_col_text_fmt(c)) {
	case Q2_FMT_DEC:
		q2_out_u64(o, v);
		break;
	case Q2_FMT_HEX:
		q2_out_str(o, "0x");
		q2_out_hex(o, v);
		break;
	case Q2_FMT_BITS:
		put_bitlist(o, v);
		break;
	case Q2_FMT_BMFLAGS:
		put_bitmap_flags(o, v);
		break;
	case Q2_FMT_EXTMAGIC:
		q2_out_str(o, "0x");
		q2_out_hex(o, v);
		q2_out_str(o, " (");
		q2_out_str(o, q2_ext_name((uint32_t)v));
		q2_out_char(o, ')');
		break;
	}
}

static void put_value(struct q2_out *o, const struct q2_col *c,
		      const struct q2_value *v)
{
	char buf[Q2_NAME_BUF];
	const char *sep = "";

	switch (v->type) {
	case Q2_V_ABSENT:
	case Q2_V_NULL:
		break;
	case Q2_V_U64:
		put_number(o, c, v->u);
		break;
	case Q2_V_BOOL:
		q2_out_str(o, v->u ? "true" : "false");
		break;
	case Q2_V_WORD:
		q2_out_write(o, v->p, v->n);
		break;
	case Q2_V_BYTES:
		put_safe(o, v->p, v->n);
		break;
	case Q2_V_QUOTED:
		/* qcow2.py's data_str: only printable bytes get here */
		q2_out_char(o, '\'');
		q2_out_write(o, v->p, v->n);
		q2_out_char(o, '\'');
		break;
	case Q2_V_HEX:
		q2_out_hexbytes(o, v->p, v->n);
		break;
	case Q2_V_BITS:
		for (unsigned bit = 0; bit < 64; bit++) {
			if (!(v->u & (1ull << bit)))
				continue;
			q2_out_str(o, sep);
			q2_out_str(o, v->bit_name(v->bit_ctx, bit, buf));
			sep = " ";
		}
		break;
	case Q2_V_U64_LIST:
		for (size_t i = 0; i < v->n; i++) {
			q2_out_str(o, sep);
			q2_out_u64(o, ((const uint64_t *)v->p)[i]);
			sep = " ";
		}
		break;
	}
}

/* A row's cell: padded to the column's width, a space between cells. */
static void put_cell(struct q2_emitter *e, const struct q2_col *c,
		     const struct q2_value *v)
{
	struct q2_out *o = e->out;
	size_t before;

	if (st(e)->cells++)
		q2_out_char(o, ' ');
	/* the cell's length, to pad it: rows hold numbers and short words,
	 * which fit in the room reserved */
	q2_out_reserve(o, ROW_CELL);
	before = o->len;
	put_value(o, c, v);
	if (c->width && o->len - before < c->width)
		q2_out_spaces(o, c->width - (o->len - before));
}

static void label_line_begin(struct q2_out *o, const char *label)
{
	q2_out_padded(o, label, strlen(label), LABEL_WIDTH);
	q2_out_char(o, ' ');
}

static void text_begin(struct q2_emitter *e)
{
	(void)e;
}

static void text_end(struct q2_emitter *e)
{
	(void)e;
}

/* Several images are told apart the way head(1) does it. */
static void put_image_label(struct q2_emitter *e)
{
	/* as head(1): no label for a file that could not be opened; each
	 * layer of a backing chain is an image of its own */
	bool layers = e->opts->backing_chain && !e->view->chain_doc;

	if (!e->view->text_label || (e->opts->n_images < 2 && !layers) ||
	    e->unopened)
		return;
	if (e->images_shown)
		q2_out_char(e->out, '\n');
	q2_out_str(e->out, "==> ");
	put_safe(e->out, e->image, strlen(e->image));
	q2_out_str(e->out, " <==\n");
}

static void text_record_begin(struct q2_emitter *e, const struct q2_desc *d,
			      const char *key)
{
	struct text_state *s = st(e);

	(void)key;
	if (s->depth < MAX_DEPTH)
		s->open[s->depth] = d->rec;
	s->depth++;
	s->cells = 0;
	switch (d->rec) {
	case Q2_REC_IMAGE:
		put_image_label(e);
		break;
	case Q2_REC_EXTENSION:
		q2_out_str(e->out, "Header extension:\n");
		break;
	case Q2_REC_BITMAP:
		/* in an extension, a blank line before each entry */
		if (parent(s) == Q2_REC_BITMAPS_EXT)
			q2_out_char(e->out, '\n');
		break;
	case Q2_REC_PROBLEM:
		for (size_t i = 0; i < Q2_PC_COUNT_; i++)
			s->problem[i] = (struct q2_value){ .type = Q2_V_ABSENT };
		break;
	case Q2_REC_MAP_ENTRY:
		for (size_t i = 0; i < Q2_MC_COUNT_; i++)
			s->map[i] = (struct q2_value){ .type = Q2_V_ABSENT };
		break;
	case Q2_REC_TOTALS:
		for (size_t i = 0; i < Q2_TC_COUNT_; i++)
			s->totals[i] = (struct q2_value){ .type = Q2_V_ABSENT };
		break;
	case Q2_REC_OWNER:
		for (size_t i = 0; i < Q2_OC_COUNT_; i++)
			s->owner[i] = (struct q2_value){ .type = Q2_V_ABSENT };
		break;
	default:
		break;
	}
}

/* -c: one line per problem, compiler style, so grep and editors read it */
static void put_problem(struct q2_emitter *e)
{
	const struct q2_value *p = st(e)->problem;
	const struct q2_col *c = q2_desc_problem.cols;
	struct q2_out *o = e->out;

	put_safe(o, e->image, strlen(e->image));
	q2_out_str(o, ": ");
	put_value(o, &c[Q2_PC_SEVERITY], &p[Q2_PC_SEVERITY]);
	q2_out_str(o, ": ");
	put_value(o, &c[Q2_PC_CODE], &p[Q2_PC_CODE]);
	q2_out_str(o, ": ");
	put_value(o, &c[Q2_PC_MESSAGE], &p[Q2_PC_MESSAGE]);
	q2_out_str(o, " (");
	if (p[Q2_PC_BITMAP].type == Q2_V_BYTES) {
		q2_out_str(o, "bitmap ");
		put_value(o, &c[Q2_PC_BITMAP], &p[Q2_PC_BITMAP]);
		q2_out_str(o, ", ");
	}
	q2_out_str(o, "offset ");
	put_value(o, &c[Q2_PC_OFFSET], &p[Q2_PC_OFFSET]);
	q2_out_str(o, ")\n");
}

/* qemu-img map's human cell: "%#-16" PRIx64 */
static void put_map_number(struct q2_out *o, uint64_t v)
{
	char buf[32];
	int n = snprintf(buf, sizeof buf, "%#-16" PRIx64, v);

	q2_out_write(o, buf, (size_t)n);
}

/* --map: qemu-img map's human line, for a range that reads as data; a
 * compressed or encrypted range, where qemu-img gives up, gets a line
 * with "compressed" or "-" (no offset shown) where the offset goes */
static void put_map_entry(struct q2_emitter *e)
{
	const struct q2_value *m = st(e)->map;
	struct q2_out *o = e->out;

	if (!m[Q2_MC_DATA].u || m[Q2_MC_ZERO].u)
		return;
	put_map_number(o, m[Q2_MC_START].u);
	put_map_number(o, m[Q2_MC_LENGTH].u);
	if (m[Q2_MC_OFFSET].type == Q2_V_U64)
		put_map_number(o, m[Q2_MC_OFFSET].u);
	else
		q2_out_str(o, m[Q2_MC_COMPRESSED].u ? "compressed" : "-");
	if (m[Q2_MC_FILE].type == Q2_V_BYTES)
		put_safe(o, m[Q2_MC_FILE].p, m[Q2_MC_FILE].n);
	q2_out_char(o, '\n');
}

/* -c: qemu-img check's human report, line for line (qemu-img.c,
 * dump_human_image_check); nothing where it would give no result */
static void put_totals(struct q2_emitter *e)
{
	const struct q2_value *t = st(e)->totals;
	struct q2_out *o = e->out;
	uint64_t corr, leaks, cerr, total, alloc;
	char buf[160];
	int n;

	for (size_t i = 0; i < Q2_TC_COUNT_; i++)
		if (t[i].type != Q2_V_U64)
			return;
	corr = t[Q2_TC_CORRUPTIONS].u;
	leaks = t[Q2_TC_LEAKS].u;
	cerr = t[Q2_TC_CHECK_ERRORS].u;
	total = t[Q2_TC_TOTAL_CLUSTERS].u;
	alloc = t[Q2_TC_ALLOCATED_CLUSTERS].u;
	if (!corr && !leaks && !cerr)
		q2_out_str(o, "No errors were found on the image.\n");
	if (corr) {
		q2_out_str(o, "\n");
		q2_out_u64(o, corr);
		q2_out_str(o, " errors were found on the image.\n"
			   "Data may be corrupted, or further writes to the image may corrupt it.\n");
	}
	if (leaks) {
		q2_out_str(o, "\n");
		q2_out_u64(o, leaks);
		q2_out_str(o, " leaked clusters were found on the image.\n"
			   "This means waste of disk space, but no harm to data.\n");
	}
	if (cerr) {
		q2_out_str(o, "\n");
		q2_out_u64(o, cerr);
		q2_out_str(o, " internal errors have occurred during the check.\n");
	}
	if (total && alloc) {
		n = snprintf(buf, sizeof buf,
			     "%" PRIu64 "/%" PRIu64 " = %0.2f%% allocated, %0.2f%% fragmented, "
			     "%0.2f%% compressed clusters\n", alloc, total,
			     (double)alloc * 100.0 / (double)total,
			     (double)t[Q2_TC_FRAGMENTED_CLUSTERS].u * 100.0 / (double)alloc,
			     (double)t[Q2_TC_COMPRESSED_CLUSTERS].u * 100.0 / (double)alloc);
		if (n > 0)
			q2_out_write(o, buf, (size_t)n < sizeof buf ? (size_t)n : sizeof buf - 1);
	}
	if (t[Q2_TC_IMAGE_END_OFFSET].u) {
		q2_out_str(o, "Image end offset: ");
		q2_out_u64(o, t[Q2_TC_IMAGE_END_OFFSET].u);
		q2_out_char(o, '\n');
	}
}

/* --at: "IMAGE: at 0xX: STRUCTURE 0xSTART+0xLENGTH refcount N[ KEY
 * VALUE]..."; --layout: a row of a table in qemu-img map's manner, the
 * owner's details at its end */
static void put_owner(struct q2_emitter *e)
{
	const struct q2_value *v = st(e)->owner;
	const struct q2_col *c = q2_desc_owner.cols;
	struct q2_out *o = e->out;
	bool at = e->view == &q2_views[Q2_VIEW_AT];
	char buf[48];
	int n;

	if (at) {
		put_safe(o, e->image, strlen(e->image));
		n = snprintf(buf, sizeof buf, ": at 0x%" PRIx64 ": ", e->at);
		q2_out_write(o, buf, (size_t)n);
		put_value(o, &c[Q2_OC_STRUCTURE], &v[Q2_OC_STRUCTURE]);
		q2_out_char(o, ' ');
		put_value(o, &c[Q2_OC_START], &v[Q2_OC_START]);
		q2_out_char(o, '+');
		put_value(o, &c[Q2_OC_LENGTH], &v[Q2_OC_LENGTH]);
		q2_out_str(o, " refcount ");
	} else {
		n = snprintf(buf, sizeof buf, "0x%-17" PRIx64 " 0x%-17" PRIx64 " ",
			     v[Q2_OC_START].u, v[Q2_OC_LENGTH].u);
		q2_out_write(o, buf, (size_t)n);
	}
	if (v[Q2_OC_REFCOUNT].type == Q2_V_U64)
		n = snprintf(buf, sizeof buf, "%" PRIu64, v[Q2_OC_REFCOUNT].u);
	else
		n = snprintf(buf, sizeof buf, "?");
	q2_out_write(o, buf, (size_t)n);
	if (!at) {
		/* the refcount column is 8 wide, as its title */
		q2_out_spaces(o, n < 8 ? (size_t)(8 - n) : 0);
		q2_out_char(o, ' ');
		put_value(o, &c[Q2_OC_STRUCTURE], &v[Q2_OC_STRUCTURE]);
	}
	for (size_t i = Q2_OC_L1_INDEX; i < Q2_OC_COUNT_; i++) {
		if (v[i].type == Q2_V_ABSENT || v[i].type == Q2_V_NULL)
			continue;
		q2_out_char(o, ' ');
		q2_out_str(o, q2_col_label(&c[i]));
		q2_out_char(o, ' ');
		put_value(o, &c[i], &v[i]);
	}
	q2_out_char(o, '\n');
}

static void text_record_end(struct q2_emitter *e, const struct q2_desc *d)
{
	struct text_state *s = st(e);

	switch (d->rec) {
	case Q2_REC_HEADER:
	case Q2_REC_EXTENSION:
	case Q2_REC_XBITMAP:
	case Q2_REC_CHECKPOINT:
	case Q2_REC_SNAPSHOT:
		q2_out_char(e->out, '\n');
		break;
	case Q2_REC_BITMAP:
		/* -b: a blank line after each entry */
		if (parent(s) == Q2_REC_IMAGE)
			q2_out_char(e->out, '\n');
		break;
	case Q2_REC_TABLE_ENTRY:
	case Q2_REC_EXTENT:
	case Q2_REC_CODE:
	case Q2_REC_LAYER:
	case Q2_REC_PIECE:
		q2_out_char(e->out, '\n');
		break;
	case Q2_REC_PROBLEM:
		put_problem(e);
		break;
	case Q2_REC_MAP_ENTRY:
		put_map_entry(e);
		break;
	case Q2_REC_TOTALS:
		put_totals(e);
		break;
	case Q2_REC_OWNER:
		put_owner(e);
		break;
	default:
		break;
	}
	s->depth--;
}

static void text_list_begin(struct q2_emitter *e, const struct q2_desc *item,
			    const char *key)
{
	(void)key;
	if (item->rec == Q2_REC_MAP_ENTRY)
		q2_out_str(e->out, "Offset          Length          Mapped to       File\n");
	if (item->rec == Q2_REC_OWNER && e->view != &q2_views[Q2_VIEW_AT])
		q2_out_str(e->out, "Offset              Length              Refcount Structure Owner\n");
	/* qcow2.py heads the bitmap table with its column titles, and so
	 * go the table of a chain's layers and the pieces of -x --map */
	if (item->rec == Q2_REC_TABLE_ENTRY || item->rec == Q2_REC_LAYER ||
	    item->rec == Q2_REC_PIECE) {
		struct text_state *s = st(e);

		s->cells = 0;
		for (size_t i = 0; i < item->n_cols; i++) {
			const struct q2_col *c = &item->cols[i];
			struct q2_value title = { .type = Q2_V_WORD };

			if (!(c->in & Q2_IN_TEXT))
				continue;
			title.p = q2_col_label(c);
			title.n = strlen(title.p);
			put_cell(e, c, &title);
		}
		q2_out_char(e->out, '\n');
	}
}

static void text_list_end(struct q2_emitter *e, const struct q2_desc *item,
			  size_t n_items)
{
	if (item->rec == Q2_REC_PROBLEM && !n_items) {
		put_safe(e->out, e->image, strlen(e->image));
		q2_out_str(e->out, ": no problems found\n");
	}
	/* a blank line between a chain's layers and its bitmaps */
	if (item->rec == Q2_REC_LAYER)
		q2_out_char(e->out, '\n');
}

static void text_field(struct q2_emitter *e, const struct q2_col *c,
		       const struct q2_value *v)
{
	struct text_state *s = st(e);
	enum q2_rec rec = s->depth > 0 && s->depth <= MAX_DEPTH
			  ? s->open[s->depth - 1] : Q2_REC_COUNT_;

	if (v->type == Q2_V_ABSENT)
		return;
	switch (rec < Q2_REC_COUNT_ ? layouts[rec] : LABELLED) {
	case ROW:
		put_cell(e, c, v);
		break;
	case TSV:
		if (s->cells++)
			q2_out_char(e->out, '\t');
		put_value(e->out, c, v);
		break;
	case LINE:
		/* the problem and the map entry are laid out so: a field of
		 * them, by id */
		if (rec == Q2_REC_MAP_ENTRY) {
			assert(c->id < Q2_MC_COUNT_ &&
			       c == &q2_desc_map_entry.cols[c->id]);
			s->map[c->id] = *v;
			break;
		}
		if (rec == Q2_REC_OWNER) {
			assert(c->id < Q2_OC_COUNT_ &&
			       c == &q2_desc_owner.cols[c->id]);
			s->owner[c->id] = *v;
			break;
		}
		if (rec == Q2_REC_TOTALS) {
			assert(c->id < Q2_TC_COUNT_ &&
			       c == &q2_desc_totals.cols[c->id]);
			s->totals[c->id] = *v;
			break;
		}
		assert(rec == Q2_REC_PROBLEM && c->id < Q2_PC_COUNT_ &&
		       c == &q2_desc_problem.cols[c->id]);
		s->problem[c->id] = *v;
		break;
	case LABELLED:
		label_line_begin(e->out, q2_col_label(c));
		put_value(e->out, c, v);
		q2_out_char(e->out, '\n');
		break;
	}
}

const struct q2_format q2_format_text = {
	.name = "text",
	.in = Q2_IN_TEXT,
	.state_size = sizeof(struct text_state),
	.begin = text_begin,
	.end = text_end,
	.record_begin = text_record_begin,
	.record_end = text_record_end,
	.list_begin = text_list_begin,
	.list_end = text_list_end,
	.field = text_field,
};
