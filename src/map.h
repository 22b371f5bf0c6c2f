/* The allocation map of a backing chain, as qemu-img map 7.2 gives it
 * (qemu-img.c, block/io.c, block/qcow2.c, block/file-posix.c): for each
 * range of the top layer's disk, the first layer from the top that has
 * it, and whether it reads as data, as zeroes, and from which host
 * offset.  Neighbours merge as qemu-img merges them.  The tables are
 * read as the walk goes (guest.h), one L2 table per layer held, so
 * memory is the layers' L1 tables and a cluster each, and time follows
 * the tables the file holds: a range no L1 entry reaches costs one step
 * however large it is. */
#ifndef QCOW2DUMP_MAP_H
#define QCOW2DUMP_MAP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "chain.h"
#include "guest.h"
#include "problem.h"
#include "reader.h"

/* One range of the map, qemu-img map's keys and QEMU 8.2's
 * "compressed". */
struct q2_map_entry {
	uint64_t start, length;
	uint32_t depth;          /* the layer that answered */
	bool present, zero, data, compressed;
	bool has_offset;
	uint64_t offset;         /* in file, when has_offset */
	const char *file;        /* the file the offset is in */
	/* -x --map: a dirty range the map could not say anything of (it
	 * has none, or stopped before): only start and length hold */
	bool unknown;
};

/* What the map keeps of one layer. */
struct q2_map_layer {
	const struct q2_layer *layer;
	uint64_t length;          /* its disk, as the block layer sees it */
	struct q2_guest guest;    /* a qcow2 layer's active L1 */
	bool guest_open;
	/* QEMU's metadata preallocation heuristic: -1 not asked yet */
	int prealloc;
	/* the reader and name of the file that holds guest data: the
	 * layer's own, or its external data file */
	const struct q2_reader *data_reader;
	const char *data_name;
	struct q2_reader data_file;
	bool data_file_open;
	struct q2_problems *faults;  /* what is met in this layer */
};

struct q2_map {
	struct q2_map_layer *layers;
	size_t n;
	bool failed;             /* a read failed: the map stops */
	/* the range being walked and the entry being merged */
	uint64_t pos, end;
	struct q2_map_entry cur;
	bool have_cur, empty_pending;
};

/* Prepares the map of chain c, whose layers refused[l] says QEMU
 * refuses (the judge's verdict); faults[l] gets what is met in layer l.
 * false when there is no map: a layer is refused, the chain is broken,
 * a data file cannot be opened, or memory ran out (a problem added to
 * the top layer's faults, or the layer's). */
bool q2_map_init(struct q2_map *m, const struct q2_chain *c,
		 const bool *refused, struct q2_problems *const *faults);
void q2_map_free(struct q2_map *m);

/* The top layer's disk, in bytes, as qemu-img map walks it. */
uint64_t q2_map_length(const struct q2_map *m);

/* Starts a walk over [start, end), as qemu-img map --start-offset and
 * --max-length set it; an empty range gives one entry of length 0, as
 * qemu-img map does. */
void q2_map_begin(struct q2_map *m, uint64_t start, uint64_t end);
/* 1: the next merged entry in *e; 0: the range is done; -1: a read
 * failed (a fault added; the entries given before stand). */
int q2_map_next(struct q2_map *m, struct q2_map_entry *e);

#endif
