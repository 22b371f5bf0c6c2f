/* JSON: one document per image, in the shapes of the interface contract,
 * written straight into the output buffer as the walker goes, so that a
 * directory of 65535 bitmaps is never one tree in memory.
 *
 * Layout (commas, new lines, indentation) is this file's; jansson encodes
 * what it is good at: strings with their escapes.  Plain ASCII strings,
 * the common case, skip it.  Integers are printed unsigned: qcow2's
 * fields are u64, beyond jansson's signed integers. */
#include "config.h"

#include <errno.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "emit.h"
#include "utf8.h"
#include "describe.h"

struct json_state {
	int depth;      /* containers open */
	bool first;     /* nothing written yet in the open container */
};

static struct json_state *st(struct q2_emitter *e)
{
	return e->state;
}

/* A new line and its indentation, as one write: the pretty document of
 * 65535 bitmaps has a million of them. */
static void indent(struct q2_emitter *e, int depth)
{
	static const char line[] = "\n                                ";
	size_t n = 1 + 2 * (size_t)depth;

	if (e->opts->compact)
		return;
	if (n < sizeof line) {
		q2_out_write(e->out, line, n);
		return;
	}
	q2_out_char(e->out, '\n');
	q2_out_spaces(e->out, n - 1);
}

/* Before a member of the open container: a comma, a new line. */
static void sep(struct q2_emitter *e)
{
	struct json_state *s = st(e);

	if (s->depth == 0)
		return;
	if (!s->first)
		q2_out_char(e->out, ',');
	s->first = false;
	indent(e, s->depth);
}

static void put_key(struct q2_emitter *e, const char *key)
{
	sep(e);
	q2_out_char(e->out, '"');
	q2_out_str(e->out, key);
	q2_out_write(e->out, "\": ", e->opts->compact ? 2 : 3);
}

static void open_c(struct q2_emitter *e, char c)
{
	q2_out_char(e->out, c);
	st(e)->depth++;
	st(e)->first = true;
}

static void close_c(struct q2_emitter *e, char c)
{
	struct json_state *s = st(e);

	s->depth--;
	if (!s->first)
		indent(e, s->depth);
	q2_out_char(e->out, c);
	s->first = false;
}

static int to_out(const char *buf, size_t size, void *data)
{
	q2_out_write(data, buf, size);
	return 0;
}

/* A JSON string of UTF-8 bytes. */
static void put_string(struct q2_out *o, const void *data, size_t n)
{
	const uint8_t *p = data;
	json_t *v;
	size_t i;

	for (i = 0; i < n; i++)
		if (p[i] < 0x20 || p[i] > 0x7e || p[i] == '"' || p[i] == '\\')
			break;
	if (i == n) {
		q2_out_char(o, '"');
		q2_out_write(o, p, n);
		q2_out_char(o, '"');
		return;
	}
	v = json_stringn((const char *)p, n);
	if (!v || json_dump_callback(v, to_out, o, JSON_ENCODE_ANY) != 0) {
		/* out of memory: say so rather than write half a value */
		o->failed = true;
		o->err = ENOMEM;
	}
	json_decref(v);
}

/* Bytes that are not UTF-8: U+FFFD for each byte that is not, so that
 * the string is valid; the caller adds the exact bytes in hex. */
static void put_replaced(struct q2_out *o, const uint8_t *p, size_t n)
{
	char *s = malloc(3 * n + 1);
	size_t len = 0;

	if (!s) {
		o->failed = true;
		o->err = ENOMEM;
		return;
	}
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
	put_string(o, s, len);
	free(s);
}

static void put_hex_string(struct q2_out *o, const void *p, size_t n)
{
	q2_out_char(o, '"');
	q2_out_hexbytes(o, p, n);
	q2_out_char(o, '"');
}

static void json_begin(struct q2_emitter *e)
{
	(void)e;
}

static void json_end(struct q2_emitter *e)
{
	(void)e;
}

static void json_record_begin(struct q2_emitter *e, const struct q2_desc *d,
			      const char *key)
{
	(void)d;
	if (key)
		put_key(e, key);
	else
		sep(e);
	open_c(e, '{');
}

static void json_record_end(struct q2_emitter *e, const struct q2_desc *d)
{
	(void)d;
	close_c(e, '}');
	if (st(e)->depth == 0)
		q2_out_char(e->out, '\n');
}

/* a list under key, or (key NULL) a whole document */
static void json_list_begin(struct q2_emitter *e, const struct q2_desc *item,
			    const char *key)
{
	(void)item;
	if (key)
		put_key(e, key);
	else
		sep(e);
	open_c(e, '[');
}

static void json_list_end(struct q2_emitter *e, const struct q2_desc *item,
			  size_t n_items)
{
	(void)item, (void)n_items;
	close_c(e, ']');
	if (st(e)->depth == 0)
		q2_out_char(e->out, '\n');
}

/* The names of the set bits; hex: their bytes in hex instead.  Returns
 * whether a name is not UTF-8 (written with U+FFFD, so that no bit is
 * lost from the list). */
static bool put_bits(struct q2_emitter *e, const struct q2_value *v, bool hex)
{
	char buf[Q2_NAME_BUF];
	bool bad = false;

	open_c(e, '[');
	for (unsigned bit = 0; bit < 64; bit++) {
		const char *name;
		size_t len;

		if (!(v->u & (1ull << bit)))
			continue;
		name = v->bit_name(v->bit_ctx, bit, buf);
		len = strlen(name);
		sep(e);
		if (hex)
			put_hex_string(e->out, name, len);
		else if (utf8_valid((const uint8_t *)name, len))
			put_string(e->out, name, len);
		else
			put_replaced(e->out, (const uint8_t *)name, len), bad = true;
	}
	close_c(e, ']');
	return bad;
}

static void put_quoted(struct q2_out *o, const struct q2_value *v)
{
	char *s = malloc(v->n + 2);

	if (!s) {
		o->failed = true;
		o->err = ENOMEM;
		return;
	}
	s[0] = '\'';
	memcpy(s + 1, v->p, v->n);
	s[v->n + 1] = '\'';
	put_string(o, s, v->n + 2);
	free(s);
}

static void json_field(struct q2_emitter *e, const struct q2_col *c,
		       const struct q2_value *v)
{
	struct q2_out *o = e->out;
	bool utf8;

	if (v->type == Q2_V_ABSENT)
		return;
	put_key(e, q2_col_key(c));
	switch (v->type) {
	case Q2_V_ABSENT:
	case Q2_V_NULL:
		q2_out_str(o, "null");
		break;
	case Q2_V_U64:
		q2_out_u64(o, v->u);
		break;
	case Q2_V_BOOL:
		q2_out_str(o, v->u ? "true" : "false");
		break;
	case Q2_V_WORD:
		put_string(o, v->p, v->n);
		break;
	case Q2_V_BYTES:
		utf8 = utf8_valid(v->p, v->n);
		if (utf8) {
			put_string(o, v->p, v->n);
			break;
		}
		put_replaced(o, v->p, v->n);
		if (c->hex_key) {
			put_key(e, c->hex_key);
			put_hex_string(o, v->p, v->n);
		}
		break;
	case Q2_V_QUOTED:
		put_quoted(o, v);
		break;
	case Q2_V_HEX:
		put_hex_string(o, v->p, v->n);
		break;
	case Q2_V_U64_LIST:
		open_c(e, '[');
		for (size_t i = 0; i < v->n; i++) {
			sep(e);
			q2_out_u64(o, ((const uint64_t *)v->p)[i]);
		}
		close_c(e, ']');
		break;
	case Q2_V_BITS:
		/* names from the image's feature table may be any bytes */
		if (put_bits(e, v, false) && c->hex_key) {
			put_key(e, c->hex_key);
			put_bits(e, v, true);
		}
		break;
	}
}

const struct q2_format q2_format_json = {
	.name = "json",
	.in = Q2_IN_JSON,
	.state_size = sizeof(struct json_state),
	.begin = json_begin,
	.end = json_end,
	.record_begin = json_record_begin,
	.record_end = json_record_end,
	.list_begin = json_list_begin,
	.list_end = json_list_end,
	.field = json_field,
};
