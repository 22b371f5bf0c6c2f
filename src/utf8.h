/* Byte-level text helpers shared by the emitters. */
#ifndef QCOW2DUMP_UTF8_H
#define QCOW2DUMP_UTF8_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/* Length of the well-formed UTF-8 sequence at p (at most n bytes), or 0.
 * Overlong forms, surrogates and code points past U+10FFFF are not
 * well-formed. */
size_t utf8_seq_len(const uint8_t *p, size_t n);
bool utf8_valid(const uint8_t *p, size_t n);

/* The length of the run of bytes at p that a terminal may show as they
 * are (see below); 0 when p[0] must be escaped. */
size_t utf8_terminal_run(const uint8_t *p, size_t n);

/* Writes bytes for a terminal: printable ASCII, tab and well-formed UTF-8
 * outside the C0/C1 control ranges as they are, every other byte as \xNN,
 * so that no image can send control sequences to a terminal. */
void fput_terminal_safe(FILE *out, const uint8_t *p, size_t n);

#endif
