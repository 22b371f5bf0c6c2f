#include "config.h"

#include "sort.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

/* Runs shorter than this are made this long by insertion first, so that
 * input without order takes log2(n / 16) merging passes, not log2(n). */
#define MIN_RUN 16u

struct sorter {
	char *a;
	size_t size;
	q2_cmp_fn cmp;
	const void *arg;
	char *tmp;      /* room for tmp_n elements */
	size_t tmp_n;
};

static int cmp_fallback(const void *a, const void *b, void *sorter)
{
	const struct sorter *s = sorter;

	return s->cmp(a, b, s->arg);
}

static char *at(const struct sorter *s, size_t i)
{
	return s->a + i * s->size;
}

static int cmp_at(const struct sorter *s, size_t i, size_t j)
{
	return s->cmp(at(s, i), at(s, j), s->arg);
}

static bool reserve(struct sorter *s, size_t n)
{
	char *grown;

	if (n <= s->tmp_n)
		return true;
	/* n never exceeds the array, whose n * size bytes exist */
	grown = realloc(s->tmp, n * s->size);
	if (!grown)
		return false;
	s->tmp = grown;
	s->tmp_n = n;
	return true;
}

/* [lo, hi) backwards (s->tmp holds one element) */
static void reverse(struct sorter *s, size_t lo, size_t hi)
{
	while (hi - lo > 1) {
		hi--;
		memcpy(s->tmp, at(s, lo), s->size);
		memcpy(at(s, lo), at(s, hi), s->size);
		memcpy(at(s, hi), s->tmp, s->size);
		lo++;
	}
}

/* The first in [lo, hi) that x must precede: after every equal one, or
 * (before_equal) before them. */
static size_t bound(const struct sorter *s, size_t lo, size_t hi,
		    const void *x, bool before_equal)
{
	while (lo < hi) {
		size_t m = lo + (hi - lo) / 2;
		int c = s->cmp(at(s, m), x, s->arg);

		if (c > 0 || (before_equal && c == 0))
			hi = m;
		else
			lo = m + 1;
	}
	return lo;
}

/* a[j] into its place among the ordered [lo, j) */
static void insert(struct sorter *s, size_t lo, size_t j)
{
	size_t pos = bound(s, lo, j, at(s, j), false);

	if (pos == j)
		return;
	memcpy(s->tmp, at(s, j), s->size);
	memmove(at(s, pos + 1), at(s, pos), (j - pos) * s->size);
	memcpy(at(s, pos), s->tmp, s->size);
}

/* The end of the run in order that starts at lo. */
static size_t run_end(const struct sorter *s, size_t lo, size_t n)
{
	size_t j = lo + 1;

	while (j < n && cmp_at(s, j - 1, j) <= 0)
		j++;
	return j;
}

/* Merges the ordered [lo, mid) and [mid, hi), through a copy of the
 * shorter side; false when that copy finds no memory. */
static bool merge(struct sorter *s, size_t lo, size_t mid, size_t hi)
{
	size_t z = s->size;

	/* the left's head that does not exceed the right's first, and the
	 * right's tail that is not below the left's last, are in place */
	lo = bound(s, lo, mid, at(s, mid), false);
	hi = bound(s, mid, hi, at(s, mid - 1), true);
	if (mid - lo <= hi - mid) {
		size_t i = 0, nl = mid - lo, j = mid, k = lo;

		if (!reserve(s, nl))
			return false;
		memcpy(s->tmp, at(s, lo), nl * z);
		while (i < nl && j < hi) {
			/* on a tie the left one goes first: stable */
			if (s->cmp(at(s, j), s->tmp + i * z, s->arg) < 0)
				memcpy(at(s, k++), at(s, j++), z);
			else
				memcpy(at(s, k++), s->tmp + i++ * z, z);
		}
		memcpy(at(s, k), s->tmp + i * z, (nl - i) * z);
	} else {
		size_t nr = hi - mid, i = mid, j = nr, k = hi;

		if (!reserve(s, nr))
			return false;
		memcpy(s->tmp, at(s, mid), nr * z);
		/* from the back; on a tie the right one goes last */
		while (j > 0 && i > lo) {
			if (s->cmp(s->tmp + (j - 1) * z, at(s, i - 1), s->arg) < 0)
				memcpy(at(s, --k), at(s, --i), z);
			else
				memcpy(at(s, --k), s->tmp + --j * z, z);
		}
		memcpy(at(s, lo), s->tmp, j * z);
	}
	return true;
}

void q2_sort(void *base, size_t n, size_t size, q2_cmp_fn cmp, const void *arg)
{
	struct sorter s = { base, size, cmp, arg, NULL, 0 };

	if (n < 2)
		return;
	if (!reserve(&s, 1))
		goto fallback;
	/* First pass: runs backwards turned round (strictly backwards, so
	 * that no equal elements swap), short runs lengthened. */
	for (size_t lo = 0, j; lo < n; lo = j) {
		size_t end = n - lo < MIN_RUN ? n : lo + MIN_RUN;

		j = lo + 1;
		if (j < n && cmp_at(&s, lo, j) > 0) {
			while (j < n && cmp_at(&s, j - 1, j) > 0)
				j++;
			reverse(&s, lo, j);
		} else {
			j = run_end(&s, lo, n);
		}
		for (; j < end; j++)
			insert(&s, lo, j);
	}
	/* Then neighbouring runs merged, pass after pass, until one. */
	for (bool merged = true; merged;) {
		merged = false;
		for (size_t lo = 0, mid, hi; lo < n; lo = hi) {
			mid = run_end(&s, lo, n);
			if (mid == n)
				break;
			hi = run_end(&s, mid, n);
			if (!merge(&s, lo, mid, hi))
				goto fallback;
			/* two runs made the whole: nothing is left to check */
			merged = lo > 0 || hi < n;
		}
	}
	free(s.tmp);
	return;
fallback:
	free(s.tmp);
	/* qsort_r passes a pointer that is not const: the sorter's own */
	qsort_r(base, n, size, cmp_fallback, &s);
}
