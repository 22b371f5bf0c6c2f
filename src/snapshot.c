/* The snapshot table's decoder, staged like the bitmap directory's: the
 * count against QEMU's limit before anything is allocated, then each
 * entry's fixed part, its extra data size against QEMU's limit, the
 * running table size against QEMU's limit, and only then its variable
 * part (extra data, id, name), each stage checked against the file's
 * size before it is read. */
#include "config.h"

#include "snapshot.h"

#include <stdlib.h>
#include <string.h>

/* The entries are read through a window of the file, so that a table of
 * many small entries costs a few large reads.  The window holds the
 * largest entry there can be: 40 + 1024 + 2 * 65535 bytes. */
#define WINDOW (256u << 10)

struct window {
	const struct q2_reader *r;
	uint8_t *buf;
	size_t cap;
	uint64_t off;       /* file offset of buf[0] */
	size_t len;         /* bytes of buf read */
};

struct decoder {
	const struct q2_reader *r;
	struct q2_image *img;
	struct window w;
};

static void fail(struct decoder *d, enum q2_code code, enum q2_where where,
		 uint32_t index, uint64_t offset, int sys_errno)
{
	q2_problems_add_decode(&d->img->problems, code, where, index, offset,
			       sys_errno, Q2_NO_INDEX);
}

/* The file ends inside entry i.  QEMU reads zeroes there and opens the
 * image; only qemu-img check fails on it ("entry is incomplete"): the
 * problem stops decoding here but not QEMU, so its scope is the check's
 * and the verdict on the bitmaps does not change. */
static void cut_short(struct decoder *d, uint32_t i, uint64_t offset)
{
	struct q2_problems *p = &d->img->problems;
	size_t n = p->n;

	fail(d, Q2_C_TRUNCATED, Q2_W_SNAPSHOT, i, offset, 0);
	if (p->n > n)
		p->v[n].scope = Q2_SCOPE_CHECK;
}

/* The len bytes at file offset off, which the caller has checked lie
 * inside the file (len <= the window); NULL after recording why not. */
static const uint8_t *window_at(struct decoder *d, uint64_t off, size_t len,
				uint32_t index)
{
	struct window *w = &d->w;
	enum q2_code code;
	int sys_errno = 0;
	size_t n;

	if (off >= w->off && off - w->off <= w->len &&
	    len <= w->len - (off - w->off))
		return w->buf + (off - w->off);
	n = d->r->size - off < w->cap ? (size_t)(d->r->size - off) : w->cap;
	if (n < len) {
		fail(d, Q2_C_TRUNCATED, Q2_W_SNAPSHOT, index, off, 0);
		return NULL;
	}
	w->len = 0;
	if (!q2_read(d->r, off, w->buf, n, &code, &sys_errno)) {
		fail(d, code, Q2_W_SNAPSHOT, index, off, sys_errno);
		return NULL;
	}
	w->off = off;
	w->len = n;
	return w->buf;
}

/* A copy of n bytes plus a NUL (so that a name prints as a C string too);
 * NULL only when out of memory. */
static char *copy_bytes(const uint8_t *p, size_t n)
{
	char *s = malloc(n + 1);

	if (s) {
		memcpy(s, p, n);
		s[n] = 0;
	}
	return s;
}

/* Decodes entry i at pos bytes into the table; returns the bytes from
 * the table's start to the end of its name, or 0 after recording why it
 * could not be decoded. */
static uint64_t decode_entry(struct decoder *d, uint64_t base, uint64_t pos,
			     uint32_t i, struct q2_snapshot *sn, bool *cut)
{
	const struct q2_reader *r = d->r;
	const uint8_t *e;
	uint64_t var, end;

	/* base + pos lies inside the file: no sum below wraps */
	sn->entry_offset = base + pos;
	if (!q2_reader_fits(r, sn->entry_offset, Q2_SNAPSHOT_FIXED)) {
		cut_short(d, i, sn->entry_offset);
		*cut = true;
		return 0;
	}
	e = window_at(d, sn->entry_offset, Q2_SNAPSHOT_FIXED, i);
	if (!e)
		return 0;
	q2_fields_decode(sn, q2_snapshot_fields, Q2_SF_COUNT_, e,
			 Q2_SNAPSHOT_FIXED);
	if (sn->extra_data_size > Q2_MAX_SNAPSHOT_EXTRA) {
		fail(d, Q2_C_SNAPSHOT_EXTRA_DATA_TOO_LARGE, Q2_W_SNAPSHOT, i,
		     q2_snapshot_at(sn, Q2_SF_EXTRA_DATA_SIZE), 0);
		return 0;
	}
	var = (uint64_t)sn->extra_data_size + sn->id_str_size + sn->name_size;
	end = pos + Q2_SNAPSHOT_FIXED + var;
	/* QEMU's limit holds the table up to the end of each name */
	if (end > Q2_MAX_SNAPSHOT_TABLE) {
		fail(d, Q2_C_SNAPSHOT_TABLE_TOO_LARGE, Q2_W_SNAPSHOT, i,
		     sn->entry_offset, 0);
		return 0;
	}
	if (!q2_reader_fits(r, sn->entry_offset, Q2_SNAPSHOT_FIXED + var)) {
		cut_short(d, i, sn->entry_offset);
		*cut = true;
		return 0;
	}
	e = window_at(d, sn->entry_offset, (size_t)(Q2_SNAPSHOT_FIXED + var), i);
	if (!e)
		return 0;
	e += Q2_SNAPSHOT_FIXED;
	if (sn->extra_data_size) {
		sn->extra_data = (uint8_t *)copy_bytes(e, sn->extra_data_size);
		if (!sn->extra_data)
			goto nomem;
		q2_fields_decode(sn, q2_snapshot_extra_fields, Q2_SXF_COUNT_,
				 sn->extra_data, sn->extra_data_size);
	}
	sn->id_str = copy_bytes(e + sn->extra_data_size, sn->id_str_size);
	sn->name = copy_bytes(e + sn->extra_data_size + sn->id_str_size,
			      sn->name_size);
	if (!sn->id_str || !sn->name)
		goto nomem;
	return end;
nomem:
	fail(d, Q2_C_NOMEM, Q2_W_SNAPSHOT, i, sn->entry_offset, 0);
	return 0;
}

/* QEMU reads the whole table at open, zeroes past the end of the file,
 * and refuses the image for an entry's extra data size or the table's
 * size.  Walks entries i to nb from pos as QEMU does, reading their
 * fixed parts only, and records the first refusal.  Work: one read of
 * 40 bytes per entry that starts in the file; the entries past its end
 * are zeroes, 40 bytes each, and are counted, not read. */
/* QEMU's reads end at most here (BDRV_MAX_LENGTH: INT64_MAX rounded down
 * to its largest alignment, 1 GiB); one past it fails with EIO. */
#define QEMU_MAX_READ_END (((uint64_t)INT64_MAX >> 30) << 30)

/* qcow2_do_open holds nb_snapshots fixed parts from snapshot_offset to
 * INT64_MAX before it reads anything; false after recording why not. */
static bool offset_valid(struct decoder *d, uint64_t base, uint32_t nb)
{
	if (base <= (uint64_t)INT64_MAX - (uint64_t)nb * Q2_SNAPSHOT_FIXED)
		return true;
	fail(d, Q2_C_SNAPSHOT_TABLE_OFFSET_INVALID, Q2_W_HEADER, Q2_NO_INDEX,
	     q2_header_at(Q2_HF_SNAPSHOT_OFFSET), 0);
	return false;
}

static void open_limits(struct decoder *d, uint64_t base, uint64_t pos,
			uint32_t i, uint32_t nb)
{
	const struct q2_reader *r = d->r;

	for (; i < nb; i++) {
		uint8_t e[Q2_SNAPSHOT_FIXED] = { 0 };
		struct q2_snapshot sn = { 0 };
		uint64_t off, avail, var, end;
		enum q2_code code;
		int sys_errno = 0;

		pos = (pos + Q2_SNAPSHOT_ALIGN - 1) & ~(uint64_t)(Q2_SNAPSHOT_ALIGN - 1);
		off = base + pos;
		if (off < base || off >= r->size) {
			/* zero entries from here on: the first to end past
			 * the limit is refused, if the count reaches it */
			uint64_t fit = (Q2_MAX_SNAPSHOT_TABLE - pos) / Q2_SNAPSHOT_FIXED;

			if (nb - i > fit)
				fail(d, Q2_C_SNAPSHOT_TABLE_TOO_LARGE, Q2_W_SNAPSHOT,
				     (uint32_t)(i + fit),
				     base + pos + fit * Q2_SNAPSHOT_FIXED, 0);
			/* base + nb * 40 <= INT64_MAX and pos is at most
			 * 64 MiB + 40 * nb: no sum wraps */
			else if (off < base ||
				 off + (uint64_t)(nb - i) * Q2_SNAPSHOT_FIXED > QEMU_MAX_READ_END)
				fail(d, Q2_C_SNAPSHOT_TABLE_OFFSET_INVALID, Q2_W_SNAPSHOT,
				     i, off, 0);
			return;
		}
		avail = r->size - off < sizeof e ? r->size - off : sizeof e;
		if (!q2_read(r, off, e, (size_t)avail, &code, &sys_errno)) {
			fail(d, code, Q2_W_SNAPSHOT, i, off, sys_errno);
			return;
		}
		sn.entry_offset = off;
		q2_fields_decode(&sn, q2_snapshot_fields, Q2_SF_COUNT_, e, sizeof e);
		if (sn.extra_data_size > Q2_MAX_SNAPSHOT_EXTRA) {
			fail(d, Q2_C_SNAPSHOT_EXTRA_DATA_TOO_LARGE, Q2_W_SNAPSHOT, i,
			     q2_snapshot_at(&sn, Q2_SF_EXTRA_DATA_SIZE), 0);
			return;
		}
		var = (uint64_t)sn.extra_data_size + sn.id_str_size + sn.name_size;
		end = pos + Q2_SNAPSHOT_FIXED + var;
		if (end > Q2_MAX_SNAPSHOT_TABLE) {
			fail(d, Q2_C_SNAPSHOT_TABLE_TOO_LARGE, Q2_W_SNAPSHOT, i, off, 0);
			return;
		}
		pos = end;
	}
}

void q2_snapshots_open_limits(const struct q2_reader *r, struct q2_image *img)
{
	const struct q2_header *h = &img->header;
	struct decoder d = { .r = r, .img = img, .w = { .r = r } };

	if (h->nb_snapshots > Q2_MAX_SNAPSHOTS) {
		fail(&d, Q2_C_TOO_MANY_SNAPSHOTS, Q2_W_HEADER, Q2_NO_INDEX,
		     q2_header_at(Q2_HF_NB_SNAPSHOTS), 0);
		return;
	}
	if (offset_valid(&d, h->snapshot_offset, h->nb_snapshots))
		open_limits(&d, h->snapshot_offset, 0, 0, h->nb_snapshots);
}

void q2_snapshots_decode(const struct q2_reader *r, struct q2_image *img)
{
	const struct q2_header *h = &img->header;
	uint64_t base = h->snapshot_offset;
	uint32_t nb = h->nb_snapshots;
	struct decoder d = { .r = r, .img = img, .w = { .r = r } };
	struct q2_snapshot_table *t;
	uint64_t pos = 0, room;
	size_t cap;

	if (nb > Q2_MAX_SNAPSHOTS) {
		fail(&d, Q2_C_TOO_MANY_SNAPSHOTS, Q2_W_HEADER, Q2_NO_INDEX,
		     q2_header_at(Q2_HF_NB_SNAPSHOTS), 0);
		return;
	}
	if (!offset_valid(&d, base, nb))
		return;
	t = calloc(1, sizeof *t);
	if (!t) {
		fail(&d, Q2_C_NOMEM, Q2_W_SNAPSHOT_TABLE, Q2_NO_INDEX, base, 0);
		return;
	}
	img->snapshots = t;
	if (!nb)
		return;
	if (!q2_reader_fits(r, base, Q2_SNAPSHOT_FIXED)) {
		cut_short(&d, 0, base);
		open_limits(&d, base, 0, 0, nb);
		return;
	}
	/* Entry k starts 40 * k bytes or more into the table and needs 40
	 * bytes of the file: no more entries than that can be decoded,
	 * whatever nb_snapshots says. */
	room = r->size - base;
	cap = nb < room / Q2_SNAPSHOT_FIXED ? nb : (size_t)(room / Q2_SNAPSHOT_FIXED);
	d.w.cap = room < WINDOW ? (size_t)room : WINDOW;
	t->v = calloc(cap, sizeof *t->v);
	d.w.buf = malloc(d.w.cap);
	if (!t->v || !d.w.buf) {
		fail(&d, Q2_C_NOMEM, Q2_W_SNAPSHOT_TABLE, Q2_NO_INDEX, base, 0);
		free(d.w.buf);
		return;
	}
	for (uint32_t i = 0; i < nb; i++) {
		uint64_t end;
		bool cut = false;

		pos = (pos + Q2_SNAPSHOT_ALIGN - 1) & ~(uint64_t)(Q2_SNAPSHOT_ALIGN - 1);
		if (i == cap) {
			cut_short(&d, i, base + pos);
			open_limits(&d, base, pos, i, nb);
			break;
		}
		end = decode_entry(&d, base, pos, i, &t->v[i], &cut);
		if (!end) {
			/* keep the fields of a broken entry out of view */
			q2_snapshot_free(&t->v[i]);
			/* what QEMU would still refuse the image for */
			if (cut)
				open_limits(&d, base, pos, i, nb);
			break;
		}
		t->n = i + 1;
		t->size = end;
		pos = end;
	}
	free(d.w.buf);
}

