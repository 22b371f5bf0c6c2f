#include "config.h"

#include "ondisk.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "be.h"

#define REFT_OFFSET_MASK 0xfffffffffffffe00ull
/* QEMU refuses a larger refcount table at open */
#define MAX_REFTABLE_BYTES (8ull << 20)


bool q2_ondisk_open(struct q2_ondisk *d, const struct q2_reader *r,
		    const struct q2_image *img)
{
	const struct q2_header *h = &img->header;
	uint64_t cs = 1ull << h->cluster_bits;
	uint64_t bytes = (uint64_t)h->refcount_table_clusters * cs, in_file = 0;
	uint8_t *raw;
	enum q2_code code;
	int err;

	memset(d, 0, sizeof *d);
	if (!q2_image_has_layout(img))
		return false;
	d->r = r;
	d->cluster_bits = h->cluster_bits;
	d->order = h->refcount_order;
	d->block_bits = h->cluster_bits + 3u - h->refcount_order;
	if (bytes > MAX_REFTABLE_BYTES)
		bytes = MAX_REFTABLE_BYTES;
	d->n = bytes / 8u;
	d->n_slots = Q2_ONDISK_CACHE_BYTES / cs;
	if (d->n_slots < 4)
		d->n_slots = 4;
	if (d->n_slots > d->n)
		d->n_slots = d->n ? (size_t)d->n : 1u;
	d->table = calloc(d->n ? d->n : 1u, sizeof *d->table);
	d->slots = calloc(d->n_slots, sizeof *d->slots);
	if (!d->table || !d->slots) {
		q2_ondisk_close(d);
		return false;
	}
	for (size_t i = 0; i < d->n_slots; i++)
		d->slots[i].index = UINT64_MAX;
	if (h->refcount_table_offset < r->size)
		in_file = r->size - h->refcount_table_offset;
	if (in_file > bytes)
		in_file = bytes;
	raw = (uint8_t *)d->table;
	if (in_file && !q2_read(r, h->refcount_table_offset, raw, (size_t)in_file,
				&code, &err)) {
		q2_ondisk_close(d);
		return false;
	}
	/* an entry the end of the file cuts: its bytes, then zeroes */
	for (uint64_t i = 0; i < (in_file + 7u) / 8u; i++)
		d->table[i] = get_be64(raw + i * 8u);
	return true;
}

void q2_ondisk_close(struct q2_ondisk *d)
{
	free(d->table);
	for (size_t i = 0; d->slots && i < d->n_slots; i++)
		free(d->slots[i].buf);
	free(d->slots);
	memset(d, 0, sizeof *d);
}

/* whether [off, off + len) is one hole of the file (reads as zeroes) */
static bool in_hole(const struct q2_reader *r, uint64_t off, uint64_t len)
{
	uint64_t data, hole;
	int rc;

	if (off >= r->size)
		return true;
	rc = q2_reader_find_allocation(r, off, &data, &hole);
	if (rc == -ENXIO)
		return true;
	return rc == 0 && data > off && (data - off >= len || data >= r->size);
}

const uint8_t *q2_ondisk_block(struct q2_ondisk *d, uint64_t t,
			       enum q2_rc_status *status)
{
	uint64_t cs = 1ull << d->cluster_bits, off, in_file;
	struct q2_ondisk_slot *slot;
	enum q2_code code;
	int err;

	*status = Q2_RC_OK;
	if (t >= d->n || !(off = d->table[t] & REFT_OFFSET_MASK))
		return NULL;
	if (off & (cs - 1u)) {
		*status = Q2_RC_UNALIGNED;
		return NULL;
	}
	slot = &d->slots[t % d->n_slots];
	if (slot->index == t) {
		*status = slot->status;
		return slot->bytes;
	}
	slot->index = t;
	slot->bytes = NULL;
	slot->status = Q2_RC_OK;
	if (in_hole(d->r, off, cs))
		return NULL;
	if (!slot->buf && !(slot->buf = malloc((size_t)cs))) {
		slot->index = UINT64_MAX;
		*status = Q2_RC_NOMEM;
		return NULL;
	}
	in_file = d->r->size - off < cs ? d->r->size - off : cs;
	if (!q2_read(d->r, off, slot->buf, (size_t)in_file, &code, &err)) {
		slot->status = *status = Q2_RC_IO;
		return NULL;
	}
	/* the part past the end of the file reads as zeroes, as QEMU's */
	memset(slot->buf + in_file, 0, (size_t)(cs - in_file));
	slot->bytes = slot->buf;
	return slot->buf;
}

enum q2_rc_status q2_ondisk_get(struct q2_ondisk *d, uint64_t cluster,
				uint64_t *refcount)
{
	enum q2_rc_status st;
	const uint8_t *b = q2_ondisk_block(d, cluster >> d->block_bits, &st);

	*refcount = b ? q2_refcount_at(b, d->order,
				       cluster & ((1ull << d->block_bits) - 1u)) : 0;
	return st;
}
