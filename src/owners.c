#include "config.h"

#include "owners.h"

#include <stdlib.h>
#include <string.h>

#include "ondisk.h"
#include "sort.h"

void q2_owners_free(struct q2_owners *o)
{
	free(o->v);
	memset(o, 0, sizeof *o);
}

static bool push(struct q2_owners *o, const struct q2_owner_rec *r)
{
	if (o->n == o->cap) {
		size_t cap = o->cap ? o->cap * 2 : 64;
		struct q2_owner_rec *v = realloc(o->v, cap * sizeof *v);

		if (!v)
			return false;
		o->v = v;
		o->cap = cap;
	}
	o->v[o->n++] = *r;
	return true;
}

static uint64_t span_end(const struct q2_owner *o)
{
	return o->length > UINT64_MAX - o->start ? UINT64_MAX : o->start + o->length;
}

static struct q2_owner_rec rec_of(const struct q2_owner *o, struct q2_ondisk *d,
				  bool have_refcounts, uint64_t cluster)
{
	struct q2_owner_rec r = { .o = *o };

	r.refcount_known = have_refcounts &&
			   q2_ondisk_get(d, cluster, &r.refcount) == Q2_RC_OK;
	return r;
}

static struct q2_owner no_owner(enum q2_owner_kind kind, uint64_t start, uint64_t length)
{
	return (struct q2_owner){
		.kind = kind, .start = start, .length = length,
		.snapshot = Q2_NO_INDEX, .bitmap = Q2_NO_INDEX, .index = Q2_NO_INDEX64,
	};
}

static bool nomem(struct q2_problems *p)
{
	q2_problems_add(p, Q2_C_NOMEM, 0, Q2_NO_INDEX, Q2_FROM_DECODE, NULL);
	return false;
}

/* ---- --at ---- */

struct at_ctx {
	uint64_t at, cluster;
	unsigned bits;
	struct q2_owners bytes, clusters;
	bool failed;
};

/* the same L2 table again, right after itself (named by every entry of
 * an L1): one record stands for them all */
static bool again(const struct q2_owners *l, const struct q2_owner *o)
{
	const struct q2_owner *last = l->n ? &l->v[l->n - 1].o : NULL;

	return last && o->kind == Q2_O_L2 && last->kind == o->kind &&
	       last->start == o->start && last->length == o->length &&
	       last->snapshot == o->snapshot;
}

static void at_span(void *ctx, const struct q2_owner *o)
{
	struct at_ctx *c = ctx;
	uint64_t end = span_end(o);
	struct q2_owner_rec r = { .o = *o };

	if (again(&c->bytes, o) || again(&c->clusters, o))
		return;

	if (o->start <= c->at && c->at < end) {
		/* of a run of data clusters, the one asked about */
		if (o->kind == Q2_O_DATA && o->length > (1ull << c->bits)) {
			uint64_t k = (c->cluster << c->bits) - o->start;

			r.o.start += k;
			r.o.guest += k;
			r.o.length = 1ull << c->bits;
		}
		if (!push(&c->bytes, &r))
			c->failed = true;
	} else if ((o->start >> c->bits) <= c->cluster &&
		   c->cluster <= ((end - 1u) >> c->bits)) {
		if (!push(&c->clusters, &r))
			c->failed = true;
	}
}

bool q2_owners_at(const struct q2_reader *r, const struct q2_image *img,
		  uint64_t at, struct q2_owners *out, struct q2_problems *problems)
{
	static const struct q2_walk_opts opts = { 0 };
	static const struct q2_walk_hooks hooks = { .span = at_span };
	unsigned bits = img->header.cluster_bits;
	struct at_ctx c = { .at = at, .cluster = at >> bits, .bits = bits };
	struct q2_ondisk d;
	bool refcounts = q2_ondisk_open(&d, r, img);
	bool ok = q2_refwalk(r, img, &opts, &hooks, &c, NULL, problems);
	struct q2_owners *found = c.bytes.n ? &c.bytes : &c.clusters;

	memset(out, 0, sizeof *out);
	if (c.failed) {
		ok = nomem(problems);
	} else if (!found->n) {
		uint64_t start = c.cluster << bits, cs = 1ull << bits;
		uint64_t len = r->size - start < cs ? r->size - start : cs;
		struct q2_owner_rec g = rec_of(&(struct q2_owner){ .kind = Q2_O_FREE }, &d,
					      refcounts, c.cluster);

		g.o = no_owner(g.refcount_known && g.refcount ? Q2_O_LEAKED : Q2_O_FREE,
			       start, len);
		if (!push(out, &g))
			ok = nomem(problems);
	}
	/* the records found keep the walk's order; each says the refcount
	 * of the cluster asked about, and ends where the file does, as
	 * --layout's */
	for (size_t i = 0; i < found->n; i++) {
		struct q2_owner *o = &found->v[i].o;

		if (o->start < r->size && o->length > r->size - o->start)
			o->length = r->size - o->start;
		found->v[i] = rec_of(o, &d, refcounts, c.cluster);
	}
	if (found->n) {
		*out = *found;
		memset(found, 0, sizeof *found);
	}
	q2_owners_free(&c.bytes);
	q2_owners_free(&c.clusters);
	if (refcounts)
		q2_ondisk_close(&d);
	return ok;
}

/* ---- --layout ---- */

struct layout_ctx {
	unsigned bits;
	uint64_t size;             /* the file's */
	struct q2_ondisk *d;
	bool refcounts;
	/* per kind, the run being built */
	struct q2_owner_rec pending[Q2_O_COUNT_];
	bool has[Q2_O_COUNT_];
	struct q2_owners out;
	bool failed;
};

/* Whether r continues run p: the same kind of the same table, next in
 * the file and in the guest or its table, of the same refcount. */
static bool continues(const struct q2_owner_rec *p, const struct q2_owner_rec *r,
		      unsigned bits)
{
	const struct q2_owner *a = &p->o, *b = &r->o;
	uint64_t clusters = a->length >> bits;

	if (a->kind != b->kind || a->snapshot != b->snapshot || a->bitmap != b->bitmap ||
	    b->start != a->start + a->length || (a->length & ((1ull << bits) - 1u)) ||
	    p->refcount_known != r->refcount_known || p->refcount != r->refcount)
		return false;
	switch (a->kind) {
	case Q2_O_DATA:
		return b->guest == a->guest + a->length;
	case Q2_O_L2:
	case Q2_O_REFBLOCK:
	case Q2_O_BITMAP_DATA:
		return b->index == a->index + clusters;
	default:
		return false;
	}
}

static void layout_one(struct layout_ctx *c, const struct q2_owner *o);

/* a run of data clusters, cut where the refcount changes: a record has
 * one refcount */
static void layout_span(void *ctx, const struct q2_owner *o)
{
	struct layout_ctx *c = ctx;
	uint64_t cs = 1ull << c->bits, end;
	struct q2_owner piece = *o;
	uint64_t first = 0, prev = 0;

	if (o->kind != Q2_O_DATA || o->length <= cs || !c->refcounts) {
		layout_one(c, o);
		return;
	}
	end = o->length;
	for (uint64_t k = 0; k < end; k += cs) {
		uint64_t rc = UINT64_MAX;

		if (q2_ondisk_get(c->d, (o->start + k) >> c->bits, &rc) != Q2_RC_OK)
			rc = UINT64_MAX;
		if (k && rc != prev) {
			piece.start = o->start + first;
			piece.guest = o->guest + first;
			piece.length = k - first;
			layout_one(c, &piece);
			first = k;
		}
		prev = rc;
	}
	piece.start = o->start + first;
	piece.guest = o->guest + first;
	piece.length = end - first;
	layout_one(c, &piece);
}

static void layout_one(struct layout_ctx *c, const struct q2_owner *o)
{
	struct q2_owner clipped = *o;
	struct q2_owner_rec r;
	enum q2_owner_kind k = o->kind;

	if (o->start >= c->size)
		return;   /* past the end of the file: nothing to lay out */
	if (k == Q2_O_L2 && c->has[k] && c->pending[k].o.start == o->start &&
	    c->pending[k].o.length == o->length && c->pending[k].o.snapshot == o->snapshot)
		return;   /* the same table again: one record stands for both */
	if (clipped.length > c->size - clipped.start)
		clipped.length = c->size - clipped.start;
	r = rec_of(&clipped, c->d, c->refcounts, clipped.start >> c->bits);
	if (c->has[k] && continues(&c->pending[k], &r, c->bits)) {
		c->pending[k].o.length += r.o.length;
		return;
	}
	if (c->has[k] && !push(&c->out, &c->pending[k]))
		c->failed = true;
	c->pending[k] = r;
	c->has[k] = true;
}

static int by_start(const void *a, const void *b, const void *arg)
{
	const struct q2_owner_rec *x = a, *y = b;

	(void)arg;
	return (x->o.start > y->o.start) - (x->o.start < y->o.start);
}

/* The clusters [c0, c1) no structure touches, as leaked and free runs
 * of one stored refcount, appended to out. */
static bool add_gap(struct layout_ctx *c, uint64_t c0, uint64_t c1, struct q2_owners *out)
{
	struct q2_owner_rec run = { 0 };
	bool open = false;
	uint64_t cs = 1ull << c->bits;

	while (c0 < c1) {
		uint64_t t = c->refcounts ? c0 >> c->d->block_bits : 0, end = c1;
		enum q2_rc_status st = Q2_RC_OK;
		const uint8_t *block = NULL;

		if (c->refcounts && t < c->d->n) {
			uint64_t block_end = (t + 1u) << c->d->block_bits;

			block = q2_ondisk_block(c->d, t, &st);
			if (block_end < end)
				end = block_end;
		}
		for (uint64_t i = c0; i < end; i++) {
			struct q2_owner_rec g = { .refcount_known = c->refcounts && st == Q2_RC_OK };

			if (block)
				g.refcount = q2_refcount_at(block, c->d->order,
							    i & ((1ull << c->d->block_bits) - 1u));
			g.o = no_owner(g.refcount_known && g.refcount ? Q2_O_LEAKED : Q2_O_FREE,
				       i << c->bits, cs);
			if (open && run.o.kind == g.o.kind && run.refcount == g.refcount &&
			    run.refcount_known == g.refcount_known) {
				/* a run of zeroes goes to the block's end at once */
				if (!block) {
					run.o.length += (end - i) << c->bits;
					break;
				}
				run.o.length += cs;
				continue;
			}
			if (open && !push(out, &run))
				return false;
			run = g;
			open = true;
			if (!block) {
				run.o.length = (end - i) << c->bits;
				break;
			}
		}
		c0 = end;
	}
	if (open) {
		if (run.o.start + run.o.length > c->size)
			run.o.length = c->size - run.o.start;
		return push(out, &run);
	}
	return true;
}

bool q2_owners_layout(const struct q2_reader *r, const struct q2_image *img,
		      struct q2_owners *out, struct q2_problems *problems)
{
	static const struct q2_walk_opts opts = { 0 };
	static const struct q2_walk_hooks hooks = { .span = layout_span };
	struct q2_ondisk d;
	struct layout_ctx c = { .bits = img->header.cluster_bits, .size = r->size, .d = &d };
	struct q2_owners all = { 0 };
	uint64_t next = 0, last;
	bool ok;

	memset(out, 0, sizeof *out);
	c.refcounts = q2_ondisk_open(&d, r, img);
	ok = q2_refwalk(r, img, &opts, &hooks, &c, NULL, problems);
	for (int k = 0; k < Q2_O_COUNT_; k++)
		if (c.has[k] && !push(&c.out, &c.pending[k]))
			c.failed = true;
	if (c.failed)
		goto fail;
	q2_sort(c.out.v, c.out.n, sizeof *c.out.v, by_start, NULL);
	last = (r->size >> c.bits) + !!(r->size & ((1ull << c.bits) - 1u));
	for (size_t i = 0; i < c.out.n; i++) {
		const struct q2_owner *o = &c.out.v[i].o;
		uint64_t first = o->start >> c.bits;
		uint64_t end = ((span_end(o) - 1u) >> c.bits) + 1u;

		if (first > next && !add_gap(&c, next, first, &all))
			goto fail;
		if (!push(&all, &c.out.v[i]))
			goto fail;
		if (end > next)
			next = end;
	}
	if (next < last && !add_gap(&c, next, last, &all))
		goto fail;
	*out = all;
	q2_owners_free(&c.out);
	if (c.refcounts)
		q2_ondisk_close(&d);
	return ok;
fail:
	q2_owners_free(&c.out);
	q2_owners_free(&all);
	if (c.refcounts)
		q2_ondisk_close(&d);
	return nomem(problems);
}
