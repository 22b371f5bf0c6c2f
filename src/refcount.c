#include "config.h"

#include "refcount.h"

#include <stdlib.h>
#include <string.h>

#include "be.h"
#include "sort.h"

#define REFT_OFFSET_MASK 0xfffffffffffffe00ull
/* QEMU refuses a refcount table above 8 MiB, so none is read beyond it */
#define MAX_REFTABLE (8ull << 20)

uint64_t q2_refcount_at(const uint8_t *block, unsigned order, uint64_t i)
{
	switch (order) {
	case 0: return (block[i / 8] >> (i % 8)) & 1;
	case 1: return (block[i / 4] >> (2 * (i % 4))) & 3;
	case 2: return (block[i / 2] >> (4 * (i % 2))) & 15;
	case 3: return block[i];
	case 4: return be16_at(block + 2 * i);
	case 5: return be32_at(block + 4 * i);
	default: return be64_at(block + 8 * i);
	}
}

/* a cluster to look up, and whose it is */
struct ref {
	uint64_t cluster;
	uint32_t bitmap;
};

struct refs {
	struct ref *v;
	size_t n, cap;
	bool failed;
};

static void add(struct refs *rs, uint64_t cluster, uint32_t bitmap)
{
	/* a table whose entries all name one cluster adds it once */
	if (rs->failed || (rs->n && rs->v[rs->n - 1].cluster == cluster &&
			   rs->v[rs->n - 1].bitmap == bitmap))
		return;
	if (rs->n == rs->cap) {
		size_t cap = rs->cap ? 2 * rs->cap : 256;
		struct ref *v = realloc(rs->v, cap * sizeof *v);

		if (!v) {
			rs->failed = true;
			return;
		}
		rs->v = v;
		rs->cap = cap;
	}
	rs->v[rs->n++] = (struct ref){ cluster, bitmap };
}

/* Room at once for the clusters the directory and the tables held are
 * likely to name (bounded by the file, as what is held is): growing by
 * doubling would copy tens of thousands of them over and over.  No room
 * is no failure yet: add grows the array, or says it failed. */
static void reserve_refs(struct refs *rs, const struct q2_bitmaps_ext *bx,
			 unsigned bits)
{
	size_t n = (size_t)(bx->bitmap_directory_size >> bits) + 2;
	struct ref *v;

	for (uint32_t i = 0; i < bx->n_bitmaps; i++) {
		const struct q2_bitmap *bm = &bx->bitmaps[i];

		if (bm->table_loaded)
			n += 2 + (((size_t)bm->table_in_file * 8) >> bits) +
			     bm->table_in_file;
	}
	v = malloc(n * sizeof *v);
	if (v) {
		rs->v = v;
		rs->cap = n;
	}
}

/* the clusters of [off, off + len) that lie in the file */
static void add_range(struct refs *rs, const struct q2_image *img,
		      unsigned bits, uint64_t off, uint64_t len, uint32_t bitmap)
{
	uint64_t end = off + len < off ? UINT64_MAX : off + len;

	if (end > img->file_size)
		end = img->file_size;
	for (uint64_t c = off >> bits; len && off < end && c <= (end - 1) >> bits; c++)
		add(rs, c, bitmap);
}

static int cmp_ref(const void *a, const void *b, void *arg)
{
	const struct ref *x = a, *y = b;

	(void)arg;
	if (x->cluster != y->cluster)
		return x->cluster < y->cluster ? -1 : 1;
	return (x->bitmap > y->bitmap) - (x->bitmap < y->bitmap);
}

static bool add_fault(struct q2_image *img, size_t *cap, uint64_t offset,
		      uint64_t refcount, uint32_t bitmap, bool unreadable)
{
	if (img->n_refcount_faults == *cap) {
		size_t ncap = *cap ? 2 * *cap : 16;
		struct q2_refcount_fault *v =
			realloc(img->refcount_faults, ncap * sizeof *v);

		if (!v)
			return false;
		img->refcount_faults = v;
		*cap = ncap;
	}
	img->refcount_faults[img->n_refcount_faults++] =
		(struct q2_refcount_fault){ offset, refcount, bitmap, unreadable };
	return true;
}

void q2_read_bitmap_refcounts(const struct q2_reader *r, struct q2_image *img)
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
	reserve_refs(&rs, bx, bits);
	add_range(&rs, img, bits, bx->bitmap_directory_offset,
		  bx->bitmap_directory_size, Q2_NO_INDEX);
	for (uint32_t i = 0; i < bx->n_bitmaps; i++) {
		const struct q2_bitmap *bm = &bx->bitmaps[i];

		if (!bm->table_loaded)
			continue;
		add_range(&rs, img, bits, bm->bitmap_table_offset,
			  (uint64_t)bm->bitmap_table_size * 8, i);
		for (uint32_t k = 0; k < bm->table_in_file; k++)
			if (q2_bte_classify(bm->table[k]) == Q2_BTE_SERIALIZED)
				add_range(&rs, img, bits,
					  bm->table[k] & Q2_BTE_OFFSET_MASK, cs, i);
	}
	if (rs.failed)
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
		q2_problems_add_decode(&img->problems, code, Q2_W_FILE, Q2_NO_INDEX,
				       h->refcount_table_offset, err, Q2_NO_INDEX);
		goto out;
	}
	img->refcounts_read = true;
	per_block = (cs * 8) >> order;
	for (size_t i = 0; i < rs.n; i++) {
		uint64_t c = rs.v[i].cluster, bi = c / per_block;
		uint64_t rc = 0, entry = 0, boff;

		/* a cluster counted twice is an overlap: check.c reports it */
		if (i && rs.v[i - 1].cluster == c)
			continue;
		if (bi < reft_in_file / 8)
			entry = be64_at(reftable + bi * 8);
		boff = entry & REFT_OFFSET_MASK;
		if (boff && bi != cur_block) {
			cur_block = bi;
			block_ok = boff % cs == 0 &&
				   q2_read(r, boff, block, cs, &code, &err);
		}
		if (boff && !block_ok) {
			if (!add_fault(img, &cap, c << bits, 0, rs.v[i].bitmap, true))
				goto nomem;
			continue;
		}
		if (boff)
			rc = q2_refcount_at(block, order, c % per_block);
		if (rc != 1 && !add_fault(img, &cap, c << bits, rc, rs.v[i].bitmap, false))
			goto nomem;
	}
	goto out;
nomem:
	/* no confident "every refcount is right" */
	q2_problems_add(&img->problems, Q2_C_NOMEM, 0, Q2_NO_INDEX, Q2_FROM_DECODE,
			strdup("out of memory: refcounts could not be read"));
out:
	free(rs.v);
	free(reftable);
	free(block);
}
