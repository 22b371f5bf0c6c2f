/* What owns the bytes of the file (--at, --layout): the spans of the
 * reference walk (refwalk.h), the one the refcount rebuild counts, so
 * that the check and the owners cannot disagree; and where no structure
 * is, the stored refcount says whether the cluster is leaked or free. */
#ifndef QCOW2DUMP_OWNERS_H
#define QCOW2DUMP_OWNERS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "model.h"
#include "problem.h"
#include "reader.h"
#include "refwalk.h"

struct q2_owner_rec {
	struct q2_owner o;
	uint64_t refcount;      /* stored, of the cluster the record names */
	bool refcount_known;
};

struct q2_owners {
	struct q2_owner_rec *v;
	size_t n, cap;
};

/* --at: every structure whose bytes hold offset at; if none, those whose
 * clusters hold it (a table's cluster past its last byte); if none, one
 * leaked or free record for its cluster.  Each record's refcount is that
 * of at's cluster.  false when out of memory or a read failed (a problem
 * added; the records found so far are kept). */
bool q2_owners_at(const struct q2_reader *r, const struct q2_image *img,
		  uint64_t at, struct q2_owners *out, struct q2_problems *problems);

/* --layout: every structure in file order (runs of one owner merged:
 * the same kind of the same table, following each other in the file, in
 * the guest and in their table, of one refcount), and the clusters no
 * structure touches as leaked or free runs, up to the end of the file.
 * Memory: one record per run. */
bool q2_owners_layout(const struct q2_reader *r, const struct q2_image *img,
		      struct q2_owners *out, struct q2_problems *problems);

void q2_owners_free(struct q2_owners *o);

#endif
