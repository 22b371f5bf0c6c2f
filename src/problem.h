/* Problems: everything qcow2dump can report about an image, decoding
 * errors and --check findings alike.  One enum indexes one table (name,
 * severity, message, advice), so that no lookup can fail at run time and
 * --list-checks and the man page are held to the same list. */
#ifndef QCOW2DUMP_PROBLEM_H
#define QCOW2DUMP_PROBLEM_H

#include <assert.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum q2_severity { Q2_SEV_WARNING, Q2_SEV_ERROR };

/* What QEMU 7.2 does about an error: refuses to open the image at all
 * (so no bitmap of it can be used), or opens it and only qemu-img check
 * fails (the problem concerns the structures it names).  Warnings have
 * no scope: QEMU accepts them. */
enum q2_scope { Q2_SCOPE_NONE, Q2_SCOPE_OPEN, Q2_SCOPE_CHECK };

/* Who found a problem, which decides where it goes and the exit status:
 * the decoder (stderr; an error is exit 2), --check (its output; an
 * error is exit 1 with -c), the run's verdict on a bitmap it shows
 * (stderr and JSON; an error is exit 1). */
enum q2_origin { Q2_FROM_DECODE, Q2_FROM_CHECK, Q2_FROM_RUN };

enum q2_code {
	/* ---- decoding stopped ---- */
	Q2_C_NOMEM,
	Q2_C_OPEN,
	Q2_C_NOT_A_FILE,
	Q2_C_IO,
	Q2_C_TRUNCATED,
	Q2_C_MAGIC,
	Q2_C_VERSION,
	Q2_C_HEADER_LENGTH,
	Q2_C_CLUSTER_BITS,
	Q2_C_BACKING_NAME_SIZE,
	Q2_C_EXT_OVERRUN,
	Q2_C_BITMAPS_EXT_LENGTH,
	Q2_C_TOO_MANY_BITMAPS,
	Q2_C_DIR_TOO_LARGE,
	Q2_C_DIR_ENTRY_OVERRUN,
	Q2_C_DIR_TOO_FEW,
	Q2_C_DIR_TRAILING,
	Q2_C_TABLE_TOO_LARGE,
	Q2_C_TABLES_BUDGET,
	Q2_C_GRANULARITY,
	Q2_C_TABLE_TOO_SMALL,
	Q2_C_TABLE_ENTRY,
	Q2_C_DATA_CLUSTER_SHARED,
	Q2_C_NO_SUCH_BITMAP,
	/* ---- --check: header ---- */
	Q2_C_REFCOUNT_ORDER_TOO_LARGE,
	Q2_C_HEADER_LENGTH_UNALIGNED,
	Q2_C_L1_TABLE_UNALIGNED,
	Q2_C_L1_TABLE_TOO_SMALL,
	Q2_C_L1_TABLE_TOO_LARGE,
	Q2_C_L1_TABLE_BEYOND_EOF,
	Q2_C_REFCOUNT_TABLE_UNALIGNED,
	Q2_C_REFCOUNT_TABLE_EMPTY,
	Q2_C_REFCOUNT_TABLE_TOO_LARGE,
	Q2_C_REFCOUNT_TABLE_BEYOND_EOF,
	Q2_C_SNAPSHOT_TABLE_UNALIGNED,
	Q2_C_UNKNOWN_INCOMPATIBLE_BITS,
	Q2_C_DIRTY,
	Q2_C_CORRUPT,
	Q2_C_COMPRESSION_TYPE_UNKNOWN,
	Q2_C_COMPRESSION_TYPE_WITHOUT_BIT,
	Q2_C_COMPRESSION_BIT_WITHOUT_TYPE,
	Q2_C_EXTENDED_L2_SMALL_CLUSTERS,
	Q2_C_UNKNOWN_CRYPT_METHOD,
	Q2_C_BACKING_NAME_OUTSIDE_CLUSTER,
	/* ---- --check: extensions ---- */
	Q2_C_DUPLICATE_EXTENSION,
	Q2_C_BACKING_FORMAT_TOO_LONG,
	Q2_C_BITMAPS_EXTENSION_LENGTH,
	Q2_C_BITMAPS_RESERVED,
	Q2_C_BITMAPS_NONE,
	Q2_C_DIRECTORY_UNALIGNED,
	Q2_C_AUTOCLEAR_BITMAPS_CLEAR,
	Q2_C_AUTOCLEAR_BITMAPS_WITHOUT_EXTENSION,
	Q2_C_CRYPTO_HEADER_WITHOUT_LUKS,
	Q2_C_LUKS_WITHOUT_CRYPTO_HEADER,
	Q2_C_CRYPTO_HEADER_LENGTH,
	Q2_C_CRYPTO_HEADER_UNALIGNED,
	Q2_C_CRYPTO_HEADER_BEYOND_EOF,
	Q2_C_DATA_FILE_NAME_WITHOUT_BIT,
	Q2_C_DATA_FILE_BIT_WITHOUT_NAME,
	Q2_C_RAW_EXTERNAL_DATA_WITHOUT_DATA_FILE,
	/* ---- --check: bitmap directory entries ---- */
	Q2_C_TABLE_OFFSET_ZERO,
	Q2_C_TABLE_UNALIGNED,
	Q2_C_TABLE_BEYOND_EOF,
	Q2_C_TABLE_CUT_SHORT,
	Q2_C_TABLE_SIZE_ZERO,
	Q2_C_TABLE_SIZE_TOO_LARGE,
	Q2_C_TABLE_SIZE_TOO_SMALL,
	Q2_C_TABLE_SIZE_EXCESS,
	Q2_C_RESERVED_FLAGS,
	Q2_C_EXTRA_DATA_COMPATIBLE_FLAG,
	Q2_C_BITMAP_TYPE,
	Q2_C_GRANULARITY_OUT_OF_RANGE,
	Q2_C_GRANULARITY_BEYOND_QEMU,
	Q2_C_NAME_EMPTY,
	Q2_C_NAME_TOO_LONG,
	Q2_C_DUPLICATE_NAME,
	Q2_C_DUPLICATE_NAME_IN_USE,
	Q2_C_NONZERO_PADDING,
	Q2_C_EXTRA_DATA,
	Q2_C_EXTRA_DATA_INCOMPATIBLE,
	Q2_C_BITMAP_IN_USE,
	/* ---- --check: bitmap tables and data ---- */
	Q2_C_TABLE_ENTRY_RESERVED,
	Q2_C_TABLE_ENTRY_UNALIGNED,
	Q2_C_TABLE_ENTRY_BEYOND_EOF,
	Q2_C_DATA_CLUSTER_CUT_SHORT,
	Q2_C_TABLE_ENTRY_INVALID,
	/* ---- --check: refcounts of the bitmaps' clusters ---- */
	Q2_C_REFCOUNT_ZERO,
	Q2_C_REFCOUNT_EXCESS,
	Q2_C_REFCOUNT_UNREADABLE,
	/* ---- --check: layout ---- */
	Q2_C_OVERLAP,
	/* ---- the run's verdict on a bitmap it shows ---- */
	Q2_C_BITMAP_NOT_USABLE,
	/* ---- --backing-chain: the chain stops here (chain.c) ---- */
	Q2_C_BACKING_FILE_MISSING,
	Q2_C_BACKING_CHAIN_LOOP,
	Q2_C_BACKING_CHAIN_TOO_DEEP,
	Q2_C_BACKING_NAME_UNSUPPORTED,
	Q2_C_BACKING_FORMAT_UNSUPPORTED,
	Q2_C_BACKING_FORMAT_MISMATCH,
	/* ---- --backing-chain, -c: the chain and libvirt's rules ---- */
	Q2_C_BACKING_FORMAT_RAW_OVER_QCOW2,
	Q2_C_BACKING_FILE_LARGER,
	Q2_C_CHECKPOINT_MISSING_IN_TOP,
	Q2_C_CHECKPOINT_GAP,
	Q2_C_CHECKPOINT_COPY_NOT_USABLE,
	/* ---- decoding stopped: the snapshot table ---- */
	Q2_C_TOO_MANY_SNAPSHOTS,
	Q2_C_SNAPSHOT_TABLE_OFFSET_INVALID,
	Q2_C_SNAPSHOT_TABLE_TOO_LARGE,
	Q2_C_SNAPSHOT_EXTRA_DATA_TOO_LARGE,
	/* ---- --check: snapshot table entries ---- */
	Q2_C_SNAPSHOT_EXTRA_DATA_TOO_SHORT,
	Q2_C_SNAPSHOT_L1_UNALIGNED,
	Q2_C_SNAPSHOT_L1_TOO_LARGE,
	Q2_C_SNAPSHOT_L1_BEYOND_EOF,
	Q2_C_SNAPSHOT_ID_EMPTY,
	Q2_C_SNAPSHOT_DUPLICATE_ID,
	Q2_C_SNAPSHOT_DUPLICATE_NAME,
	/* ---- --map: the guest-data tables, as QEMU reads them ---- */
	Q2_C_MAP_IMAGE_REFUSED,
	Q2_C_L2_TABLE_UNALIGNED,
	Q2_C_DATA_CLUSTER_UNALIGNED,
	Q2_C_SUBCLUSTER_BITMAP_INVALID,
	Q2_C_ZERO_CLUSTER_IN_V2,
	Q2_C_COMPRESSED_WITH_DATA_FILE,
	Q2_C_DATA_FILE_OFFSET_MISMATCH,
	Q2_C_L2_TABLE_SHARED,
	Q2_C_L2_TABLE_BEYOND_EOF,
	Q2_C_GUEST_CLUSTER_BEYOND_EOF,
	Q2_C_DATA_FILE_UNREADABLE,
	/* ---- -c: the refcount rebuild, as qemu-img check's ---- */
	Q2_C_L1_ENTRY_RESERVED,
	Q2_C_L2_ENTRY_RESERVED,
	Q2_C_COMPRESSED_COPIED,
	Q2_C_COMPRESSED_SUBCLUSTER_BITMAP,
	Q2_C_SNAPSHOTS_WITH_DATA_FILE,
	Q2_C_REFERENCE_BEYOND_EOF,
	Q2_C_REFCOUNT_OVERFLOW,
	Q2_C_REFCOUNT_BLOCK_RESERVED,
	Q2_C_REFCOUNT_BLOCK_UNALIGNED,
	Q2_C_REFCOUNT_BLOCK_BEYOND_EOF,
	Q2_C_REFCOUNT_BLOCK_SHARED,
	Q2_C_REFCOUNT_TOO_LOW,
	Q2_C_CLUSTER_LEAKED,
	Q2_C_REFCOUNT_LOOKUP_FAILED,
	Q2_C_COPIED_FLAG_WRONG,
	Q2_C_CHECK_FAILED,
	Q2_C_BITMAP_CLUSTER_SHARED,
	/* ---- --at ---- */
	Q2_C_AT_BEYOND_EOF,
	Q2_CODE_COUNT_ /* number of codes, not a code */
};

struct q2_code_info {
	const char *name;        /* stable, kebab-case, for scripts */
	enum q2_severity severity;
	enum q2_scope scope;     /* for an error: what QEMU refuses */
	const char *message;     /* what is wrong, one line */
	const char *advice;      /* what to do about it */
};

/* Indexed by enum q2_code; every row is filled (a unit test holds it). */
extern const struct q2_code_info q2_codes[Q2_CODE_COUNT_];

static inline const struct q2_code_info *q2_code(enum q2_code c)
{
	assert((unsigned)c < Q2_CODE_COUNT_);
	return &q2_codes[c];
}

const char *q2_severity_name(enum q2_severity s);

#define Q2_NO_INDEX UINT32_MAX

/* The on-disk structure a decoding problem is about, for its message. */
enum q2_where {
	Q2_W_NONE = 0,   /* a check finding: its offset says where */
	Q2_W_FILE,
	Q2_W_HEADER,
	Q2_W_BACKING_NAME,
	Q2_W_EXT_AREA,
	Q2_W_EXT,
	Q2_W_BITMAPS_EXT,
	Q2_W_DIR,
	Q2_W_DIR_ENTRY,
	Q2_W_TABLE,
	Q2_W_DATA,
	Q2_W_SNAPSHOT_TABLE,
	Q2_W_SNAPSHOT,
	Q2_W_COUNT_
};

struct q2_problem {
	enum q2_code code;
	uint64_t offset;      /* of the field or structure at fault */
	uint32_t bitmap;      /* directory index, or Q2_NO_INDEX */
	enum q2_where where;  /* decoding problems: the structure */
	uint32_t index;       /* and its number, or Q2_NO_INDEX */
	enum q2_origin origin;
	enum q2_scope scope;  /* the code's, unless the case says otherwise */
	char *message;        /* owned; the whole message */
};

struct q2_problems {
	struct q2_problem *v;
	size_t n, cap;
	bool lost;            /* a problem could not be recorded (memory) */
};

/* Room for n problems, so that a list made when memory is short can
 * still say so (out-of-memory needs no allocation of its own); false
 * when there is none. */
bool q2_problems_reserve(struct q2_problems *p, size_t n);
/* Appends a problem that takes message (which may be NULL: the code's
 * message is used); returns it, or NULL when out of memory (the problem
 * is then counted as lost). */
struct q2_problem *q2_problems_add(struct q2_problems *p, enum q2_code code,
				   uint64_t offset, uint32_t bitmap,
				   enum q2_origin origin, char *message);
/* A decoding problem, its message "MESSAGE[: strerror] (where: STRUCTURE
 * [INDEX], offset 0xOFFSET)". */
void q2_problems_add_decode(struct q2_problems *p, enum q2_code code,
			    enum q2_where where, uint32_t index,
			    uint64_t offset, int sys_errno, uint32_t bitmap);
/* A finding, its message "MESSAGE[: DETAIL]" with DETAIL from fmt. */
__attribute__((format(printf, 6, 7)))
struct q2_problem *q2_problems_addf(struct q2_problems *p, enum q2_origin origin,
				    enum q2_code code, uint64_t offset,
				    uint32_t bitmap, const char *fmt, ...);
/* Drops the problems from n on. */
void q2_problems_truncate(struct q2_problems *p, size_t n);
void q2_problems_free(struct q2_problems *p);

/* The problem's message, or its code's when it has none. */
static inline const char *q2_problem_message(const struct q2_problem *pb)
{
	return pb->message ? pb->message : q2_code(pb->code)->message;
}

static inline enum q2_severity q2_problem_severity(const struct q2_problem *pb)
{
	return q2_code(pb->code)->severity;
}

/* Whether the problem makes QEMU refuse to open the image. */
static inline bool q2_problem_refuses(const struct q2_problem *pb)
{
	return q2_problem_severity(pb) == Q2_SEV_ERROR && pb->scope == Q2_SCOPE_OPEN;
}

#endif
