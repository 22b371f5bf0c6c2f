/* Small helpers every unit may use. */
#ifndef QCOW2DUMP_UTIL_H
#define QCOW2DUMP_UTIL_H

#include <assert.h>

/* The number of elements of an array (not of a pointer). */
#define Q2_ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

/* A table indexed by an enum covers it: checked when compiling. */
#define Q2_STATIC_ASSERT(cond, why) _Static_assert(cond, why)

#endif
