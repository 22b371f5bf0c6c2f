#include "config.h"

#include "extents.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

#include "be.h"

/* The data of a cluster is read in blocks of at most this many bytes:
 * the memory of an iterator does not grow with the cluster size (up to
 * 2 MiB), so that a merge over many layers stays small. */
#define BLOCK_MAX 65536u
#define BITS_PER_BYTE 8u
/* a block is scanned a little-endian 64-bit word at a time */
#define BYTES_PER_WORD 8u

/* bit -> byte offset, clamped to the virtual size */
static uint64_t bit_to_byte(const struct q2_extent_iter *it, uint64_t bit)
{
	if (bit >= it->nbits || bit > (it->size >> it->gbits))
		return it->size;
	return bit << it->gbits;
}

/* Ends the run open at bit; true when it covers bytes of the disk (in
 * *start, *length). */
static bool run_end(struct q2_extent_iter *it, uint64_t bit, uint64_t *start,
		    uint64_t *length)
{
	uint64_t s = bit_to_byte(it, it->run_start);
	uint64_t e = bit_to_byte(it, bit);

	it->in_run = false;
	if (e <= s)
		return false;
	*start = s;
	*length = e - s;
	return true;
}

/* A block that is all zeroes (the usual case) ends a run and is done. */
static bool all_zero(const uint8_t *p, size_t n)
{
	return n == 0 || (p[0] == 0 && memcmp(p, p + 1, n - 1) == 0);
}

/* The seen set: pages of 64 clusters, one 64-bit word each */
#define PAGE_SHIFT 6
#define FIRST_CAP 16   /* slots of a new table (256 bytes) */

/* A random seed for the hash: the offsets come from the image, and a
 * hash they could know is one they could make collide (then every
 * lookup walks them all).  Where the kernel gives no random bytes, the
 * addresses that ASLR moves and the clock stand in. */
static uint64_t seen_seed(const void *somewhere)
{
	uint64_t seed = 0;

	if (getrandom(&seed, sizeof seed, GRND_NONBLOCK) == (ssize_t)sizeof seed)
		return seed;
	return (uint64_t)(uintptr_t)somewhere ^
	       ((uint64_t)(uintptr_t)&seen_seed << 17) ^
	       ((uint64_t)time(NULL) << 40) ^ (uint64_t)clock();
}

/* splitmix64's finalizer over the key and the seed */
static size_t seen_hash(const struct q2_seen *s, uint64_t key)
{
	uint64_t z = key + s->seed;

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return (size_t)(z ^ (z >> 31));
}

/* the slot of key, or the free slot where it goes (there is always one:
 * the table is at most half full) */
static struct q2_seen_page *seen_slot(const struct q2_seen *s, uint64_t key)
{
	size_t mask = s->cap - 1;

	for (size_t i = seen_hash(s, key) & mask;; i = (i + 1) & mask)
		if (s->pages[i].key == key || !s->pages[i].key)
			return &s->pages[i];
}

bool q2_seen_init(struct q2_seen *s, const struct q2_image *img)
{
	memset(s, 0, sizeof *s);
	s->cluster_bits = img->header.cluster_bits;
	if (!q2_image_cluster_size(img))
		return true;
	s->pages = calloc(FIRST_CAP, sizeof *s->pages);
	if (!s->pages)
		return false;
	s->cap = FIRST_CAP;
	s->seed = seen_seed(s->pages);
	return true;
}

void q2_seen_free(struct q2_seen *s)
{
	free(s->pages);
	memset(s, 0, sizeof *s);
}

/* Twice the slots, every page moved over; false when out of memory
 * (the table is left as it was). */
static bool seen_grow(struct q2_seen *s)
{
	struct q2_seen old = *s;

	if (s->cap > SIZE_MAX / 2 / sizeof *s->pages)
		return false;
	s->pages = calloc(2 * old.cap, sizeof *s->pages);
	if (!s->pages) {
		s->pages = old.pages;
		return false;
	}
	s->cap = 2 * old.cap;
	for (size_t i = 0; i < old.cap; i++)
		if (old.pages[i].key)
			*seen_slot(s, old.pages[i].key) = old.pages[i];
	free(old.pages);
	return true;
}

int q2_seen_mark(struct q2_seen *s, uint64_t off)
{
	uint64_t c = off >> s->cluster_bits;
	/* the page number + 1: cluster_bits is at least 9, so no wrap */
	uint64_t key = (c >> PAGE_SHIFT) + 1;
	uint64_t bit = 1ull << (c & ((1u << PAGE_SHIFT) - 1));
	struct q2_seen_page *p = seen_slot(s, key);

	if (p->key) {
		if (p->bits & bit)
			return 1;
		p->bits |= bit;
		return 0;
	}
	if (s->n + 1 > s->cap / 2) {
		if (!seen_grow(s))
			return -1;
		p = seen_slot(s, key);
	}
	*p = (struct q2_seen_page){ key, bit };
	s->n++;
	return 0;
}

int q2_extent_iter_init(struct q2_extent_iter *it, const struct q2_reader *r,
			const struct q2_image *img, uint32_t idx,
			struct q2_problems *problems, struct q2_seen *seen)
{
	const struct q2_bitmaps_ext *bx = q2_image_bitmaps(img);
	const struct q2_bitmap *bm = &bx->bitmaps[idx];
	uint64_t cs = q2_image_cluster_size(img);

	memset(it, 0, sizeof *it);
	it->r = r;
	it->bm = bm;
	it->idx = idx;
	it->problems = problems;
	it->seen = seen;
	it->cs = cs;
	/* QEMU sizes the bitmap, and exports it, in whole sectors */
	it->size = q2_disk_bytes(img);
	it->state = -1;
	/* the decoder said why it did not load the table */
	if (!bm->table_loaded)
		return -1;
	if (bm->granularity_bits > 63) {
		q2_problems_add_decode(problems, Q2_C_GRANULARITY, Q2_W_DIR_ENTRY,
				       idx, q2_dir_entry_at(bm, Q2_DF_GRANULARITY_BITS),
				       0, idx);
		return -1;
	}
	it->gbits = bm->granularity_bits;
	it->nbits = q2_bitmap_bits(it->size, it->gbits);
	it->clusters = q2_bitmap_table_entries_needed(it->size, it->gbits, cs);
	if (it->clusters > bm->bitmap_table_size) {
		q2_problems_add_decode(problems, Q2_C_TABLE_TOO_SMALL, Q2_W_DIR_ENTRY,
				       idx, q2_dir_entry_at(bm, Q2_DF_TABLE_SIZE),
				       0, idx);
		return -1;
	}
	it->block = cs < BLOCK_MAX ? cs : BLOCK_MAX;
	it->blocks_per_cluster = cs / it->block;
	it->buf = malloc(it->block);
	if (!it->buf) {
		q2_problems_add_decode(problems, Q2_C_NOMEM, Q2_W_TABLE, idx,
				       bm->bitmap_table_offset, 0, idx);
		return -1;
	}
	it->state = 0;
	return 0;
}

/* Loads block b (of blocks_per_cluster per table entry): leaves words
 * to scan in the buffer, or moves the run state over a block that needs
 * no scan.  Returns -1 on an error (a problem added), 1 when a run ended
 * with bytes of the disk (in *start, *length), 0 otherwise. */
static int load_block(struct q2_extent_iter *it, uint64_t b, uint64_t *start,
		      uint64_t *length)
{
	uint64_t k = b / it->blocks_per_cluster;
	uint64_t sub = b % it->blocks_per_cluster;
	uint64_t e = q2_bitmap_table_entry(it->bm, (uint32_t)k);
	uint64_t base = b * it->block * BITS_PER_BYTE;
	uint64_t off = (e & Q2_BTE_OFFSET_MASK) + sub * it->block;
	const struct q2_reader *r = it->r;
	uint64_t avail;
	int sys_errno = 0;
	enum q2_code code;

	it->words = 0;
	switch (q2_bte_classify(e)) {
	case Q2_BTE_ALL_ZEROES:
		return it->in_run && run_end(it, base, start, length);
	case Q2_BTE_ALL_ONES_T:
		if (!it->in_run) {
			it->in_run = true;
			it->run_start = base;
		}
		return 0;
	case Q2_BTE_SERIALIZED:
		break;
	default:
		q2_problems_add_decode(it->problems, Q2_C_TABLE_ENTRY, Q2_W_TABLE,
				       it->idx, it->bm->bitmap_table_offset + Q2_BTE_SIZE * k,
				       0, it->idx);
		return -1;
	}
	/* QEMU reads zeroes beyond the end of the file: a data cluster
	 * there is not read, so not marked */
	if (sub == 0 && (e & Q2_BTE_OFFSET_MASK) < r->size && it->seen &&
	    it->seen->pages) {
		int was = q2_seen_mark(it->seen, e & Q2_BTE_OFFSET_MASK);

		if (was) {
			q2_problems_add_decode(it->problems,
				was < 0 ? Q2_C_NOMEM : Q2_C_DATA_CLUSTER_SHARED,
				Q2_W_DATA, it->idx, e & Q2_BTE_OFFSET_MASK, 0,
				it->idx);
			return -1;
		}
	}
	avail = off >= r->size ? 0 : r->size - off;
	if (avail > it->block)
		avail = it->block;
	/* nothing to read of a block wholly past the end: it is zeroes */
	if (avail && !q2_read(r, off, it->buf, (size_t)avail, &code,
			     &sys_errno)) {
		q2_problems_add_decode(it->problems, code, Q2_W_DATA, it->idx,
				       e & Q2_BTE_OFFSET_MASK, sys_errno, it->idx);
		return -1;
	}
	memset(it->buf + avail, 0, (size_t)(it->block - avail));
	if (!it->in_run && all_zero(it->buf, it->block))
		return 0;
	it->words = it->block / BYTES_PER_WORD;
	it->word = 0;
	it->word_base = base;
	return 0;
}

int q2_extent_iter_next(struct q2_extent_iter *it, uint64_t *start,
			uint64_t *length)
{
	uint64_t n_blocks = it->clusters * it->blocks_per_cluster;

	if (it->state)
		return it->state > 0 ? 0 : -1;
	for (;;) {
		/* the transitions left in the current word */
		while (it->pos < 64) {
			uint64_t rest = it->in_run ? ~it->w >> it->pos
						   : it->w >> it->pos;

			if (!rest) {
				it->pos = 64;
				break;
			}
			it->pos += (unsigned)__builtin_ctzll(rest);
			if (it->in_run) {
				if (run_end(it, it->word_base + it->word * 64 - 64 + it->pos,
					    start, length))
					return 1;
			} else {
				it->in_run = true;
				it->run_start = it->word_base + it->word * 64 - 64 + it->pos;
			}
		}
		/* the next word of the block: the common cases change nothing */
		if (it->word < it->words) {
			it->w = get_le64(it->buf + BYTES_PER_WORD * it->word++);
			if ((!it->in_run && !it->w) || (it->in_run && it->w == UINT64_MAX))
				continue;
			it->pos = 0;
			continue;
		}
		/* the next block */
		if (it->next_block < n_blocks) {
			int ret = load_block(it, it->next_block++, start, length);

			if (ret < 0) {
				it->state = -1;
				return -1;
			}
			if (ret)
				return 1;
			continue;
		}
		/* a run that reaches the last bit ends at the virtual size;
		 * tail bits past it are ignored */
		it->state = 1;
		if (it->in_run && run_end(it, it->nbits, start, length))
			return 1;
		return 0;
	}
}

void q2_extent_iter_finish(struct q2_extent_iter *it)
{
	free(it->buf);
	it->buf = NULL;
}

int q2_extents_scan(const struct q2_reader *r, const struct q2_image *img,
		    uint32_t idx, q2_extent_fn fn, void *ctx,
		    uint64_t *dirty_bytes, struct q2_problems *problems,
		    struct q2_seen *seen)
{
	struct q2_extent_iter it;
	uint64_t start, length;
	int ret = 0, got;

	*dirty_bytes = 0;
	if (q2_extent_iter_init(&it, r, img, idx, problems, seen) < 0) {
		q2_extent_iter_finish(&it);
		return -1;
	}
	while ((got = q2_extent_iter_next(&it, &start, &length)) > 0) {
		*dirty_bytes += length;
		ret = fn(ctx, start, length);
		if (ret)
			break;
	}
	q2_extent_iter_finish(&it);
	return got < 0 ? -1 : ret;
}
