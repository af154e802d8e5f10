/*
 * Tests: the body of an encoded chunk (an events chunk of store/codec.c, an
 * object chunk of the replay's object codec): zstd-compressed after the
 * chunk's fixed header, it starts with the varint lengths of its streams.
 * Needs cmocka.h first (asserts).
 */
#ifndef HT_TEST_CHUNK_BODY_H
#define HT_TEST_CHUNK_BODY_H

#include <stddef.h>
#include <stdint.h>
#include <zstd.h>

#include "store/store_int.h"

/* Decompress the body of chunk blob (len bytes: hdr bytes of header, then
 * the zstd frame) into body (cap bytes) and read the n stream lengths it
 * starts with into lens. Returns the body's length; *streams is the first
 * byte after the lengths. Asserted. */
static inline size_t ht_test_chunk_body(const void *blob, size_t len,
                                        size_t hdr, uint8_t *body, size_t cap,
                                        uint64_t *lens, int n,
                                        const uint8_t **streams)
{
    assert_true(len >= hdr);
    size_t blen = ZSTD_decompress(body, cap, (const uint8_t *)blob + hdr,
                                  len - hdr);
    assert_false(ZSTD_isError(blen));
    const uint8_t *p = body;
    for (int k = 0; k < n; k++)
        assert_true(ht__get_varint(&p, body + blen, &lens[k]));
    *streams = p;
    return blen;
}

#endif
