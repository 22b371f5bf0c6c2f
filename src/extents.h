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

/* The data clusters already read in one image (a paged bit array over
 * the file's clusters, pages made as they are touched), so that a data
 * cluster two entries or bitmaps point to is read once: the work of -x
 * is bounded by the file, not by what its tables claim. */
struct q2_seen {
	uint64_t **pages;
	size_t n_pages;
	unsigned cluster_bits;
};

/* false when out of memory */
bool q2_seen_init(struct q2_seen *s, const struct q2_image *img);
void q2_seen_free(struct q2_seen *s);

#endif
