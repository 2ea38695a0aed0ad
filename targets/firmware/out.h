/*
 * Console text without printf (newlib's float formatting would pull in malloc):
 * strings, unsigned decimals and exact hexadecimal bit patterns of floats, gathered
 * in a small buffer and written over semihosting.
 */
#ifndef TT_OUT_H
#define TT_OUT_H

#include <stdint.h>

void out_str(const char* s);
void out_u32(uint32_t v);
/* The IEEE-754 bits of `v` as 16 hex digits: exact, and trivial to decode on the host. */
void out_f64_bits(double v);
void out_hex32(uint32_t v);
void out_flush(void);

#endif
