#include "config.h"

#include "layout.h"

#include <assert.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sort.h"
#include "util.h"

static void add(struct q2_layout *l, size_t cap, uint64_t start, uint64_t len,
		enum q2_span_kind kind, uint32_t index, uint32_t sub)
{
	struct q2_span *last = l->n ? &l->v[l->n - 1] : NULL;

	if (!len)
		return;
	/* the same span twice in a row (a table naming one cluster over and
	 * over) is one span: the sort stays as small as the distinct ones */
	if (last && last->start == start && last->kind == kind && last->index == index)
		return;
	/* the room was counted before: no structure is left uncounted */
	assert(l->n < cap);
	l->v[l->n++] = (struct q2_span){
		.start = start,
		.end = len > UINT64_MAX - start ? UINT64_MAX : start + len,
		.index = index, .sub = sub, .kind = kind,
	};
}

static int cmp_span(const void *a, const void *b, const void *arg)
{
	const struct q2_span *x = a, *y = b;

	(void)arg;
	if (x->start != y->start)
		return x->start < y->start ? -1 : 1;
	return (x->end > y->end) - (x->end < y->end);
}

void q2_layout_build(const struct q2_image *img, struct q2_layout *out)
{
	const struct q2_header *h = &img->header;
	const struct q2_bitmaps_ext *bx = q2_image_bitmaps(img);
	const struct q2_snapshot_table *t = img->snapshots;
	uint64_t cs = q2_image_cluster_size(img);
	/* one span for each structure, and at most one for each table
	 * entry held (bounded by the file, as the entries are) */
	size_t cap = 4 + img->n_exts + (t ? 1 + t->n : 0);

	memset(out, 0, sizeof *out);
	for (uint32_t i = 0; bx && i < bx->n_bitmaps; i++)
		cap += 1 + (bx->bitmaps[i].table_loaded ? bx->bitmaps[i].table_in_file : 0);
	out->v = malloc(cap * sizeof *out->v);
	if (!out->v) {
		out->failed = true;
		return;
	}
	add(out, cap, 0, cs, Q2_SPAN_HEADER, Q2_NO_INDEX, Q2_NO_INDEX);
	add(out, cap, h->l1_table_offset, (uint64_t)h->l1_size * Q2_L1_ENTRY_SIZE,
	    Q2_SPAN_L1, Q2_NO_INDEX, Q2_NO_INDEX);
	add(out, cap, h->refcount_table_offset,
	    (uint64_t)h->refcount_table_clusters * cs, Q2_SPAN_REFCOUNT_TABLE,
	    Q2_NO_INDEX, Q2_NO_INDEX);
	for (size_t i = 0; i < img->n_exts; i++)
		if (img->exts[i].has_crypto && img->exts[i].crypto_offset)
			add(out, cap, img->exts[i].crypto_offset,
			    img->exts[i].crypto_length, Q2_SPAN_CRYPTO,
			    Q2_NO_INDEX, Q2_NO_INDEX);
	if (bx) {
		add(out, cap, bx->bitmap_directory_offset, bx->bitmap_directory_size,
		    Q2_SPAN_BITMAP_DIR, Q2_NO_INDEX, Q2_NO_INDEX);
		for (uint32_t i = 0; i < bx->n_bitmaps; i++) {
			const struct q2_bitmap *bm = &bx->bitmaps[i];

			add(out, cap, bm->bitmap_table_offset,
			    (uint64_t)bm->bitmap_table_size * Q2_BTE_SIZE,
			    Q2_SPAN_BITMAP_TABLE, i, Q2_NO_INDEX);
			for (uint32_t k = 0; bm->table_loaded && k < bm->table_in_file; k++)
				if (q2_bte_classify(bm->table[k]) == Q2_BTE_SERIALIZED)
					add(out, cap, bm->table[k] & Q2_BTE_OFFSET_MASK, cs,
					    Q2_SPAN_BITMAP_DATA, i, k);
		}
	}
	if (t) {
		add(out, cap, h->snapshot_offset, t->size, Q2_SPAN_SNAPSHOT_TABLE,
		    Q2_NO_INDEX, Q2_NO_INDEX);
		for (uint32_t i = 0; i < t->n; i++)
			add(out, cap, t->v[i].l1_table_offset,
			    (uint64_t)t->v[i].l1_size * Q2_L1_ENTRY_SIZE,
			    Q2_SPAN_SNAPSHOT_L1, i, Q2_NO_INDEX);
	}
	q2_sort(out->v, out->n, sizeof *out->v, cmp_span, NULL);
}

void q2_layout_free(struct q2_layout *l)
{
	free(l->v);
	memset(l, 0, sizeof *l);
}

uint32_t q2_span_bitmap(const struct q2_span *s)
{
	return s->kind == Q2_SPAN_BITMAP_TABLE || s->kind == Q2_SPAN_BITMAP_DATA
	       ? s->index : Q2_NO_INDEX;
}

static const char *const kind_names[] = {
	[Q2_SPAN_HEADER] = "header cluster",
	[Q2_SPAN_L1] = "L1 table",
	[Q2_SPAN_REFCOUNT_TABLE] = "refcount table",
	[Q2_SPAN_CRYPTO] = "crypto header",
	[Q2_SPAN_BITMAP_DIR] = "bitmap directory",
	[Q2_SPAN_BITMAP_TABLE] = "bitmap table",
	[Q2_SPAN_BITMAP_DATA] = "bitmap data cluster",
	[Q2_SPAN_SNAPSHOT_TABLE] = "snapshot table",
	[Q2_SPAN_SNAPSHOT_L1] = "L1 table of snapshot",
};
Q2_STATIC_ASSERT(Q2_ARRAY_SIZE(kind_names) == Q2_SPAN_KIND_COUNT_,
		 "every kind of span has a name");

/* names are cut at 64 bytes: a message stays a line */
#define NAME_SHOWN 64

void q2_span_describe(const struct q2_image *img, const struct q2_span *s,
		      char *buf, size_t size)
{
	const struct q2_bitmap *bm = q2_image_bitmap(img, q2_span_bitmap(s));
	int n;

	assert(s->kind < Q2_SPAN_KIND_COUNT_);
	n = snprintf(buf, size, "%s", kind_names[s->kind]);
	if (n < 0 || (size_t)n >= size)
		return;
	if (bm)
		snprintf(buf + n, size - (size_t)n, " of bitmap %u (%.*s)", s->index,
			 bm->name_size > NAME_SHOWN ? NAME_SHOWN : bm->name_size,
			 bm->name);
	if (s->kind == Q2_SPAN_SNAPSHOT_L1) {
		const struct q2_snapshot *sn = &img->snapshots->v[s->index];

		snprintf(buf + n, size - (size_t)n, " %u (%.*s)", s->index,
			 sn->name_size > NAME_SHOWN ? NAME_SHOWN : sn->name_size,
			 sn->name);
	}
}
