#include "config.h"

#include "guest.h"

#include <inttypes.h>
#include <limits.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "be.h"
#include "sort.h"

/* one table of a batch to read (load_l2) */
struct slot_read {
	const struct q2_reader *r;
	uint64_t off;
	uint8_t *dst;
	size_t len;
	enum q2_code code;
	int err;
	bool ok;
};

void q2_compressed_span(unsigned cluster_bits, uint64_t entry,
			uint64_t *offset, uint64_t *length)
{
	/* the sector count takes the bits above the offset's, up to 61 */
	unsigned shift = 62u - (cluster_bits - 8u);
	uint64_t sectors = ((entry >> shift) & ((1ull << (cluster_bits - 8u)) - 1u)) + 1u;

	*offset = entry & ((1ull << shift) - 1u);
	*length = sectors * 512u - (*offset & 511u);
}

enum q2_gtype q2_guest_type(bool extended, bool data_file, uint64_t entry,
			    uint64_t bitmap, unsigned sc)
{
	bool has_host;

	if (entry & Q2_OFLAG_COMPRESSED)
		return Q2_G_COMPRESSED;
	if (!extended && (entry & Q2_OFLAG_ZERO))
		return entry & Q2_L2E_OFFSET_MASK ? Q2_G_ZERO_ALLOC : Q2_G_ZERO_PLAIN;
	/* offset 0 is a valid host offset in an external data file: there
	 * COPIED tells an allocated cluster from an unallocated one */
	has_host = (entry & Q2_L2E_OFFSET_MASK) ||
		   (data_file && (entry & Q2_OFLAG_COPIED));
	if (!extended)
		return has_host ? Q2_G_NORMAL : Q2_G_UNALLOCATED;
	if (has_host) {
		if ((bitmap >> 32) & bitmap)
			return Q2_G_INVALID;
		if (bitmap & (1ull << (32u + sc)))
			return Q2_G_ZERO_ALLOC;
		if (bitmap & (1ull << sc))
			return Q2_G_NORMAL;
		return Q2_G_UNALLOCATED_ALLOC;
	}
	if (bitmap & 0xffffffffull)
		return Q2_G_INVALID;
	if (bitmap & (1ull << (32u + sc)))
		return Q2_G_ZERO_PLAIN;
	return Q2_G_UNALLOCATED;
}

static bool has_host_cluster(enum q2_gtype t)
{
	return t == Q2_G_NORMAL || t == Q2_G_ZERO_ALLOC || t == Q2_G_UNALLOCATED_ALLOC;
}

struct l1_ref {
	uint64_t l2;
	uint32_t index;
};

static int by_l2(const void *a, const void *b, const void *arg)
{
	const struct l1_ref *x = a, *y = b;

	(void)arg;
	if (x->l2 != y->l2)
		return x->l2 < y->l2 ? -1 : 1;
	return (x->index > y->index) - (x->index < y->index);
}

/* Marks each L1 entry whose L2 table an earlier entry names: one sort
 * of the entries held.  false when out of memory. */
static bool find_shared(struct q2_guest *g, uint64_t n)
{
	struct l1_ref *refs = malloc((n ? n : 1) * sizeof *refs);
	size_t k = 0;

	g->shared = calloc(n ? n : 1, 1);
	if (!refs || !g->shared) {
		free(refs);
		return false;
	}
	for (uint64_t i = 0; i < n; i++) {
		uint64_t l2 = g->l1[i] & Q2_L1E_OFFSET_MASK;

		if (l2)
			refs[k++] = (struct l1_ref){ l2, (uint32_t)i };
	}
	q2_sort(refs, k, sizeof *refs, by_l2, NULL);
	for (size_t i = 1; i < k; i++)
		if (refs[i].l2 == refs[i - 1].l2)
			g->shared[refs[i].index] = 1;
	free(refs);
	return true;
}

bool q2_guest_open(struct q2_guest *g, const struct q2_reader *r,
		   const struct q2_image *img, uint64_t l1_offset,
		   uint32_t l1_size, struct q2_problems *problems)
{
	const struct q2_header *h = &img->header;
	uint64_t in_file = 0, want;
	enum q2_code code;
	int err;

	memset(g, 0, sizeof *g);
	g->r = r;
	g->img = img;
	g->cluster_bits = h->cluster_bits;
	g->cs = 1ull << h->cluster_bits;
	g->extended = q2_has_extended_l2(img);
	g->data_file = q2_has_data_file(img);
	g->v2 = h->version < 3;
	g->l2_entries = g->cs / (g->extended ? Q2_L2_ENTRY_EXTENDED_SIZE : Q2_L2_ENTRY_SIZE);
	g->sc_bits = g->extended ? h->cluster_bits - 5u : h->cluster_bits;
	g->file_bytes = (r->size + 511u) & ~(uint64_t)511;
	/* QEMU refuses a larger L1 at open; the judge says so */
	want = l1_size;
	if (want > Q2_MAX_L1_BYTES / Q2_L1_ENTRY_SIZE)
		want = Q2_MAX_L1_BYTES / Q2_L1_ENTRY_SIZE;
	g->l1_size = (uint32_t)want;
	/* an entry the end of the file cuts reads as its bytes in the
	 * file, zeroes after them, as QEMU's read fills it */
	if (l1_offset < r->size)
		in_file = (r->size - l1_offset + Q2_L1_ENTRY_SIZE - 1u) / Q2_L1_ENTRY_SIZE;
	if (in_file > want)
		in_file = want;
	g->l1 = calloc(want ? want : 1, sizeof *g->l1);
	g->run_cap = g->cs > Q2_L2_RUN ? (size_t)g->cs : Q2_L2_RUN;
	g->n_slots = (size_t)(g->run_cap / g->cs);
	/* aligned, so that O_DIRECT reads go straight into it */
	g->run = aligned_alloc(Q2_DIRECT_ALIGN, g->run_cap);
	g->slot_at = calloc(g->n_slots, sizeof *g->slot_at);
	g->reads = calloc(g->n_slots, sizeof *g->reads);
	if (!g->l1 || !g->run || !g->slot_at || !g->reads) {
		q2_problems_add(problems, Q2_C_NOMEM, 0, Q2_NO_INDEX,
				Q2_FROM_DECODE, NULL);
		q2_guest_close(g);
		return false;
	}
	if (in_file) {
		uint8_t *raw = (uint8_t *)g->l1;

		uint64_t bytes = in_file * Q2_L1_ENTRY_SIZE;

		if (bytes > r->size - l1_offset)
			bytes = r->size - l1_offset;
		if (!q2_read(r, l1_offset, raw, (size_t)bytes, &code, &err)) {
			q2_problems_add_decode(problems, code, Q2_W_FILE, Q2_NO_INDEX,
					       l1_offset, err, Q2_NO_INDEX);
			q2_guest_close(g);
			return false;
		}
		/* in place, from the front: entry i's bytes are read before
		 * entry i is written */
		for (uint64_t i = 0; i < in_file; i++)
			g->l1[i] = get_be64(raw + i * Q2_L1_ENTRY_SIZE);
	}
	/* the entries past the file are 0: they share nothing */
	if (!find_shared(g, in_file)) {
		q2_problems_add(problems, Q2_C_NOMEM, 0, Q2_NO_INDEX,
				Q2_FROM_DECODE, NULL);
		q2_guest_close(g);
		return false;
	}
	g->l1_in_file = (uint32_t)in_file;
	return true;
}

void q2_guest_close(struct q2_guest *g)
{
	free(g->l1);
	free(g->run);
	free(g->slot_at);
	free(g->reads);
	free(g->shared);
	g->l1 = NULL;
	g->l2 = NULL;
	g->run = NULL;
	g->slot_at = NULL;
	g->reads = NULL;
	g->shared = NULL;
	g->l2_at = 0;
}



struct batch {
	struct slot_read *v;
	size_t n, next;
	pthread_mutex_t lock;
};

/* a reader thread: slots taken one at a time until none is left */
static void *read_slots(void *arg)
{
	struct batch *b = arg;

	for (;;) {
		struct slot_read *s;

		pthread_mutex_lock(&b->lock);
		s = b->next < b->n ? &b->v[b->next++] : NULL;
		pthread_mutex_unlock(&b->lock);
		if (!s)
			return NULL;
		s->ok = q2_read(s->r, s->off, s->dst, s->len, &s->code, &s->err);
	}
}

/* Reads the slots: at once, by up to Q2_L2_THREADS threads, where the
 * reader takes each straight into its slot (O_DIRECT, whole blocks, so
 * no shared window); else one after the other. */
static void read_batch(const struct q2_reader *r, struct slot_read *v, size_t n)
{
	struct batch b = { .v = v, .n = n };
	pthread_t threads[Q2_L2_THREADS];
	size_t started = 0;
	bool parallel = q2_reader_direct(r) && n > 1;

	for (size_t k = 0; k < n && parallel; k++)
		parallel = !((v[k].off | v[k].len | (uintptr_t)v[k].dst) &
			     (Q2_DIRECT_ALIGN - 1u));
	if (parallel && pthread_mutex_init(&b.lock, NULL) == 0) {
		while (started < Q2_L2_THREADS && started < n &&
		       pthread_create(&threads[started], NULL, read_slots, &b) == 0)
			started++;
		read_slots(&b);
		for (size_t t = 0; t < started; t++)
			pthread_join(threads[t], NULL);
		pthread_mutex_destroy(&b.lock);
		return;
	}
	for (size_t k = 0; k < n; k++)
		v[k].ok = q2_read(r, v[k].off, v[k].dst, v[k].len, &v[k].code, &v[k].err);
}

/* Whether L1 entry i names a table worth reading ahead: aligned, in the
 * file, not one read already in this batch. */
static bool worth_reading(const struct q2_guest *g, uint64_t i, size_t n)
{
	uint64_t off = g->l1[i] & Q2_L1E_OFFSET_MASK;

	if (!off || (off & (g->cs - 1u)) || off >= g->r->size ||
	    g->r->size - off < g->cs || (i < g->l1_in_file && g->shared[i]))
		return false;
	for (size_t k = 0; k < n; k++)
		if (g->slot_at[k] == off)
			return false;
	return true;
}

/* The L2 table at off (named by L1 entry l1_index) as g->l2, read with
 * those the next L1 entries name (see struct q2_guest); the part past
 * the end of the file reads as zeroes, as QEMU's reads do. */
static bool load_l2(struct q2_guest *g, uint64_t l1_index, uint64_t off,
		    struct q2_problems *problems)
{
	struct slot_read *reads = g->reads;
	size_t n = 1;
	uint64_t in_file = 0;

	if (g->l2_at == off)
		return true;
	for (size_t k = 0; k < g->n_slots; k++)
		if (g->slot_at[k] == off) {
			g->l2 = g->run + k * g->cs;
			g->l2_at = off;
			return true;
		}
	g->l2_at = 0;
	memset(g->slot_at, 0, g->n_slots * sizeof *g->slot_at);
	if (off < g->r->size)
		in_file = g->r->size - off < g->cs ? g->r->size - off : g->cs;
	reads[0] = (struct slot_read){ .r = g->r, .off = off, .dst = g->run,
				       .len = (size_t)in_file };
	g->slot_at[0] = off;
	for (uint64_t i = l1_index + 1; i < g->l1_size && n < g->n_slots; i++) {
		if (!worth_reading(g, i, n))
			continue;
		g->slot_at[n] = g->l1[i] & Q2_L1E_OFFSET_MASK;
		reads[n] = (struct slot_read){ .r = g->r, .off = g->slot_at[n],
					      .dst = g->run + n * g->cs,
					      .len = (size_t)g->cs };
		n++;
	}
	read_batch(g->r, reads, in_file ? n : 0);
	for (size_t k = 0; k < n; k++) {
		if (!in_file || reads[k].ok)
			continue;
		g->slot_at[k] = 0;
		if (k == 0) {
			q2_problems_add_decode(problems, reads[0].code, Q2_W_FILE,
					       Q2_NO_INDEX, off, reads[0].err, Q2_NO_INDEX);
			return false;
		}
	}
	memset(g->run + in_file, 0, (size_t)(g->cs - in_file));
	g->l2 = g->run;
	g->l2_at = off;
	return true;
}

const uint8_t *q2_guest_table(struct q2_guest *g, uint32_t i,
			      struct q2_problems *problems)
{
	uint64_t off = i < g->l1_size ? g->l1[i] & Q2_L1E_OFFSET_MASK : 0;

	if (!off || !load_l2(g, i, off, problems))
		return NULL;
	return g->l2;
}

static uint64_t l2_entry(const struct q2_guest *g, uint64_t i)
{
	return get_be64(g->l2 + i * (g->extended ? 16u : 8u));
}

static uint64_t l2_bitmap(const struct q2_guest *g, uint64_t i)
{
	return g->extended ? get_be64(g->l2 + i * 16u + 8u) : 0;
}

static unsigned ctz32(uint32_t v)
{
	return v ? (unsigned)__builtin_ctz(v) : 32u;
}

static unsigned cto32(uint32_t v)
{
	return ctz32(~v);
}

/* How many subclusters from sc on are of the type of sc, *type that
 * type; -1 for an invalid one (QEMU's qcow2_get_subcluster_range_type). */
static int range_type(const struct q2_guest *g, uint64_t entry, uint64_t bitmap,
		      unsigned sc, enum q2_gtype *type)
{
	uint32_t below = sc ? (uint32_t)((1ull << sc) - 1u) : 0;
	uint32_t val;

	*type = q2_guest_type(g->extended, g->data_file, entry, bitmap, sc);
	if (*type == Q2_G_INVALID)
		return -1;
	if (!g->extended)
		return 1;
	switch (*type) {
	case Q2_G_COMPRESSED:
		return (int)(Q2_SUBCLUSTERS - sc);
	case Q2_G_NORMAL:
		val = (uint32_t)bitmap | below;
		return (int)(cto32(val) - sc);
	case Q2_G_ZERO_PLAIN:
	case Q2_G_ZERO_ALLOC:
		val = (uint32_t)(bitmap >> 32) | below;
		return (int)(cto32(val) - sc);
	default:
		val = ((uint32_t)(bitmap >> 32) | (uint32_t)bitmap) & ~below;
		return (int)(ctz32(val) - sc);
	}
}

/* The file offset of L2 entry i of the table at l2_off. */
static uint64_t entry_at(const struct q2_guest *g, uint64_t l2_off, uint64_t i)
{
	return l2_off + i * (g->extended ? 16u : 8u);
}

/* Whether QEMU's reads span at least a cluster past the end of the file
 * (qemu-img check's "exceeding the end of the file by one cluster or
 * more"). */
static bool beyond_eof(const struct q2_guest *g, uint64_t start, uint64_t len)
{
	return start + len > g->file_bytes && start + len - g->file_bytes >= g->cs;
}

/* L1 entry i names no L2 table QEMU would find anything in: none, or
 * one wholly past the end of the file (read as zeroes: unallocated; an
 * unaligned one is not this, QEMU's read of it fails first). */
static bool no_table(struct q2_guest *g, uint64_t i, struct q2_problems *problems)
{
	uint64_t l2 = i < g->l1_size ? g->l1[i] & Q2_L1E_OFFSET_MASK : 0;

	if (!l2)
		return true;
	if (l2 & (g->cs - 1u) || l2 < g->r->size)
		return false;
	if (!g->told_l2_beyond) {
		g->told_l2_beyond = true;
		q2_problems_addf(problems, Q2_FROM_RUN, Q2_C_L2_TABLE_BEYOND_EOF,
				 g->img->header.l1_table_offset + i * 8u, Q2_NO_INDEX,
				 "L1 index %" PRIu64 ", L2 offset 0x%" PRIx64
				 " (the first such entry)", i, l2);
	}
	return true;
}

/* No L2 table from L1 entry l1_index on: QEMU answers one table's range
 * at a time, each the same, which the map merges; here the run goes on
 * over every L1 entry of 0 (and past the table, to the end) at once, so
 * that a huge disk with little allocated costs what its L1 holds. */
static int unallocated_run(struct q2_guest *g, uint64_t off, uint64_t bytes,
			   uint64_t l1_index, struct q2_grun *run,
			   struct q2_problems *problems)
{
	const unsigned span_bits = g->cluster_bits + (unsigned)__builtin_ctzll(g->l2_entries);
	uint64_t i = l1_index + 1, end;

	while (i < g->l1_size && (i << span_bits) - off < bytes &&
	       no_table(g, i, problems))
		i++;
	end = i < g->l1_size && i < (UINT64_MAX >> span_bits) ? i << span_bits : UINT64_MAX;
	run->length = end - off < bytes ? end - off : bytes;
	return 0;
}

int q2_guest_lookup(struct q2_guest *g, uint64_t off, uint64_t bytes,
		    struct q2_grun *run, struct q2_problems *problems)
{
	const unsigned spc = g->extended ? Q2_SUBCLUSTERS : 1u;
	uint64_t in_cluster = off & (g->cs - 1u);
	uint64_t l2_index = (off >> g->cluster_bits) & (g->l2_entries - 1u);
	uint64_t l1_index = (off >> g->cluster_bits) / g->l2_entries;
	unsigned sc = (unsigned)((off >> g->sc_bits) & (spc - 1u));
	uint64_t needed, available, l2_off, entry, bitmap, expected = 0;
	enum q2_gtype type, first = Q2_G_UNALLOCATED;
	uint64_t nb_clusters, count = 0;
	bool check_offset = false;

	memset(run, 0, sizeof *run);
	run->type = Q2_G_UNALLOCATED;
	if (l1_index >= g->l1_size || no_table(g, l1_index, problems))
		return unallocated_run(g, off, bytes, l1_index, run, problems);
	/* QEMU asks for at most INT_MAX bytes at a time */
	if (bytes > INT_MAX)
		bytes = INT_MAX;
	needed = bytes + in_cluster;
	available = (g->l2_entries - l2_index) << g->cluster_bits;
	if (needed > available)
		needed = available;
	l2_off = g->l1[l1_index] & Q2_L1E_OFFSET_MASK;
	if (l2_off & (g->cs - 1u)) {
		q2_problems_addf(problems, Q2_FROM_DECODE, Q2_C_L2_TABLE_UNALIGNED,
				 g->img->header.l1_table_offset + l1_index * 8u,
				 Q2_NO_INDEX, "L1 index %" PRIu64 ", L2 offset 0x%" PRIx64,
				 l1_index, l2_off);
		return -1;
	}
	if (l1_index < g->l1_in_file && g->shared[l1_index]) {
		q2_problems_addf(problems, Q2_FROM_DECODE, Q2_C_L2_TABLE_SHARED,
				 g->img->header.l1_table_offset + l1_index * 8u,
				 Q2_NO_INDEX, "L1 index %" PRIu64 ", L2 offset 0x%" PRIx64,
				 l1_index, l2_off);
		return -1;
	}
	if (!load_l2(g, l1_index, l2_off, problems))
		return -1;
	entry = l2_entry(g, l2_index);
	bitmap = l2_bitmap(g, l2_index);
	type = q2_guest_type(g->extended, g->data_file, entry, bitmap, sc);
	if (g->v2 && (type == Q2_G_ZERO_PLAIN || type == Q2_G_ZERO_ALLOC)) {
		q2_problems_addf(problems, Q2_FROM_DECODE, Q2_C_ZERO_CLUSTER_IN_V2,
				 entry_at(g, l2_off, l2_index), Q2_NO_INDEX,
				 "guest offset 0x%" PRIx64, off - in_cluster);
		return -1;
	}
	run->type = type;
	if (type == Q2_G_COMPRESSED) {
		if (g->data_file) {
			q2_problems_addf(problems, Q2_FROM_DECODE,
					 Q2_C_COMPRESSED_WITH_DATA_FILE,
					 entry_at(g, l2_off, l2_index), Q2_NO_INDEX,
					 "guest offset 0x%" PRIx64, off - in_cluster);
			return -1;
		}
		q2_compressed_span(g->cluster_bits, entry, &run->host, &run->csize);
	} else if (has_host_cluster(type)) {
		uint64_t hc = entry & Q2_L2E_OFFSET_MASK;

		enum q2_code bad = (hc & (g->cs - 1u)) ? Q2_C_DATA_CLUSTER_UNALIGNED
				   : g->data_file && hc + in_cluster != off
				   ? Q2_C_DATA_FILE_OFFSET_MISMATCH : Q2_CODE_COUNT_;

		run->host = hc + in_cluster;
		if (bad != Q2_CODE_COUNT_) {
			q2_problems_addf(problems, Q2_FROM_DECODE, bad,
					 entry_at(g, l2_off, l2_index), Q2_NO_INDEX,
					 "guest offset 0x%" PRIx64 ", host offset 0x%" PRIx64,
					 off - in_cluster, hc);
			return -1;
		}
	}
	/* the run: QEMU's count_contiguous_subclusters, which meets an
	 * invalid entry before it looks at the type */
	nb_clusters = (needed + g->cs - 1u) >> g->cluster_bits;
	for (uint64_t i = 0; i < nb_clusters; i++) {
		unsigned from = i == 0 ? sc : 0;
		uint64_t e = l2_entry(g, l2_index + i);
		int n = range_type(g, e, l2_bitmap(g, l2_index + i), from, &type);

		if (n < 0) {
			q2_problems_addf(problems, Q2_FROM_DECODE,
					 Q2_C_SUBCLUSTER_BITMAP_INVALID,
					 entry_at(g, l2_off, l2_index + i), Q2_NO_INDEX,
					 "guest offset 0x%" PRIx64,
					 (off - in_cluster) + (i << g->cluster_bits));
			return -1;
		}
		if (i == 0) {
			if (type == Q2_G_COMPRESSED) {
				count = (uint64_t)n;
				break;
			}
			first = type;
			expected = e & Q2_L2E_OFFSET_MASK;
			check_offset = has_host_cluster(type);
		} else if (type != first) {
			break;
		} else if (check_offset) {
			expected += g->cs;
			if (expected != (e & Q2_L2E_OFFSET_MASK))
				break;
		}
		count += (uint64_t)n;
		if (from + (unsigned)n < spc)
			break;
	}
	available = (count + sc) << g->sc_bits;
	/* what qemu-img check calls corrupt QEMU still reads (as zeroes) */
	if (!g->data_file && !g->told_data_beyond &&
	    (run->type == Q2_G_COMPRESSED
	     ? beyond_eof(g, run->host, run->csize)
	     : has_host_cluster(run->type) &&
	       beyond_eof(g, (run->host - in_cluster) +
			     (((count + sc - 1u) >> (g->cluster_bits - g->sc_bits)) << g->cluster_bits),
			  g->cs))) {
		g->told_data_beyond = true;
		q2_problems_addf(problems, Q2_FROM_RUN, Q2_C_GUEST_CLUSTER_BEYOND_EOF,
				 entry_at(g, l2_off, l2_index), Q2_NO_INDEX,
				 "guest offset 0x%" PRIx64 " (the first such entry)",
				 off - in_cluster);
	}
	if (available > needed)
		available = needed;
	run->length = available - in_cluster;
	return 0;
}
