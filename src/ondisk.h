/* The refcounts as the file stores them, looked up as QEMU 7.2's
 * qcow2_get_refcount looks them up: the refcount table as QEMU loads it
 * at open (its entries past the file read as 0), then the refcount block
 * an entry names, read when first asked for (a few are kept).  A block in
 * a hole of a sparse file is known to be zeroes without being read. */
#ifndef QCOW2DUMP_ONDISK_H
#define QCOW2DUMP_ONDISK_H

#include <stdbool.h>
#include <stdint.h>

#include "be.h"
#include "model.h"
#include "reader.h"

/* refcount blocks kept, at most: the bytes (a 1 TiB image of 64 KiB
 * clusters has 512 blocks: 32 MiB), and 4 blocks at least */
#define Q2_ONDISK_CACHE_BYTES (16u << 20)

enum q2_rc_status {
	Q2_RC_OK,
	Q2_RC_UNALIGNED,   /* the block's offset is not cluster aligned: EIO */
	Q2_RC_IO,          /* the block could not be read */
	Q2_RC_NOMEM,
};

struct q2_ondisk {
	const struct q2_reader *r;
	unsigned cluster_bits, order;
	unsigned block_bits;       /* log2 of the refcounts one block holds */
	uint64_t *table;
	uint64_t n;                /* entries */
	/* the blocks read, block t in slot t % n_slots: scattered clusters
	 * (a million data clusters over a 1 TiB file) read each block
	 * once where they fit */
	struct q2_ondisk_slot {
		uint64_t index;    /* of the table; UINT64_MAX: none */
		uint8_t *bytes;    /* NULL: all zeroes */
		uint8_t *buf;      /* allocated when first used */
		enum q2_rc_status status;
	} *slots;
	size_t n_slots;
};

/* The refcount of width 1 << order bits at index i of a refcount block,
 * as QEMU lays them out (sub-byte widths from the low bits up). */
static inline uint64_t q2_refcount_at(const uint8_t *block, unsigned order, uint64_t i)
{
	switch (order) {
	case 0: return (block[i / 8] >> (i % 8)) & 1;
	case 1: return (block[i / 4] >> (2 * (i % 4))) & 3;
	case 2: return (block[i / 2] >> (4 * (i % 2))) & 15;
	case 3: return block[i];
	case 4: return get_be16(block + 2 * i);
	case 5: return get_be32(block + 4 * i);
	default: return get_be64(block + 8 * i);
	}
}

/* false when out of memory or the table cannot be read. */
bool q2_ondisk_open(struct q2_ondisk *d, const struct q2_reader *r,
		    const struct q2_image *img);
void q2_ondisk_close(struct q2_ondisk *d);

/* The refcount block of table entry t: its bytes, or NULL when it is
 * all zeroes (no block, or a hole, or past the table); status says
 * whether it could be had. */
const uint8_t *q2_ondisk_block(struct q2_ondisk *d, uint64_t t,
			       enum q2_rc_status *status);

/* The stored refcount of cluster. */
enum q2_rc_status q2_ondisk_get(struct q2_ondisk *d, uint64_t cluster,
				uint64_t *refcount);

#endif
