/* CSV (RFC 4180, LF line ends): one table per view, one header row for
 * all images.  The view names the record each row shows, and maybe a
 * group record whose columns go around its rows' (walk.h); this file
 * writes those columns, after the image's path, and passes over
 * everything else. */
#include "config.h"

#include <assert.h>
#include <stdlib.h>
#include <string.h>

#include "emit.h"
#include "describe.h"

#define MAX_COLS 32

struct csv_state {
	const struct q2_desc *row;    /* the record of a row */
	const struct q2_desc *group;  /* around the rows, or NULL */
	int depth;                    /* records open */
	int row_depth, group_depth;   /* where each is open, or -1 */
	size_t group_rows;            /* rows written in the open group */
	/* the values of the row's columns and the group's, by column id */
	struct q2_value cells[MAX_COLS], group_cells[MAX_COLS];
	/* The cells of a group around its rows' (-x: the image, the bitmap
	 * and its verdict around each extent) are the same on every row:
	 * written once into around, then copied for each row.  kept: around
	 * holds the open group's; before: how much of it precedes the row's
	 * cells. */
	struct q2_out *scratch;
	char *around;
	size_t around_len, before;
	bool kept;
};

static struct csv_state *st(struct q2_emitter *e)
{
	return e->state;
}

/* what a spreadsheet would take for the start of a formula */
static bool formula_start(char c)
{
	switch (c) {
	case '=': case '+': case '-': case '@': case '\t': case '\r': case ' ':
	case '\0':
		return true;
	default:
		return false;
	}
}

/* A field is quoted when a parser needs it (separator, quote, line
 * break) and when it starts with a character a spreadsheet would take
 * for a formula, so that it stays text there; the bytes are kept as
 * they are either way. */
static void put_field(struct q2_out *o, const char *p, size_t n)
{
	bool quote = n && formula_start(p[0]);

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
	case Q2_V_U64_LIST:
		for (size_t i = 0; i < v->n; i++) {
			if (i)
				q2_out_char(o, ' ');
			q2_out_u64(o, ((const uint64_t *)v->p)[i]);
		}
		break;
	}
}

/* Where cells keeps the value of column c of record d: at its id. */
static struct q2_value *cell_of(struct q2_value *cells,
				const struct q2_desc *d, const struct q2_col *c)
{
	assert(c->id < d->n_cols && c->id < MAX_COLS && &d->cols[c->id] == c);
	(void)d;
	return &cells[c->id];
}

static bool is_cell(const struct q2_col *c)
{
	return (c->in & Q2_IN_CSV) && c->step == Q2_STEP_NONE;
}

/* The column of the group that holds the rows. */
static bool holds_rows(const struct csv_state *s, const struct q2_col *c)
{
	return c->step != Q2_STEP_NONE && c->child == s->row;
}

/* The parts of a row: the group's cells before the row record's, the
 * row record's, the group's after them. */
enum part { BEFORE = 1, OWN = 2, AFTER = 4, WHOLE = 7 };

/* Each column of a row's parts, in order; put(c, cells) writes one,
 * cells being where its values are. */
static void for_columns(struct q2_emitter *e,
			void (*put)(struct q2_emitter *, const struct q2_col *,
				    const struct q2_value *),
			unsigned parts)
{
	struct csv_state *s = st(e);
	const struct q2_desc *outer = s->group ? s->group : s->row;
	unsigned part = BEFORE;

	for (size_t i = 0; i < q2_csv_n_cols(outer); i++) {
		const struct q2_col *c = q2_csv_col(outer, i);

		if (s->group && holds_rows(s, c)) {
			for (size_t k = 0; parts & OWN && k < q2_csv_n_cols(s->row); k++) {
				const struct q2_col *r = q2_csv_col(s->row, k);

				if (is_cell(r))
					put(e, r, cell_of(s->cells, s->row, r));
			}
			part = AFTER;
		} else if (is_cell(c) && parts & part) {
			put(e, c, s->group ? cell_of(s->group_cells, s->group, c)
					   : cell_of(s->cells, s->row, c));
		}
	}
}

/* a separator before every cell but a row's first */
static void put_sep(struct q2_emitter *e, const struct q2_col *c)
{
	const struct q2_desc *outer = st(e)->group ? st(e)->group : st(e)->row;
	const struct q2_col *first = q2_csv_col(outer, 0);

	if (!e->view->csv_no_image || c != first)
		q2_out_char(e->out, ',');
}

static void put_title(struct q2_emitter *e, const struct q2_col *c,
		      const struct q2_value *v)
{
	(void)v;
	put_sep(e, c);
	q2_out_str(e->out, q2_col_csv_key(c));
}

static void put_value(struct q2_emitter *e, const struct q2_col *c,
		      const struct q2_value *v)
{
	put_sep(e, c);
	put_cell(e->out, v);
}

/* --backing-chain: the rows of every layer, told apart by its depth
 * (the image column holds its path) */
static bool layer_rows(const struct q2_emitter *e)
{
	return e->opts->backing_chain && !e->view->chain_doc &&
	       !e->view->csv_no_image;
}

/* the cells of record d */
static void clear(struct q2_value *cells, const struct q2_desc *d)
{
	assert(d->n_cols <= MAX_COLS);
	for (size_t i = 0; i < d->n_cols; i++)
		cells[i].type = Q2_V_ABSENT;
}

static void csv_begin(struct q2_emitter *e)
{
	struct csv_state *s = st(e);

	s->row = e->opts->bitmap_table ? e->view->csv_row_table : e->view->csv_row;
	s->group = e->opts->bitmap_table ? NULL : e->view->csv_group;
	s->row_depth = s->group_depth = -1;
	/* a cell for each of their columns */
	assert(s->row->n_cols <= MAX_COLS &&
	       (!s->group || s->group->n_cols <= MAX_COLS));
	if (!e->view->csv_no_image)
		q2_out_str(e->out, "image");
	if (layer_rows(e))
		q2_out_str(e->out, ",backing_depth");
	for_columns(e, put_title, WHOLE);
	q2_out_char(e->out, '\n');
}

static void csv_end(struct q2_emitter *e)
{
	struct csv_state *s = st(e);

	free(s->around);
	free(s->scratch);
}

/* the image's path, and the layer's depth in a chain */
static void put_image(struct q2_emitter *e)
{
	if (!e->view->csv_no_image)
		put_field(e->out, e->image, strlen(e->image));
	if (layer_rows(e)) {
		q2_out_char(e->out, ',');
		q2_out_u64(e->out, e->backing_depth);
	}
}

/* Writes the open group's cells into around; false when there is no
 * memory for them (the row is then written whole). */
static bool keep_around(struct q2_emitter *e)
{
	struct csv_state *s = st(e);
	struct q2_out *live = e->out;

	if (s->kept)
		return true;
	if (!s->scratch && !(s->scratch = malloc(sizeof *s->scratch)))
		return false;
	q2_out_init_mem(s->scratch);
	e->out = s->scratch;
	put_image(e);
	for_columns(e, put_value, BEFORE);
	s->before = s->scratch->mem_len + s->scratch->len;
	for_columns(e, put_value, AFTER);
	q2_out_char(e->out, '\n');
	e->out = live;
	if (!q2_out_flush(s->scratch)) {
		q2_out_free(s->scratch);
		return false;
	}
	free(s->around);
	s->around = s->scratch->mem;
	s->around_len = s->scratch->mem_len;
	s->scratch->mem = NULL;
	s->kept = true;
	return true;
}

static void put_row(struct q2_emitter *e)
{
	struct csv_state *s = st(e);

	if (s->group && keep_around(e)) {
		q2_out_write(e->out, s->around, s->before);
		for_columns(e, put_value, OWN);
		q2_out_write(e->out, s->around + s->before,
			     s->around_len - s->before);
		return;
	}
	put_image(e);
	for_columns(e, put_value, WHOLE);
	q2_out_char(e->out, '\n');
}

static void csv_record_begin(struct q2_emitter *e, const struct q2_desc *d,
			     const char *key)
{
	struct csv_state *s = st(e);

	(void)key;
	if (d == s->row && s->row_depth < 0) {
		s->row_depth = s->depth;
		clear(s->cells, s->row);
	} else if (d == s->group && s->group_depth < 0) {
		s->group_depth = s->depth;
		s->group_rows = 0;
		s->kept = false;
		clear(s->group_cells, s->group);
	}
	s->depth++;
}

static void csv_record_end(struct q2_emitter *e, const struct q2_desc *d)
{
	struct csv_state *s = st(e);

	s->depth--;
	if (d == s->row && s->depth == s->row_depth) {
		put_row(e);
		s->row_depth = -1;
		s->group_rows++;
	} else if (d == s->group && s->depth == s->group_depth) {
		/* a group without rows still gets one, its own columns */
		if (!s->group_rows) {
			clear(s->cells, s->row);
			put_row(e);
		}
		s->group_depth = -1;
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

	/* only the row's own fields, and the group's */
	if (s->row_depth >= 0 && s->depth == s->row_depth + 1) {
		*cell_of(s->cells, s->row, c) = *v;
	} else if (s->group_depth >= 0 && s->depth == s->group_depth + 1) {
		*cell_of(s->group_cells, s->group, c) = *v;
		s->kept = false;
	}
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
