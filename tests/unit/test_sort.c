/* q2_sort against a reference: on every shape of input it must give what
 * a sort by (key, original position) gives, which is the one stable
 * order. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "sort.h"

struct item {
	uint32_t key;
	uint32_t pos;    /* where it was before the sort */
	char pad[5];     /* an odd size, as the callers' records have */
};

static int cmp_key(const void *a, const void *b, const void *arg)
{
	const struct item *x = a, *y = b;

	/* arg: where the counter is (the sort passes it on as const) */
	(**(size_t *const *)arg)++;
	return (x->key > y->key) - (x->key < y->key);
}

static int cmp_key_pos(const void *a, const void *b)
{
	const struct item *x = a, *y = b;

	if (x->key != y->key)
		return (x->key > y->key) - (x->key < y->key);
	return (x->pos > y->pos) - (x->pos < y->pos);
}

enum shape { RANDOM, FEW_KEYS, SORTED, REVERSED, REVERSED_TIES, TWO_RUNS,
	     HEAD_AT_END, SAWTOOTH, ALL_EQUAL, SHAPES };

static uint32_t key_for(enum shape shape, size_t i, size_t n, unsigned *seed)
{
	switch (shape) {
	case RANDOM: return (uint32_t)rand_r(seed);
	case FEW_KEYS: return (uint32_t)rand_r(seed) % 4;
	case SORTED: return (uint32_t)i;
	case REVERSED: return (uint32_t)(n - i);
	case REVERSED_TIES: return (uint32_t)((n - i) / 3);
	/* the directory first, then the tables in ascending clusters */
	case TWO_RUNS: return i < 4 ? (uint32_t)(1000000 + i) : (uint32_t)i;
	case HEAD_AT_END: return i + 1 == n ? 0 : (uint32_t)(i + 1);
	case SAWTOOTH: return (uint32_t)(i % 37);
	default: return 7;
	}
}

static void check_shape(enum shape shape, size_t n, unsigned seed)
{
	struct item *got = calloc(n ? n : 1, sizeof *got);
	struct item *want = calloc(n ? n : 1, sizeof *want);
	size_t compared = 0, *counter = &compared;

	assert_non_null(got);
	assert_non_null(want);
	for (size_t i = 0; i < n; i++) {
		got[i].key = key_for(shape, i, n, &seed);
		got[i].pos = (uint32_t)i;
	}
	memcpy(want, got, n * sizeof *got);
	qsort(want, n, sizeof *want, cmp_key_pos);
	q2_sort(got, n, sizeof *got, cmp_key, &counter);
	for (size_t i = 0; i < n; i++) {
		if (got[i].key != want[i].key || got[i].pos != want[i].pos)
			fail_msg("shape %d, n %zu: at %zu got (%u, %u), want (%u, %u)",
				 shape, n, i, got[i].key, got[i].pos, want[i].key,
				 want[i].pos);
	}
	/* input in order, backwards or in two runs costs a few passes (short
	 * input is sorted by insertion) */
	if (n >= 64 && (shape == SORTED || shape == REVERSED || shape == TWO_RUNS ||
		      shape == ALL_EQUAL))
		if (compared > 4 * n)
			fail_msg("shape %d, n %zu: %zu comparisons", shape, n, compared);
	free(got);
	free(want);
}

static void test_every_shape(void **state)
{
	static const size_t sizes[] = { 0, 1, 2, 3, 15, 16, 17, 31, 33, 100,
					 257, 1000, 4099 };

	(void)state;
	for (int shape = 0; shape < SHAPES; shape++)
		for (size_t k = 0; k < sizeof sizes / sizeof *sizes; k++)
			for (unsigned seed = 1; seed <= 3; seed++)
				check_shape((enum shape)shape, sizes[k], seed);
}

static void test_random_sizes(void **state)
{
	unsigned seed = 42;

	(void)state;
	for (int round = 0; round < 300; round++) {
		size_t n = (size_t)rand_r(&seed) % 600;

		check_shape(RANDOM, n, seed);
		check_shape(FEW_KEYS, n, seed);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_every_shape),
		cmocka_unit_test(test_random_sizes),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
