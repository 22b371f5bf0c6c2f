#include "config.h"

#include "counts.h"

#include <assert.h>
#include <stdlib.h>
#include <string.h>

#include "sort.h"

/* chunks per slab: one allocation each 64 KiB */
#define SLAB_CHUNKS 1024u
#define BIG_MARK 255u

static uint64_t mix(uint64_t k)
{
	k ^= k >> 33;
	k *= 0xff51afd7ed558ccdull;
	k ^= k >> 33;
	k *= 0xc4ceb9fe1a85ec53ull;
	k ^= k >> 33;
	return k;
}

void q2_counts_init(struct q2_counts *c, uint64_t max, uint64_t clusters)
{
	uint64_t chunks = (clusters >> Q2_COUNTS_CHUNK_BITS) + 1u;

	memset(c, 0, sizeof *c);
	c->max = max;
	c->last_key = UINT64_MAX;
	if (!clusters)
		return;
	if (chunks > Q2_COUNTS_DIRECT_MAX)
		chunks = Q2_COUNTS_DIRECT_MAX;
	/* without it, the hash serves every chunk */
	c->direct = calloc((size_t)chunks, sizeof *c->direct);
	c->n_direct = c->direct ? chunks : 0;
}

void q2_counts_free(struct q2_counts *c)
{
	for (size_t i = 0; i < c->n_slabs; i++)
		free(c->slabs[i]);
	free(c->slabs);
	free(c->keys);
	free(c->where);
	free(c->big);
	free(c->direct);
	q2_counts_init(c, c->max, 0);
}

static size_t find_slot(const uint64_t *keys, size_t cap, uint64_t key)
{
	size_t i = (size_t)mix(key) & (cap - 1);

	while (keys[i] && keys[i] != key + 1)
		i = (i + 1) & (cap - 1);
	return i;
}

static bool grow(struct q2_counts *c)
{
	size_t cap = c->cap ? c->cap * 2 : 1024;
	uint64_t *keys = calloc(cap, sizeof *keys);
	uint32_t *where = malloc(cap * sizeof *where);

	if (!keys || !where) {
		free(keys);
		free(where);
		return false;
	}
	for (size_t i = 0; i < c->cap; i++) {
		size_t s;

		if (!c->keys[i])
			continue;
		s = find_slot(keys, cap, c->keys[i] - 1);
		keys[s] = c->keys[i];
		where[s] = c->where[i];
	}
	free(c->keys);
	free(c->where);
	c->keys = keys;
	c->where = where;
	c->cap = cap;
	return true;
}

static uint8_t *chunk_at(const struct q2_counts *c, uint32_t where)
{
	return c->slabs[where / SLAB_CHUNKS] + (size_t)(where % SLAB_CHUNKS) * Q2_COUNTS_CHUNK;
}

static uint8_t *lookup(const struct q2_counts *c, uint64_t key)
{
	size_t s;

	if (key < c->n_direct)
		return c->direct[key] ? chunk_at(c, c->direct[key] - 1u) : NULL;
	if (!c->cap)
		return NULL;
	s = find_slot(c->keys, c->cap, key);
	return c->keys[s] ? chunk_at(c, c->where[s]) : NULL;
}

static uint8_t *add_chunk(struct q2_counts *c, uint64_t key)
{
	size_t s;
	uint32_t where = (uint32_t)c->n;

	bool direct = key < c->n_direct;

	/* a load of at most one half keeps the probes short */
	if (!direct && (c->n_hashed + 1) * 2 > c->cap && !grow(c))
		return NULL;
	if (c->n == UINT32_MAX - 1u)
		return NULL;
	if (where / SLAB_CHUNKS == c->n_slabs) {
		uint8_t *slab;

		if (c->n_slabs == c->slab_cap) {
			size_t cap = c->slab_cap ? c->slab_cap * 2 : 64;
			uint8_t **v = realloc(c->slabs, cap * sizeof *v);

			if (!v)
				return NULL;
			c->slabs = v;
			c->slab_cap = cap;
		}
		slab = calloc(SLAB_CHUNKS, Q2_COUNTS_CHUNK);
		if (!slab)
			return NULL;
		c->slabs[c->n_slabs++] = slab;
	}
	c->n++;
	if (direct) {
		c->direct[key] = where + 1u;
		return chunk_at(c, where);
	}
	s = find_slot(c->keys, c->cap, key);
	assert(!c->keys[s]);
	c->keys[s] = key + 1;
	c->where[s] = where;
	c->n_hashed++;
	return chunk_at(c, where);
}

static struct q2_big_count *big_slot(const struct q2_big_count *v, size_t cap,
				     uint64_t cluster)
{
	size_t i = (size_t)mix(cluster) & (cap - 1);

	while (v[i].cluster && v[i].cluster != cluster + 1)
		i = (i + 1) & (cap - 1);
	return (struct q2_big_count *)&v[i];
}

static struct q2_big_count *big_entry(struct q2_counts *c, uint64_t cluster)
{
	struct q2_big_count *e;

	if ((c->big_n + 1) * 2 > c->big_cap) {
		size_t cap = c->big_cap ? c->big_cap * 2 : 64;
		struct q2_big_count *v = calloc(cap, sizeof *v);

		if (!v)
			return NULL;
		for (size_t i = 0; i < c->big_cap; i++)
			if (c->big[i].cluster)
				*big_slot(v, cap, c->big[i].cluster - 1) = c->big[i];
		free(c->big);
		c->big = v;
		c->big_cap = cap;
	}
	e = big_slot(c->big, c->big_cap, cluster);
	if (!e->cluster) {
		e->cluster = cluster + 1;
		e->count = BIG_MARK;
		c->big_n++;
	}
	return e;
}


/* times more references to cluster, whose counter is at *n */
static enum q2_inc add_times(struct q2_counts *c, uint64_t cluster, uint8_t *n,
			     uint64_t times, uint64_t *refused)
{
	uint64_t now = *n < BIG_MARK ? *n : big_slot(c->big, c->big_cap, cluster)->count;
	uint64_t room = c->max - now, add = times < room ? times : room;

	*refused = times - add;
	if (!add)
		return Q2_INC_OK;
	now += add;
	if (now < BIG_MARK) {
		*n = (uint8_t)now;
		return Q2_INC_OK;
	}
	if (*n < BIG_MARK && !big_entry(c, cluster))
		return Q2_INC_NOMEM;
	*n = BIG_MARK;
	big_slot(c->big, c->big_cap, cluster)->count = now;
	return Q2_INC_OK;
}

enum q2_inc q2_counts_inc_range(struct q2_counts *c, uint64_t first, uint64_t n,
				uint64_t times,
				void (*overflow)(void *ctx, uint64_t cluster, uint64_t k),
				void *ctx)
{
	/* below this a counter simply grows by one: not at max, not at the
	 * mark */
	uint64_t lim = c->max < BIG_MARK - 1u ? c->max : BIG_MARK - 1u;

	while (n) {
		uint64_t key = first >> Q2_COUNTS_CHUNK_BITS;
		uint64_t at = first & (Q2_COUNTS_CHUNK - 1u);
		uint64_t m = Q2_COUNTS_CHUNK - at < n ? Q2_COUNTS_CHUNK - at : n;
		uint8_t *chunk = key == c->last_key ? c->last : lookup(c, key);

		if (!chunk && !(chunk = add_chunk(c, key)))
			return Q2_INC_NOMEM;
		c->last_key = key;
		c->last = chunk;
		/* the common case, vectorised: one more for each, none of
		 * them near a limit */
		if (times == 1 && m == Q2_COUNTS_CHUNK) {
			/* a whole chunk: a loop of known length, which the
			 * compiler makes vector code of */
			uint8_t top = 0;

			for (unsigned i = 0; i < Q2_COUNTS_CHUNK; i++)
				top = chunk[i] > top ? chunk[i] : top;
			if (top < lim) {
				for (unsigned i = 0; i < Q2_COUNTS_CHUNK; i++)
					chunk[i]++;
				first += m;
				n -= m;
				continue;
			}
		} else if (times == 1) {
			uint8_t top = 0;

			for (uint64_t i = 0; i < m; i++)
				top = chunk[at + i] > top ? chunk[at + i] : top;
			if (top < lim) {
				for (uint64_t i = 0; i < m; i++)
					chunk[at + i]++;
				first += m;
				n -= m;
				continue;
			}
		}
		for (uint64_t i = 0; i < m; i++) {
			uint64_t refused;

			if (times == 1 && chunk[at + i] < lim) {
				chunk[at + i]++;
				continue;
			}
			if (add_times(c, first + i, &chunk[at + i], times, &refused) ==
			    Q2_INC_NOMEM)
				return Q2_INC_NOMEM;
			if (refused)
				overflow(ctx, first + i, refused);
		}
		first += m;
		n -= m;
	}
	return Q2_INC_OK;
}

uint64_t q2_counts_get(const struct q2_counts *c, uint64_t cluster)
{
	const uint8_t *chunk = lookup(c, cluster >> Q2_COUNTS_CHUNK_BITS);
	uint8_t n;

	if (!chunk)
		return 0;
	n = chunk[cluster & (Q2_COUNTS_CHUNK - 1u)];
	if (n < BIG_MARK)
		return n;
	return big_slot(c->big, c->big_cap, cluster)->count;
}

const uint8_t *q2_counts_chunk(const struct q2_counts *c, uint64_t key)
{
	return lookup(c, key);
}

static int by_u64(const void *a, const void *b, const void *arg)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	(void)arg;
	return (x > y) - (x < y);
}

uint64_t *q2_counts_chunks(const struct q2_counts *c, size_t *n, bool *failed)
{
	uint64_t *v;
	size_t k = 0;

	*n = 0;
	if (!c->n)
		return NULL;
	v = malloc(c->n * sizeof *v);
	if (!v) {
		*failed = true;
		return NULL;
	}
	/* the direct ones in order, then the hashed ones (all above) */
	for (uint64_t i = 0; i < c->n_direct; i++)
		if (c->direct[i])
			v[k++] = i;
	for (size_t i = 0; i < c->cap; i++)
		if (c->keys[i])
			v[k++] = c->keys[i] - 1;
	q2_sort(v + (k - c->n_hashed), c->n_hashed, sizeof *v, by_u64, NULL);
	*n = k;
	return v;
}
