/* The decoder: fills the model (model.h) of one image from a reader.
 * Everything sound is kept; each problem that stops the decoding of a
 * structure goes to img->problems.  After it returns, the model is only
 * read. */
#ifndef QCOW2DUMP_QCOW2_H
#define QCOW2DUMP_QCOW2_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "model.h"
#include "reader.h"

struct q2_decode_opts {
	bool load_tables;      /* read each bitmap's table entries */
	bool load_snapshots;   /* decode the snapshot table */
	bool snapshot_limits;  /* or only what QEMU refuses to open it for */
	/* open each file O_DIRECT (reader.h): --map asks SEEK_DATA, whose
	 * answer our reads must not change */
	bool direct_io;
};

/* Fills img from r; returns the number of decoding problems (0 on
 * success). */
size_t q2_decode(const struct q2_reader *r, const struct q2_decode_opts *opts,
		 struct q2_image *img);

#endif
