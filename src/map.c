#include "config.h"

#include "map.h"

#include <assert.h>
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "be.h"
#include "ondisk.h"
#include "sort.h"
#include "util.h"

/* block/block.h's status bits, as far as qemu-img map looks at them */
enum {
	ST_DATA = 1u << 0,
	ST_ZERO = 1u << 1,
	ST_OFFSET = 1u << 2,
	ST_ALLOCATED = 1u << 3,
	ST_EOF = 1u << 4,
	ST_RECURSE = 1u << 5,
};

struct status {
	unsigned flags;
	uint64_t pnum;
	uint64_t map;
	const char *file;
	bool compressed;
};

static uint64_t round_up_512(uint64_t n)
{
	return n > UINT64_MAX - 511u ? UINT64_MAX & ~(uint64_t)511 : (n + 511u) & ~(uint64_t)511;
}

/* ---- QEMU's metadata preallocation heuristic ---- */

struct reft_ref {
	uint64_t index;          /* in the refcount table */
	uint64_t block;          /* the refcount block's offset */
	uint64_t nonzero;        /* refcounts above 0 among those asked */
};

static int by_block(const void *a, const void *b, const void *arg)
{
	const struct reft_ref *x = a, *y = b;

	(void)arg;
	return (x->block > y->block) - (x->block < y->block);
}

static int by_index(const void *a, const void *b, const void *arg)
{
	const struct reft_ref *x = a, *y = b;

	(void)arg;
	return (x->index > y->index) - (x->index < y->index);
}

/* The refcounts above 0 among entries [0, n) of a refcount block. */
static uint64_t count_nonzero(const uint8_t *block, unsigned order, uint64_t n,
			      uint64_t block_bytes)
{
	uint64_t c = 0, bytes = ((n << order) + 7u) / 8u;
	size_t i;

	if (bytes > block_bytes)
		bytes = block_bytes;
	for (i = 0; i < bytes; i++)
		if (block[i])
			break;
	if (i == bytes)
		return 0;
	for (uint64_t k = 0; k < n; k++)
		c += q2_refcount_at(block, order, k) != 0;
	return c;
}

/* the blocks counted in the table's order before each is read once */
#define QUICK_BLOCKS 64u

/* The refcounts above 0 of ref's block, among the clusters below
 * end_cluster, into ref->nonzero (block holds the one at *cached);
 * false when it cannot be read. */
static bool count_block(const struct q2_reader *r, struct reft_ref *ref,
			uint8_t *block, uint64_t *cached, uint64_t end_cluster,
			unsigned block_bits, unsigned order, uint64_t cs)
{
	uint64_t first = ref->index << block_bits;
	uint64_t want = end_cluster - first;
	enum q2_code code;
	int err;

	if (want > (1ull << block_bits))
		want = 1ull << block_bits;
	if (ref->block != *cached) {
		uint64_t got = 0;

		if (ref->block < r->size)
			got = r->size - ref->block < cs ? r->size - ref->block : cs;
		if (got && !q2_read(r, ref->block, block, (size_t)got, &code, &err))
			return false;
		memset(block + got, 0, (size_t)(cs - got));
		*cached = ref->block;
	}
	ref->nonzero = count_nonzero(block, order, want, cs);
	return true;
}

/* qcow2_detect_metadata_preallocation: as many clusters with a refcount
 * as the file has allocated, and a tenth (two at least) more, means the L2
 * entries point at preallocated holes.  QEMU counts cluster by cluster
 * up to the file's end; here each refcount block the table names is
 * read once, whatever the table repeats, so the work is the file's.
 * Any failure QEMU meets reads as "no". */
static bool detect_prealloc(const struct q2_reader *r, const struct q2_image *img)
{
	const struct q2_header *h = &img->header;
	const unsigned cb = h->cluster_bits, order = h->refcount_order;
	const uint64_t cs = 1ull << cb;
	const unsigned block_bits = cb + 3u - order; /* refcounts per block, log2 */
	uint64_t alloc, real_clusters, threshold, end_cluster, reft_entries, used;
	uint64_t count = 0, cached = 0;
	struct reft_ref *refs = NULL;
	uint8_t *reft = NULL, *block = NULL;
	size_t n = 0, i;
	bool result = false;
	enum q2_code code;
	int err;

	if (order > 6 || !q2_reader_allocated(r, &alloc))
		return false;
	real_clusters = alloc / cs;
	threshold = real_clusters * 10u / 9u;
	if (threshold < real_clusters + 2u)
		threshold = real_clusters + 2u;
	end_cluster = (round_up_512(r->size) + cs - 1u) >> cb;
	/* only the table entries whose blocks cover clusters below the end */
	reft_entries = ((uint64_t)h->refcount_table_clusters << cb) / 8u;
	used = (end_cluster + (1ull << block_bits) - 1u) >> block_bits;
	if (reft_entries > used)
		reft_entries = used;
	if (h->refcount_table_offset >= r->size)
		return false;
	if (reft_entries > (r->size - h->refcount_table_offset) / 8u)
		reft_entries = (r->size - h->refcount_table_offset) / 8u;
	if (reft_entries > (8ull << 20) / 8u)
		reft_entries = (8ull << 20) / 8u;
	reft = malloc(reft_entries ? reft_entries * 8u : 1u);
	refs = malloc((reft_entries ? reft_entries : 1u) * sizeof *refs);
	block = malloc(cs);
	if (!reft || !refs || !block ||
	    !q2_read(r, h->refcount_table_offset, reft, reft_entries * 8u, &code, &err))
		goto out;
	for (uint64_t i = 0; i < reft_entries; i++) {
		uint64_t off = get_be64(reft + i * 8u) & 0xfffffffffffffe00ull;

		if (!off)
			continue;
		/* QEMU fails on an unaligned block when its walk gets there */
		if (off & (cs - 1u))
			break;
		refs[n++] = (struct reft_ref){ .index = i, .block = off };
	}
	/* in the table's order, as QEMU counts: a preallocated image
	 * reaches the threshold in its first blocks */
	for (i = 0; i < n && i < QUICK_BLOCKS && count < threshold; i++) {
		if (!count_block(r, &refs[i], block, &cached, end_cluster,
				 block_bits, order, cs))
			goto out;
		count += refs[i].nonzero;
	}
	if (count < threshold && n > QUICK_BLOCKS) {
		/* else each block read once, in file order, whatever the
		 * table repeats, then counted in the table's order */
		q2_sort(refs, n, sizeof *refs, by_block, NULL);
		for (i = 0; i < n; i++)
			if (!count_block(r, &refs[i], block, &cached, end_cluster,
					 block_bits, order, cs))
				goto out;
		q2_sort(refs, n, sizeof *refs, by_index, NULL);
		for (count = 0, i = 0; i < n && count < threshold; i++)
			count += refs[i].nonzero;
	}
	result = count >= threshold;
out:
	free(reft);
	free(refs);
	free(block);
	return result;
}

/* ---- one layer's block status ---- */

/* file-posix's answer for [off, off + bytes) of the file r. */
static void file_status(const struct q2_reader *r, uint64_t off, uint64_t bytes,
			struct status *st)
{
	uint64_t total = round_up_512(r->size), data, hole;
	int ret;

	memset(st, 0, sizeof *st);
	if (off >= total) {
		st->flags = ST_EOF;
		return;
	}
	if (bytes > total - off)
		bytes = total - off;
	ret = q2_reader_find_allocation(r, off, &data, &hole);
	if (ret == -ENXIO) {
		st->flags = ST_ZERO;
		st->pnum = bytes;
	} else if (ret < 0) {
		st->flags = ST_DATA;
		st->pnum = bytes;
	} else if (data == off) {
		st->flags = ST_DATA;
		st->pnum = hole - off;
	} else {
		st->flags = ST_ZERO;
		st->pnum = data - off;
	}
	if (st->pnum > bytes)
		st->pnum = bytes;
	st->flags |= ST_OFFSET | ST_ALLOCATED;
	st->map = off;
	if (off + st->pnum == total)
		st->flags |= ST_EOF;
}

static bool has_host(enum q2_gtype t)
{
	return t == Q2_G_NORMAL || t == Q2_G_ZERO_ALLOC || t == Q2_G_UNALLOCATED_ALLOC;
}

/* bdrv_co_block_status of layer d: 0, or -1 when the read failed. */
static int layer_status(struct q2_map *m, size_t d, uint64_t off, uint64_t bytes,
			struct status *st)
{
	struct q2_map_layer *ml = &m->layers[d];
	const struct q2_image *img = &ml->layer->img;
	uint64_t align, aoff, abytes, slack;
	struct q2_grun run;

	memset(st, 0, sizeof *st);
	if (bytes > ml->length - off)
		bytes = ml->length - off;
	if (ml->layer->format == Q2_LAYER_RAW) {
		file_status(&ml->layer->reader, off, bytes, st);
		st->file = ml->layer->path;
		return 0;
	}
	/* an encrypted image is read in whole sectors */
	align = q2_is_encrypted(img) ? 512u : 1u;
	aoff = off & ~(align - 1u);
	slack = off - aoff;
	abytes = ((off + bytes + align - 1u) & ~(align - 1u)) - aoff;
	if (ml->prealloc < 0) {
		ml->prealloc = detect_prealloc(&ml->layer->reader, img);
		/* no file-system question about this layer (QEMU asks none
		 * either): the page cache may serve its tables */
		if (!ml->prealloc)
			q2_reader_end_direct(&ml->layer->reader);
	}
	if (q2_guest_lookup(&ml->guest, aoff, abytes, &run, m->layers[d].faults) != 0)
		return -1;
	st->pnum = run.length;
	if (has_host(run.type) && !q2_is_encrypted(img)) {
		st->flags |= ST_OFFSET;
		st->map = run.host;
		st->file = ml->data_name;
	}
	if (run.type == Q2_G_ZERO_PLAIN || run.type == Q2_G_ZERO_ALLOC)
		st->flags |= ST_ZERO;
	else if (run.type == Q2_G_NORMAL || run.type == Q2_G_COMPRESSED)
		st->flags |= ST_DATA;
	st->compressed = run.type == Q2_G_COMPRESSED;
	if (ml->prealloc == 1 && (st->flags & ST_DATA) && (st->flags & ST_OFFSET))
		st->flags |= ST_RECURSE;
	st->pnum -= slack;
	if (st->pnum > bytes)
		st->pnum = bytes;
	if (st->flags & ST_OFFSET)
		st->map += slack;
	if (st->flags & (ST_DATA | ST_ZERO)) {
		st->flags |= ST_ALLOCATED;
	} else if (d + 1 >= m->n) {
		/* no backing file: reads as zeroes */
		st->flags |= ST_ZERO;
	} else if (off >= m->layers[d + 1].length) {
		/* past the backing file's end: zeroes too */
		st->flags |= ST_ZERO;
	}
	if ((st->flags & ST_RECURSE) && !(st->flags & ST_ZERO)) {
		struct status fs;

		/* holes of the file under preallocated clusters read as
		 * zeroes (what SEEK_DATA calls holes: on ext4 and XFS, a
		 * preallocated extent without pages in the cache; the
		 * layers are read O_DIRECT, so that ours add none) */
		file_status(ml->data_reader, st->map, st->pnum, &fs);
		if ((fs.flags & ST_EOF) && (!fs.pnum || (fs.flags & ST_ZERO))) {
			st->flags |= ST_ZERO;
		} else {
			st->pnum = fs.pnum;
			st->flags |= fs.flags & ST_ZERO;
		}
	}
	return 0;
}

/* qemu-img's get_block_status: the first layer from the top that has
 * [off, off + bytes), or the one whose answer is zeroes. */
static int chain_status(struct q2_map *m, uint64_t off, uint64_t bytes,
			struct q2_map_entry *e)
{
	struct status st;
	size_t d = 0;

	for (;;) {
		if (layer_status(m, d, off, bytes, &st) != 0)
			return -1;
		bytes = st.pnum;
		if ((st.flags & (ST_ZERO | ST_DATA)) || d + 1 >= m->n)
			break;
		d++;
	}
	*e = (struct q2_map_entry){
		.start = off, .length = bytes, .depth = (uint32_t)d,
		.present = (st.flags & ST_ALLOCATED) != 0,
		.zero = (st.flags & ST_ZERO) != 0,
		.data = (st.flags & ST_DATA) != 0,
		.compressed = st.compressed,
		.has_offset = (st.flags & ST_OFFSET) != 0,
		.offset = st.map,
		.file = (st.flags & ST_OFFSET) ? st.file : NULL,
	};
	if (!e->has_offset)
		e->offset = 0;
	return 0;
}

/* qemu-img's entry_mergeable, and 8.2's compressed */
static bool mergeable(const struct q2_map_entry *a, const struct q2_map_entry *b)
{
	if (a->zero != b->zero || a->data != b->data || a->depth != b->depth ||
	    a->present != b->present || a->compressed != b->compressed ||
	    a->has_offset != b->has_offset || !a->file != !b->file)
		return false;
	if (a->file && strcmp(a->file, b->file) != 0)
		return false;
	return !a->has_offset || a->offset + a->length == b->offset;
}

/* ---- the map ---- */

/* The external data file of img, as QEMU opens it: its name as the
 * extension gives it, relative to the working directory. */
static const struct q2_ext *data_file_ext(const struct q2_image *img)
{
	const struct q2_ext *found = NULL;

	for (size_t i = 0; i < img->n_exts; i++)
		if (img->exts[i].kind == Q2_EXTK_DATA_FILE)
			found = &img->exts[i];
	return found;
}

static bool open_layer(struct q2_map *m, size_t l, struct q2_problems *top)
{
	struct q2_map_layer *ml = &m->layers[l];
	const struct q2_layer *layer = ml->layer;
	const struct q2_image *img = &layer->img;
	struct q2_problems *faults = ml->faults;
	const struct q2_ext *dx;
	enum q2_code code;
	int err;

	ml->prealloc = -1;
	ml->data_reader = &layer->reader;
	ml->data_name = layer->path;
	if (layer->format == Q2_LAYER_RAW) {
		ml->length = round_up_512(layer->reader.size);
		return true;
	}
	ml->length = q2_disk_bytes(img);
	if (q2_has_data_file(img)) {
		dx = data_file_ext(img);
		if (!dx || !dx->data || memchr(dx->data, 0, dx->length)) {
			q2_problems_addf(faults, Q2_FROM_DECODE, Q2_C_DATA_FILE_UNREADABLE,
					 dx ? dx->offset : q2_header_at(Q2_HF_INCOMPATIBLE_FEATURES),
					 Q2_NO_INDEX, "%s", dx ? "the name holds a NUL byte"
							      : "no data file name");
			return false;
		}
		if (!q2_reader_open_mode(&ml->data_file, (const char *)dx->data,
					 true, &code, &err)) {
			q2_problems_addf(faults, Q2_FROM_DECODE, Q2_C_DATA_FILE_UNREADABLE,
					 dx->offset, Q2_NO_INDEX, "%s: %s",
					 (const char *)dx->data, strerror(err));
			return false;
		}
		ml->data_file_open = true;
		ml->data_reader = &ml->data_file;
		ml->data_name = (const char *)dx->data;
	}
	(void)top;
	if (!q2_guest_open(&ml->guest, &layer->reader, img,
			   img->header.l1_table_offset, img->header.l1_size, faults))
		return false;
	ml->guest_open = true;
	return true;
}

bool q2_map_init(struct q2_map *m, const struct q2_chain *c,
		 const bool *refused, struct q2_problems *const *faults)
{
	memset(m, 0, sizeof *m);
	if (c->n == 0)
		return false;
	if (c->broken) {
		/* QEMU opens the whole chain or nothing: the chain's own
		 * problem says why */
		q2_problems_addf(faults[0], Q2_FROM_DECODE, Q2_C_MAP_IMAGE_REFUSED, 0,
				 Q2_NO_INDEX, "the backing chain could not be opened to its end");
		return false;
	}
	for (size_t l = 0; l < c->n; l++) {
		if (refused[l] || !c->layers[l].opened ||
		    (c->layers[l].format == Q2_LAYER_QCOW2 && !c->layers[l].img.header_decoded)) {
			q2_problems_addf(faults[0], Q2_FROM_DECODE, Q2_C_MAP_IMAGE_REFUSED,
					 0, Q2_NO_INDEX, "QEMU refuses %s%s",
					 l ? "the backing file " : "", c->layers[l].path);
			return false;
		}
	}
	m->layers = calloc(c->n, sizeof *m->layers);
	if (!m->layers) {
		q2_problems_add(faults[0], Q2_C_NOMEM, 0, Q2_NO_INDEX,
				Q2_FROM_DECODE, NULL);
		return false;
	}
	m->n = c->n;
	for (size_t l = 0; l < c->n; l++) {
		m->layers[l].layer = &c->layers[l];
		m->layers[l].faults = faults[l];
		if (!open_layer(m, l, faults[0])) {
			q2_map_free(m);
			return false;
		}
	}
	return true;
}

void q2_map_free(struct q2_map *m)
{
	for (size_t l = 0; m->layers && l < m->n; l++) {
		if (m->layers[l].guest_open)
			q2_guest_close(&m->layers[l].guest);
		if (m->layers[l].data_file_open)
			q2_reader_close(&m->layers[l].data_file);
	}
	free(m->layers);
	m->layers = NULL;
	m->n = 0;
}

uint64_t q2_map_length(const struct q2_map *m)
{
	return m->n ? m->layers[0].length : 0;
}

void q2_map_begin(struct q2_map *m, uint64_t start, uint64_t end)
{
	m->pos = start;
	m->end = end;
	m->have_cur = false;
	m->failed = false;
	m->empty_pending = start >= end;
}

int q2_map_next(struct q2_map *m, struct q2_map_entry *e)
{
	struct q2_map_entry next;

	if (m->empty_pending) {
		/* qemu-img prints its empty first entry */
		m->empty_pending = false;
		*e = (struct q2_map_entry){ .start = m->pos };
		return 1;
	}
	if (m->failed || !m->n)
		return m->failed ? -1 : 0;
	while (m->pos < m->end) {
		if (chain_status(m, m->pos, m->end - m->pos, &next) != 0) {
			m->failed = true;
			if (m->have_cur) {
				/* what was merged before the failure stands */
				m->have_cur = false;
				*e = m->cur;
				return 1;
			}
			return -1;
		}
		/* every layer's answer covers a byte at least (QEMU's rules
		 * never ask a layer past its end): the walk always moves */
		assert(next.length > 0);
		m->pos += next.length;
		if (m->have_cur && mergeable(&m->cur, &next)) {
			m->cur.length += next.length;
			continue;
		}
		if (m->have_cur) {
			*e = m->cur;
			m->cur = next;
			return 1;
		}
		m->cur = next;
		m->have_cur = true;
	}
	if (m->have_cur) {
		m->have_cur = false;
		*e = m->cur;
		return 1;
	}
	return 0;
}
