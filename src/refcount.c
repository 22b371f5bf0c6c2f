#include "config.h"

#include "refcount.h"

#include <assert.h>
#include <limits.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "be.h"
#include "ondisk.h"
#include "sort.h"

#define REFT_OFFSET_MASK 0xfffffffffffffe00ull
/* QEMU refuses a refcount table above 8 MiB, so none is read beyond it */
#define MAX_REFTABLE (8ull << 20)

/* a cluster to look up, and whose it is */
struct ref {
	uint64_t cluster;
	uint32_t bitmap;
};

struct refs {
	struct ref *v;
	size_t n;
};

/* Room for the clusters of the bitmap spans that lie in the file,
 * counted before any is added (bounded by the file, as the spans are). */
static bool is_bitmap_span(const struct q2_image *img, const struct q2_span *s)
{
	const struct q2_bitmap *bm;

	switch (s->kind) {
	case Q2_SPAN_BITMAP_DIR:
	case Q2_SPAN_BITMAP_DATA:
		return true;
	case Q2_SPAN_BITMAP_TABLE:
		/* a table whose entries were not read is not counted */
		bm = q2_image_bitmap(img, s->index);
		return bm && bm->table_loaded;
	default:
		return false;
	}
}

/* the clusters of a span that lie in the file: first and count */
static uint64_t span_clusters(const struct q2_image *img, unsigned bits,
			      const struct q2_span *s, uint64_t *first)
{
	uint64_t end = s->end < img->file_size ? s->end : img->file_size;

	*first = s->start >> bits;
	if (s->start >= end)
		return 0;
	return ((end - 1) >> bits) - *first + 1;
}

static bool collect(struct refs *rs, const struct q2_image *img,
		    const struct q2_layout *layout, unsigned bits)
{
	size_t n = 0;

	for (size_t i = 0; i < layout->n; i++) {
		uint64_t first, k;

		if (!is_bitmap_span(img, &layout->v[i]))
			continue;
		k = span_clusters(img, bits, &layout->v[i], &first);
		if (k > SIZE_MAX - n)
			return false;
		n += (size_t)k;
	}
	rs->v = malloc((n ? n : 1) * sizeof *rs->v);
	if (!rs->v)
		return false;
	for (size_t i = 0; i < layout->n; i++) {
		const struct q2_span *s = &layout->v[i];
		uint64_t first, k;

		if (!is_bitmap_span(img, s))
			continue;
		k = span_clusters(img, bits, s, &first);
		for (uint64_t c = 0; c < k; c++)
			rs->v[rs->n++] = (struct ref){ first + c,
				s->kind == Q2_SPAN_BITMAP_DIR ? Q2_NO_INDEX : s->index };
	}
	assert(rs->n == n);
	return true;
}

static int cmp_ref(const void *a, const void *b, const void *arg)
{
	const struct ref *x = a, *y = b;

	(void)arg;
	if (x->cluster != y->cluster)
		return x->cluster < y->cluster ? -1 : 1;
	return (x->bitmap > y->bitmap) - (x->bitmap < y->bitmap);
}

static bool add_fault(struct q2_refcounts *out, size_t *cap, uint64_t offset,
		      uint64_t refcount, uint32_t bitmap, bool unreadable)
{
	if (out->n == *cap) {
		size_t ncap = *cap ? 2 * *cap : 16;
		struct q2_refcount_fault *v = realloc(out->v, ncap * sizeof *v);

		if (!v)
			return false;
		out->v = v;
		*cap = ncap;
	}
	out->v[out->n++] =
		(struct q2_refcount_fault){ offset, refcount, bitmap, unreadable };
	return true;
}

void q2_read_bitmap_refcounts(const struct q2_reader *r, const struct q2_image *img,
			      const struct q2_layout *layout,
			      struct q2_refcounts *out, struct q2_problems *problems)
{
	const struct q2_header *h = &img->header;
	const struct q2_bitmaps_ext *bx = q2_image_bitmaps(img);
	uint64_t cs = q2_image_cluster_size(img);
	unsigned bits = h->cluster_bits, order = h->refcount_order;
	struct refs rs = { 0 };
	uint8_t *reftable = NULL, *block = NULL;
	uint64_t reft_bytes, reft_in_file, per_block, cur_block = UINT64_MAX;
	bool block_ok = false;
	size_t cap = 0;
	enum q2_code code;
	int err;

	if (!bx || !cs || order > 6)
		return;
	reft_bytes = (uint64_t)h->refcount_table_clusters * cs;
	if (reft_bytes > MAX_REFTABLE || h->refcount_table_offset % cs)
		return; /* QEMU refuses the image; that is reported elsewhere */
	if (layout->failed || !collect(&rs, img, layout, bits))
		goto nomem;
	q2_sort(rs.v, rs.n, sizeof *rs.v, cmp_ref, NULL);

	/* the table's part in the file; entries past it are 0 */
	reft_in_file = h->refcount_table_offset >= r->size ? 0
		       : r->size - h->refcount_table_offset;
	if (reft_in_file > reft_bytes)
		reft_in_file = reft_bytes;
	reftable = malloc(reft_in_file ? reft_in_file : 1);
	block = malloc(cs);
	if (!reftable || !block)
		goto nomem;
	if (!q2_read(r, h->refcount_table_offset, reftable, reft_in_file, &code, &err)) {
		q2_problems_add_decode(problems, code, Q2_W_FILE, Q2_NO_INDEX,
				       h->refcount_table_offset, err, Q2_NO_INDEX);
		goto out;
	}
	per_block = (cs * CHAR_BIT) >> order;
	for (size_t i = 0; i < rs.n; i++) {
		uint64_t c = rs.v[i].cluster, bi = c / per_block;
		uint64_t rc = 0, entry = 0, boff;

		/* a cluster counted twice is an overlap: check.c reports it */
		if (i && rs.v[i - 1].cluster == c)
			continue;
		if (bi < reft_in_file / Q2_REFTABLE_ENTRY_SIZE)
			entry = get_be64(reftable + bi * Q2_REFTABLE_ENTRY_SIZE);
		boff = entry & REFT_OFFSET_MASK;
		if (boff && bi != cur_block) {
			cur_block = bi;
			block_ok = boff % cs == 0 &&
				   q2_read(r, boff, block, cs, &code, &err);
		}
		if (boff && !block_ok) {
			if (!add_fault(out, &cap, c << bits, 0, rs.v[i].bitmap, true))
				goto nomem;
			continue;
		}
		if (boff)
			rc = q2_refcount_at(block, order, c % per_block);
		if (rc != 1 && !add_fault(out, &cap, c << bits, rc, rs.v[i].bitmap, false))
			goto nomem;
	}
	goto out;
nomem:
	/* no confident "every refcount is right" */
	q2_problems_add(problems, Q2_C_NOMEM, 0, Q2_NO_INDEX, Q2_FROM_DECODE,
			strdup("out of memory: refcounts could not be read"));
out:
	free(rs.v);
	free(reftable);
	free(block);
}
