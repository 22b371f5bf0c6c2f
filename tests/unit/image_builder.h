/* Builds small qcow2 images in memory for the unit tests: a header, a list
 * of extensions, a bitmap directory and bitmap tables, with big-endian
 * writes through src/be.h, the decoder's own byte-order header. */
#ifndef QCOW2DUMP_IMAGE_BUILDER_H
#define QCOW2DUMP_IMAGE_BUILDER_H

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "be.h"

/* A header with every field set to a distinct, recognisable value. */
static inline void tb_header(uint8_t *b, uint32_t version,
			     uint32_t cluster_bits, uint32_t header_length)
{
	put_be32(b + 0, 0x514649fb);
	put_be32(b + 4, version);
	put_be64(b + 8, 0);              /* backing_file_offset */
	put_be32(b + 16, 0);             /* backing_file_size */
	put_be32(b + 20, cluster_bits);
	put_be64(b + 24, 0x123456789ull);  /* size */
	put_be32(b + 32, 0);             /* crypt_method */
	put_be32(b + 36, 7);             /* l1_size */
	put_be64(b + 40, 0x30000);       /* l1_table_offset */
	put_be64(b + 48, 0x10000);       /* refcount_table_offset */
	put_be32(b + 56, 1);             /* refcount_table_clusters */
	put_be32(b + 60, 2);             /* nb_snapshots */
	put_be64(b + 64, 0x50000);       /* snapshot_offset */
	if (version >= 3) {
		put_be64(b + 72, (1ull << 0) | (1ull << 63)); /* incompatible */
		put_be64(b + 80, 1);                          /* compatible */
		put_be64(b + 88, 1);                          /* autoclear */
		put_be32(b + 96, 5);                          /* refcount_order */
		put_be32(b + 100, header_length);
	}
}

/* Appends an extension at pos; returns the position after its padding. */
static inline size_t tb_ext(uint8_t *b, size_t pos, uint32_t magic,
			    const void *data, uint32_t len)
{
	put_be32(b + pos, magic);
	put_be32(b + pos + 4, len);
	if (len)
		memcpy(b + pos + 8, data, len);
	return pos + 8 + ((len + 7u) & ~7u);
}

static inline size_t tb_bitmaps_ext(uint8_t *b, size_t pos, uint32_t nb,
				    uint64_t dir_size, uint64_t dir_offset)
{
	uint8_t d[24] = { 0 };

	put_be32(d, nb);
	put_be64(d + 8, dir_size);
	put_be64(d + 16, dir_offset);
	return tb_ext(b, pos, 0x23852875, d, sizeof d);
}

/* Appends a directory entry at pos; returns the position after it. */
static inline size_t tb_dir_entry(uint8_t *b, size_t pos, uint64_t table_off,
				  uint32_t table_size, uint32_t flags,
				  uint8_t granularity_bits, const char *name,
				  size_t name_len, uint32_t extra_size)
{
	put_be64(b + pos, table_off);
	put_be32(b + pos + 8, table_size);
	put_be32(b + pos + 12, flags);
	b[pos + 16] = 1;
	b[pos + 17] = granularity_bits;
	put_be16(b + pos + 18, (uint16_t)name_len);
	put_be32(b + pos + 20, extra_size);
	for (uint32_t i = 0; i < extra_size; i++)
		b[pos + 24 + i] = (uint8_t)(0xa0 + i);
	memcpy(b + pos + 24 + extra_size, name, name_len);
	return pos + ((24 + extra_size + name_len + 7) & ~(size_t)7);
}

/* The standard test image: v3, 512-byte clusters, header_length 112 with
 * zstd, a backing file with its format, a feature table, two bitmaps (one
 * with extra data) and their tables, and a data file extension.
 *
 *   0     header (112 bytes), extensions from 112
 *   256   backing file name "base.qcow2"
 *   1024  bitmap directory (2 entries, 72 bytes)
 *   1536  table of b1 (2 entries), 1552 table of bitmap-two (1 entry)
 */
#define TB_SIZE 4096u
#define TB_DIR_OFFSET 1024u
#define TB_DIR_SIZE 72u
#define TB_BACKING_OFFSET 256u
#define TB_USED 1560u /* the last structure ends here */

static inline uint8_t *tb_standard(size_t *size)
{
	uint8_t *b = calloc(1, TB_SIZE);
	uint8_t feature[48] = { 0 };
	size_t pos, d;

	tb_header(b, 3, 9, 112);
	b[104] = 1; /* compression_type zstd */
	put_be64(b + 8, TB_BACKING_OFFSET);
	put_be32(b + 16, 10);
	memcpy(b + TB_BACKING_OFFSET, "base.qcow2", 10);

	pos = tb_ext(b, 112, 0xe2792aca, "qcow2", 5);
	feature[0] = 2;
	feature[1] = 0;
	memcpy(feature + 2, "bitmaps", 7);
	pos = tb_ext(b, pos, 0x6803f857, feature, sizeof feature);
	pos = tb_bitmaps_ext(b, pos, 2, TB_DIR_SIZE, TB_DIR_OFFSET);
	pos = tb_ext(b, pos, 0x44415441, "data.raw", 8);
	/* the zero terminator is already there */

	d = tb_dir_entry(b, TB_DIR_OFFSET, 1536, 2, 0x2, 16, "b1", 2, 0);
	d = tb_dir_entry(b, d, 1552, 1, 0x7, 19, "bitmap-two", 10, 4);
	(void)d;
	put_be64(b + 1536, 2048);               /* serialized */
	put_be64(b + 1544, 1);                  /* all ones */
	put_be64(b + 1552, 2560 | 1);           /* invalid: offset + all-ones */
	*size = TB_SIZE;
	return b;
}

#endif
