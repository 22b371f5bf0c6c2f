/* libFuzzer target: arbitrary bytes as an image, through the decoder,
 * every check and every format in every view, -x included.  It asserts
 * what holds for any input: each JSON document parses, every CSV row has
 * the header's column count, text carries no escape byte to a terminal.
 * Built by fuzz/run.sh with clang; fuzz/replay.c runs the same function
 * over saved inputs in 'make check'. */
#include "config.h"

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "emit.h"
#include "out.h"
#include "chain.h"
#include "judge.h"
#include "qcow2.h"
#include "util.h"
#include "walk.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void fail(const char *what, const char *out)
{
	fprintf(stderr, "fuzz_qcow2: %s\n--- output ---\n%s\n", what,
		out ? out : "(none)");
	abort();
}

static void assert_json(const char *text, size_t len)
{
	size_t pos = 0;

	while (pos < len) {
		json_error_t err;
		json_t *doc;

		while (pos < len && (text[pos] == '\n' || text[pos] == ' '))
			pos++;
		if (pos == len)
			break;
		doc = json_loadb(text + pos, len - pos, JSON_DISABLE_EOF_CHECK |
				 JSON_DECODE_INT_AS_REAL |
				 JSON_ALLOW_NUL, &err);
		if (!doc || (!json_is_array(doc) &&
			     (!json_is_object(doc) || !json_object_get(doc, "image"))))
			fail(err.text, text);
		json_decref(doc);
		pos += err.position;
	}
}

/* RFC 4180: every row has as many fields as the header row. */
static void assert_csv(const char *text, size_t len)
{
	size_t fields = 1, header = 0;
	bool quoted = false;

	for (size_t i = 0; i < len; i++) {
		char c = text[i];

		if (quoted) {
			if (c == '"' && i + 1 < len && text[i + 1] == '"')
				i++;
			else if (c == '"')
				quoted = false;
		} else if (c == '"') {
			quoted = true;
		} else if (c == ',') {
			fields++;
		} else if (c == '\n') {
			if (!header)
				header = fields;
			else if (fields != header)
				fail("CSV row with another column count", text);
			fields = 1;
		}
	}
	if (quoted || (len && text[len - 1] != '\n'))
		fail("CSV does not end with a whole row", text);
}

static void assert_text(const char *text, size_t len)
{
	if (memchr(text, 0x1b, len))
		fail("an escape byte in text output", text);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const struct q2_format *const formats[] = {
		&q2_format_text, &q2_format_json, &q2_format_csv,
	};
	static char *const names[] = { "b1", "\xff" };
	static struct q2_out out;
	struct q2_decode_opts dopts = { .load_tables = true, .load_snapshots = true };
	struct q2_chain c;
	size_t decoded;

	if (!q2_chain_of_memory(&c, "fuzz", data, size, &dopts))
		fail("q2_chain_of_memory", NULL);
	decoded = c.layers[0].img.problems.n;
	for (size_t f = 0; f < Q2_ARRAY_SIZE(formats); f++)
		for (int v = 0; v < Q2_VIEW_COUNT_; v++)
			for (int t = 0; t < 2; t++) {
				struct q2_run_opts opts = {
					.view = (enum q2_view_id)v, .bitmap_table = t,
					.compact = t, .n_images = 1 + t,
					.names = names, .n_names = t ? 2 : 0,
					.backing_chain = v == Q2_VIEW_CHAIN_EXTENTS,
				};
				struct q2_judgement j;
				struct q2_run run;

				q2_out_init_mem(&out);
				if (!q2_run_begin(&run, formats[f], &opts, &out))
					fail("q2_run_begin", NULL);
				if (v == Q2_VIEW_CODES)
					q2_run_codes(&run);
				else {
					q2_run_chain(&run, &c, &j);
					q2_judgement_free(&j);
				}
				q2_run_end(&run);
				if (!q2_out_flush(&out))
					fail("output failed", NULL);
				if (formats[f] == &q2_format_json)
					assert_json(out.mem, out.mem_len);
				else if (formats[f] == &q2_format_csv)
					assert_csv(out.mem, out.mem_len);
				else
					assert_text(out.mem, out.mem_len);
				q2_out_free(&out);
				/* judging and showing leave the model as decoded */
				if (c.layers[0].img.problems.n != decoded)
					fail("a run wrote into the model", NULL);
			}
	q2_chain_free(&c);
	return 0;
}
