/* --check: the image against the QCOW2 spec and QEMU's limits.  Problems
 * carry a stable code from the rule table, so scripts can match on it and
 * the man page can say what each means and what to do. */
#ifndef QCOW2DUMP_CHECK_H
#define QCOW2DUMP_CHECK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "qcow2.h"

enum q2_severity { Q2_SEV_WARNING, Q2_SEV_ERROR };

struct q2_problem {
	enum q2_severity severity;
	const char *code;     /* static, kebab-case */
	char *message;        /* owned */
	uint64_t offset;      /* of the field or structure at fault */
	uint32_t bitmap;      /* directory index, or Q2_NO_INDEX */
};

struct q2_problems {
	struct q2_problem *v;
	size_t n, cap;
	size_t n_errors;      /* of severity error */
};

struct q2_rule {
	const char *code;
	enum q2_severity severity;
	const char *meaning;
	const char *advice;
};

extern const struct q2_rule q2_rules[];
extern const size_t q2_n_rules;

const char *q2_severity_name(enum q2_severity s);

/* The directory entry a problem concerns, or NULL. */
const struct q2_bitmap *q2_problem_bitmap(const struct q2_image *img,
					  const struct q2_problem *pb);

/* Appends a problem; takes message (which may be NULL). */
void q2_problems_add(struct q2_problems *p, enum q2_severity sev,
		     const char *code, uint64_t offset, uint32_t bitmap,
		     char *message);
/* Decoding errors as problems of severity error. */
void q2_problems_add_errors(struct q2_problems *p, const struct q2_image *img);
/* Every rule of q2_rules over what was decoded (tables included when
 * they were loaded). */
void q2_check(const struct q2_image *img, struct q2_problems *p);
void q2_problems_free(struct q2_problems *p);

#endif
