/* Dirty extents: a bitmap's data clusters read one at a time and turned
 * into merged byte ranges of the virtual disk, as qemu-nbd -B exports
 * them.  Memory is one block of a data cluster (64 KiB at most),
 * whatever the bitmap's size. */
#ifndef QCOW2DUMP_EXTENTS_H
#define QCOW2DUMP_EXTENTS_H

#include <stdbool.h>
#include <stdint.h>

#include "qcow2.h"
#include "reader.h"

/* Called for each extent in ascending order; a non-zero return stops
 * the scan (and is passed back). */
typedef int (*q2_extent_fn)(void *ctx, uint64_t start, uint64_t length);

struct q2_seen;

/* Scans bitmap index idx of img's directory, as QEMU reads it: for the
 * disk's length in whole sectors, with zeroes where a table or a data
 * cluster lies beyond the end of the file.  Returns 0 when done, the
 * callback's non-zero value when it stopped the scan, or -1 after adding
 * to problems what could not be read or decoded (or when the table was
 * not loaded: the decoder said why, or when a data cluster was already
 * read, for this bitmap or another, if seen is given: that is a
 * data-cluster-shared problem).  *dirty_bytes adds up the extents
 * reported. */
int q2_extents_scan(const struct q2_reader *r, const struct q2_image *img,
		    uint32_t idx, q2_extent_fn fn, void *ctx,
		    uint64_t *dirty_bytes, struct q2_problems *problems,
		    struct q2_seen *seen);

/* The same scan, pulled one extent at a time (for a merge of several
 * bitmaps): init, then next until it returns 0 (done) or -1 (a problem
 * was added, as q2_extents_scan says), then finish, whatever init
 * returned.  Memory: one block of at most 64 KiB of a data cluster. */
struct q2_extent_iter {
	const struct q2_reader *r;
	const struct q2_bitmap *bm;
	uint32_t idx;
	struct q2_problems *problems;
	struct q2_seen *seen;
	uint64_t cs, size, nbits, clusters;
	unsigned gbits;
	uint64_t block, blocks_per_cluster, next_block;
	uint8_t *buf;
	uint64_t words, word, word_base;   /* words of the block, the next one */
	uint64_t w;                        /* the word being scanned */
	unsigned pos;                      /* its next bit */
	bool in_run;
	uint64_t run_start;                /* in bits */
	int state;                         /* 0 going, 1 done, -1 failed */
};

/* 0, or -1 when the bitmap cannot be scanned (a problem added, or the
 * decoder already said why its table was not loaded) */
int q2_extent_iter_init(struct q2_extent_iter *it, const struct q2_reader *r,
			const struct q2_image *img, uint32_t idx,
			struct q2_problems *problems, struct q2_seen *seen);
/* 1: the next extent, in ascending order, in *start and *length; 0: no
 * more; -1: a problem was added (what was read before it stands) */
int q2_extent_iter_next(struct q2_extent_iter *it, uint64_t *start,
			uint64_t *length);
void q2_extent_iter_finish(struct q2_extent_iter *it);

/* The data clusters already read in one image, so that a data cluster
 * two entries or bitmaps point to is read once: the work of -x is
 * bounded by the file, not by what its tables claim.  A hash table of
 * pages of 64 clusters (a bit each), keyed by page number and made as
 * they are touched (open addressing, at most half full, doubled when
 * it would be more): its memory follows the clusters read, not the
 * file's apparent size -- at most 64 bytes a page touched (a slot of 16
 * bytes, the table at least a quarter full once grown), so 64 bytes a
 * cluster strewn about and 1 bit a cluster where they lie together --
 * and a lookup is O(1).  The hash is seeded at random, so that no image
 * can choose offsets that collide. */
struct q2_seen_page {
	uint64_t key;    /* the page number + 1; 0: the slot is free */
	uint64_t bits;   /* bit i: cluster 64 * page number + i was read */
};

struct q2_seen {
	struct q2_seen_page *pages;  /* cap slots; NULL: nothing tracked */
	size_t cap, n;               /* cap a power of 2, n used, n <= cap / 2 */
	uint64_t seed;
	unsigned cluster_bits;
};

/* false when out of memory (then s->pages is NULL); with no cluster
 * size to go by (a header not decoded), true and s->pages NULL */
bool q2_seen_init(struct q2_seen *s, const struct q2_image *img);
/* Marks the cluster at byte offset off (any offset below 2^64); 1 when
 * it was marked before, 0 when not, -1 out of memory (it stays
 * unmarked).  s must have pages. */
int q2_seen_mark(struct q2_seen *s, uint64_t off);
void q2_seen_free(struct q2_seen *s);

#endif
