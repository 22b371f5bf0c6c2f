/* The column tables of describe.c, every one the views reach: each
 * column sits at its id (no hole the designated initializers left), has
 * one source of its value and one print format, and each CSV order lists
 * ids of its record's columns, once each. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "describe.h"
#include "util.h"

#define MAX_DESCS 64

struct seen {
	const struct q2_desc *d[MAX_DESCS];
	size_t n;
};

static void check_desc(struct seen *seen, const struct q2_desc *d);

static void check_cols(struct seen *seen, const struct q2_col *cols, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		const struct q2_col *c = &cols[i];
		bool step = c->step != Q2_STEP_NONE;

		/* at its id, and not a hole */
		assert_int_equal(c->id, i);
		assert_true(c->key || c->field);
		assert_true(c->in & Q2_IN_ALL);
		/* its value from one place: a field, a getter or a step */
		assert_int_equal(!!c->field + !!c->get + step, 1);
		assert_int_equal(step, c->child != NULL);
		/* one print format: a field's column gives none of its own */
		if (c->field)
			assert_int_equal(c->text, Q2_FMT_DEC);
		if (c->child)
			check_desc(seen, c->child);
	}
}

static void check_desc(struct seen *seen, const struct q2_desc *d)
{
	bool listed[64] = { false };

	if (!d)
		return;
	for (size_t i = 0; i < seen->n; i++)
		if (seen->d[i] == d)
			return;
	assert_true(seen->n < MAX_DESCS);
	seen->d[seen->n++] = d;

	assert_true(d->rec < Q2_REC_COUNT_);
	assert_true(d->n_cols > 0);
	check_cols(seen, d->cols, d->n_cols);
	check_cols(seen, d->trailer, d->n_trailer);

	assert_int_equal(!d->csv_order, !d->n_csv_order);
	assert_true(d->n_cols <= Q2_ARRAY_SIZE(listed));
	for (size_t i = 0; i < d->n_csv_order; i++) {
		unsigned id = d->csv_order[i];

		assert_true(id < d->n_cols);
		assert_false(listed[id]);
		listed[id] = true;
		assert_ptr_equal(q2_csv_col(d, i), &d->cols[id]);
	}
}

static void every_table(void **state)
{
	struct seen seen = { .n = 0 };
	const struct q2_desc *const named[] = {
		&q2_desc_header, &q2_desc_extension, &q2_desc_feature,
		&q2_desc_crypto, &q2_desc_bitmaps_ext, &q2_desc_bitmap,
		&q2_desc_table_entry, &q2_desc_xbitmap, &q2_desc_extent,
		&q2_desc_problem, &q2_desc_code, &q2_desc_layer,
		&q2_desc_checkpoint, &q2_desc_snapshot, &q2_desc_chain,
	};

	(void)state;
	for (size_t v = 0; v < Q2_VIEW_COUNT_; v++) {
		check_desc(&seen, q2_views[v].image);
		check_desc(&seen, q2_views[v].csv_row);
		check_desc(&seen, q2_views[v].csv_row_table);
		check_desc(&seen, q2_views[v].csv_group);
	}
	for (size_t i = 0; i < Q2_ARRAY_SIZE(named); i++)
		check_desc(&seen, named[i]);
}

/* The problem's public ids name the columns emit_text.c takes them for. */
static void problem_ids(void **state)
{
	static const char *const keys[Q2_PC_COUNT_] = {
		[Q2_PC_SEVERITY] = "severity",
		[Q2_PC_CODE] = "code",
		[Q2_PC_MESSAGE] = "message",
		[Q2_PC_OFFSET] = "offset",
		[Q2_PC_BITMAP] = "bitmap",
	};

	(void)state;
	assert_int_equal(q2_desc_problem.n_cols, Q2_PC_COUNT_);
	for (size_t id = 0; id < Q2_PC_COUNT_; id++)
		assert_string_equal(q2_col_key(&q2_desc_problem.cols[id]),
				    keys[id]);
	/* text writes the offset in hex, as the column says */
	assert_int_equal(q2_col_text_fmt(&q2_desc_problem.cols[Q2_PC_OFFSET]),
			 Q2_FMT_HEX);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(every_table),
		cmocka_unit_test(problem_ids),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
