/* Arrays of megabytes: the bitmaps of a directory of 65535, the bytes of
 * that directory, their tables.  They come from a mapping of their own
 * with transparent huge pages asked for, because touching them 4 KiB at
 * a time costs a page fault per page (some 10 us each on a virtual
 * machine: a third of what -f json took on 65535 bitmaps).  Where the
 * kernel gives no huge pages, they are plain zeroed pages. */
#ifndef QCOW2DUMP_BIGMEM_H
#define QCOW2DUMP_BIGMEM_H

#include <stddef.h>

/* size bytes, zeroed, aligned for any type; NULL when out of memory */
void *q2_big_alloc(size_t size);
/* what q2_big_alloc gave, or NULL */
void q2_big_free(void *p);

#endif
