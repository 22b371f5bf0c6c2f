#include "config.h"

#include "extents.h"

#include <endian.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

struct scan {
	q2_extent_fn fn;
	void *ctx;
	uint64_t size;      /* virtual disk bytes */
	uint64_t nbits;     /* bits of the bitmap */
	unsigned gbits;
	bool in_run;
	uint64_t run_start; /* in bits */
	uint64_t dirty;
	int stopped;
};

/* bit -> byte offset, clamped to the virtual size */
static uint64_t bit_to_byte(const struct scan *s, uint64_t bit)
{
	if (bit >= s->nbits || bit > (s->size >> s->gbits))
		return s->size;
	return bit << s->gbits;
}

static void run_end(struct scan *s, uint64_t bit)
{
	uint64_t start = bit_to_byte(s, s->run_start);
	uint64_t end = bit_to_byte(s, bit);

	s->in_run = false;
	if (end > start && !s->stopped) {
		s->dirty += end - start;
		s->stopped = s->fn(s->ctx, start, end - start);
	}
}

/* bits [base, base + 64) from one little-endian word */
static void scan_word(struct scan *s, uint64_t base, uint64_t w)
{
	unsigned pos = 0;

	/* the common cases: nothing changes within the word */
	if ((!s->in_run && !w) || (s->in_run && w == UINT64_MAX))
		return;
	while (pos < 64) {
		uint64_t rest = s->in_run ? ~w >> pos : w >> pos;

		if (!rest)
			return;
		pos += (unsigned)__builtin_ctzll(rest);
		if (s->in_run) {
			run_end(s, base + pos);
		} else {
			s->in_run = true;
			s->run_start = base + pos;
		}
	}
}

static uint64_t le64_at(const uint8_t *p)
{
	uint64_t v;

	memcpy(&v, p, sizeof v);
	return le64toh(v);
}

/* A cluster that is all zeroes (the usual case) ends a run and is done. */
static bool all_zero(const uint8_t *p, size_t n)
{
	return n == 0 || (p[0] == 0 && memcmp(p, p + 1, n - 1) == 0);
}

#define PAGE_BITS 15   /* clusters a page of the seen set covers */

bool q2_seen_init(struct q2_seen *s, const struct q2_image *img)
{
	uint64_t clusters;

	memset(s, 0, sizeof *s);
	s->cluster_bits = img->header.cluster_bits;
	if (!q2_image_cluster_size(img))
		return true;
	clusters = (img->file_size >> s->cluster_bits) + 1;
	s->n_pages = (size_t)((clusters >> PAGE_BITS) + 1);
	s->pages = calloc(s->n_pages, sizeof *s->pages);
	return s->pages != NULL;
}

void q2_seen_free(struct q2_seen *s)
{
	for (size_t i = 0; s->pages && i < s->n_pages; i++)
		free(s->pages[i]);
	free(s->pages);
	memset(s, 0, sizeof *s);
}

/* Marks the data cluster at off; 1 when it was marked before, -1 out of
 * memory.  Clusters beyond the file are not read, so never marked. */
static int seen_mark(struct q2_seen *s, uint64_t off)
{
	uint64_t c = off >> s->cluster_bits;
	size_t page = (size_t)(c >> PAGE_BITS);
	uint64_t bit = c & ((1u << PAGE_BITS) - 1);
	uint64_t *p;
	int was;

	if (page >= s->n_pages)
		return 0;
	if (!s->pages[page]) {
		s->pages[page] = calloc((1u << PAGE_BITS) / 64, sizeof(uint64_t));
		if (!s->pages[page])
			return -1;
	}
	p = &s->pages[page][bit / 64];
	was = (*p >> (bit % 64)) & 1;
	*p |= 1ull << (bit % 64);
	return was;
}

int q2_extents_scan(const struct q2_reader *r, const struct q2_image *img,
		    uint32_t idx, q2_extent_fn fn, void *ctx,
		    uint64_t *dirty_bytes, struct q2_problems *problems,
		    struct q2_seen *seen)
{
	const struct q2_bitmaps_ext *bx = q2_image_bitmaps(img);
	const struct q2_bitmap *bm = &bx->bitmaps[idx];
	uint64_t cs = q2_image_cluster_size(img);
	/* QEMU sizes the bitmap, and exports it, in whole sectors */
	struct scan s = { .fn = fn, .ctx = ctx, .size = q2_disk_bytes(img) };
	uint64_t cluster_bits, clusters;
	uint8_t *buf = NULL;
	int ret = 0;

	*dirty_bytes = 0;
	/* the decoder said why it did not load the table */
	if (!bm->table_loaded)
		return -1;
	if (bm->granularity_bits > 63) {
		q2_problems_add_decode(problems, Q2_C_GRANULARITY, Q2_W_DIR_ENTRY,
				       idx, q2_dir_entry_at(bm, Q2_DF_GRANULARITY_BITS),
				       0, idx);
		return -1;
	}
	s.gbits = bm->granularity_bits;
	s.nbits = q2_bitmap_bits(s.size, s.gbits);
	cluster_bits = cs * 8;
	clusters = q2_bitmap_table_entries_needed(s.size, s.gbits, cs);
	if (clusters > bm->bitmap_table_size) {
		q2_problems_add_decode(problems, Q2_C_TABLE_TOO_SMALL, Q2_W_DIR_ENTRY,
				       idx, q2_dir_entry_at(bm, Q2_DF_TABLE_SIZE),
				       0, idx);
		return -1;
	}
	buf = malloc(cs);
	if (!buf) {
		q2_problems_add_decode(problems, Q2_C_NOMEM, Q2_W_TABLE, idx,
				       bm->bitmap_table_offset, 0, idx);
		return -1;
	}
	for (uint64_t k = 0; k < clusters && !s.stopped; k++) {
		uint64_t e = q2_bitmap_table_entry(bm, k);
		uint64_t base = k * cluster_bits;
		uint64_t off = e & Q2_BTE_OFFSET_MASK;
		/* QEMU reads zeroes beyond the end of the file */
		uint64_t avail = off >= r->size ? 0 : r->size - off;
		int sys_errno = 0;
		enum q2_code code;

		switch (q2_bte_classify(e)) {
		case Q2_BTE_ALL_ZEROES:
			if (s.in_run)
				run_end(&s, base);
			break;
		case Q2_BTE_ALL_ONES_T:
			if (!s.in_run) {
				s.in_run = true;
				s.run_start = base;
			}
			break;
		case Q2_BTE_SERIALIZED:
			if (avail && seen) {
				int was = seen_mark(seen, off);

				if (was) {
					q2_problems_add_decode(problems,
						was < 0 ? Q2_C_NOMEM : Q2_C_DATA_CLUSTER_SHARED,
						Q2_W_DATA, idx, off, 0, idx);
					ret = -1;
					goto out;
				}
			}
			if (avail > cs)
				avail = cs;
			if (avail && !q2_read(r, off, buf, (size_t)avail, &code,
					      &sys_errno)) {
				q2_problems_add_decode(problems, code, Q2_W_DATA, idx,
						       off, sys_errno, idx);
				ret = -1;
				goto out;
			}
			memset(buf + avail, 0, (size_t)(cs - avail));
			if (!s.in_run && all_zero(buf, cs))
				break;
			for (uint64_t i = 0; i < cs; i += 8)
				scan_word(&s, base + i * 8, le64_at(buf + i));
			break;
		default:
			q2_problems_add_decode(problems, Q2_C_TABLE_ENTRY, Q2_W_TABLE,
					       idx, bm->bitmap_table_offset + 8 * k,
					       0, idx);
			ret = -1;
			goto out;
		}
	}
	/* a run that reaches the last bit ends at the virtual size; tail
	 * bits past it are ignored */
	if (s.in_run)
		run_end(&s, s.nbits);
out:
	free(buf);
	*dirty_bytes = s.dirty;
	return ret ? ret : s.stopped;
}
