#include "config.h"

#include "share.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "refwalk.h"
#include "sort.h"

struct bm_cluster {
	uint64_t cluster;
	uint32_t bitmap;          /* Q2_NO_INDEX: the directory */
	enum q2_span_kind kind;
};

struct share {
	const struct q2_image *img;
	unsigned bits;
	struct bm_cluster *v;
	size_t n;
	/* per bitmap: shared already said (bit per kind of its spans) */
	uint8_t *said;
	struct q2_problems *p;
};

static int by_cluster(const void *a, const void *b, const void *arg)
{
	const struct bm_cluster *x = a, *y = b;

	(void)arg;
	return (x->cluster > y->cluster) - (x->cluster < y->cluster);
}

static const char *kind_word(enum q2_span_kind k)
{
	switch (k) {
	case Q2_SPAN_BITMAP_DIR: return "directory";
	case Q2_SPAN_BITMAP_TABLE: return "table";
	default: return "data";
	}
}

static void say(struct share *s, const struct bm_cluster *c, const struct q2_owner *o)
{
	const struct q2_bitmaps_ext *bx = q2_image_bitmaps(s->img);
	unsigned bit = c->kind == Q2_SPAN_BITMAP_DIR ? 1u
		       : c->kind == Q2_SPAN_BITMAP_TABLE ? 2u : 4u;
	char other[96];

	/* a run of data clusters: the guest offset of the one shared */
	if (o->kind == Q2_O_DATA)
		snprintf(other, sizeof other, "data of guest offset 0x%" PRIx64 "%s",
			 o->guest + ((c->cluster << s->bits) - o->start),
			 o->snapshot != Q2_NO_INDEX ? " in a snapshot" : "");
	else if (o->kind == Q2_O_COMPRESSED)
		snprintf(other, sizeof other, "compressed data of guest offset 0x%" PRIx64 "%s",
			 o->guest, o->snapshot != Q2_NO_INDEX ? " in a snapshot" : "");
	else
		snprintf(other, sizeof other, "%s", q2_owner_name(o->kind));
	/* the directory is every bitmap's */
	for (uint32_t i = 0; i < bx->n_bitmaps; i++) {
		if (c->bitmap != Q2_NO_INDEX && c->bitmap != i)
			continue;
		if (s->said[i] & bit)
			continue;
		s->said[i] |= bit;
		q2_problems_addf(s->p, Q2_FROM_CHECK, Q2_C_BITMAP_CLUSTER_SHARED,
				 c->cluster << s->bits, i,
				 "bitmap %s cluster 0x%" PRIx64 " is also the %s",
				 kind_word(c->kind), c->cluster << s->bits, other);
	}
}

static void on_span(void *ctx, const struct q2_owner *o)
{
	struct share *s = ctx;
	uint64_t first, last, end = o->start + o->length;
	size_t lo = 0, hi = s->n;

	switch (o->kind) {
	case Q2_O_BITMAP_DIR:
	case Q2_O_BITMAP_TABLE:
	case Q2_O_BITMAP_DATA:
		return;   /* among bitmaps, the overlap check says it */
	default:
		break;
	}
	if (end < o->start)
		end = UINT64_MAX;
	first = o->start >> s->bits;
	last = (end - 1u) >> s->bits;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (s->v[mid].cluster < first)
			lo = mid + 1;
		else
			hi = mid;
	}
	for (size_t k = lo; k < s->n && s->v[k].cluster <= last; k++)
		say(s, &s->v[k], o);
}

static void on_defect(void *ctx, enum q2_defect_kind kind, enum q2_code code,
		      uint64_t offset, const struct q2_owner *o, const char *detail)
{
	(void)ctx; (void)kind; (void)code; (void)offset; (void)o; (void)detail;
}

/* the last cluster of a span ending at end, no further than limit */
static uint64_t clip(uint64_t end, unsigned bits, uint64_t limit)
{
	uint64_t last = (end - 1u) >> bits;

	return last < limit ? last : limit;
}

void q2_check_bitmap_sharing(const struct q2_reader *r, const struct q2_image *img,
			     const struct q2_layout *layout, struct q2_problems *p)
{
	const struct q2_bitmaps_ext *bx = q2_image_bitmaps(img);
	static const struct q2_walk_opts opts = { 0 };
	static const struct q2_walk_hooks hooks = { .span = on_span, .defect = on_defect };
	struct share s = { .img = img, .bits = img->header.cluster_bits, .p = p };
	struct q2_problems ignored = { 0 };
	/* past the file's last cluster, nothing else is counted */
	uint64_t limit = (img->file_size >> s.bits) + 1u;
	size_t cap = 0;

	if (!bx || !bx->n_bitmaps || layout->failed)
		return;
	for (size_t i = 0; i < layout->n; i++) {
		const struct q2_span *sp = &layout->v[i];

		if ((sp->kind == Q2_SPAN_BITMAP_DIR || sp->kind == Q2_SPAN_BITMAP_TABLE ||
		     sp->kind == Q2_SPAN_BITMAP_DATA) && (sp->start >> s.bits) <= limit)
			cap += (size_t)(clip(sp->end, s.bits, limit) - (sp->start >> s.bits) + 1u);
	}
	s.v = malloc((cap ? cap : 1) * sizeof *s.v);
	s.said = calloc(bx->n_bitmaps, 1);
	if (!s.v || !s.said) {
		q2_problems_add(p, Q2_C_NOMEM, 0, Q2_NO_INDEX, Q2_FROM_DECODE,
				strdup("out of memory: whether a bitmap shares a cluster is not known"));
		goto out;
	}
	for (size_t i = 0; i < layout->n; i++) {
		const struct q2_span *sp = &layout->v[i];

		if (sp->kind != Q2_SPAN_BITMAP_DIR && sp->kind != Q2_SPAN_BITMAP_TABLE &&
		    sp->kind != Q2_SPAN_BITMAP_DATA)
			continue;
		for (uint64_t c = sp->start >> s.bits; c <= limit &&
		     c <= clip(sp->end, s.bits, limit); c++)
			s.v[s.n++] = (struct bm_cluster){
				.cluster = c, .kind = sp->kind,
				.bitmap = sp->kind == Q2_SPAN_BITMAP_DIR ? Q2_NO_INDEX : sp->index,
			};
	}
	q2_sort(s.v, s.n, sizeof *s.v, by_cluster, NULL);
	/* what stops the walk (a table QEMU fails on) the checks say */
	q2_refwalk(r, img, &opts, &hooks, &s, NULL, &ignored);
	q2_problems_free(&ignored);
out:
	free(s.v);
	free(s.said);
}
