/* The decoder: reads an image through a q2_reader into the model.
 *
 * It validates in stages (a fixed part fits, then its variable part fits,
 * then counts agree both ways) and stops decoding a structure at its first
 * fault, keeping everything decoded before it.  No allocation is sized from
 * the image beyond QEMU's limits, and no size is trusted before it is
 * checked against the file's size. */
#include "config.h"

#include "qcow2.h"

#include <stdlib.h>
#include <string.h>

#include "be.h"
#include "bigmem.h"
#include "snapshot.h"

struct decoder {
	const struct q2_reader *r;
	const struct q2_decode_opts *opts;
	struct q2_image *img;
	uint64_t cluster_size;
	uint64_t tables_loaded; /* bytes, against the file's size */
	const struct q2_bitmaps_ext *bx; /* the directory being decoded */
};

static void fail(struct decoder *d, enum q2_code code, enum q2_where where,
		 uint32_t index, uint64_t offset, int sys_errno)
{
	/* a problem of a table or an entry already counted in the
	 * directory concerns that bitmap */
	uint32_t bitmap = (where == Q2_W_DIR_ENTRY || where == Q2_W_TABLE) &&
			  d->bx && index < d->bx->n_bitmaps ? index : Q2_NO_INDEX;

	q2_problems_add_decode(&d->img->problems, code, where, index, offset,
			       sys_errno, bitmap);
}

/* Reads [off, off + len) for a structure; on failure records why. */
static bool read_or_fail(struct decoder *d, uint64_t off, void *buf,
			 size_t len, enum q2_where where, uint32_t index,
			 uint64_t report_offset)
{
	int sys_errno = 0;
	enum q2_code code;

	if (q2_read(d->r, off, buf, len, &code, &sys_errno))
		return true;
	fail(d, code, where, index, report_offset, sys_errno);
	return false;
}

/* Allocates len + 1 bytes and reads len bytes, NUL-terminated for
 * convenience.  From q2_big_alloc (free with q2_big_free), which takes
 * the pages of what runs to megabytes (a directory) in one piece. */
static uint8_t *read_alloc(struct decoder *d, uint64_t off, size_t len,
			   enum q2_where where, uint32_t index)
{
	uint8_t *buf;

	if (!q2_reader_fits(d->r, off, len)) {
		fail(d, Q2_C_TRUNCATED, where, index, off, 0);
		return NULL;
	}
	buf = q2_big_alloc(len + 1);
	if (!buf) {
		fail(d, Q2_C_NOMEM, where, index, off, 0);
		return NULL;
	}
	if (!read_or_fail(d, off, buf, len, where, index, off)) {
		q2_big_free(buf);
		return NULL;
	}
	buf[len] = 0;
	return buf;
}

static bool decode_header(struct decoder *d)
{
	struct q2_header *h = &d->img->header;
	uint8_t buf[Q2_V3_HEADER_LENGTH + 1];
	/* one read: as much of the longest fixed header as the file has */
	size_t len = d->r->size < sizeof buf ? (size_t)d->r->size : sizeof buf;
	size_t fixed; /* 72 or 104 bytes, by version */

	if (!read_or_fail(d, 0, buf, len, Q2_W_HEADER, Q2_NO_INDEX, 0))
		return false;
	/* A short file that does not even start with the magic is "not
	 * qcow2" rather than "truncated". */
	if (len >= 4 && get_be32(buf) != Q2_MAGIC) {
		fail(d, Q2_C_MAGIC, Q2_W_HEADER, Q2_NO_INDEX, 0, 0);
		return false;
	}
	if (len >= 8 && get_be32(buf + 4) != 2 && get_be32(buf + 4) != 3) {
		fail(d, Q2_C_VERSION, Q2_W_HEADER, Q2_NO_INDEX,
		     q2_header_at(Q2_HF_VERSION), 0);
		return false;
	}
	fixed = len >= 8 && get_be32(buf + 4) == 2 ? Q2_V2_HEADER_LENGTH
						    : Q2_V3_HEADER_LENGTH;
	if (len < fixed) {
		fail(d, Q2_C_TRUNCATED, Q2_W_HEADER, Q2_NO_INDEX, 0, 0);
		return false;
	}
	q2_fields_decode(h, q2_header_fields, q2_n_header_fields, buf, fixed);
	if (h->version == 2) {
		h->refcount_order = 4;
		h->header_length = Q2_V2_HEADER_LENGTH;
	}
	/* From here on the fixed header is sound enough to show. */
	d->img->header_decoded = true;
	if (h->cluster_bits < Q2_MIN_CLUSTER_BITS ||
	    h->cluster_bits > Q2_MAX_CLUSTER_BITS) {
		fail(d, Q2_C_CLUSTER_BITS, Q2_W_HEADER, Q2_NO_INDEX,
		     q2_header_at(Q2_HF_CLUSTER_BITS), 0);
		return false;
	}
	d->cluster_size = 1ull << h->cluster_bits;
	if (h->header_length < (h->version == 2 ? Q2_V2_HEADER_LENGTH
						 : Q2_V3_HEADER_LENGTH) ||
	    h->header_length > d->cluster_size) {
		fail(d, Q2_C_HEADER_LENGTH, Q2_W_HEADER, Q2_NO_INDEX,
		     q2_header_at(Q2_HF_HEADER_LENGTH), 0);
		return false;
	}
	if (!q2_reader_fits(d->r, 0, h->header_length)) {
		fail(d, Q2_C_TRUNCATED, Q2_W_HEADER, Q2_NO_INDEX, 0, 0);
		return false;
	}
	/* header_length > 104 fits in the file, so buf holds byte 104 */
	if (h->header_length > Q2_V3_HEADER_LENGTH) {
		h->has_compression_type = true;
		h->compression_type = buf[Q2_V3_HEADER_LENGTH];
	}
	return true;
}

static void decode_backing_name(struct decoder *d)
{
	const struct q2_header *h = &d->img->header;

	if (!h->backing_file_offset)
		return;
	if (h->backing_file_size > Q2_MAX_BACKING_NAME) {
		fail(d, Q2_C_BACKING_NAME_SIZE, Q2_W_HEADER, Q2_NO_INDEX,
		     q2_header_at(Q2_HF_BACKING_FILE_SIZE), 0);
		return;
	}
	d->img->backing_file =
		(char *)read_alloc(d, h->backing_file_offset,
				   h->backing_file_size, Q2_W_BACKING_NAME,
				   Q2_NO_INDEX);
}

/* How many of bm's table entries lie in the file and will be loaded;
 * QEMU reads zeroes beyond its end, and so do the users of the model.
 * Bound: the entries held across all tables never exceed the file's size
 * (tables that do not overlap fit in it), so tables that all claim the
 * same bytes cannot cost more memory than the file has bytes.  False
 * after recording why the table is not loaded. */
static bool plan_table(struct decoder *d, struct q2_bitmap *bm, uint32_t idx)
{
	uint64_t n = bm->bitmap_table_size;
	uint64_t off = bm->bitmap_table_offset;
	uint64_t size = d->r->size;
	uint64_t in_file = off >= size ? 0 : (size - off) / Q2_BTE_SIZE;

	if (n > Q2_MAX_TABLE_ENTRIES || n * d->cluster_size > Q2_MAX_BITMAP_PHYS) {
		fail(d, Q2_C_TABLE_TOO_LARGE, Q2_W_DIR_ENTRY, idx,
		     q2_dir_entry_at(bm, Q2_DF_TABLE_SIZE), 0);
		return false;
	}
	if (in_file > n)
		in_file = n;
	if (in_file * Q2_BTE_SIZE > size - d->tables_loaded) {
		fail(d, Q2_C_TABLES_BUDGET, Q2_W_TABLE, idx, off, 0);
		return false;
	}
	bm->table_in_file = (uint32_t)in_file;
	d->tables_loaded += in_file * Q2_BTE_SIZE;
	return true;
}

/* Every table in one array: one allocation for 65535 tables instead of
 * one each.  Its size is what plan_table allowed, at most the file's.
 * table_loaded marks the planned tables until they are read. */
static void load_tables(struct decoder *d, struct q2_bitmaps_ext *bx)
{
	uint64_t *all = NULL;
	uint64_t at = 0;

	for (uint32_t k = 0; k < bx->n_bitmaps; k++)
		bx->bitmaps[k].table_loaded = plan_table(d, &bx->bitmaps[k], k);
	if (d->tables_loaded) {
		all = q2_big_alloc(d->tables_loaded);
		if (!all) {
			fail(d, Q2_C_NOMEM, Q2_W_DIR, Q2_NO_INDEX,
			     bx->bitmap_directory_offset, 0);
			for (uint32_t k = 0; k < bx->n_bitmaps; k++)
				bx->bitmaps[k].table_loaded = false;
			return;
		}
	}
	bx->table_entries = all;
	for (uint32_t k = 0; k < bx->n_bitmaps; k++) {
		struct q2_bitmap *bm = &bx->bitmaps[k];
		uint64_t n = bm->table_in_file;
		uint64_t *t;

		/* (no entry in the file: all is NULL when no table has one) */
		if (!bm->table_loaded || !n)
			continue;
		t = all + at;
		if (!read_or_fail(d, bm->bitmap_table_offset, t, n * Q2_BTE_SIZE,
				  Q2_W_TABLE, k, bm->bitmap_table_offset)) {
			bm->table_loaded = false;
			bm->table_in_file = 0;
			continue;
		}
		/* converted in place: each entry is read whole before it is
		 * overwritten, and the array is aligned for any type */
		for (uint64_t i = 0; i < n; i++)
			t[i] = get_be64((const uint8_t *)t + i * Q2_BTE_SIZE);
		bm->table = t;
		at += n;
	}
}

/* Decodes one directory entry at pos; returns its padded size, or 0 after
 * recording why it does not fit.  The entry's extra data and name move
 * down to *kept, where the bitmap keeps them: the directory's buffer
 * becomes their one home (no allocation per bitmap, and 65535 names cost
 * no memory beyond the directory already read).  Each entry holds at
 * least 24 bytes more than its extra data, name and NUL, so what is kept
 * never reaches bytes not yet decoded. */
static uint64_t decode_dir_entry(struct decoder *d, uint8_t *dir,
				 uint64_t dir_size, uint64_t dir_offset,
				 uint64_t pos, uint32_t idx,
				 struct q2_bitmap *bm, uint64_t *kept)
{
	const uint8_t *e = dir + pos;
	uint64_t var, entry_size;
	uint8_t *home;

	bm->entry_offset = dir_offset + pos;
	if (Q2_DIR_ENTRY_FIXED > dir_size - pos) {
		fail(d, Q2_C_DIR_ENTRY_OVERRUN, Q2_W_DIR_ENTRY, idx,
		     bm->entry_offset, 0);
		return 0;
	}
	q2_fields_decode(bm, q2_dir_entry_fields, q2_n_dir_entry_fields, e,
		      Q2_DIR_ENTRY_FIXED);
	var = (uint64_t)bm->extra_data_size + bm->name_size;
	entry_size = (Q2_DIR_ENTRY_FIXED + var + 7) & ~(uint64_t)7;
	if (entry_size > dir_size - pos) {
		fail(d, Q2_C_DIR_ENTRY_OVERRUN, Q2_W_DIR_ENTRY, idx,
		     bm->entry_offset, 0);
		return 0;
	}
	/* the padding is looked at before anything moves */
	for (uint64_t k = Q2_DIR_ENTRY_FIXED + var; k < entry_size; k++)
		bm->padding_nonzero |= e[k] != 0;
	home = dir + *kept;
	memmove(home, e + Q2_DIR_ENTRY_FIXED, var);
	home[var] = 0;
	bm->extra_data = bm->extra_data_size ? home : NULL;
	bm->name = (char *)home + bm->extra_data_size;
	*kept += var + 1;
	return entry_size;
}

/* ext_offset: where the bitmaps extension's magic lies */
static void decode_directory(struct decoder *d, struct q2_bitmaps_ext *bx,
			     uint64_t ext_offset)
{
	uint64_t size = bx->bitmap_directory_size;
	uint64_t offset = bx->bitmap_directory_offset;
	uint64_t pos = 0, kept = 0;
	uint32_t i = 0;
	bool broken = false;
	uint8_t *dir;

	if (bx->nb_bitmaps > Q2_MAX_BITMAPS) {
		fail(d, Q2_C_TOO_MANY_BITMAPS, Q2_W_BITMAPS_EXT, Q2_NO_INDEX,
		     q2_bitmaps_ext_at(ext_offset, Q2_BF_NB_BITMAPS), 0);
		return;
	}
	if (size > Q2_MAX_DIR_SIZE) {
		fail(d, Q2_C_DIR_TOO_LARGE, Q2_W_BITMAPS_EXT, Q2_NO_INDEX,
		     q2_bitmaps_ext_at(ext_offset, Q2_BF_DIRECTORY_SIZE), 0);
		return;
	}
	d->bx = bx;
	dir = read_alloc(d, offset, size, Q2_W_DIR, Q2_NO_INDEX);
	if (!dir)
		return;
	if (bx->nb_bitmaps) {
		bx->bitmaps = q2_big_alloc(bx->nb_bitmaps * sizeof *bx->bitmaps);
		if (!bx->bitmaps) {
			fail(d, Q2_C_NOMEM, Q2_W_DIR, Q2_NO_INDEX, offset, 0);
			q2_big_free(dir);
			return;
		}
	}
	bx->dir_decoded = true;
	d->img->dir = bx;
	while (i < bx->nb_bitmaps && pos < size) {
		struct q2_bitmap *bm = &bx->bitmaps[i];
		uint64_t used = decode_dir_entry(d, dir, size, offset, pos, i,
						 bm, &kept);

		if (!used) {
			/* keep the fields of a broken entry out of view */
			memset(bm, 0, sizeof *bm);
			broken = true;
			break;
		}
		bx->n_bitmaps = ++i;
		pos += used;
	}
	bx->dir_bytes = dir;
	if (!broken && i < bx->nb_bitmaps)
		fail(d, Q2_C_DIR_TOO_FEW, Q2_W_DIR, Q2_NO_INDEX, offset + pos, 0);
	else if (!broken && pos < size)
		fail(d, Q2_C_DIR_TRAILING, Q2_W_DIR, Q2_NO_INDEX, offset + pos, 0);
	if (d->opts && d->opts->load_tables)
		load_tables(d, bx);
}

static void decode_ext_payload(struct decoder *d, struct q2_ext *x,
			       uint32_t idx)
{
	switch (x->kind) {
	case Q2_EXTK_FEATURE_TABLE:
		x->n_features = x->length / Q2_FEATURE_ENTRY_SIZE;
		if (!x->n_features)
			break;
		x->features = calloc(x->n_features, sizeof *x->features);
		if (!x->features) {
			x->n_features = 0;
			fail(d, Q2_C_NOMEM, Q2_W_EXT, idx, x->offset, 0);
			break;
		}
		for (size_t i = 0; i < x->n_features; i++) {
			const uint8_t *p = x->data + i * Q2_FEATURE_ENTRY_SIZE;

			x->features[i].type = p[0];
			x->features[i].bit = p[1];
			memcpy(x->features[i].name, p + 2, Q2_FEATURE_NAME_SIZE);
		}
		break;
	case Q2_EXTK_CRYPTO:
		if (x->length >= Q2_CRYPTO_EXT_SIZE) {
			x->has_crypto = true;
			x->crypto_offset = get_be64(x->data);
			x->crypto_length = get_be64(x->data + sizeof(uint64_t));
		}
		break;
	case Q2_EXTK_BITMAPS:
		if (x->length < Q2_BITMAPS_EXT_SIZE) {
			fail(d, Q2_C_BITMAPS_EXT_LENGTH, Q2_W_BITMAPS_EXT,
			     Q2_NO_INDEX, x->offset + Q2_EXT_LENGTH_AT, 0);
			break;
		}
		x->bitmaps = calloc(1, sizeof *x->bitmaps);
		if (!x->bitmaps) {
			fail(d, Q2_C_NOMEM, Q2_W_BITMAPS_EXT, Q2_NO_INDEX,
			     x->offset, 0);
			break;
		}
		q2_fields_decode(x->bitmaps, q2_bitmaps_ext_fields,
			      q2_n_bitmaps_ext_fields, x->data,
			      Q2_BITMAPS_EXT_SIZE);
		break;
	default:
		break;
	}
}

static void decode_extensions(struct decoder *d)
{
	struct q2_image *img = d->img;
	const struct q2_header *h = &img->header;
	uint64_t end = d->cluster_size;
	uint64_t pos = h->header_length;
	size_t cap = 0;

	if (h->backing_file_offset && h->backing_file_offset < end)
		end = h->backing_file_offset;
	img->exts_decoded = true;
	while (pos < end) {
		uint32_t idx = (uint32_t)img->n_exts;
		uint8_t hdr[Q2_EXT_DATA_AT];
		struct q2_ext *x;

		if (sizeof hdr > end - pos) {
			fail(d, Q2_C_EXT_OVERRUN, Q2_W_EXT, idx, pos, 0);
			return;
		}
		if (!read_or_fail(d, pos, hdr, sizeof hdr, Q2_W_EXT, idx, pos))
			return;
		/* as QEMU does: the length first, even the end marker's */
		if (get_be32(hdr + Q2_EXT_LENGTH_AT) > end - pos - sizeof hdr) {
			fail(d, Q2_C_EXT_OVERRUN, Q2_W_EXT, idx, pos, 0);
			return;
		}
		if (get_be32(hdr + Q2_EXT_MAGIC_AT) == Q2_EXT_END)
			return;
		if (img->n_exts == cap) {
			size_t ncap = cap ? cap * 2 : 8;
			struct q2_ext *grown =
				realloc(img->exts, ncap * sizeof *grown);

			if (!grown) {
				fail(d, Q2_C_NOMEM, Q2_W_EXT, idx, pos, 0);
				return;
			}
			img->exts = grown;
			cap = ncap;
		}
		x = &img->exts[img->n_exts];
		memset(x, 0, sizeof *x);
		x->magic = get_be32(hdr + Q2_EXT_MAGIC_AT);
		x->length = get_be32(hdr + Q2_EXT_LENGTH_AT);
		x->offset = pos;
		x->kind = q2_ext_kind_of(x->magic);
		x->data = read_alloc(d, pos + Q2_EXT_DATA_AT, x->length,
				     Q2_W_EXT, idx);
		if (!x->data)
			return;
		img->n_exts++;
		decode_ext_payload(d, x, idx);
		pos += Q2_EXT_DATA_AT + (((uint64_t)x->length + 7) & ~(uint64_t)7);
	}
}

/* QEMU reads every bitmaps extension and keeps the last one's values:
 * that directory is the one it loads, so it is the one decoded. */
static void decode_last_directory(struct decoder *d)
{
	struct q2_image *img = d->img;

	for (size_t i = img->n_exts; i-- > 0;)
		if (img->exts[i].bitmaps) {
			decode_directory(d, img->exts[i].bitmaps, img->exts[i].offset);
			return;
		}
}

size_t q2_decode(const struct q2_reader *r, const struct q2_decode_opts *opts,
		 struct q2_image *img)
{
	struct decoder d = { .r = r, .opts = opts, .img = img };

	memset(img, 0, sizeof *img);
	img->file_size = r->size;
	if (decode_header(&d)) {
		decode_backing_name(&d);
		decode_extensions(&d);
		decode_last_directory(&d);
		if (opts && opts->load_snapshots)
			q2_snapshots_decode(r, img);
		else if (opts && opts->snapshot_limits)
			q2_snapshots_open_limits(r, img);
	}
	return img->problems.n;
}

