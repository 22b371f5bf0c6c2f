/* The rebuild's reference counters (src/counts.c) against a plain array
 * of exact counts: each increment, from one to many at once, capped at
 * the width's maximum with every refused reference reported, in the
 * chunks found by number and in those found by hash, below and above the
 * one-byte mark; and the chunks listed in order. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "counts.h"

struct refused {
	uint64_t total;
	uint64_t last_cluster;
};

static void on_overflow(void *ctx, uint64_t cluster, uint64_t k)
{
	struct refused *r = ctx;

	assert_true(k > 0);
	r->total += k;
	r->last_cluster = cluster;
}

/* a pool of clusters, some neighbours (one chunk), some far apart (the
 * hash), counted in random order by the counters and by an array */
static void run_model(uint64_t max, uint64_t span, uint64_t direct, unsigned seed)
{
	enum { N = 512 };
	uint64_t where[N], want[N] = { 0 };
	struct q2_counts c;
	struct refused got = { 0 };
	uint64_t refused = 0, x = seed * 2654435761u + 1;

	q2_counts_init(&c, max, direct);
	for (size_t i = 0; i < N; i++) {
		bool again;

		do {
			x = x * 6364136223846793005ull + 1442695040888963407ull;
			where[i] = i % 4 ? where[i - 1] + 1 + (x >> 61) : (x >> 11) % span;
			again = false;
			for (size_t j = 0; j < i; j++)
				again |= where[j] == where[i];
		} while (again);
	}
	for (unsigned round = 0; round < 20000; round++) {
		size_t i;
		uint64_t times;

		x = x * 6364136223846793005ull + 1442695040888963407ull;
		i = (size_t)((x >> 33) % N);
		times = round % 7 == 0 ? 1 + (x >> 50) % 300 : 1;
		assert_int_equal(q2_counts_inc_range(&c, where[i], 1, times, on_overflow, &got),
				 Q2_INC_OK);
		if (max - want[i] < times) {
			refused += times - (max - want[i]);
			want[i] = max;
		} else {
			want[i] += times;
		}
	}
	for (size_t i = 0; i < N; i++)
		assert_int_equal(q2_counts_get(&c, where[i]), want[i]);
	assert_int_equal(got.total, refused);
	q2_counts_free(&c);
}

/* exact: one cluster at a time, a known number of references each */
static void exact(uint64_t max, uint64_t direct, uint64_t base)
{
	struct q2_counts c;
	struct refused got = { 0 };
	uint64_t want_refused = 0;

	q2_counts_init(&c, max, direct);
	for (uint64_t k = 0; k < 300; k++) {
		uint64_t cluster = base + k * 97;

		for (uint64_t t = 0; t < k; t++)
			assert_int_equal(q2_counts_inc_range(&c, cluster, 1, 1, on_overflow, &got),
					 Q2_INC_OK);
		/* and once more, k at a time */
		assert_int_equal(q2_counts_inc_range(&c, cluster, 1, k ? k : 1, on_overflow, &got),
				 Q2_INC_OK);
		{
			uint64_t total = k + (k ? k : 1);

			want_refused += total > max ? total - max : 0;
			assert_int_equal(q2_counts_get(&c, cluster), total > max ? max : total);
		}
		/* the neighbours stay 0 */
		assert_int_equal(q2_counts_get(&c, cluster + 1), 0);
	}
	assert_int_equal(got.total, want_refused);
	q2_counts_free(&c);
}

static void test_exact_widths(void **state)
{
	static const uint64_t maxes[] = { 1, 3, 15, 255, 65535, UINT64_MAX };

	(void)state;
	for (size_t i = 0; i < sizeof maxes / sizeof maxes[0]; i++) {
		exact(maxes[i], 1u << 20, 0);          /* chunks by number */
		exact(maxes[i], 0, 0);                 /* by hash only */
		exact(maxes[i], 1u << 10, 1ull << 40); /* by hash, far up */
	}
}

static void test_runs(void **state)
{
	struct q2_counts c;
	struct refused got = { 0 };

	(void)state;
	q2_counts_init(&c, 65535, 1000);
	/* a run across chunks and across the direct part's end */
	assert_int_equal(q2_counts_inc_range(&c, 60000, 20000, 1, on_overflow, &got), Q2_INC_OK);
	assert_int_equal(q2_counts_inc_range(&c, 63990, 20, 2, on_overflow, &got), Q2_INC_OK);
	for (uint64_t k = 59990; k < 80010; k++) {
		uint64_t want = k >= 60000 && k < 80000 ? 1 : 0;

		if (k >= 63990 && k < 64010)
			want += 2;
		assert_int_equal(q2_counts_get(&c, k), want);
	}
	assert_int_equal(got.total, 0);
	q2_counts_free(&c);
}

static void test_chunks_listed(void **state)
{
	struct q2_counts c;
	struct refused got = { 0 };
	static const uint64_t at[] = { 5, 1ull << 30, 64, 70, 1ull << 45, 4096, 63 };
	uint64_t *v;
	size_t n = 0;
	bool failed = false;

	(void)state;
	q2_counts_init(&c, 255, 10000);
	for (size_t i = 0; i < sizeof at / sizeof at[0]; i++)
		assert_int_equal(q2_counts_inc_range(&c, at[i], 1, 1, on_overflow, &got), Q2_INC_OK);
	v = q2_counts_chunks(&c, &n, &failed);
	assert_false(failed);
	/* chunks: 0 (5, 63), 1 (64, 70), 64 (4096), 2^24, 2^39 */
	assert_int_equal(n, 5);
	assert_int_equal(v[0], 0);
	assert_int_equal(v[1], 1);
	assert_int_equal(v[2], 4096 >> Q2_COUNTS_CHUNK_BITS);
	assert_int_equal(v[3], (1ull << 30) >> Q2_COUNTS_CHUNK_BITS);
	assert_int_equal(v[4], (1ull << 45) >> Q2_COUNTS_CHUNK_BITS);
	free(v);
	q2_counts_free(&c);
}

static void test_model(void **state)
{
	(void)state;
	for (unsigned seed = 1; seed <= 6; seed++) {
		run_model(65535, 1u << 16, 1u << 20, seed);
		run_model(3, 1u << 12, 1u << 20, seed);
		run_model(UINT64_MAX, 1ull << 50, 1u << 10, seed);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_exact_widths),
		cmocka_unit_test(test_runs),
		cmocka_unit_test(test_chunks_listed),
		cmocka_unit_test(test_model),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
