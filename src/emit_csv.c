/* CSV (RFC 4180, LF line ends): one table per view, one header row for
 * all images.  The view names the record each row shows (walk.h); this
 * file writes that record's CSV columns, after the image's path, and
 * passes over everything else. */
#include "config.h"

#include <string.h>

#include "emit.h"
#include "walk.h"

#define MAX_COLS 32

struct csv_state {
	const struct q2_desc *row;  /* the record of a row */
	int depth;                  /* records open */
	int row_depth;              /* depth of the row record, or -1 */
	struct q2_value cells[MAX_COLS];
};

static struct csv_state *st(struct q2_emitter *e)
{
	return e->state;
}

/* A field is quoted when a parser needs it (separator, quote, line
 * break) and when it starts with a character a spreadsheet would take
 * for a formula, so that it stays text there; the bytes are kept as
 * they are either way. */
static void put_field(struct q2_out *o, const char *p, size_t n)
{
	bool quote = n && (p[0] == 0 || strchr("=+-@\t\r ", p[0]));

	for (size_t i = 0; i < n && !quote; i++)
		quote = p[i] == ',' || p[i] == '"' || p[i] == '\n' ||
			p[i] == '\r';
	if (!quote) {
		q2_out_write(o, p, n);
		return;
	}
	q2_out_char(o, '"');
	for (size_t i = 0; i < n; i++) {
		if (p[i] == '"')
			q2_out_char(o, '"');
		q2_out_char(o, p[i]);
	}
	q2_out_char(o, '"');
}

static void put_bits(struct q2_out *o, const struct q2_value *v)
{
	char buf[Q2_NAME_BUF];
	char list[64 * (Q2_NAME_BUF + 1)];
	size_t len = 0;

	for (unsigned bit = 0; bit < 64; bit++) {
		const char *name;
		size_t n;

		if (!(v->u & (1ull << bit)))
			continue;
		name = v->bit_name(v->bit_ctx, bit, buf);
		n = strnlen(name, Q2_NAME_BUF);
		if (len)
			list[len++] = ' ';
		memcpy(list + len, name, n);
		len += n;
	}
	put_field(o, list, len);
}

static void put_cell(struct q2_out *o, const struct q2_value *v)
{
	switch (v->type) {
	case Q2_V_ABSENT:
	case Q2_V_NULL:
		break;
	case Q2_V_U64:
		q2_out_u64(o, v->u);
		break;
	case Q2_V_BOOL:
		q2_out_str(o, v->u ? "true" : "false");
		break;
	case Q2_V_WORD:
	case Q2_V_BYTES:
	case Q2_V_QUOTED:
		put_field(o, v->p, v->n);
		break;
	case Q2_V_HEX:
		q2_out_hexbytes(o, v->p, v->n);
		break;
	case Q2_V_BITS:
		put_bits(o, v);
		break;
	}
}

static void csv_begin(struct q2_emitter *e)
{
	struct csv_state *s = st(e);
	const struct q2_desc *d = e->opts->bitmap_table ? e->view->csv_row_table
						       : e->view->csv_row;

	s->row = d;
	s->row_depth = -1;
	q2_out_str(e->out, "image");
	for (size_t i = 0; i < q2_csv_n_cols(d); i++) {
		const struct q2_col *c = q2_csv_col(d, i);

		if (!(c->in & Q2_IN_CSV) || c->walk)
			continue;
		q2_out_char(e->out, ',');
		q2_out_str(e->out, q2_col_key(c));
	}
	q2_out_char(e->out, '\n');
}

static void csv_end(struct q2_emitter *e)
{
	(void)e;
}

static void csv_record_begin(struct q2_emitter *e, const struct q2_desc *d,
			     const char *key)
{
	struct csv_state *s = st(e);

	(void)key;
	if (d == s->row && s->row_depth < 0) {
		s->row_depth = s->depth;
		for (size_t i = 0; i < MAX_COLS; i++)
			s->cells[i].type = Q2_V_ABSENT;
	}
	s->depth++;
}

static void put_row(struct q2_emitter *e)
{
	struct csv_state *s = st(e);
	const struct q2_desc *d = s->row;

	put_field(e->out, e->image, strlen(e->image));
	for (size_t i = 0; i < q2_csv_n_cols(d); i++) {
		const struct q2_col *c = q2_csv_col(d, i);

		if (!(c->in & Q2_IN_CSV) || c->walk)
			continue;
		q2_out_char(e->out, ',');
		put_cell(e->out, &s->cells[c - d->cols]);
	}
	q2_out_char(e->out, '\n');
}

static void csv_record_end(struct q2_emitter *e, const struct q2_desc *d)
{
	struct csv_state *s = st(e);

	s->depth--;
	if (d == s->row && s->depth == s->row_depth) {
		put_row(e);
		s->row_depth = -1;
	}
}

static void csv_list_begin(struct q2_emitter *e, const struct q2_desc *item,
			   const char *key)
{
	(void)e, (void)item, (void)key;
}

static void csv_list_end(struct q2_emitter *e, const struct q2_desc *item,
			 size_t n_items)
{
	(void)e, (void)item, (void)n_items;
}

static void csv_field(struct q2_emitter *e, const struct q2_col *c,
		      const struct q2_value *v)
{
	struct csv_state *s = st(e);
	size_t i;

	/* only the row record's own fields */
	if (s->row_depth < 0 || s->depth != s->row_depth + 1)
		return;
	i = (size_t)(c - s->row->cols);
	if (i < s->row->n_cols && i < MAX_COLS)
		s->cells[i] = *v;
}

const struct q2_format q2_format_csv = {
	.name = "csv",
	.in = Q2_IN_CSV,
	.state_size = sizeof(struct csv_state),
	.begin = csv_begin,
	.end = csv_end,
	.record_begin = csv_record_begin,
	.record_end = csv_record_end,
	.list_begin = csv_list_begin,
	.list_end = csv_list_end,
	.field = csv_field,
};
