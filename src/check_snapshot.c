/* --check on the snapshot table: what QEMU's qcow2_read_snapshots and
 * qemu-img check require of each entry, and what they let pass but a
 * user should know.  The severities are QEMU 7.2's verdicts: error when
 * qemu-img check fails on it, warning when QEMU accepts it.  What QEMU
 * refuses while reading the table (the count, the table's size, an
 * entry's extra data size) stops decoding and is the decoder's. */
#include "config.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "sort.h"

#define report(p, ...) q2_problems_addf((p), Q2_FROM_CHECK, __VA_ARGS__)
#define AT(field) q2_snapshot_at(sn, Q2_SF_##field)
/* how much of a name goes into a message */
#define SHOWN 64
/* duplicates of each kind listed, then counted; and so for each rule on
 * an entry: 65536 hostile entries cost a pass, not 65536 problems */
#define MAX_DUPLICATES 100u
#define MAX_LISTED 100u

struct listed {
	uint32_t n[Q2_CODE_COUNT_];
};

#define report_listed(ls, p, code, ...)                                  \
	do {                                                             \
		if (++(ls)->n[code] <= MAX_LISTED)                       \
			report(p, code, __VA_ARGS__);                    \
	} while (0)

/* qemu-img check counts a region as beyond the file when it ends one
 * cluster or more past the file's length rounded up to 512 bytes. */
static bool beyond_eof(uint64_t file_size, uint64_t off, uint64_t len,
		       uint64_t cs)
{
	uint64_t file_end = (file_size + 511) & ~(uint64_t)511;
	uint64_t end = len > UINT64_MAX - off ? UINT64_MAX : off + len;

	return end > file_end && end - file_end >= cs;
}

static void check_entry(const struct q2_image *img, struct q2_problems *p,
			uint64_t cs, const struct q2_snapshot *sn, size_t i,
			struct listed *ls)
{
	int shown = sn->name_size > SHOWN ? SHOWN : sn->name_size;

	if (img->header.version >= 3 &&
	    sn->extra_data_size < Q2_SNAPSHOT_EXTRA_V3_MIN)
		report_listed(ls, p, Q2_C_SNAPSHOT_EXTRA_DATA_TOO_SHORT, AT(EXTRA_DATA_SIZE),
		       Q2_NO_INDEX, "snapshot %zu (%.*s): %" PRIu32 " bytes", i,
		       shown, sn->name, sn->extra_data_size);
	if (sn->l1_table_offset % cs)
		report_listed(ls, p, Q2_C_SNAPSHOT_L1_UNALIGNED, AT(L1_TABLE_OFFSET),
		       Q2_NO_INDEX, "snapshot %zu (%.*s): 0x%" PRIx64, i, shown,
		       sn->name, sn->l1_table_offset);
	if (sn->l1_size > Q2_MAX_L1_ENTRIES)
		report_listed(ls, p, Q2_C_SNAPSHOT_L1_TOO_LARGE, AT(L1_SIZE), Q2_NO_INDEX,
		       "snapshot %zu (%.*s): %" PRIu32 " entries", i, shown,
		       sn->name, sn->l1_size);
	else if (sn->l1_size &&
		 beyond_eof(img->file_size, sn->l1_table_offset,
			    (uint64_t)sn->l1_size * Q2_L1_ENTRY_SIZE, cs))
		report_listed(ls, p, Q2_C_SNAPSHOT_L1_BEYOND_EOF, AT(L1_TABLE_OFFSET),
		       Q2_NO_INDEX,
		       "snapshot %zu (%.*s): 0x%" PRIx64 " + %" PRIu64
		       " bytes, file is %" PRIu64, i, shown, sn->name,
		       sn->l1_table_offset, (uint64_t)sn->l1_size * Q2_L1_ENTRY_SIZE,
		       img->file_size);
	if (!sn->id_str_size)
		report_listed(ls, p, Q2_C_SNAPSHOT_ID_EMPTY, AT(ID_STR_SIZE), Q2_NO_INDEX,
		       "snapshot %zu (%.*s)", i, shown, sn->name);
}

/* ---- duplicate ids and names: sorted, n log n for 65536 entries ---- */

struct dup_ctx {
	const struct q2_snapshot *v;
	bool by_name;
};

static const char *key_of(const struct q2_snapshot *sn, bool by_name,
			  size_t *n)
{
	*n = by_name ? sn->name_size : sn->id_str_size;
	return by_name ? sn->name : sn->id_str;
}

static int cmp_key(const void *a, const void *b, const void *arg)
{
	const struct dup_ctx *c = arg;
	uint32_t ia = *(const uint32_t *)a, ib = *(const uint32_t *)b;
	size_t na, nb;
	const char *ka = key_of(&c->v[ia], c->by_name, &na);
	const char *kb = key_of(&c->v[ib], c->by_name, &nb);
	int r;

	if (na != nb)
		return na < nb ? -1 : 1;
	r = memcmp(ka, kb, na);
	if (r)
		return r;
	/* equal keys in table order, so the later one is reported */
	return ia < ib ? -1 : 1;
}

static void check_duplicates(const struct q2_snapshot_table *t,
			     struct q2_problems *p, bool by_name)
{
	struct dup_ctx c = { t->v, by_name };
	uint32_t *order = malloc(t->n * sizeof *order);
	enum q2_code code = by_name ? Q2_C_SNAPSHOT_DUPLICATE_NAME
				    : Q2_C_SNAPSHOT_DUPLICATE_ID;
	size_t found = 0;

	/* out of memory: no confident "no duplicate" */
	if (!order) {
		q2_problems_add(p, Q2_C_NOMEM, 0, Q2_NO_INDEX, Q2_FROM_DECODE,
				strdup("out of memory: the duplicate snapshot check could not be made"));
		return;
	}
	for (uint32_t i = 0; i < t->n; i++)
		order[i] = i;
	q2_sort(order, t->n, sizeof *order, cmp_key, &c);
	for (size_t k = 1; k < t->n; k++) {
		const struct q2_snapshot *b = &t->v[order[k]];
		size_t na, nb;
		const char *ka = key_of(&t->v[order[k - 1]], by_name, &na);
		const char *kb = key_of(b, by_name, &nb);

		/* an empty id is reported as such, once; two empty names are
		 * two snapshots a command by that name cannot tell apart */
		if ((!nb && !by_name) || na != nb || memcmp(ka, kb, nb))
			continue;
		if (found++ < MAX_DUPLICATES)
			report(p, code, b->entry_offset, Q2_NO_INDEX,
			       "snapshots %" PRIu32 " and %" PRIu32 ": %.*s",
			       order[k - 1], order[k],
			       nb > SHOWN ? SHOWN : (int)nb, kb);
	}
	if (found > MAX_DUPLICATES)
		report(p, code, t->v[0].entry_offset, Q2_NO_INDEX,
		       "%zu more not listed", found - MAX_DUPLICATES);
	free(order);
}

void q2_check_snapshots(const struct q2_image *img, struct q2_problems *p,
			uint64_t cluster_size)
{
	const struct q2_snapshot_table *t = img->snapshots;

	struct listed *ls;

	if (!t)
		return;
	ls = calloc(1, sizeof *ls);
	if (!ls) {
		q2_problems_add(p, Q2_C_NOMEM, 0, Q2_NO_INDEX, Q2_FROM_DECODE,
				strdup("out of memory: the snapshot table could not be checked"));
		return;
	}
	for (size_t i = 0; i < t->n; i++)
		check_entry(img, p, cluster_size, &t->v[i], i, ls);
	for (int code = 0; code < Q2_CODE_COUNT_; code++)
		if (ls->n[code] > MAX_LISTED)
			report(p, (enum q2_code)code, img->header.snapshot_offset,
			       Q2_NO_INDEX, "%" PRIu32 " more of these not listed",
			       ls->n[code] - MAX_LISTED);
	free(ls);
	if (t->n > 1) {
		check_duplicates(t, p, false);
		check_duplicates(t, p, true);
	}
}
