/* SHA-1 of one padded 64-byte block with the x86 SHA extensions (SHA-NI), for the
 * Community IDs of ext/flowtable_cid.pxi, which falls back to its portable C loop where
 * the CPU lacks them (ds_cpu_has_sha1() == 0, or not x86-64 / not GCC or Clang).
 *
 * FIPS 180-4 section 6.1.2 in 20 groups of 4 rounds: sha1rnds4 does 4 rounds with the
 * group's function (0-3), sha1nexte derives the next group's E from the state before
 * the previous group, and sha1msg1 / xor / sha1msg2 extend the message schedule
 * W[t] = rotl1(W[t-3] ^ W[t-8] ^ W[t-14] ^ W[t-16]) four words at a time: schedule
 * block M[j+4] = msg2(msg1(M[j], M[j+1]) ^ M[j+2], M[j+3]), built in four rotating
 * registers as its inputs appear.
 */
#ifndef DS_SHA1_HW_H
#define DS_SHA1_HW_H

#include <stdint.h>

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#include <cpuid.h>
#include <immintrin.h>

static int ds_cpu_has_sha1(void)
{
    unsigned int a, b, c, d;
    if (!__get_cpuid_count(7, 0, &a, &b, &c, &d))
        return 0;
    int sha = (b >> 29) & 1;                     /* CPUID.(7,0):EBX.SHA */
    if (!__get_cpuid(1, &a, &b, &c, &d))
        return 0;
    return sha && ((c >> 19) & 1) && ((c >> 9) & 1);   /* SSE4.1, SSSE3 */
}

/* Group j (rounds 4j .. 4j+3) with round function f; m[j & 3] holds schedule block j. */
#define DS_SHA1_GROUP(j, f)                                                           \
    do {                                                                              \
        e_in = _mm_sha1nexte_epu32(saved, m[(j) & 3]);                                \
        saved = abcd;                                                                 \
        if ((j) >= 3 && (j) <= 18)                                                    \
            m[((j) + 1) & 3] = _mm_sha1msg2_epu32(m[((j) + 1) & 3], m[(j) & 3]);      \
        abcd = _mm_sha1rnds4_epu32(abcd, e_in, f);                                    \
        if ((j) >= 1 && (j) <= 16)                                                    \
            m[((j) + 3) & 3] = _mm_sha1msg1_epu32(m[((j) + 3) & 3], m[(j) & 3]);      \
        if ((j) >= 2 && (j) <= 17)                                                    \
            m[((j) + 2) & 3] = _mm_xor_si128(m[((j) + 2) & 3], m[(j) & 3]);           \
    } while (0)

__attribute__((target("sha,sse4.1,ssse3")))
static void ds_sha1_block_hw(const uint8_t *block, uint8_t *digest)
{
    const __m128i big_endian = _mm_set_epi64x(0x0001020304050607LL, 0x08090a0b0c0d0e0fLL);
    const __m128i initial_abcd = _mm_set_epi32(0x67452301, (int)0xEFCDAB89,
                                               (int)0x98BADCFE, 0x10325476);  /* A high */
    const __m128i initial_e = _mm_set_epi32((int)0xC3D2E1F0, 0, 0, 0);
    __m128i m[4], abcd = initial_abcd, saved, e_in;
    for (int i = 0; i < 4; i++)
        m[i] = _mm_shuffle_epi8(_mm_loadu_si128((const __m128i *)(block + 16 * i)),
                                big_endian);
    e_in = _mm_add_epi32(initial_e, m[0]);             /* group 0 */
    saved = abcd;
    abcd = _mm_sha1rnds4_epu32(abcd, e_in, 0);
    DS_SHA1_GROUP(1, 0);  DS_SHA1_GROUP(2, 0);  DS_SHA1_GROUP(3, 0);  DS_SHA1_GROUP(4, 0);
    DS_SHA1_GROUP(5, 1);  DS_SHA1_GROUP(6, 1);  DS_SHA1_GROUP(7, 1);  DS_SHA1_GROUP(8, 1);
    DS_SHA1_GROUP(9, 1);  DS_SHA1_GROUP(10, 2); DS_SHA1_GROUP(11, 2); DS_SHA1_GROUP(12, 2);
    DS_SHA1_GROUP(13, 2); DS_SHA1_GROUP(14, 2); DS_SHA1_GROUP(15, 3); DS_SHA1_GROUP(16, 3);
    DS_SHA1_GROUP(17, 3); DS_SHA1_GROUP(18, 3); DS_SHA1_GROUP(19, 3);
    __m128i e = _mm_sha1nexte_epu32(saved, initial_e);  /* E + initial E (lane 3) */
    abcd = _mm_add_epi32(abcd, initial_abcd);
    /* A B C D E, each big-endian */
    _mm_storeu_si128((__m128i *)digest, _mm_shuffle_epi8(abcd, big_endian));
    uint32_t e_word = (uint32_t)_mm_extract_epi32(e, 3);
    digest[16] = (uint8_t)(e_word >> 24);
    digest[17] = (uint8_t)(e_word >> 16);
    digest[18] = (uint8_t)(e_word >> 8);
    digest[19] = (uint8_t)e_word;
}

#undef DS_SHA1_GROUP

#else

static int ds_cpu_has_sha1(void) { return 0; }

static void ds_sha1_block_hw(const uint8_t *block, uint8_t *digest)
{
    (void)block;
    (void)digest;
}

#endif
#endif
