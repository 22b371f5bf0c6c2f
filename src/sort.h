/* The one sort of the project: stable, and linear on input that is
 * already in order, in reverse order, or made of a few ordered runs.
 * QEMU writes its metadata that way (tables in ascending clusters, the
 * directory after them, names newest first), so sorting 65535 of them
 * costs a pass or two instead of n log n comparisons and a copy of the
 * whole array, as qsort's merge sort does. */
#ifndef QCOW2DUMP_SORT_H
#define QCOW2DUMP_SORT_H

#include <stddef.h>

typedef int (*q2_cmp_fn)(const void *a, const void *b, const void *arg);

/* Sorts n elements of size bytes at base, equal ones kept in their
 * order.  Out of memory for its buffer, it falls back on qsort_r: the
 * order is still right, only equal elements may swap. */
void q2_sort(void *base, size_t n, size_t size, q2_cmp_fn cmp, const void *arg);

#endif
