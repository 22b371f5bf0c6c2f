#include "config.h"

#include "rebuild.h"

#include <inttypes.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "counts.h"
#include "guest.h"
#include "ondisk.h"
#include "refwalk.h"
#include "sort.h"

struct rebuild {
	const struct q2_image *img;
	struct q2_counts counts;
	unsigned bits;
	uint64_t cs;
	uint64_t file_len;     /* bdrv_getlength: whole sectors */
	uint64_t nb;           /* clusters counted for: grows as QEMU's array */
	struct q2_totals *t;
	struct q2_problems *p;
	uint64_t listed[Q2_CODE_COUNT_];
	bool failed;           /* the check stops with no result */
	/* check_oflag_copied, taken as the walk meets the active tables
	 * (it reads the stored refcounts only, so where does not matter):
	 * the stored refcounts, and whether the table being walked is one
	 * the check passes over (its own refcount unreadable, offset 0) */
	struct q2_ondisk *d;
	bool copied_in_walk;
	bool skip_table;
};

__attribute__((format(printf, 4, 5)))
static void report(struct rebuild *rb, enum q2_code code, uint64_t offset,
		   const char *fmt, ...)
{
	char detail[240];
	va_list ap;

	if (++rb->listed[code] > Q2_REBUILD_LISTED)
		return;
	va_start(ap, fmt);
	vsnprintf(detail, sizeof detail, fmt, ap);
	va_end(ap);
	q2_problems_addf(rb->p, Q2_FROM_CHECK, code, offset, Q2_NO_INDEX, "%s", detail);
}

static void fail(struct rebuild *rb, uint64_t offset, const char *why)
{
	rb->failed = true;
	report(rb, Q2_C_CHECK_FAILED, offset, "%s", why);
}

static void on_defect(void *ctx, enum q2_defect_kind kind, enum q2_code code,
		      uint64_t offset, const struct q2_owner *o, const char *detail)
{
	struct rebuild *rb = ctx;

	switch (kind) {
	case Q2_D_CORRUPTION:
		rb->t->corruptions += o ? o->times : 1u;
		break;
	case Q2_D_CHECK_ERROR:
		rb->t->check_errors += o ? o->times : 1u;
		break;
	case Q2_D_FATAL:
		rb->failed = true;
		break;
	}
	/* --check's snapshot rules list these already */
	if (code == Q2_C_SNAPSHOT_L1_UNALIGNED || code == Q2_C_SNAPSHOT_L1_TOO_LARGE)
		return;
	report(rb, code, offset, "%s", detail && *detail ? detail : q2_code(code)->message);
}

static void overflowed(void *ctx, uint64_t k, uint64_t refused)
{
	struct rebuild *rb = ctx;

	rb->t->corruptions += refused;
	report(rb, Q2_C_REFCOUNT_OVERFLOW, k << rb->bits,
	       "cluster 0x%" PRIx64 ": %" PRIu64 " references past the refcount width's maximum",
	       k << rb->bits, refused);
}

/* qcow2_inc_refcounts_imrt for [start, end), times over: false when out
 * of memory */
static bool count(struct rebuild *rb, uint64_t start, uint64_t end, uint64_t times)
{
	uint64_t first = start >> rb->bits, last = (end - 1u) >> rb->bits;

	if (last >= rb->nb)
		rb->nb = last + 1u;
	if (q2_counts_inc_range(&rb->counts, first, last - first + 1u, times,
				overflowed, rb) == Q2_INC_NOMEM) {
		rb->t->check_errors++;
		fail(rb, start, "out of memory counting the references");
		return false;
	}
	return true;
}

/* qemu-img check's test: a last cluster only partly in the file may be
 * referenced, a region reaching a cluster or more past the end may not
 * (in its signed arithmetic) */
static bool beyond_eof(const struct rebuild *rb, uint64_t start, uint64_t length)
{
	uint64_t end = start + length;

	return end < start || (int64_t)(end - rb->file_len) >= (int64_t)rb->cs;
}

static void copied_wrong(struct rebuild *rb, uint64_t at, uint64_t times,
			 const char *what, uint64_t entry, uint64_t rc)
{
	rb->t->corruptions += times;
	report(rb, Q2_C_COPIED_FLAG_WRONG, at, "%s 0x%016" PRIx64 ": COPIED %s, refcount %" PRIu64,
	       what, entry, entry & Q2_OFLAG_COPIED ? "set" : "clear", rc);
}

/* COPIED of an active L1 entry (the L2 table's span) and of the data
 * clusters of its table, against their stored refcounts */
static void check_copied_span(struct rebuild *rb, const struct q2_owner *o)
{
	struct q2_ondisk *d = rb->d;
	uint64_t rc, first = o->start >> rb->bits;
	uint64_t last = (o->start + o->length - 1u) >> rb->bits;
	bool set = o->entry & Q2_OFLAG_COPIED;

	if (o->kind == Q2_O_L2) {
		/* an entry of offset 0, or whose table's refcount cannot be
		 * read, is passed over, its table too */
		rb->skip_table = !o->start || q2_ondisk_get(d, first, &rc) != Q2_RC_OK;
		if (!rb->skip_table && (rc == 1) != set)
			copied_wrong(rb, o->start, 1, "L1 entry", o->entry, rc);
		return;
	}
	if (rb->skip_table)
		return;
	/* a run's clusters share the first entry's COPIED: a block at a
	 * time */
	for (uint64_t c = first; c <= last;) {
		uint64_t t = c >> d->block_bits, per = 1ull << d->block_bits;
		uint64_t end = ((t + 1u) << d->block_bits) - 1u;
		enum q2_rc_status st;
		const uint8_t *block = q2_ondisk_block(d, t, &st);

		if (end > last)
			end = last;
		/* the common case, at once: every refcount 1 and COPIED set */
		if (st == Q2_RC_OK && block && set && d->order == 4) {
			const uint8_t *b = block + 2u * (c & (per - 1u));
			uint64_t count = end - c + 1u, k = 0;
			unsigned diff = 0;

			/* 64 at a time, a loop of known length: vector code */
			for (; k + 64u <= count; k += 64u)
				for (unsigned j = 0; j < 64u; j++)
					diff |= ((unsigned)b[2 * (k + j)] << 8 |
						 b[2 * (k + j) + 1]) ^ 1u;
			for (; k < count; k++)
				diff |= ((unsigned)b[2 * k] << 8 | b[2 * k + 1]) ^ 1u;
			if (!diff) {
				c = end + 1u;
				continue;
			}
		}
		for (; st == Q2_RC_OK && c <= end; c++) {
			rc = block ? q2_refcount_at(block, d->order, c & (per - 1u)) : 0;
			if ((rc == 1) != set)
				copied_wrong(rb, c << rb->bits, o->times, "L2 entry",
					     o->entry + ((c - first) << rb->bits), rc);
		}
		c = end + 1u;
	}
}

static void on_span(void *ctx, const struct q2_owner *o)
{
	struct rebuild *rb = ctx;
	uint64_t start = o->start, length = o->length;

	if (rb->copied_in_walk && o->snapshot == Q2_NO_INDEX &&
	    (o->kind == Q2_O_L2 || o->kind == Q2_O_DATA))
		check_copied_span(rb, o);

	if (o->kind == Q2_O_REFBLOCK && (start >> rb->bits) >= rb->nb) {
		rb->t->corruptions++;
		report(rb, Q2_C_REFCOUNT_BLOCK_BEYOND_EOF, start,
		       "refcount block %" PRIu64 " at 0x%" PRIx64, o->index, start);
		return;
	}
	/* a run of data clusters: each is held to the test alone, as QEMU
	 * counts each entry's cluster; those past the end are the run's
	 * last */
	if (o->kind == Q2_O_DATA && length > rb->cs) {
		uint64_t in = 0;

		while (in < length && !beyond_eof(rb, start + in, rb->cs))
			in += rb->cs;
		if (in && !count(rb, start, start + in, o->times))
			return;
		for (; in < length; in += rb->cs) {
			rb->t->corruptions += o->times;
			report(rb, Q2_C_REFERENCE_BEYOND_EOF, start + in,
			       "data at 0x%" PRIx64 " (guest offset 0x%" PRIx64 ")",
			       start + in, o->guest + in);
		}
		return;
	}
	if (beyond_eof(rb, start, length)) {
		rb->t->corruptions += o->times;
		report(rb, Q2_C_REFERENCE_BEYOND_EOF, start,
		       "%s at 0x%" PRIx64 ", 0x%" PRIx64 " bytes", q2_owner_name(o->kind),
		       start, length);
	} else if (!count(rb, start, start + length, o->times)) {
		return;
	}
	if (o->kind == Q2_O_REFBLOCK) {
		uint64_t n = q2_counts_get(&rb->counts, start >> rb->bits);

		if (n != 1) {
			rb->t->corruptions++;
			report(rb, Q2_C_REFCOUNT_BLOCK_SHARED, start,
			       "refcount block %" PRIu64 " at 0x%" PRIx64 ": referenced %" PRIu64 " times",
			       o->index, start, n);
		}
	}
}

struct compare {
	uint64_t highest;
};

static void mismatch(struct rebuild *rb, uint64_t i, uint64_t stored, uint64_t counted);

static void compare_one(struct rebuild *rb, struct compare *c, uint64_t i,
			uint64_t stored, uint64_t counted)
{
	if (stored || counted)
		c->highest = i;
	if (stored == counted)
		return;
	mismatch(rb, i, stored, counted);
}

static void mismatch(struct rebuild *rb, uint64_t i, uint64_t stored, uint64_t counted)
{
	if (stored < counted) {
		rb->t->corruptions++;
		report(rb, Q2_C_REFCOUNT_TOO_LOW, i << rb->bits,
		       "cluster 0x%" PRIx64 ": refcount %" PRIu64 ", referenced %" PRIu64 " times",
		       i << rb->bits, stored, counted);
	} else {
		rb->t->leaks++;
		report(rb, Q2_C_CLUSTER_LEAKED, i << rb->bits,
		       "cluster 0x%" PRIx64 ": refcount %" PRIu64 ", referenced %" PRIu64 " times",
		       i << rb->bits, stored, counted);
	}
}

static uint64_t counted_at(const struct rebuild *rb, const uint8_t *chunk, uint64_t i)
{
	uint8_t n;

	if (!chunk)
		return 0;
	n = chunk[i & (Q2_COUNTS_CHUNK - 1u)];
	return n < 255u ? n : q2_counts_get(&rb->counts, i);
}

/* Whether m 16-bit stored refcounts equal their counters (a chunk's,
 * NULL: all 0), none 255 or more; then the last cluster not 0 of them
 * is the highest so far.  Written to be vectorised: no branch in the
 * loop. */
static bool chunk_agrees16(const uint8_t *stored, const uint8_t *chunk, uint64_t m,
			   uint64_t first, struct compare *c)
{
	static const uint8_t zeroes[Q2_COUNTS_CHUNK];
	unsigned diff = 0, big = 0;

	if (!chunk)
		chunk = zeroes;
	if (m == Q2_COUNTS_CHUNK) {
		/* a loop of known length: vector code */
		for (unsigned k = 0; k < Q2_COUNTS_CHUNK; k++) {
			unsigned s = (unsigned)stored[2 * k] << 8 | stored[2 * k + 1];

			diff |= s ^ chunk[k];
			big |= chunk[k] == 255u;
		}
	} else {
		for (uint64_t k = 0; k < m; k++) {
			unsigned s = (unsigned)stored[2 * k] << 8 | stored[2 * k + 1];

			diff |= s ^ chunk[k];
			big |= chunk[k] == 255u;
		}
	}
	if (diff || big)
		return false;
	for (uint64_t k = m; k-- > 0;)
		if (chunk[k]) {
			c->highest = first + k;
			break;
		}
	return true;
}

/* compare_refcounts: every cluster below nb, the stored refcount with
 * the counted one.  Work: the clusters whose refcount block the file
 * holds, and those counted; a block QEMU cannot read makes each of its
 * clusters a check error. */
static void compare(struct rebuild *rb, struct q2_ondisk *d, struct compare *c)
{
	size_t n_chunks = 0, ci = 0;
	bool nomem = false;
	uint64_t *chunks = q2_counts_chunks(&rb->counts, &n_chunks, &nomem);
	uint64_t per = 1ull << d->block_bits;

	if (nomem) {
		rb->t->check_errors++;
		fail(rb, 0, "out of memory comparing the refcounts");
		return;
	}
	for (uint64_t t = 0; t <= (rb->nb - 1u) >> d->block_bits; t++) {
		uint64_t lo = t << d->block_bits;
		uint64_t hi = rb->nb - lo < per ? rb->nb : lo + per;
		enum q2_rc_status st;
		const uint8_t *block;

		/* nothing stored nor counted from here to the next chunk or
		 * table entry: skip to it */
		if (t >= d->n && ci == n_chunks)
			break;
		if (t >= d->n && (chunks[ci] << Q2_COUNTS_CHUNK_BITS) >= hi) {
			t = ((chunks[ci] << Q2_COUNTS_CHUNK_BITS) >> d->block_bits) - 1u;
			continue;
		}
		block = q2_ondisk_block(d, t, &st);
		if (st != Q2_RC_OK) {
			rb->t->check_errors += hi - lo;
			report(rb, Q2_C_REFCOUNT_LOOKUP_FAILED, (uint64_t)(d->table[t] & ~(uint64_t)0x1ff),
			       "refcount block %" PRIu64 " at 0x%" PRIx64 " (%s): the refcounts of "
			       "%" PRIu64 " clusters from 0x%" PRIx64 " cannot be read",
			       t, (uint64_t)(d->table[t] & ~(uint64_t)0x1ff),
			       st == Q2_RC_UNALIGNED ? "not cluster aligned" : "read error",
			       hi - lo, lo << rb->bits);
			while (ci < n_chunks && (chunks[ci] << Q2_COUNTS_CHUNK_BITS) < hi)
				ci++;
			continue;
		}
		if (block) {
			/* the hot loop of a big image: a chunk of counters at
			 * a time, the stored width known */
			for (uint64_t i = lo; i < hi; i += Q2_COUNTS_CHUNK) {
				const uint8_t *chunk = q2_counts_chunk(&rb->counts,
								       i >> Q2_COUNTS_CHUNK_BITS);
				uint64_t m = hi - i < Q2_COUNTS_CHUNK ? hi - i : Q2_COUNTS_CHUNK;

				/* QEMU's default width: the chunk compared at
				 * once, one by one only where it differs */
				if (d->order == 4 && chunk_agrees16(block + 2u * (i - lo), chunk,
								     m, i, c))
					continue;

				for (uint64_t k = 0; k < m; k++) {
					uint64_t stored = q2_refcount_at(block, d->order, i - lo + k);
					uint64_t counted = chunk ? chunk[k] : 0;

					if (counted == 255u)
						counted = q2_counts_get(&rb->counts, i + k);
					if (stored | counted)
						c->highest = i + k;
					if (stored != counted)
						mismatch(rb, i + k, stored, counted);
				}
			}
			while (ci < n_chunks && (chunks[ci] << Q2_COUNTS_CHUNK_BITS) < hi)
				ci++;
			continue;
		}
		for (; ci < n_chunks && (chunks[ci] << Q2_COUNTS_CHUNK_BITS) < hi; ci++) {
			uint64_t first = chunks[ci] << Q2_COUNTS_CHUNK_BITS;
			const uint8_t *chunk = q2_counts_chunk(&rb->counts, chunks[ci]);

			for (uint64_t i = first < lo ? lo : first;
			     i < first + Q2_COUNTS_CHUNK && i < hi; i++) {
				uint64_t n = counted_at(rb, chunk, i);

				if (n)
					compare_one(rb, c, i, 0, n);
			}
			/* a chunk across the block's end is taken again for
			 * the next block */
			if (first + Q2_COUNTS_CHUNK > hi)
				break;
		}
	}
	free(chunks);
}

/* check_oflag_copied: COPIED on the active L1 and L2 entries against
 * the stored refcounts (1 exactly when set). */
static void check_copied(struct rebuild *rb, const struct q2_reader *r,
			 struct q2_ondisk *d)
{
	const struct q2_header *h = &rb->img->header;
	bool data_file = q2_has_data_file(rb->img);
	struct q2_guest g;
	const uint8_t *last_block = NULL;
	uint64_t last_t = UINT64_MAX;

	if (!h->l1_size)
		return;
	if (!q2_guest_open(&g, r, rb->img, h->l1_table_offset, h->l1_size, rb->p)) {
		fail(rb, h->l1_table_offset, "the L1 table cannot be read");
		return;
	}
	for (uint32_t i = 0; i < g.l1_size; i++) {
		uint64_t e = g.l1[i], l2 = e & Q2_L1E_OFFSET_MASK, rc;
		const uint8_t *t;

		/* this lookup may take the cache slot the last block was in */
		last_t = UINT64_MAX;
		if (!l2 || q2_ondisk_get(d, l2 >> rb->bits, &rc) != Q2_RC_OK)
			continue;
		if ((rc == 1) != !!(e & Q2_OFLAG_COPIED)) {
			rb->t->corruptions++;
			report(rb, Q2_C_COPIED_FLAG_WRONG,
			       h->l1_table_offset + (uint64_t)i * Q2_L1_ENTRY_SIZE,
			       "L1 entry %" PRIu32 " (L2 table 0x%" PRIx64 "): COPIED %s, refcount %" PRIu64,
			       i, l2, e & Q2_OFLAG_COPIED ? "set" : "clear", rc);
		}
		t = q2_guest_table(&g, i, rb->p);
		if (!t) {
			rb->t->check_errors++;
			fail(rb, l2, "an L2 table cannot be read");
			break;
		}
		for (uint64_t k = 0; k < g.l2_entries; k++) {
			uint64_t le = q2_l2_entry(&g, t, k), host = le & Q2_L2E_OFFSET_MASK;
			bool normal;

			if (le & Q2_OFLAG_COMPRESSED)
				continue;
			if (!g.extended && (le & Q2_OFLAG_ZERO))
				normal = host != 0;
			else
				normal = host || (data_file && (le & Q2_OFLAG_COPIED));
			if (!normal)
				continue;
			if (data_file) {
				rc = 1;
			} else {
				/* the block of the last lookup serves the next
				 * clusters, in order as they mostly are */
				uint64_t cl = host >> rb->bits, t = cl >> d->block_bits;
				enum q2_rc_status st = Q2_RC_OK;

				if (t != last_t) {
					last_block = q2_ondisk_block(d, t, &st);
					last_t = st == Q2_RC_OK ? t : UINT64_MAX;
					if (st != Q2_RC_OK)
						continue;
				}
				rc = last_block ? q2_refcount_at(last_block, d->order,
							 cl & ((1ull << d->block_bits) - 1u)) : 0;
			}
			if ((rc == 1) != !!(le & Q2_OFLAG_COPIED)) {
				rb->t->corruptions++;
				report(rb, Q2_C_COPIED_FLAG_WRONG,
				       l2 + k * (g.extended ? 16u : 8u),
				       "L2 entry 0x%016" PRIx64 " (guest offset 0x%" PRIx64 "): COPIED %s, refcount %" PRIu64,
				       le, (((uint64_t)i * g.l2_entries) + k) << rb->bits,
				       le & Q2_OFLAG_COPIED ? "set" : "clear", rc);
			}
		}
	}
	q2_guest_close(&g);
}

/* ---- who references the clusters listed as too low: their owners
 * named in the problems' messages (a second walk, only when some are
 * listed; at most Q2_REBUILD_LISTED clusters, OWNERS_NAMED owners each) */

#define OWNERS_NAMED 4u

struct named {
	uint64_t cluster;
	size_t problem;           /* its problem in the list */
	char text[OWNERS_NAMED * 64];
	size_t len;
	unsigned n;               /* owners met */
};

struct naming {
	const struct q2_image *img;
	unsigned bits;
	struct named *v;          /* sorted by cluster */
	size_t n;
};

static int by_cluster(const void *a, const void *b, const void *arg)
{
	const struct named *x = a, *y = b;

	(void)arg;
	return (x->cluster > y->cluster) - (x->cluster < y->cluster);
}

static void name_owner(struct named *nm, const struct q2_image *img, unsigned bits,
		       const struct q2_owner *o)
{
	const struct q2_snapshot_table *t = img->snapshots;
	char one[64];
	int k;

	if (nm->n++ >= OWNERS_NAMED)
		return;
	switch (o->kind) {
	case Q2_O_DATA:
		/* of a run, the cluster's own guest offset */
		k = snprintf(one, sizeof one, "data of guest offset 0x%" PRIx64,
			     (uint64_t)(o->guest + ((nm->cluster << bits) -
						    (o->start & ~(uint64_t)((1ull << bits) - 1u)))));
		break;
	case Q2_O_COMPRESSED:
		k = snprintf(one, sizeof one, "compressed data of guest offset 0x%" PRIx64,
			     o->guest);
		break;
	case Q2_O_L2:
		k = snprintf(one, sizeof one, "l2-table of L1 entry %" PRIu64, o->index);
		break;
	case Q2_O_REFBLOCK:
		k = snprintf(one, sizeof one, "refcount-block %" PRIu64, o->index);
		break;
	default:
		k = snprintf(one, sizeof one, "%s", q2_owner_name(o->kind));
		break;
	}
	if (k > 0 && o->snapshot != Q2_NO_INDEX && t && o->snapshot < t->n &&
	    (size_t)k < sizeof one)
		snprintf(one + k, sizeof one - (size_t)k, " (snapshot %.12s)",
			 t->v[o->snapshot].id_str);
	nm->len += (size_t)snprintf(nm->text + nm->len, sizeof nm->text - nm->len,
				    "%s%s", nm->len ? ", " : "", one);
	if (nm->len >= sizeof nm->text)
		nm->len = sizeof nm->text - 1u;
}

static void naming_span(void *ctx, const struct q2_owner *o)
{
	struct naming *c = ctx;
	uint64_t end = o->length > UINT64_MAX - o->start ? UINT64_MAX : o->start + o->length;
	uint64_t first = o->start >> c->bits, last = (end - 1u) >> c->bits;
	size_t lo = 0, hi = c->n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (c->v[mid].cluster < first)
			lo = mid + 1;
		else
			hi = mid;
	}
	for (size_t i = lo; i < c->n && c->v[i].cluster <= last; i++)
		for (uint64_t t = 0; t < o->times && t < OWNERS_NAMED; t++)
			name_owner(&c->v[i], c->img, c->bits, o);
}

static void name_owners(struct rebuild *rb, const struct q2_reader *r, size_t from)
{
	static const struct q2_walk_opts opts = { 0 };
	static const struct q2_walk_hooks hooks = { .span = naming_span };
	struct naming c = { .img = rb->img, .bits = rb->bits };
	struct q2_problems ignored = { 0 };
	size_t n = 0;

	for (size_t i = from; i < rb->p->n; i++)
		n += rb->p->v[i].code == Q2_C_REFCOUNT_TOO_LOW;
	if (!n || !(c.v = calloc(n, sizeof *c.v)))
		return;
	for (size_t i = from; i < rb->p->n; i++)
		if (rb->p->v[i].code == Q2_C_REFCOUNT_TOO_LOW)
			c.v[c.n++] = (struct named){ .cluster = rb->p->v[i].offset >> rb->bits,
						     .problem = i };
	q2_sort(c.v, c.n, sizeof *c.v, by_cluster, NULL);
	q2_refwalk(r, rb->img, &opts, &hooks, &c, NULL, &ignored);
	q2_problems_free(&ignored);
	for (size_t i = 0; i < c.n; i++) {
		struct q2_problem *pb = &rb->p->v[c.v[i].problem];
		char *msg = NULL;

		if (!c.v[i].n || !pb->message)
			continue;
		if (asprintf(&msg, "%s: %s%s", pb->message, c.v[i].text,
			     c.v[i].n > OWNERS_NAMED ? ", ..." : "") < 0)
			continue;
		free(pb->message);
		pb->message = msg;
	}
	free(c.v);
}

static void report_left_out(struct rebuild *rb)
{
	for (int code = 0; code < Q2_CODE_COUNT_; code++)
		if (rb->listed[code] > Q2_REBUILD_LISTED)
			q2_problems_addf(rb->p, Q2_FROM_CHECK, (enum q2_code)code, 0,
					 Q2_NO_INDEX, "%" PRIu64 " more of these not listed",
					 rb->listed[code] - Q2_REBUILD_LISTED);
}

void q2_rebuild(const struct q2_reader *r, const struct q2_image *img,
		struct q2_totals *t, struct q2_problems *p)
{
	const struct q2_header *h = &img->header;
	struct rebuild rb = {
		.img = img, .bits = h->cluster_bits, .cs = 1ull << h->cluster_bits,
		.t = t, .p = p,
	};
	static const struct q2_walk_opts opts = { 0 };
	static const struct q2_walk_hooks hooks = { .span = on_span, .defect = on_defect };
	/* the virtual size in whole sectors, rounded down */
	uint64_t vsize = h->size & ~511ull;
	struct q2_frag frag;
	struct q2_ondisk d;
	struct compare c = { 0 };
	unsigned bits = 1u << h->refcount_order;

	memset(t, 0, sizeof *t);
	if (!q2_image_has_layout(img)) {
		fail(&rb, 0, "the header's cluster or refcount size is beyond QEMU's limits");
		return;
	}
	rb.file_len = r->size > UINT64_MAX - 511u ? UINT64_MAX : (r->size + 511u) & ~511ull;
	rb.nb = (rb.file_len >> rb.bits) + !!(rb.file_len & (rb.cs - 1u));
	if (rb.nb > INT_MAX) {
		t->check_errors++;
		fail(&rb, 0, "the file has more clusters than qemu-img check handles (2^31 - 1): File too large");
		report_left_out(&rb);
		return;
	}
	t->total_clusters = (vsize >> rb.bits) + !!(vsize & (rb.cs - 1u));
	q2_counts_init(&rb.counts, bits >= 64 ? UINT64_MAX : (1ull << bits) - 1u, rb.nb);
	/* qcow2_check_read_snapshot_table: on a version 3 image, each
	 * snapshot without the 16 bytes of extra data QEMU writes (--check
	 * lists it as snapshot-extra-data-too-short) */
	for (size_t i = 0; img->snapshots && h->version >= 3 && i < img->snapshots->n; i++)
		if (img->snapshots->v[i].extra_data_size < 16u)
			t->corruptions++;
	if (!q2_ondisk_open(&d, r, img)) {
		t->check_errors++;
		fail(&rb, h->refcount_table_offset, "the refcount table cannot be read");
	} else if (rb.d = &d,
		   /* with an external data file COPIED is held to a refcount of
		    * 1 and no data span is counted: a pass of its own */
		   rb.copied_in_walk = !q2_has_data_file(img),
		   q2_refwalk(r, img, &opts, &hooks, &rb, &frag, p) && !rb.failed) {
		t->allocated_clusters = frag.allocated;
		t->fragmented_clusters = frag.fragmented;
		t->compressed_clusters = frag.compressed;
		size_t from = p->n;

		if (rb.nb)
			compare(&rb, &d, &c);
		name_owners(&rb, r, from);
		if (!rb.failed && !rb.copied_in_walk)
			check_copied(&rb, r, &d);
		t->image_end_offset = (c.highest + 1u) << rb.bits;
	} else if (!rb.failed) {
		/* stopped for want of memory or a read: qemu-img check would
		 * have said something else; say that it cannot be known */
		fail(&rb, 0, "the check could not be completed");
	}
	if (rb.d)
		q2_ondisk_close(&d);
	q2_counts_free(&rb.counts);
	t->complete = !rb.failed;
	report_left_out(&rb);
}
