#include "config.h"

#include "checkpoint.h"

#include <assert.h>
#include <stdlib.h>
#include <string.h>

#include "sort.h"

static int cmp_names(const char *a, size_t na, const char *b, size_t nb)
{
	int d = memcmp(a, b, na < nb ? na : nb);

	return d ? d : (na > nb) - (na < nb);
}

/* by QEMU's name, then by directory order */
static int cmp_index(const void *a, const void *b, const void *arg)
{
	const struct q2_bitmap *v = arg;
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
	int d = cmp_names(v[x].name, q2_bitmap_qemu_name_len(&v[x]),
			  v[y].name, q2_bitmap_qemu_name_len(&v[y]));

	return d ? d : (x > y) - (x < y);
}

/* Each layer's directory indexes sorted by name, for the lookups. */
struct by_name {
	const struct q2_chain *chain;
	uint32_t **sorted;     /* per layer: directory indexes by name */
	uint32_t *n_sorted;    /* and how many (entries with a name) */
};

static void by_name_free(struct by_name *bn)
{
	for (size_t l = 0; bn->sorted && l < bn->chain->n; l++)
		free(bn->sorted[l]);
	free(bn->sorted);
	free(bn->n_sorted);
}

static bool by_name_init(struct by_name *bn, const struct q2_chain *c)
{
	size_t n = c->n ? c->n : 1;

	memset(bn, 0, sizeof *bn);
	bn->chain = c;
	bn->sorted = calloc(n, sizeof *bn->sorted);
	bn->n_sorted = calloc(n, sizeof *bn->n_sorted);
	if (!bn->sorted || !bn->n_sorted)
		return false;
	for (size_t l = 0; l < c->n; l++) {
		const struct q2_bitmaps_ext *bx = q2_image_bitmaps(&c->layers[l].img);
		uint32_t k = 0;

		if (!bx || !bx->n_bitmaps)
			continue;
		bn->sorted[l] = malloc(bx->n_bitmaps * sizeof **bn->sorted);
		if (!bn->sorted[l])
			return false;
		/* entries that did not decode have no name */
		for (uint32_t i = 0; i < bx->n_bitmaps; i++)
			if (bx->bitmaps[i].name)
				bn->sorted[l][k++] = i;
		q2_sort(bn->sorted[l], k, sizeof **bn->sorted, cmp_index,
			bx->bitmaps);
		bn->n_sorted[l] = k;
	}
	return true;
}

/* The first directory index of layer l named name, or Q2_NO_INDEX. */
static uint32_t lookup(const struct by_name *bn, size_t l, const char *name,
		       size_t len)
{
	const struct q2_bitmaps_ext *bx = q2_image_bitmaps(&bn->chain->layers[l].img);
	const uint32_t *s = bn->sorted[l];
	size_t lo = 0, hi = bn->n_sorted[l];

	if (!s)
		return Q2_NO_INDEX;
	/* the leftmost entry not below name */
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		const struct q2_bitmap *bm = &bx->bitmaps[s[mid]];

		if (cmp_names(bm->name, q2_bitmap_qemu_name_len(bm), name, len) < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (lo < bn->n_sorted[l]) {
		const struct q2_bitmap *bm = &bx->bitmaps[s[lo]];

		if (!cmp_names(bm->name, q2_bitmap_qemu_name_len(bm), name, len))
			return s[lo];
	}
	return Q2_NO_INDEX;
}

static void set_state(struct q2_checkpoint *cp, enum q2_state state,
		      bool has_reason, enum q2_code reason, uint32_t at)
{
	cp->verdict = (struct q2_verdict){ state, reason, has_reason };
	cp->at = at;
}

/* An error that makes QEMU refuse the layer, as verdict.c counts them */
static const struct q2_problem *refused(const struct q2_image *img,
					const struct q2_findings *f)
{
	for (size_t k = 0; k < img->problems.n + f->problems.n; k++) {
		const struct q2_problem *pb = q2_image_problem(img, f, k);

		if (q2_problem_severity(pb) == Q2_SEV_ERROR &&
		    pb->origin != Q2_FROM_RUN && pb->scope == Q2_SCOPE_OPEN)
			return pb;
	}
	return NULL;
}

/* libvirt's qemuBlockBitmapChainIsValid, then what else stops a backup */
static void judge(const struct q2_chain *c, const struct q2_findings *findings,
		  struct q2_checkpoint *cp)
{
	set_state(cp, Q2_STATE_USABLE, false, Q2_C_CHECKPOINT_GAP, Q2_NO_INDEX);
	/* 1: it exists in the top layer */
	if (cp->run_first != 0) {
		set_state(cp, Q2_STATE_MISSING_IN_TOP, true,
			  Q2_C_CHECKPOINT_MISSING_IN_TOP, cp->run_first);
		return;
	}
	/* 3: each copy is recording, persistent and consistent */
	for (uint32_t k = 0; k < cp->run_n; k++) {
		const struct q2_verdict *v =
			q2_findings_verdict(&findings[k], cp->indexes[k]);

		assert(cp->depths[k] == k);
		if (v && !q2_state_usable(v->state)) {
			set_state(cp, v->state, true, Q2_C_CHECKPOINT_COPY_NOT_USABLE, k);
			return;
		}
	}
	/* 2: no gap below the layers from the top */
	if (cp->n_depths > cp->run_n) {
		set_state(cp, Q2_STATE_GAP, true, Q2_C_CHECKPOINT_GAP,
			  (uint32_t)cp->depths[cp->run_n]);
		return;
	}
	/* a layer that could not be read may hold it */
	for (uint32_t l = 0; l < c->n; l++)
		if (!c->layers[l].bitmaps_known) {
			const struct q2_problems *p = &c->layers[l].img.problems;

			set_state(cp, Q2_STATE_INCOMPLETE, p->n > 0,
				  p->n ? p->v[0].code : Q2_C_IO, l);
			return;
		}
	if (c->broken) {
		set_state(cp, Q2_STATE_INCOMPLETE, true, c->broken_code,
			  (uint32_t)c->n - 1);
		return;
	}
	/* QEMU refuses a layer: it opens no image of the chain */
	for (uint32_t l = 0; l < c->n; l++) {
		const struct q2_problem *pb = refused(&c->layers[l].img, &findings[l]);

		if (pb) {
			set_state(cp, Q2_STATE_INVALID, true, pb->code, l);
			return;
		}
	}
}

/* Fills cp for name from the layers' directories, into the arrays at
 * depths and indexes (room for one per layer). */
static void fill(const struct by_name *bn, const struct q2_findings *findings,
		 const char *name, size_t len, uint64_t *depths, uint32_t *indexes,
		 struct q2_checkpoint *cp)
{
	const struct q2_chain *c = bn->chain;

	memset(cp, 0, sizeof *cp);
	cp->name = name;
	cp->name_len = len;
	cp->depths = depths;
	cp->indexes = indexes;
	for (uint32_t l = 0; l < c->n; l++) {
		uint32_t i = lookup(bn, l, name, len);

		if (i == Q2_NO_INDEX)
			continue;
		if (!cp->n_depths)
			cp->run_first = l;
		depths[cp->n_depths] = l;
		indexes[cp->n_depths++] = i;
	}
	while (cp->run_n < cp->n_depths &&
	       depths[cp->run_n] == cp->run_first + cp->run_n) {
		const struct q2_bitmap *bm =
			q2_image_bitmap(&c->layers[depths[cp->run_n]].img,
					indexes[cp->run_n]);
		uint64_t g;

		if (q2_bitmap_granularity(bm, &g) && (!cp->granularity || g < cp->granularity))
			cp->granularity = g;
		cp->run_n++;
	}
	judge(c, findings, cp);
}

bool q2_checkpoints_build(struct q2_checkpoints *out, const struct q2_chain *c,
			  const struct q2_findings *findings)
{
	struct by_name bn = { .chain = c };
	size_t total = 0, used = 0;
	bool ok = false;

	memset(out, 0, sizeof *out);
	for (size_t l = 0; l < c->n; l++) {
		const struct q2_bitmaps_ext *bx = q2_image_bitmaps(&c->layers[l].img);

		total += bx ? bx->n_bitmaps : 0;
	}
	/* a name is held by one entry of a layer at most: as many depths
	 * as entries in all, never names times layers */
	out->v = malloc((total ? total : 1) * sizeof *out->v);
	out->depths = malloc((total ? total : 1) * sizeof *out->depths);
	out->indexes = malloc((total ? total : 1) * sizeof *out->indexes);
	if (!out->v || !out->depths || !out->indexes || !by_name_init(&bn, c))
		goto done;
	for (size_t l = 0; l < c->n; l++) {
		const struct q2_bitmaps_ext *bx = q2_image_bitmaps(&c->layers[l].img);

		for (uint32_t i = 0; bx && i < bx->n_bitmaps; i++) {
			const struct q2_bitmap *bm = &bx->bitmaps[i];
			size_t len = q2_bitmap_qemu_name_len(bm);
			bool above = false;

			/* a name's first entry in its topmost layer */
			if (!bm->name || lookup(&bn, l, bm->name, len) != i)
				continue;
			for (size_t k = 0; k < l && !above; k++)
				above = lookup(&bn, k, bm->name, len) != Q2_NO_INDEX;
			if (above)
				continue;
			assert(used < total);
			fill(&bn, findings, bm->name, len, out->depths + used,
			     out->indexes + used, &out->v[out->n]);
			used += out->v[out->n++].n_depths;
			assert(used <= total);
		}
	}
	ok = true;
done:
	by_name_free(&bn);
	return ok;
}

void q2_checkpoints_free(struct q2_checkpoints *cps)
{
	free(cps->v);
	free(cps->depths);
	free(cps->indexes);
	memset(cps, 0, sizeof *cps);
}

const struct q2_checkpoint *q2_checkpoints_find(const struct q2_checkpoints *cps,
						const char *name, size_t len)
{
	for (size_t i = 0; i < cps->n; i++)
		if (cps->v[i].name_len == len && !memcmp(cps->v[i].name, name, len))
			return &cps->v[i];
	return NULL;
}

#define report(c, f, k, code, ...)                                              \
	q2_problems_addf(&(f)[cp->depths[k]].problems, Q2_FROM_CHECK, (code),    \
			 q2_dir_entry_at(bitmap_at(c, cp, k), Q2_DF_FLAGS),     \
			 cp->indexes[k], __VA_ARGS__)

static const struct q2_bitmap *bitmap_at(const struct q2_chain *c,
					 const struct q2_checkpoint *cp, size_t k)
{
	return q2_image_bitmap(&c->layers[cp->depths[k]].img, cp->indexes[k]);
}

void q2_checkpoint_report(const struct q2_chain *c, const struct q2_checkpoint *cp,
			  struct q2_findings *findings)
{
	uint32_t end = cp->run_first + cp->run_n;

	if (!cp->n_depths)
		return;
	if (cp->run_first != 0)
		report(c, findings, 0, Q2_C_CHECKPOINT_MISSING_IN_TOP, "%s has none",
		       c->layers[0].path);
	for (uint32_t k = 0; k < cp->run_n; k++) {
		const struct q2_verdict *v =
			q2_findings_verdict(&findings[cp->depths[k]], cp->indexes[k]);

		if (v && !q2_state_usable(v->state))
			report(c, findings, k, Q2_C_CHECKPOINT_COPY_NOT_USABLE, "%s: %s",
			       q2_state_name(v->state), q2_state_meaning(v->state));
	}
	if (cp->n_depths > cp->run_n)
		report(c, findings, cp->run_n, Q2_C_CHECKPOINT_GAP,
		       "layer %u, %s, has none", end, c->layers[end].path);
}
