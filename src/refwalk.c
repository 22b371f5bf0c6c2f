#include "config.h"

#include "refwalk.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "be.h"
#include "guest.h"
#include "sort.h"
#include "util.h"

#define L1E_RESERVED_MASK 0x7f000000000001ffull
#define L2E_STD_RESERVED_MASK 0x3f000000000001feull
#define REFT_OFFSET_MASK 0xfffffffffffffe00ull
#define REFT_RESERVED_MASK 0x1ffull
#define BME_OFFSET_MASK 0x00fffffffffffe00ull
#define BME_RESERVED_MASK 0xff000000000001feull
#define BME_ALL_ONES 1ull
/* QEMU refuses a larger refcount table at open: none is read beyond it */
#define MAX_REFTABLE_BYTES (8ull << 20)
/* QEMU's block layer reads nothing past this (block/io.c) */
#define BDRV_MAX_LENGTH 0x7fffffffc0000000ull
/* bitmap table entries read at a time */
#define BME_CHUNK 8192u

struct walk {
	const struct q2_reader *r;
	const struct q2_image *img;
	const struct q2_walk_hooks *h;
	void *ctx;
	struct q2_frag *frag;
	struct q2_problems *problems;
	unsigned bits;
	uint64_t cs;
	bool data_file;
	uint64_t budget;         /* table entries left to walk */
};

/* entries a walk may take: four passes over the file's bytes and 2^26,
 * more than a sound image needs (its tables are in the file, each
 * walked once per L1 table naming it) */
#define BUDGET_FLOOR (1ull << 26)

__attribute__((format(printf, 6, 7)))
static void defect(struct walk *w, enum q2_defect_kind kind, enum q2_code code,
		   uint64_t offset, const struct q2_owner *o, const char *fmt, ...)
{
	char detail[200];
	va_list ap;

	/* a walk that does not want them (the owners) formats none */
	if (!w->h->defect)
		return;
	va_start(ap, fmt);
	vsnprintf(detail, sizeof detail, fmt, ap);
	va_end(ap);
	w->h->defect(w->ctx, kind, code, offset, o, detail);
}

/* Takes n entries from the budget; false (a fatal defect told) once it
 * is spent. */
static bool spend(struct walk *w, uint64_t n, const struct q2_owner *o)
{
	if (n <= w->budget) {
		w->budget -= n;
		return true;
	}
	w->budget = 0;
	defect(w, Q2_D_FATAL, Q2_C_CHECK_FAILED, o ? o->start : 0, o, "%s",
	       "the tables name more entries than a file of this size can hold "
	       "sound ones: not walked to the end (qemu-img check would take hours)");
	return false;
}

static const char *const owner_names[] = {
	[Q2_O_HEADER] = "header",
	[Q2_O_L1] = "l1-table",
	[Q2_O_L2] = "l2-table",
	[Q2_O_DATA] = "data",
	[Q2_O_COMPRESSED] = "compressed-data",
	[Q2_O_REFTABLE] = "refcount-table",
	[Q2_O_REFBLOCK] = "refcount-block",
	[Q2_O_SNAPSHOT_TABLE] = "snapshot-table",
	[Q2_O_SNAPSHOT_L1] = "snapshot-l1-table",
	[Q2_O_BITMAP_DIR] = "bitmap-directory",
	[Q2_O_BITMAP_TABLE] = "bitmap-table",
	[Q2_O_BITMAP_DATA] = "bitmap-data",
	[Q2_O_CRYPTO] = "crypto-header",
	[Q2_O_LEAKED] = "leaked",
	[Q2_O_FREE] = "free",
};
Q2_STATIC_ASSERT(Q2_ARRAY_SIZE(owner_names) == Q2_O_COUNT_, "every owner has a name");

const char *q2_owner_name(enum q2_owner_kind k)
{
	return (unsigned)k < Q2_O_COUNT_ ? owner_names[k] : "?";
}

bool q2_refwalk_sees_bitmaps(const struct q2_image *img)
{
	const struct q2_bitmaps_ext *bx = q2_image_bitmaps(img);

	return bx && (img->header.autoclear_features & Q2_AUTOCLEAR_BITMAPS);
}

static struct q2_owner owner(enum q2_owner_kind kind, uint64_t start, uint64_t length)
{
	return (struct q2_owner){
		.kind = kind, .start = start, .length = length,
		.snapshot = Q2_NO_INDEX, .bitmap = Q2_NO_INDEX,
		.index = Q2_NO_INDEX64, .times = 1,
	};
}

static void span(struct walk *w, const struct q2_owner *o)
{
	/* qemu-img check counts nothing for a region of no bytes */
	if (o->length)
		w->h->span(w->ctx, o);
}


/* Data clusters that follow each other in the file and in the guest
 * go out as one span (a run): one call, and one count per cluster in a
 * tight loop, where a preallocated disk has millions of them. */
struct data_run {
	struct q2_owner o;
	bool open;
};

static void run_flush(struct walk *w, struct data_run *run)
{
	if (run->open)
		span(w, &run->o);
	run->open = false;
}

static void run_add(struct walk *w, struct data_run *run, const struct q2_owner *o)
{
	if (run->open && o->start == run->o.start + run->o.length &&
	    o->guest == run->o.guest + run->o.length && o->times == run->o.times &&
	    !((o->entry ^ run->o.entry) & Q2_OFLAG_COPIED) && !(o->start & (w->cs - 1u))) {
		run->o.length += o->length;
		return;
	}
	run_flush(w, run);
	if (o->start & (w->cs - 1u)) {
		span(w, o);   /* an unaligned one alone: it spans two clusters */
		return;
	}
	run->o = *o;
	run->open = true;
}

/* The entries of one L2 table, as check_refcounts_l2 takes them. */
static void walk_l2(struct walk *w, const struct q2_guest *g, const uint8_t *t,
		    const struct q2_owner *table, bool active)
{
	uint64_t next_contiguous = 0;
	size_t esize = g->extended ? 16u : 8u;
	struct data_run run = { .open = false };

	uint64_t guest0 = (table->index * g->l2_entries) << w->bits;
	/* what makes an entry other than a plain allocated cluster */
	uint64_t odd = Q2_OFLAG_COMPRESSED | L2E_STD_RESERVED_MASK | (w->cs - 1u);

	/* standard entries of the image's own clusters: runs are taken
	 * whole in the tight loop below */
	bool tight = !g->extended && !w->data_file && table->times == 1;

	for (uint64_t k = 0; k < g->l2_entries; k++) {
		uint64_t e, bm, at, host;
		struct q2_owner o;

		/* a run goes on while each entry is exactly the next cluster
		 * (its COPIED alike; the zero flag of a cluster kept allowed) */
		if (tight && run.open &&
		    guest0 + (k << w->bits) == run.o.guest + run.o.length) {
			uint64_t want = (run.o.entry & Q2_OFLAG_COPIED) |
					(run.o.start + run.o.length), k0 = k;

			while (k < g->l2_entries &&
			       (get_be64(t + k * 8u) & ~Q2_OFLAG_ZERO) == want) {
				want += w->cs;
				k++;
			}
			if (k > k0) {
				run.o.length += (k - k0) << w->bits;
				if (active) {
					/* following each other: none fragmented */
					w->frag->allocated += k - k0;
					next_contiguous = run.o.start + run.o.length;
				}
				if (k == g->l2_entries)
					break;
			}
		}
		e = q2_l2_entry(g, t, k);
		bm = q2_l2_bitmap(g, t, k);
		host = e & Q2_L2E_OFFSET_MASK;
		if (!e && !bm)
			continue;
		/* the common case, on a path of its own: a cluster of the
		 * image, aligned, continuing the run (a preallocated disk
		 * has millions in a row) */
		if (host && !(e & odd & ~Q2_OFLAG_ZERO) && !(host & (w->cs - 1u)) &&
		    !w->data_file && !((bm >> 32) & bm) && run.open && table->times == 1 &&
		    !((e ^ run.o.entry) & Q2_OFLAG_COPIED) &&
		    host == run.o.start + run.o.length &&
		    guest0 + (k << w->bits) == run.o.guest + run.o.length &&
		    run.o.snapshot == table->snapshot) {
			if (active) {
				w->frag->allocated++;
				if (next_contiguous && host != next_contiguous)
					w->frag->fragmented++;
				next_contiguous = host + w->cs;
			}
			run.o.length += w->cs;
			continue;
		}
		at = table->start + k * esize;
		o = owner(Q2_O_DATA, host, w->cs);
		o.snapshot = table->snapshot;
		o.guest = guest0 + (k << w->bits);
		o.entry = e;
		o.times = table->times;
		if (!(e & Q2_OFLAG_COMPRESSED) && (e & L2E_STD_RESERVED_MASK))
			defect(w, Q2_D_CORRUPTION, Q2_C_L2_ENTRY_RESERVED, at, &o,
			       "entry 0x%016" PRIx64, e);
		if (e & Q2_OFLAG_COMPRESSED) {
			if (e & Q2_OFLAG_COPIED) {
				defect(w, Q2_D_CORRUPTION, Q2_C_COMPRESSED_COPIED, at, &o,
				       "entry 0x%016" PRIx64, e);
				e &= ~Q2_OFLAG_COPIED;
			}
			if (w->data_file) {
				defect(w, Q2_D_CORRUPTION, Q2_C_COMPRESSED_WITH_DATA_FILE,
				       at, &o, "entry 0x%016" PRIx64, e);
				continue;
			}
			if (bm) {
				defect(w, Q2_D_CORRUPTION, Q2_C_COMPRESSED_SUBCLUSTER_BITMAP,
				       at, &o, "bitmap 0x%016" PRIx64, bm);
				continue;
			}
			o.kind = Q2_O_COMPRESSED;
			o.entry = e;
			q2_compressed_span(w->bits, e, &o.start, &o.length);
			run_flush(w, &run);
			span(w, &o);
			if (active) {
				w->frag->allocated += table->times;
				w->frag->compressed += table->times;
				w->frag->fragmented += table->times;
			}
			continue;
		}
		if (!g->extended && (e & Q2_OFLAG_ZERO) && !host)
			continue;   /* a plain zero cluster: nothing on disk */
		if (!host && !(w->data_file && (e & Q2_OFLAG_COPIED))) {
			/* unallocated */
			if (bm & 0xffffffffull)
				defect(w, Q2_D_CORRUPTION, Q2_C_SUBCLUSTER_BITMAP_INVALID,
				       at, &o, "unallocated, bitmap 0x%016" PRIx64, bm);
			continue;
		}
		/* a normal cluster, or a zero one that keeps its host cluster */
		if ((bm >> 32) & bm)
			defect(w, Q2_D_CORRUPTION, Q2_C_SUBCLUSTER_BITMAP_INVALID, at, &o,
			       "allocated and zero at once, bitmap 0x%016" PRIx64, bm);
		if (host & (w->cs - 1u))
			defect(w, Q2_D_CORRUPTION, Q2_C_DATA_CLUSTER_UNALIGNED, at, &o,
			       "host offset 0x%" PRIx64, host);
		if (active) {
			w->frag->allocated += table->times;
			if (next_contiguous && host != next_contiguous)
				w->frag->fragmented += table->times;
			next_contiguous = host + w->cs;
		}
		if (!w->data_file)
			run_add(w, &run, &o);
	}
	run_flush(w, &run);
}

/* The cluster at offset 0, as an L2 table (NULL: out of memory or a
 * read failed, a problem added). */
static uint8_t *read_at_zero(struct walk *w)
{
	uint64_t n = w->r->size < w->cs ? w->r->size : w->cs;
	uint8_t *t = calloc(1, (size_t)w->cs);
	enum q2_code code;
	int err;

	if (!t) {
		q2_problems_add(w->problems, Q2_C_NOMEM, 0, Q2_NO_INDEX, Q2_FROM_DECODE, NULL);
		return NULL;
	}
	if (n && !q2_read(w->r, 0, t, (size_t)n, &code, &err)) {
		q2_problems_add_decode(w->problems, code, Q2_W_FILE, Q2_NO_INDEX, 0, err,
				       Q2_NO_INDEX);
		free(t);
		return NULL;
	}
	return t;
}

struct l1_ref {
	uint64_t l2;
	uint32_t index;
};

static int by_table(const void *a, const void *b, const void *arg)
{
	const struct l1_ref *x = a, *y = b;

	(void)arg;
	if (x->l2 != y->l2)
		return x->l2 < y->l2 ? -1 : 1;
	return (x->index > y->index) - (x->index < y->index);
}

/* Per entry of g's L1: how many entries name its L2 table when it is
 * the first to, 0 when an earlier one does (or it is 0), so that a
 * table named over and over is walked once for all; NULL when out of
 * memory. */
static uint32_t *table_times(const struct q2_guest *g)
{
	uint32_t *times = calloc(g->l1_size ? g->l1_size : 1u, sizeof *times);
	struct l1_ref *refs = malloc((g->l1_in_file ? g->l1_in_file : 1u) * sizeof *refs);
	size_t n = 0;

	if (!times || !refs) {
		free(times);
		free(refs);
		return NULL;
	}
	for (uint32_t i = 0; i < g->l1_in_file; i++)
		if (g->l1[i])
			refs[n++] = (struct l1_ref){ g->l1[i] & Q2_L1E_OFFSET_MASK, i };
	q2_sort(refs, n, sizeof *refs, by_table, NULL);
	for (size_t k = 0; k < n;) {
		size_t j = k;

		while (j < n && refs[j].l2 == refs[k].l2)
			j++;
		times[refs[k].index] = (uint32_t)(j - k);
		k = j;
	}
	free(refs);
	return times;
}

/* An L1 table and what it names, as check_refcounts_l1 takes them;
 * false when the check stops (a read failed). */
static bool walk_l1(struct walk *w, uint64_t l1_offset, uint32_t l1_size,
		    uint32_t snapshot)
{
	struct q2_owner o = owner(snapshot == Q2_NO_INDEX ? Q2_O_L1 : Q2_O_SNAPSHOT_L1,
				  l1_offset, (uint64_t)l1_size * Q2_L1_ENTRY_SIZE);
	struct q2_guest g;
	bool active = snapshot == Q2_NO_INDEX;
	uint8_t *zero_table = NULL;
	uint32_t *times;

	uint64_t in_file = 0;

	if (!l1_size)
		return true;
	o.snapshot = snapshot;
	span(w, &o);
	/* the entries past the end of the file read as 0: only those in
	 * it are read, and paid for (65536 snapshots naming one L1 table
	 * of QEMU's largest are a hostile file's, not a sound one's) */
	if (l1_offset < w->r->size)
		in_file = (w->r->size - l1_offset + Q2_L1_ENTRY_SIZE - 1u) / Q2_L1_ENTRY_SIZE;
	if (in_file > l1_size)
		in_file = l1_size;
	if (!in_file)
		return true;
	if (!spend(w, in_file, &o))
		return false;
	if (!q2_guest_open(&g, w->r, w->img, l1_offset, (uint32_t)in_file, w->problems)) {
		defect(w, Q2_D_FATAL, Q2_C_CHECK_FAILED, l1_offset, &o,
		       "the L1 table at 0x%" PRIx64 " cannot be read", l1_offset);
		return false;
	}
	times = table_times(&g);
	if (!times) {
		q2_problems_add(w->problems, Q2_C_NOMEM, 0, Q2_NO_INDEX, Q2_FROM_DECODE, NULL);
		q2_guest_close(&g);
		return false;
	}
	for (uint32_t i = 0; i < g.l1_size; i++) {
		uint64_t e = g.l1[i], l2 = e & Q2_L1E_OFFSET_MASK;
		struct q2_owner t = owner(Q2_O_L2, l2, w->cs);
		const uint8_t *table;

		if (!e)
			continue;
		t.snapshot = snapshot;
		t.index = i;
		t.entry = e;
		if (e & L1E_RESERVED_MASK)
			defect(w, Q2_D_CORRUPTION, Q2_C_L1_ENTRY_RESERVED,
			       l1_offset + (uint64_t)i * Q2_L1_ENTRY_SIZE, &t,
			       "entry %" PRIu32 ": 0x%016" PRIx64, i, e);
		span(w, &t);
		if (l2 & (w->cs - 1u))
			defect(w, Q2_D_CORRUPTION, Q2_C_L2_TABLE_UNALIGNED,
			       l1_offset + (uint64_t)i * Q2_L1_ENTRY_SIZE, &t,
			       "L1 entry %" PRIu32 ": 0x%" PRIx64, i, l2);
		/* a table an earlier entry names too was walked for both;
		 * one wholly past the end of the file reads as zeroes */
		if (!times[i] || l2 >= w->r->size)
			continue;
		t.times = times[i];
		if (!spend(w, g.l2_entries, &t))
			goto stop;
		/* an entry whose offset bits are 0 names the table at 0:
		 * qemu-img check reads the header cluster as one */
		if (!l2 && !zero_table)
			zero_table = read_at_zero(w);
		table = l2 ? q2_guest_table(&g, i, w->problems) : zero_table;
		if (!table) {
			defect(w, Q2_D_FATAL, Q2_C_CHECK_FAILED, l2, &t,
			       "the L2 table at 0x%" PRIx64 " cannot be read", l2);
			goto stop;
		}
		walk_l2(w, &g, table, &t, active);
	}
	q2_guest_close(&g);
	free(zero_table);
	free(times);
	return true;
stop:
	q2_guest_close(&g);
	free(zero_table);
	free(times);
	return false;
}

static bool walk_snapshots(struct walk *w)
{
	const struct q2_snapshot_table *t = w->img->snapshots;
	const struct q2_header *h = &w->img->header;

	if (!t)
		return true;
	if (w->data_file && t->n) {
		struct q2_owner o = owner(Q2_O_SNAPSHOT_TABLE, h->snapshot_offset, t->size);

		defect(w, Q2_D_CORRUPTION, Q2_C_SNAPSHOTS_WITH_DATA_FILE,
		       h->snapshot_offset, &o, "%zu snapshots", t->n);
	}
	for (uint32_t i = 0; i < t->n; i++) {
		const struct q2_snapshot *sn = &t->v[i];
		struct q2_owner o = owner(Q2_O_SNAPSHOT_L1, sn->l1_table_offset,
					  (uint64_t)sn->l1_size * Q2_L1_ENTRY_SIZE);

		o.snapshot = i;
		if (sn->l1_table_offset & (w->cs - 1u)) {
			defect(w, Q2_D_CORRUPTION, Q2_C_SNAPSHOT_L1_UNALIGNED,
			       sn->entry_offset, &o, "snapshot %" PRIu32, i);
			continue;
		}
		if (sn->l1_size > Q2_MAX_L1_BYTES / Q2_L1_ENTRY_SIZE) {
			defect(w, Q2_D_CORRUPTION, Q2_C_SNAPSHOT_L1_TOO_LARGE,
			       sn->entry_offset, &o, "snapshot %" PRIu32, i);
			continue;
		}
		/* QEMU's block layer fails a read reaching past
		 * BDRV_MAX_LENGTH, and the check with it */
		if (sn->l1_size && (sn->l1_table_offset > BDRV_MAX_LENGTH ||
				    BDRV_MAX_LENGTH - sn->l1_table_offset <
				    (uint64_t)sn->l1_size * Q2_L1_ENTRY_SIZE)) {
			span(w, &o);
			defect(w, Q2_D_FATAL, Q2_C_CHECK_FAILED, sn->entry_offset, &o,
			       "the L1 table of snapshot %" PRIu32 " at 0x%" PRIx64
			       " lies beyond what QEMU can read: I/O error", i, sn->l1_table_offset);
			return false;
		}
		if (!walk_l1(w, sn->l1_table_offset, sn->l1_size, i))
			return false;
	}
	if (t->n) {
		struct q2_owner o = owner(Q2_O_SNAPSHOT_TABLE, h->snapshot_offset, t->size);

		span(w, &o);
	}
	return true;
}

/* check_table_entry: what bitmap_table_load refuses */
static bool bitmap_entry_bad(uint64_t e, uint64_t cs)
{
	uint64_t off = e & BME_OFFSET_MASK;

	if (e & BME_RESERVED_MASK)
		return true;
	return off && ((e & BME_ALL_ONES) || (off & (cs - 1u)));
}

/* One bitmap's table and data clusters, read from the file (not from
 * the model, which may hold a part of it): QEMU loads the whole table,
 * and one entry it refuses stops the check. */
static bool walk_bitmap(struct walk *w, const struct q2_bitmap *bm, uint32_t i,
			uint32_t times)
{
	uint64_t n = bm->bitmap_table_size, at = bm->bitmap_table_offset;
	struct q2_owner o = owner(Q2_O_BITMAP_TABLE, at, n * Q2_BTE_SIZE);
	uint8_t *buf;
	bool ok = true;

	o.bitmap = i;
	o.times = times;
	span(w, &o);
	/* the entries past the end of the file are 0: valid, naming
	 * nothing */
	if (at >= w->r->size)
		return true;
	if (n > (w->r->size - at + Q2_BTE_SIZE - 1u) / Q2_BTE_SIZE)
		n = (w->r->size - at + Q2_BTE_SIZE - 1u) / Q2_BTE_SIZE;
	if (!spend(w, n, &o))
		return false;
	buf = malloc(BME_CHUNK * Q2_BTE_SIZE);
	if (!buf) {
		q2_problems_add(w->problems, Q2_C_NOMEM, 0, Q2_NO_INDEX, Q2_FROM_DECODE, NULL);
		return false;
	}
	/* two passes, as QEMU loads the table before it counts from it:
	 * a bad entry anywhere counts no data cluster */
	for (int pass = 0; pass < 2 && ok; pass++)
		for (uint64_t k = 0; k < n && ok; k += BME_CHUNK) {
			uint64_t m = n - k < BME_CHUNK ? n - k : BME_CHUNK;
			uint64_t off = at + k * Q2_BTE_SIZE, in_file = 0;
			enum q2_code code;
			int err;

			/* bytes; an entry the end of the file cuts reads as
			 * its bytes, then zeroes */
			if (off < w->r->size)
				in_file = w->r->size - off;
			if (in_file > m * Q2_BTE_SIZE)
				in_file = m * Q2_BTE_SIZE;
			memset(buf, 0, (size_t)(m * Q2_BTE_SIZE));
			if (in_file && !q2_read(w->r, off, buf, (size_t)in_file,
						&code, &err)) {
				defect(w, Q2_D_FATAL, Q2_C_CHECK_FAILED, off, &o,
				       "the table of bitmap %" PRIu32 " cannot be read", i);
				ok = false;
				break;
			}
			for (uint64_t j = 0; j < m; j++) {
				uint64_t e = get_be64(buf + j * Q2_BTE_SIZE);
				struct q2_owner d = owner(Q2_O_BITMAP_DATA,
							  e & BME_OFFSET_MASK, w->cs);

				if (pass == 0) {
					if (bitmap_entry_bad(e, w->cs)) {
						defect(w, Q2_D_FATAL, Q2_C_CHECK_FAILED,
						       off + j * Q2_BTE_SIZE, &o,
						       "bitmap %" PRIu32 " table entry %" PRIu64
						       " is invalid (0x%016" PRIx64 "): QEMU fails to load the table",
						       i, k + j, e);
						ok = false;
						break;
					}
					continue;
				}
				if (!d.start)
					continue;
				d.bitmap = i;
				d.index = k + j;
				d.entry = e;
				d.times = times;
				span(w, &d);
			}
		}
	free(buf);
	return ok;
}

struct bm_ref {
	uint64_t offset, size;
	uint32_t index;
};

static int by_bitmap_table(const void *a, const void *b, const void *arg)
{
	const struct bm_ref *x = a, *y = b;

	(void)arg;
	if (x->offset != y->offset)
		return x->offset < y->offset ? -1 : 1;
	if (x->size != y->size)
		return x->size < y->size ? -1 : 1;
	return (x->index > y->index) - (x->index < y->index);
}

/* Per bitmap: how many bitmaps name its table (the same offset and
 * size) when it is the first to, else 0; NULL when out of memory. */
static uint32_t *bitmap_times(const struct q2_bitmaps_ext *bx)
{
	uint32_t *times = calloc(bx->n_bitmaps ? bx->n_bitmaps : 1u, sizeof *times);
	struct bm_ref *refs = malloc((bx->n_bitmaps ? bx->n_bitmaps : 1u) * sizeof *refs);

	if (!times || !refs) {
		free(times);
		free(refs);
		return NULL;
	}
	for (uint32_t i = 0; i < bx->n_bitmaps; i++)
		refs[i] = (struct bm_ref){ bx->bitmaps[i].bitmap_table_offset,
					   bx->bitmaps[i].bitmap_table_size, i };
	q2_sort(refs, bx->n_bitmaps, sizeof *refs, by_bitmap_table, NULL);
	for (size_t k = 0; k < bx->n_bitmaps;) {
		size_t j = k;

		while (j < bx->n_bitmaps && refs[j].offset == refs[k].offset &&
		       refs[j].size == refs[k].size)
			j++;
		times[refs[k].index] = (uint32_t)(j - k);
		k = j;
	}
	free(refs);
	return times;
}

static bool walk_bitmaps(struct walk *w)
{
	const struct q2_bitmaps_ext *bx = q2_image_bitmaps(w->img);
	struct q2_owner o;
	uint32_t *times;

	if (!q2_refwalk_sees_bitmaps(w->img) || !bx->nb_bitmaps)
		return true;
	o = owner(Q2_O_BITMAP_DIR, bx->bitmap_directory_offset, bx->bitmap_directory_size);
	span(w, &o);
	if (!bx->dir_decoded || bx->n_bitmaps != bx->nb_bitmaps) {
		/* QEMU refuses the image at open for this already */
		defect(w, Q2_D_FATAL, Q2_C_CHECK_FAILED, bx->bitmap_directory_offset, &o,
		       "the bitmap directory cannot be loaded");
		return false;
	}
	times = bitmap_times(bx);
	if (!times) {
		q2_problems_add(w->problems, Q2_C_NOMEM, 0, Q2_NO_INDEX, Q2_FROM_DECODE, NULL);
		return false;
	}
	for (uint32_t i = 0; i < bx->n_bitmaps; i++)
		if (times[i] && !walk_bitmap(w, &bx->bitmaps[i], i, times[i])) {
			free(times);
			return false;
		}
	free(times);
	return true;
}

/* The refcount blocks, as check_refblocks takes them: whether one lies
 * outside the image is the counter's to say (the image grows with what
 * was counted before). */
static bool walk_refblocks(struct walk *w)
{
	const struct q2_header *h = &w->img->header;
	uint64_t bytes = (uint64_t)h->refcount_table_clusters * w->cs, in_file = 0;
	uint8_t *table;
	enum q2_code code;
	int err;

	if (bytes > MAX_REFTABLE_BYTES)
		bytes = MAX_REFTABLE_BYTES;
	if (h->refcount_table_offset < w->r->size)
		in_file = w->r->size - h->refcount_table_offset;
	if (in_file > bytes)
		in_file = bytes;
	/* an entry the end of the file cuts: its bytes, then zeroes */
	table = calloc(1, (size_t)((in_file + 7u) & ~7ull) + 1u);
	if (!table) {
		q2_problems_add(w->problems, Q2_C_NOMEM, 0, Q2_NO_INDEX, Q2_FROM_DECODE, NULL);
		return false;
	}
	if (in_file && !q2_read(w->r, h->refcount_table_offset, table, (size_t)in_file,
				&code, &err)) {
		struct q2_owner o = owner(Q2_O_REFTABLE, h->refcount_table_offset, bytes);

		defect(w, Q2_D_FATAL, Q2_C_CHECK_FAILED, h->refcount_table_offset, &o,
		       "the refcount table cannot be read");
		free(table);
		return false;
	}
	/* the entries past the file are 0: they name no block */
	for (uint64_t i = 0; i < (in_file + 7u) / 8u; i++) {
		uint64_t e = get_be64(table + i * 8u), off = e & REFT_OFFSET_MASK;
		uint64_t at = h->refcount_table_offset + i * 8u;
		struct q2_owner o = owner(Q2_O_REFBLOCK, off, w->cs);

		o.index = i;
		o.entry = e;
		if (e & REFT_RESERVED_MASK) {
			defect(w, Q2_D_CORRUPTION, Q2_C_REFCOUNT_BLOCK_RESERVED, at, &o,
			       "entry %" PRIu64 ": 0x%016" PRIx64, i, e);
			continue;
		}
		if (off & (w->cs - 1u)) {
			defect(w, Q2_D_CORRUPTION, Q2_C_REFCOUNT_BLOCK_UNALIGNED, at, &o,
			       "entry %" PRIu64 ": 0x%" PRIx64, i, off);
			continue;
		}
		if (off)
			span(w, &o);
	}
	free(table);
	return true;
}

bool q2_refwalk(const struct q2_reader *r, const struct q2_image *img,
		const struct q2_walk_opts *opts, const struct q2_walk_hooks *hooks,
		void *ctx, struct q2_frag *frag, struct q2_problems *problems)
{
	const struct q2_header *h = &img->header;
	struct q2_frag unused;
	struct walk w = {
		.r = r, .img = img, .h = hooks, .ctx = ctx,
		.frag = frag ? frag : &unused, .problems = problems,
		.bits = h->cluster_bits, .cs = 1ull << h->cluster_bits,
		.data_file = q2_has_data_file(img),
		.budget = r->size / 2u > UINT64_MAX - BUDGET_FLOOR ? UINT64_MAX
			  : BUDGET_FLOOR + r->size / 2u,
	};
	struct q2_owner o;

	memset(w.frag, 0, sizeof *w.frag);
	/* a header QEMU refuses for its sizes has no layout to walk */
	if (!q2_image_has_layout(img))
		return false;
	o = owner(Q2_O_HEADER, 0, w.cs);
	span(&w, &o);
	if (!opts->no_guest && !walk_l1(&w, h->l1_table_offset, h->l1_size, Q2_NO_INDEX))
		return false;
	if (opts->no_guest) {
		o = owner(Q2_O_L1, h->l1_table_offset, (uint64_t)h->l1_size * Q2_L1_ENTRY_SIZE);
		span(&w, &o);
	}
	if (!opts->no_guest && !walk_snapshots(&w))
		return false;
	o = owner(Q2_O_REFTABLE, h->refcount_table_offset,
		  (uint64_t)h->refcount_table_clusters * w.cs);
	span(&w, &o);
	for (size_t i = 0; i < img->n_exts; i++)
		if (img->exts[i].has_crypto && img->exts[i].crypto_length) {
			o = owner(Q2_O_CRYPTO, img->exts[i].crypto_offset,
				  img->exts[i].crypto_length);
			span(&w, &o);
		}
	if (!walk_bitmaps(&w))
		return false;
	if (!opts->no_refblocks && !walk_refblocks(&w))
		return false;
	return true;
}
