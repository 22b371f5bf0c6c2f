/* Backing chains (--backing-chain): IMAGE and the backing files it leads
 * to, each opened read-only and without a lock, decoded into its own
 * model, with its own lock probe; and, per bitmap name, the checkpoint
 * libvirt would back up: the bitmap of that name merged over the layers
 * from the top, and whether libvirt's three rules hold.
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
	struct q2_reader reader;
	struct q2_image img;   /* a raw layer: file_size and lock only */
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
	/* the run's findings about the chain as a whole (walk_chain.c) */
	struct q2_problems problems;
};

/* Opens IMAGE and its backing chain: each qcow2 layer decoded with opts,
 * each layer's lock probed.  What stops the chain is a problem of the
 * layer that names the backing file (a decoding problem: exit status
 * 2); a backing file larger than its overlay, or a raw format over a
 * qcow2 file, is a --check finding of the overlay.  Returns false only
 * when out of memory (what was opened is still in c, to free). */
bool q2_chain_open(struct q2_chain *c, const char *image,
		   const struct q2_decode_opts *opts);
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

/* ---- checkpoints: the bitmaps of the chain by name ---- */

struct q2_checkpoint {
	const char *name;      /* QEMU's name: the bytes up to a NUL */
	size_t name_len;
	uint32_t *index;       /* per layer: its directory index, or Q2_NO_INDEX */
	uint64_t *depths;      /* the layers holding it, top first */
	size_t n_depths;
	/* The layers merged: the consecutive ones from the topmost holding
	 * it (for a usable checkpoint: from IMAGE down), as libvirt merges. */
	uint32_t run_first, run_n;
	uint64_t granularity;  /* the finest of theirs; 0 when none is known */
	/* The verdict: usable, or the rule broken (missing-in-top, gap, the
	 * state of a copy that is not usable, incomplete, invalid) */
	enum q2_state state;
	bool has_reason;
	enum q2_code reason;
	uint32_t at;           /* the layer behind the state, or Q2_NO_INDEX */
};

/* The names of the chain's bitmaps, top first, each once: a name comes
 * in the order of the first layer holding it.  Each layer must have had
 * its checks and verdict (verdict.h). */
struct q2_checkpoints {
	const struct q2_chain *chain;
	uint32_t **sorted;     /* per layer: directory indexes by name */
	uint32_t *n_sorted;    /* and how many (entries with a name) */
	uint32_t layer, next;  /* the cursor */
	struct q2_checkpoint cp;
};

/* false when out of memory */
bool q2_checkpoints_begin(struct q2_checkpoints *it, const struct q2_chain *c);
/* The next name, its verdict in it->cp; false at the end. */
bool q2_checkpoints_next(struct q2_checkpoints *it);
/* The checkpoint NAME into it->cp; false when no layer holds it. */
bool q2_checkpoints_find(struct q2_checkpoints *it, const char *name,
			 size_t len);
void q2_checkpoints_end(struct q2_checkpoints *it);

/* -c: the rules a checkpoint breaks, as findings (warnings) of the
 * layers holding it. */
void q2_checkpoint_report(const struct q2_chain *c,
			  const struct q2_checkpoint *cp);

#endif
