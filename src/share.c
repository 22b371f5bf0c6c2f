#include "config.h"

#include "share.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "refwalk.h"
#include "sort.h"

/* A span of the walk that is no bitmap's, in clusters. */
struct other {
	uint64_t first, last;
	struct q2_owner o;
};

struct collect {
	unsigned bits;
	struct other *v;
	size_t n, cap;
	bool failed;
};

static void on_span(void *ctx, const struct q2_owner *o)
{
	struct collect *c = ctx;
	uint64_t end = o->length > UINT64_MAX - o->start ? UINT64_MAX : o->start + o->length;

	switch (o->kind) {
	case Q2_O_BITMAP_DIR:
	case Q2_O_BITMAP_TABLE:
	case Q2_O_BITMAP_DATA:
		return;   /* among bitmaps, the overlap check says it */
	default:
		break;
	}
	if (c->n == c->cap) {
		size_t cap = c->cap ? c->cap * 2 : 256;
		struct other *v = realloc(c->v, cap * sizeof *v);

		if (!v) {
			c->failed = true;
			return;
		}
		c->v = v;
		c->cap = cap;
	}
	c->v[c->n++] = (struct other){
		.first = o->start >> c->bits, .last = (end - 1u) >> c->bits, .o = *o,
	};
}

static int by_first(const void *a, const void *b, const void *arg)
{
	const struct other *x = a, *y = b;

	(void)arg;
	return (x->first > y->first) - (x->first < y->first);
}

static const char *kind_word(enum q2_span_kind k)
{
	switch (k) {
	case Q2_SPAN_BITMAP_DIR: return "directory";
	case Q2_SPAN_BITMAP_TABLE: return "table";
	default: return "data";
	}
}

/* The span that reaches furthest among those starting at or before
 * cluster b (maxend[i]: the index of that span among v[0..i]), when it
 * reaches a: one shares a cluster of [a, b] then. */
static const struct other *overlapping(const struct other *v, const size_t *maxend,
				       size_t n, uint64_t a, uint64_t b)
{
	size_t lo = 0, hi = n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (v[mid].first <= b)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (!lo)
		return NULL;
	return v[maxend[lo - 1]].last >= a ? &v[maxend[lo - 1]] : NULL;
}

static void say(const struct q2_image *img, unsigned bits, const struct q2_span *sp,
		const struct other *x, uint64_t a, uint64_t b, struct q2_problems *p)
{
	const struct q2_bitmaps_ext *bx = q2_image_bitmaps(img);
	uint64_t c = x->first > a ? x->first : a;
	const struct q2_owner *o = &x->o;
	char other[96];

	(void)b;
	/* of a run of data clusters, the guest offset of the one shared */
	if (o->kind == Q2_O_DATA)
		snprintf(other, sizeof other, "data of guest offset 0x%" PRIx64 "%s",
			 (uint64_t)(o->guest + ((c << bits) - (o->start & ~(uint64_t)((1ull << bits) - 1u)))),
			 o->snapshot != Q2_NO_INDEX ? " in a snapshot" : "");
	else if (o->kind == Q2_O_COMPRESSED)
		snprintf(other, sizeof other, "compressed data of guest offset 0x%" PRIx64 "%s",
			 o->guest, o->snapshot != Q2_NO_INDEX ? " in a snapshot" : "");
	else
		snprintf(other, sizeof other, "%s", q2_owner_name(o->kind));
	/* the directory is every bitmap's */
	for (uint32_t i = 0; i < bx->n_bitmaps; i++) {
		if (sp->kind != Q2_SPAN_BITMAP_DIR && sp->index != i)
			continue;
		q2_problems_addf(p, Q2_FROM_CHECK, Q2_C_BITMAP_CLUSTER_SHARED, c << bits, i,
				 "bitmap %s cluster 0x%" PRIx64 " is also the %s",
				 kind_word(sp->kind), c << bits, other);
	}
}

void q2_check_bitmap_sharing(const struct q2_reader *r, const struct q2_image *img,
			     const struct q2_layout *layout, struct q2_problems *p)
{
	const struct q2_bitmaps_ext *bx = q2_image_bitmaps(img);
	static const struct q2_walk_opts opts = { 0 };
	static const struct q2_walk_hooks hooks = { .span = on_span };
	struct collect c = { .bits = img->header.cluster_bits };
	struct q2_problems ignored = { 0 };
	/* per bitmap, the kinds of its spans said shared already */
	uint8_t *said = NULL;
	size_t *maxend = NULL;

	if (!bx || !bx->n_bitmaps || layout->failed)
		return;
	/* what stops the walk (a table QEMU fails on) the checks say */
	q2_refwalk(r, img, &opts, &hooks, &c, NULL, &ignored);
	q2_problems_free(&ignored);
	said = calloc(bx->n_bitmaps, 1);
	maxend = malloc((c.n ? c.n : 1) * sizeof *maxend);
	if (c.failed || !said || !maxend) {
		q2_problems_add(p, Q2_C_NOMEM, 0, Q2_NO_INDEX, Q2_FROM_DECODE,
				strdup("out of memory: whether a bitmap shares a cluster is not known"));
		goto out;
	}
	q2_sort(c.v, c.n, sizeof *c.v, by_first, NULL);
	for (size_t i = 0; i < c.n; i++)
		maxend[i] = i && c.v[maxend[i - 1]].last >= c.v[i].last ? maxend[i - 1] : i;
	/* each bitmap span of the layout asks once: O(log n) */
	for (size_t i = 0; i < layout->n; i++) {
		const struct q2_span *sp = &layout->v[i];
		unsigned bit = sp->kind == Q2_SPAN_BITMAP_DIR ? 1u
			       : sp->kind == Q2_SPAN_BITMAP_TABLE ? 2u : 4u;
		uint64_t a = sp->start >> c.bits, b = (sp->end - 1u) >> c.bits;
		const struct other *x;

		if (sp->kind != Q2_SPAN_BITMAP_DIR && sp->kind != Q2_SPAN_BITMAP_TABLE &&
		    sp->kind != Q2_SPAN_BITMAP_DATA)
			continue;
		if (sp->kind != Q2_SPAN_BITMAP_DIR &&
		    (sp->index >= bx->n_bitmaps || (said[sp->index] & bit)))
			continue;
		x = overlapping(c.v, maxend, c.n, a, b);
		if (!x)
			continue;
		say(img, c.bits, sp, x, a, b, p);
		for (uint32_t k = 0; k < bx->n_bitmaps; k++)
			if (sp->kind == Q2_SPAN_BITMAP_DIR || k == sp->index)
				said[k] |= bit;
	}
out:
	free(c.v);
	free(said);
	free(maxend);
}
