/* Reference counts per host cluster, as qemu-img check keeps them while
 * it rebuilds the refcounts (its in-memory refcount table, capped at the
 * image's refcount_max), but sparse and narrow: a chunk of
 * Q2_COUNTS_CHUNK one-byte counters exists only where some cluster was
 * referenced, found through a hash of chunk numbers, and the rare count
 * of 255 or more lives in a side table.  So a file whose apparent size
 * is 2^62 bytes costs what its referenced clusters cost, about one byte
 * each, and a compact image about 1.25 bytes per cluster. */
#ifndef QCOW2DUMP_COUNTS_H
#define QCOW2DUMP_COUNTS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define Q2_COUNTS_CHUNK_BITS 6u
#define Q2_COUNTS_CHUNK (1u << Q2_COUNTS_CHUNK_BITS)

struct q2_big_count {
	uint64_t cluster;      /* + 1: 0 is an empty slot */
	uint64_t count;
};

struct q2_counts {
	/* the first n_direct chunk numbers: their place in the pool + 1
	 * (0: none yet), straight from the number: an image's clusters
	 * up to Q2_COUNTS_DIRECT_MAX chunks, without hashing */
	uint32_t *direct;
	uint64_t n_direct;
	/* the chunks above: open addressing, slot -> chunk number + 1
	 * (0: empty), and the chunk's place in the pool */
	uint64_t *keys;
	uint32_t *where;
	size_t cap, n_hashed;
	size_t n;               /* chunks in all */
	/* the chunks, Q2_COUNTS_CHUNK bytes each, in slabs */
	uint8_t **slabs;
	size_t n_slabs, slab_cap;
	/* counts from 255 up */
	struct q2_big_count *big;
	size_t big_cap, big_n;
	uint64_t max;          /* the image's refcount_max */
	/* the chunk last used: references come in runs */
	uint64_t last_key;
	uint8_t *last;
};

/* chunks found without hashing, at most (4 MiB of directory: 2^26
 * clusters, 4 TiB of 64 KiB clusters) */
#define Q2_COUNTS_DIRECT_MAX (1u << 20)

/* max: the largest count a cluster may reach (qemu-img check's
 * refcount_max, 2^refcount_bits - 1); clusters: how many the file has
 * (the direct directory covers them, up to its limit; 0: none). */
void q2_counts_init(struct q2_counts *c, uint64_t max, uint64_t clusters);
void q2_counts_free(struct q2_counts *c);

enum q2_inc { Q2_INC_OK, Q2_INC_NOMEM };
/* times more references to each of n clusters from first; a count
 * stops at max, and overflow(ctx, cluster, k) says how many of a
 * cluster's were refused (as qemu-img check refuses each one past max).
 * NOMEM or OK. */
enum q2_inc q2_counts_inc_range(struct q2_counts *c, uint64_t first, uint64_t n,
				uint64_t times,
				void (*overflow)(void *ctx, uint64_t cluster, uint64_t k),
				void *ctx);
uint64_t q2_counts_get(const struct q2_counts *c, uint64_t cluster);
/* The counters of chunk key (clusters key << Q2_COUNTS_CHUNK_BITS on),
 * NULL when none was counted there; a counter of 255 means "look it up
 * with q2_counts_get". */
const uint8_t *q2_counts_chunk(const struct q2_counts *c, uint64_t key);

/* The chunk numbers in use, sorted (to free); NULL with *n 0 when there
 * are none or memory is short (*failed then set). */
uint64_t *q2_counts_chunks(const struct q2_counts *c, size_t *n, bool *failed);

#endif
