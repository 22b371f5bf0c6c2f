/* Backing chains: IMAGE and (with --backing-chain) the backing files it
 * leads to, each opened read-only and without a lock, decoded into its
 * own model, with its own lock probe.  Every run is a chain: a single
 * image is a chain of one layer.  What the chain's bitmaps mean as
 * checkpoints is the judge's (checkpoint.h).
 *
 * Names resolve as QEMU resolves them (block.c): a name with a ':'
 * before any '/' is a protocol (json:, nbd:, ...), which qcow2dump does
 * not follow; an absolute name is taken as it is; a relative one is
 * joined to the directory of the image that names it, as that image's
 * path was given (not canonicalised).  The backing format extension
 * gives the layer's format (a raw layer ends the chain); without it the
 * file's magic is probed.  Loops are found by device and inode. */
#ifndef QCOW2DUMP_CHAIN_H
#define QCOW2DUMP_CHAIN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "lock.h"
#include "model.h"
#include "qcow2.h"
#include "reader.h"

/* At most this many layers (IMAGE and 255 backing files) are followed;
 * a deeper chain is the error backing-chain-too-deep. */
#define Q2_CHAIN_MAX_LAYERS 256u

enum q2_layer_format { Q2_LAYER_QCOW2, Q2_LAYER_RAW };

struct q2_layer {
	char *path;            /* as opened: IMAGE, or a backing name resolved */
	uint32_t depth;        /* 0 for IMAGE */
	enum q2_layer_format format;
	bool opened;           /* else img only says why (IMAGE alone) */
	bool bitmaps_known;    /* its bitmap directory decoded whole (or raw) */
	/* a raw layer (by the backing format extension) whose file QEMU
	 * would probe as qcow2 */
	bool raw_probed_qcow2;
	struct q2_reader reader;
	struct q2_image img;   /* a raw layer: file_size only */
	enum q2_lock lock;     /* what the lock probe saw */
	dev_t dev;
	ino_t ino;
};

struct q2_chain {
	struct q2_layer *layers;  /* top first */
	size_t n;
	/* the chain could not be followed to its end, and why (a problem
	 * of the last layer) */
	bool broken;
	enum q2_code broken_code;
	bool direct_io;           /* its files read O_DIRECT (decode opts) */
};

/* Opens IMAGE and, when follow is set, its backing chain: each qcow2
 * layer decoded with opts, each layer's lock probed.  What stops the
 * chain is a problem of the layer that names the backing file (a
 * decoding problem: exit status 2).  An IMAGE that cannot be opened is a
 * layer whose model only says why.  Returns false only when out of
 * memory (what was opened is still in c, to free). */
bool q2_chain_open(struct q2_chain *c, const char *image,
		   const struct q2_decode_opts *opts, bool follow);
/* The chain of one image in memory (unit tests, the fuzzer): decoded
 * with opts, its lock Q2_LOCK_NONE.  false when out of memory. */
bool q2_chain_of_memory(struct q2_chain *c, const char *path, const void *buf,
			size_t len, const struct q2_decode_opts *opts);
/* The last backing format extension of img (QEMU keeps the last one
 * read), or NULL. */
const struct q2_ext *q2_backing_format_ext(const struct q2_image *img);
/* The size a layer gives its overlay: a qcow2 layer's virtual size, a
 * raw one's file; false when it is not known. */
bool q2_layer_size(const struct q2_layer *l, uint64_t *size);
void q2_chain_free(struct q2_chain *c);

const char *q2_layer_format_name(enum q2_layer_format f);

/* QEMU's rules for a backing name, for the resolver and its tests. */
/* A ':' before any '/': a protocol or json: name. */
bool q2_backing_is_protocol(const char *name);
/* Whether decoding img read its bitmap directory whole: no decoding
 * error, but for one of the check's scope (a snapshot table the file cuts
 * short, which QEMU reads as zeroes). */
bool q2_layer_bitmaps_known(const struct q2_image *img);
/* name as QEMU opens it from the image at overlay_path (malloc'd, NULL
 * when out of memory). */
char *q2_backing_join(const char *overlay_path, const char *name);
/* The format a file's first bytes say: "qcow2", NULL for none qcow2dump
 * knows of (raw), or the name of another format. */
const char *q2_probe_format(const uint8_t *buf, size_t len);

#endif
