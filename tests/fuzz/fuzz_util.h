/*
 * fuzz_util.h: what the libFuzzer targets of tests/fuzz/ share: a scratch
 * directory, the site config they all run against (the bundled
 * deploy/plantroom.json plus NB-IoT devices, commands with a signing
 * sender, writable points and one rule of every kind), and an input
 * reader that splits one fuzz input into a sequence of messages, so that a
 * target sees several requests in a row and lifecycle bugs can show.
 * docs/security.md, "Fuzzing", says how to run them.
 * SPDX-License-Identifier: Apache-2.0
 */
#ifndef PLANTROOM_FUZZ_UTIL_H
#define PLANTROOM_FUZZ_UTIL_H

#include "gateway/config/gw_config.h"

#include <stddef.h>
#include <stdint.h>

/* The HMAC key of the fuzz config's signing sender "alice". */
#define FUZZ_KEY "fuzz-key-of-alice-0123456789"
/* The pinned wall clock of the targets (2026-01-01T00:00:00Z). */
#define FUZZ_NOW_MS 1767225600000LL

/* A private scratch directory (made once, kept for the process). */
const char *fuzz_dir(void);
/* Write the fuzz site config into the scratch directory (once) and load a
 * fresh copy of it; aborts when it does not load (a harness bug). */
gw_config_t *fuzz_config(void);
/* Pin gw_wall_ms/gw_mono_ms to FUZZ_NOW_MS + *offset (the caller moves it). */
void fuzz_clock_pin(int64_t *offset);

/* Reading a fuzz input in pieces. */
typedef struct fuzz_in {
    const uint8_t *p;
    size_t n;
} fuzz_in_t;

/* The next byte (0 when none is left). */
uint8_t fuzz_byte(fuzz_in_t *in);
/* The next little-endian u16 / u32 / u64 (zero bytes past the end). */
uint16_t fuzz_u16(fuzz_in_t *in);
uint32_t fuzz_u32(fuzz_in_t *in);
uint64_t fuzz_u64(fuzz_in_t *in);
/* The next piece, up to the separator "\n~~\n" or the end: *len bytes at
 * the returned pointer (inside the input). NULL when nothing is left. */
const uint8_t *fuzz_piece(fuzz_in_t *in, size_t *len);

#endif
