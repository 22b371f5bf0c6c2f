/* The guest-data tables: an L1 table and the L2 tables it names, read
 * as QEMU 7.2 reads them to answer "what is at this guest offset"
 * (block/qcow2-cluster.c, qcow2_get_host_offset).  One L2 table is held
 * at a time, read through the reader when the walk enters it, so memory
 * is the L1 (at most QEMU's 32 MiB) and one cluster, whatever the image
 * claims.  Where QEMU fails the read with EIO, so does the lookup, with
 * a problem that says where. */
#ifndef QCOW2DUMP_GUEST_H
#define QCOW2DUMP_GUEST_H

#include <stdbool.h>
#include <stdint.h>

#include "be.h"
#include "model.h"
#include "problem.h"
#include "reader.h"

#define Q2_L1E_OFFSET_MASK 0x00fffffffffffe00ull
#define Q2_L2E_OFFSET_MASK 0x00fffffffffffe00ull
#define Q2_OFLAG_COPIED (1ull << 63)
#define Q2_OFLAG_COMPRESSED (1ull << 62)
#define Q2_OFLAG_ZERO 1ull
/* QEMU's limit on an L1 table, in bytes */
#define Q2_MAX_L1_BYTES (32u * 1024u * 1024u)
#define Q2_L2_RUN (4u * 1024u * 1024u)
#define Q2_L2_THREADS 16u
/* extended L2: 32 subclusters per cluster */
#define Q2_SUBCLUSTERS 32u

/* What a guest subcluster is, as QEMU's QCow2SubclusterType says. */
enum q2_gtype {
	Q2_G_UNALLOCATED,       /* nothing here: the backing file shows */
	Q2_G_UNALLOCATED_ALLOC, /* extended L2: a host cluster, but not this
				 * subcluster: the backing file shows */
	Q2_G_ZERO_PLAIN,        /* reads as zeroes, no host cluster */
	Q2_G_ZERO_ALLOC,        /* reads as zeroes, a host cluster kept */
	Q2_G_NORMAL,            /* data at a host offset */
	Q2_G_COMPRESSED,        /* data compressed at a host offset */
	Q2_G_INVALID,           /* extended L2 bitmaps QEMU refuses */
	Q2_G_COUNT_
};

/* A run of guest bytes of one type. */
struct q2_grun {
	enum q2_gtype type;
	uint64_t length;        /* bytes from the offset asked */
	/* NORMAL, ZERO_ALLOC, UNALLOCATED_ALLOC: the host offset of the
	 * guest offset asked (contiguous over the run); COMPRESSED: the
	 * descriptor's first byte, and its length in csize */
	uint64_t host;
	uint64_t csize;
};

struct slot_read;

/* One L1 table of an image and the L2 table last read. */
struct q2_guest {
	const struct q2_reader *r;
	const struct q2_image *img;
	unsigned cluster_bits;
	uint64_t cs;
	uint64_t l2_entries;     /* per table */
	unsigned sc_bits;        /* log2 of a subcluster's bytes */
	bool extended, data_file, v2;
	uint64_t *l1;
	uint32_t l1_size;        /* entries, those past the file read as 0 */
	uint32_t l1_in_file;
	uint8_t *l2;             /* the table read, in run */
	uint64_t l2_at;          /* its offset, 0: none */
	/* The tables the next L1 entries name are read together, up to
	 * Q2_L2_RUN bytes (one cluster at least): in one read where they
	 * follow each other in the file, else (O_DIRECT, whose reads the
	 * page cache does not serve) each by a thread of its own, at once.
	 * Slot k of run holds the table at slot_at[k] (0: none). */
	uint8_t *run;
	size_t run_cap, n_slots;
	uint64_t *slot_at;
	struct slot_read *reads;  /* the batch's reads, one per slot */
	/* per L1 entry: its L2 table is an earlier entry's too (a table
	 * used twice by one L1 is corrupt, and would make the map as long
	 * as the L1 times the table) */
	uint8_t *shared;
	uint64_t file_bytes;     /* the file, in whole sectors, as QEMU's checks */
	bool told_l2_beyond, told_data_beyond; /* each said once */
};

/* Prepares to read the L1 table of l1_size entries at l1_offset (the
 * active one or a snapshot's); entries past the file read as 0, as
 * QEMU's reads do.  false when out of memory (a problem added). */
bool q2_guest_open(struct q2_guest *g, const struct q2_reader *r,
		   const struct q2_image *img, uint64_t l1_offset,
		   uint32_t l1_size, struct q2_problems *problems);
void q2_guest_close(struct q2_guest *g);

/* What lies at guest offset off, for at most bytes bytes (> 0): the run
 * QEMU's lookup would give (within one L2 table, one type, contiguous
 * host clusters; a compressed cluster alone).  0, or -1 where QEMU's
 * read fails (a problem added at the entry's file offset). */
int q2_guest_lookup(struct q2_guest *g, uint64_t off, uint64_t bytes,
		    struct q2_grun *run, struct q2_problems *problems);

/* The L2 table L1 entry i names, whatever its offset (an unaligned one
 * is read where it points, as qemu-img check reads it), read with the
 * tables the next entries name; the part past the end of the file reads
 * as zeroes.  NULL when L1 entry i is 0 or the read failed (a problem
 * added). */
const uint8_t *q2_guest_table(struct q2_guest *g, uint32_t i,
			      struct q2_problems *problems);

/* Entry k of an L2 table, and its subcluster bitmap (0 without
 * extended L2). */
static inline uint64_t q2_l2_entry(const struct q2_guest *g, const uint8_t *t, uint64_t k)
{
	return get_be64(t + k * (g->extended ? 16u : 8u));
}

static inline uint64_t q2_l2_bitmap(const struct q2_guest *g, const uint8_t *t, uint64_t k)
{
	return g->extended ? get_be64(t + k * 16u + 8u) : 0;
}

/* The host span of a compressed cluster's descriptor. */
void q2_compressed_span(unsigned cluster_bits, uint64_t entry,
			uint64_t *offset, uint64_t *length);

/* The type of guest subcluster sc of an L2 entry (bitmap: the extended
 * entry's second word, 0 without extended L2). */
enum q2_gtype q2_guest_type(bool extended, bool data_file, uint64_t entry,
			    uint64_t bitmap, unsigned sc);

#endif
