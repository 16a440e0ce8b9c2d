/*
 * bnn_internal.h - helpers shared by the runtime's .c files (not part of the public API).
 *
 * Holds the popcount building blocks as static inline functions so that the optimized kernels
 * inline them in their hot loops (a call per output channel would cost several percent).
 */
#ifndef BNN_INTERNAL_H
#define BNN_INTERNAL_H

#include <stdint.h>

#include "bnn.h"

#if defined(__ARM_FEATURE_SIMD32) && __ARM_FEATURE_SIMD32
#include <arm_acle.h>
#define BNN_HAVE_USADA8 1
#endif

#define BNN_WORD_BITS 32

/* Forces inlining where a constant argument must reach the body (to unroll it). */
#if defined(__GNUC__)
#define BNN_ALWAYS_INLINE __attribute__((always_inline)) inline
#else
#define BNN_ALWAYS_INLINE inline
#endif

/* Reference popcount: the compiler builtin (a libgcc call on Cortex-M). Only the _ref kernels
 * use it; the name ends in _ref so that the test that looks for __popcountsi2 calls can tell. */
static inline int32_t bnn_popcount_ref(uint32_t x)
{
#if defined(__GNUC__)
    return (int32_t)__builtin_popcount(x);
#else
    int32_t n = 0;
    while (x) {
        x &= x - 1u;
        n++;
    }
    return n;
#endif
}

/* Bit i (0 or 1) of a packed array. */
static inline uint32_t bnn_get_bit(const uint32_t *words, int32_t i)
{
    return (words[i / BNN_WORD_BITS] >> (i % BNN_WORD_BITS)) & 1u;
}

/* Word index of channel ch in a pixel packed with `groups` groups of `per_group` channels. */
static inline int32_t bnn_channel_bit(int32_t ch, int32_t per_group, int32_t words_per_group)
{
    return (ch / per_group) * words_per_group * BNN_WORD_BITS + ch % per_group;
}

/* Output bit of a thresholded dot: 0 (+1) when (dot >= threshold) != flip, else 1 (-1).
 * Only bit 0 of flip counts (the IR stores 0 or 1). */
static inline uint32_t bnn_threshold_bit(int32_t dot, int32_t threshold, uint8_t flip)
{
    return (uint32_t)(dot < threshold) ^ (flip & 1u);
}

/* Per-byte population counts of x: each byte of the result holds 0..8 (SWAR, no libgcc). */
static inline uint32_t bnn_byte_counts(uint32_t x)
{
    x = x - ((x >> 1) & 0x55555555u);
    x = (x & 0x33333333u) + ((x >> 2) & 0x33333333u);
    return (x + (x >> 4)) & 0x0F0F0F0Fu;
}

/* Sum of the four bytes of x (each 0..255). One USADA8 where the DSP extension exists. */
static inline uint32_t bnn_sum_bytes(uint32_t x)
{
#ifdef BNN_HAVE_USADA8
    return __usada8(x, 0u, 0u);
#else
    x = (x & 0x00FF00FFu) + ((x >> 8) & 0x00FF00FFu);
    return (x + (x >> 16)) & 0xFFFFu;
#endif
}

/* Carry-save adder: (high, low) bits of the per-bit sum a + b + c. */
static inline void bnn_csa(uint32_t *high, uint32_t *low, uint32_t a, uint32_t b, uint32_t c)
{
    uint32_t u = a ^ b;
    *high = (a & b) | (u & c);
    *low = u ^ c;
}

/*
 * sum over i < n of popcount(a[i] ^ b[i]), Harley-Seal style: blocks of 8 words go through a
 * carry-save adder tree into running "ones", "twos" and "fours" words, so only the "eights"
 * word of each block needs a real popcount (about 5 instructions per word instead of ~12).
 * The leftover words and the three accumulators are counted per byte at the end:
 * bytes <= 8*(1 + 2 + 4) + 7*8 = 112 < 256, so the byte sums cannot overflow.
 */
static inline int32_t bnn_xor_popcount_inline(const uint32_t *a, const uint32_t *b, int32_t n)
{
    uint32_t ones = 0, twos = 0, fours = 0, eights_total = 0, rest = 0;
    for (; n >= 8; n -= 8, a += 8, b += 8) {
        uint32_t twos_a, twos_b, fours_a, fours_b, eights;
        bnn_csa(&twos_a, &ones, ones, a[0] ^ b[0], a[1] ^ b[1]);
        bnn_csa(&twos_b, &ones, ones, a[2] ^ b[2], a[3] ^ b[3]);
        bnn_csa(&fours_a, &twos, twos, twos_a, twos_b);
        bnn_csa(&twos_a, &ones, ones, a[4] ^ b[4], a[5] ^ b[5]);
        bnn_csa(&twos_b, &ones, ones, a[6] ^ b[6], a[7] ^ b[7]);
        bnn_csa(&fours_b, &twos, twos, twos_a, twos_b);
        bnn_csa(&eights, &fours, fours, fours_a, fours_b);
        eights_total += bnn_sum_bytes(bnn_byte_counts(eights));
    }
    for (; n > 0; n--)
        rest += bnn_byte_counts(*a++ ^ *b++);
    rest += bnn_byte_counts(ones) + (bnn_byte_counts(twos) << 1) + (bnn_byte_counts(fours) << 2);
    return (int32_t)(8u * eights_total + bnn_sum_bytes(rest));
}

/* Bit-sliced counter: bit i of the count of every bit position, for up to 31 words. */
typedef struct {
    uint32_t ones, twos, fours, eights, sixteens;
} bnn_counter;

/* Add a word of weight 2 (the carry of a pair) by rippling half adders up the counter. */
static inline void bnn_counter_add_twos(bnn_counter *c, uint32_t t)
{
    uint32_t carry = c->twos & t;
    c->twos ^= t;
    t = c->fours & carry;
    c->fours ^= carry;
    carry = c->eights & t;
    c->eights ^= t;
    c->sixteens ^= carry; /* no carry out: a position counts at most 31 */
}

/* Keep a mask in a register: ARM can then AND with a shifted operand in one instruction
 * (and rd, mask, x, lsr #1), which GCC otherwise splits into a shift and an AND immediate.
 * volatile: the asm is not hoisted out of the caller's loop, so the masks do not hold three
 * registers across the whole adder network (one mov each per use is cheaper than spills). */
#if defined(__GNUC__) && defined(__arm__)
#define BNN_IN_REGISTER(v) __asm__ volatile("" : "+r"(v))
#else
#define BNN_IN_REGISTER(v) ((void)0)
#endif

/* Per-nibble popcounts of x (each nibble 0..4). */
static inline uint32_t bnn_nibble_counts(uint32_t x, uint32_t m1, uint32_t m2)
{
    x = x - ((x >> 1) & m1);
    return (x & m2) + ((x >> 2) & m2);
}

/* Nibble sums (each <= 15) -> byte sums. */
static inline uint32_t bnn_nibbles_to_bytes(uint32_t x, uint32_t m4)
{
    return (x & m4) + ((x >> 4) & m4);
}

/* Weighted popcount of the counter: per-nibble counts first (<= 4 each), weights combined
 * while a nibble stays <= 15, then per byte (<= 24 + 4*24 + 16*8 = 248), then one byte sum. */
static inline int32_t bnn_counter_total(const bnn_counter *c)
{
    uint32_t m1 = 0x55555555u, m2 = 0x33333333u, m4 = 0x0F0F0F0Fu;
    uint32_t low, mid, high;
    BNN_IN_REGISTER(m1);
    BNN_IN_REGISTER(m2);
    BNN_IN_REGISTER(m4);
    low = bnn_nibble_counts(c->ones, m1, m2) + (bnn_nibble_counts(c->twos, m1, m2) << 1);
    mid = bnn_nibble_counts(c->fours, m1, m2) + (bnn_nibble_counts(c->eights, m1, m2) << 1);
    high = bnn_nibble_counts(c->sixteens, m1, m2);
    return (int32_t)bnn_sum_bytes(bnn_nibbles_to_bytes(low, m4) +
                                  (bnn_nibbles_to_bytes(mid, m4) << 2) +
                                  (bnn_nibbles_to_bytes(high, m4) << 4));
}

/* Two consecutive words p[i], p[i + 1] (i a constant) in one LDRD where the core has it
 * (Thumb-2: Cortex-M3 and up). GCC's Cortex-M tuning never pairs loads by itself, and the
 * unrolled popcounts below spend a third of their instructions on loads. The asm's operand is
 * the memory itself ("o": base register plus a small constant offset, which LDRD encodes; the
 * may_alias type keeps it ordered after stores to that memory as uint32_t). */
#if defined(__GNUC__) && defined(__thumb2__)
typedef uint64_t bnn_word_pair __attribute__((may_alias));
#define BNN_LOAD_PAIR(p, i, lo, hi)                                                            \
    __asm__("ldrd %0, %1, %2" : "=r"(lo), "=r"(hi) : "o"(*(const bnn_word_pair *)((p) + (i))))
#else
#define BNN_LOAD_PAIR(p, i, lo, hi) ((lo) = (p)[i], (hi) = (p)[(i) + 1])
#endif

/* Bit j of x as a mask: 0 or all ones (one SBFX on Thumb-2). */
#define BNN_BIT_MASK(x, j) ((uint32_t)(-(int32_t)(((x) >> (j)) & 1u)))

/* Two inputs j, j + 1 of block v against transposed weights wt[j], wt[j + 1] (one LDRD). */
#define BNN_SLICE_PAIR(v, wt, j, y0, y1)                                                       \
    do {                                                                                       \
        uint32_t w0_, w1_;                                                                     \
        BNN_LOAD_PAIR(wt, j, w0_, w1_);                                                        \
        (y0) = w0_ ^ BNN_BIT_MASK(v, j);                                                       \
        (y1) = w1_ ^ BNN_BIT_MASK(v, (j) + 1);                                                 \
    } while (0)

/* Inputs bit .. bit + 7 of v (bit: a constant) against the transposed weight words
 * wt[bit..bit + 7] (word j: input j of every lane), the Harley-Seal network of a block: 7
 * carry-save adders into the lanes' ones, twos, fours; returns the block's carry of weight 8. The
 * bit-sliced paths' building block: bnn_bconv2d.c (32 output channels) and bnn_bdense.c
 * (32 rows). */
static BNN_ALWAYS_INLINE uint32_t bnn_slice_block8(uint32_t v, const uint32_t *wt,
                                                   uint32_t *ones, uint32_t *twos,
                                                   uint32_t *fours, const int32_t bit)
{
    uint32_t t0, t1, f0, f1, e, y0, y1;
    BNN_SLICE_PAIR(v, wt, bit + 0, y0, y1);
    bnn_csa(&t0, ones, *ones, y0, y1);
    BNN_SLICE_PAIR(v, wt, bit + 2, y0, y1);
    bnn_csa(&t1, ones, *ones, y0, y1);
    bnn_csa(&f0, twos, *twos, t0, t1);
    BNN_SLICE_PAIR(v, wt, bit + 4, y0, y1);
    bnn_csa(&t0, ones, *ones, y0, y1);
    BNN_SLICE_PAIR(v, wt, bit + 6, y0, y1);
    bnn_csa(&t1, ones, *ones, y0, y1);
    bnn_csa(&f1, twos, *twos, t0, t1);
    bnn_csa(&e, fours, *fours, f0, f1);
    return e;
}

/* y0 = a[i] ^ b[i], y1 = a[i + 1] ^ b[i + 1] with two pair loads. */
#define BNN_XOR_PAIR(a, b, i, y0, y1)                                                          \
    do {                                                                                       \
        uint32_t a0_, a1_, b0_, b1_;                                                           \
        BNN_LOAD_PAIR(a, i, a0_, a1_);                                                         \
        BNN_LOAD_PAIR(b, i, b0_, b1_);                                                         \
        (y0) = a0_ ^ b0_;                                                                      \
        (y1) = a1_ ^ b1_;                                                                      \
    } while (0)

/*
 * sum over i < n of popcount(a[i] ^ b[i]) for n <= 31 words (the receptive field of a 3x3
 * conv with up to 96 channels per group): an exact bit-sliced counter, fed 16 words at a time
 * through a carry-save adder tree (15 adders of 5 instructions), then pairs through one adder
 * and a half-adder ripple, and counted once at the end. With a constant n the compiler
 * unrolls it completely.
 */
static BNN_ALWAYS_INLINE int32_t bnn_xor_popcount_small(const uint32_t *a, const uint32_t *b, int32_t n)
{
    bnn_counter c = {0u, 0u, 0u, 0u, 0u};
    if (n >= 16) {
        uint32_t t_a, t_b, f_a, f_b, e_a, e_b;
        bnn_csa(&t_a, &c.ones, a[0] ^ b[0], a[1] ^ b[1], a[2] ^ b[2]);
        bnn_csa(&t_b, &c.ones, c.ones, a[3] ^ b[3], a[4] ^ b[4]);
        bnn_csa(&f_a, &c.twos, t_a, t_b, 0u);
        bnn_csa(&t_a, &c.ones, c.ones, a[5] ^ b[5], a[6] ^ b[6]);
        bnn_csa(&t_b, &c.ones, c.ones, a[7] ^ b[7], a[8] ^ b[8]);
        bnn_csa(&f_b, &c.twos, c.twos, t_a, t_b);
        bnn_csa(&e_a, &c.fours, f_a, f_b, 0u);
        bnn_csa(&t_a, &c.ones, c.ones, a[9] ^ b[9], a[10] ^ b[10]);
        bnn_csa(&t_b, &c.ones, c.ones, a[11] ^ b[11], a[12] ^ b[12]);
        bnn_csa(&f_a, &c.twos, c.twos, t_a, t_b);
        bnn_csa(&t_a, &c.ones, c.ones, a[13] ^ b[13], a[14] ^ b[14]);
        bnn_csa(&t_b, &c.ones, c.ones, a[15] ^ b[15], 0u);
        bnn_csa(&f_b, &c.twos, c.twos, t_a, t_b);
        bnn_csa(&e_b, &c.fours, c.fours, f_a, f_b);
        bnn_csa(&c.sixteens, &c.eights, e_a, e_b, 0u);
        a += 16;
        b += 16;
        n -= 16;
    }
    for (; n >= 2; n -= 2, a += 2, b += 2) {
        uint32_t t, y0, y1;
        BNN_XOR_PAIR(a, b, 0, y0, y1);
        bnn_csa(&t, &c.ones, c.ones, y0, y1);
        bnn_counter_add_twos(&c, t);
    }
    if (n) { /* a last odd word: half adder into the ones */
        uint32_t x = a[0] ^ b[0];
        uint32_t t = c.ones & x;
        c.ones ^= x;
        bnn_counter_add_twos(&c, t);
    }
    return bnn_counter_total(&c);
}

/* sum over i < 3 of popcount(a[i] ^ b[i]) (a dense 3x3 field of up to 8 channels): one carry-save
 * adder, then nibble counts of its two words (<= 4 + 2*4 = 12 per nibble), bytes, one byte sum. */
static BNN_ALWAYS_INLINE int32_t bnn_xor_popcount_3(const uint32_t *a, const uint32_t *b)
{
    uint32_t m1 = 0x55555555u, m2 = 0x33333333u, m4 = 0x0F0F0F0Fu;
    uint32_t high, low, y0, y1;
    BNN_IN_REGISTER(m1);
    BNN_IN_REGISTER(m2);
    BNN_IN_REGISTER(m4);
    BNN_XOR_PAIR(a, b, 0, y0, y1);
    bnn_csa(&high, &low, y0, y1, a[2] ^ b[2]);
    low = bnn_nibble_counts(low, m1, m2) + (bnn_nibble_counts(high, m1, m2) << 1);
    return (int32_t)bnn_sum_bytes(bnn_nibbles_to_bytes(low, m4));
}

/*
 * sum over i < 9 of popcount(a[i] ^ b[i]): a 3x3 receptive field of 17-32 channels per group
 * (one word per tap). Fixed network: 4 full adders into the ones (the first takes 3 words) leave
 * 4 carries; one full adder and a half adder turn them into twos and two words of weight 4. The
 * four counter words are counted once: nibble counts (ones + 2 twos <= 12, the fours <= 8 per
 * nibble), bytes (<= 24 + 4*16 = 88) and one byte sum. About 8 instructions per word with the
 * LDRD pairs, against 17 for the generic counter.
 */
static BNN_ALWAYS_INLINE int32_t bnn_xor_popcount_9(const uint32_t *a, const uint32_t *b)
{
    uint32_t m1 = 0x55555555u, m2 = 0x33333333u, m4 = 0x0F0F0F0Fu;
    uint32_t ones, twos, fours_a, fours_b, c0, c1, c2, c3, y0, y1, low, high;
    BNN_XOR_PAIR(a, b, 0, y0, y1);
    bnn_csa(&c0, &ones, y0, y1, a[8] ^ b[8]);
    BNN_XOR_PAIR(a, b, 2, y0, y1);
    bnn_csa(&c1, &ones, ones, y0, y1);
    BNN_XOR_PAIR(a, b, 4, y0, y1);
    bnn_csa(&c2, &ones, ones, y0, y1);
    BNN_XOR_PAIR(a, b, 6, y0, y1);
    bnn_csa(&c3, &ones, ones, y0, y1);
    bnn_csa(&fours_a, &twos, c0, c1, c2);
    fours_b = twos & c3; /* half adder */
    twos ^= c3;
    BNN_IN_REGISTER(m1);
    BNN_IN_REGISTER(m2);
    BNN_IN_REGISTER(m4);
    low = bnn_nibble_counts(ones, m1, m2) + (bnn_nibble_counts(twos, m1, m2) << 1);
    high = bnn_nibble_counts(fours_a, m1, m2) + bnn_nibble_counts(fours_b, m1, m2);
    return (int32_t)bnn_sum_bytes(bnn_nibbles_to_bytes(low, m4) +
                                  (bnn_nibbles_to_bytes(high, m4) << 2));
}

/* Weighted popcount of five counter words of weights 1, 2, 4, 8 and 8: nibble counts (<= 4)
 * combined two by two while a nibble stays <= 15, then bytes (<= 24 + 4*24 + 8*8 = 184 < 256)
 * and one byte sum. */
static inline int32_t bnn_count_12488(uint32_t ones, uint32_t twos, uint32_t fours,
                                      uint32_t eights_a, uint32_t eights_b)
{
    uint32_t m1 = 0x55555555u, m2 = 0x33333333u, m4 = 0x0F0F0F0Fu;
    uint32_t low, mid, high;
    BNN_IN_REGISTER(m1);
    BNN_IN_REGISTER(m2);
    BNN_IN_REGISTER(m4);
    low = bnn_nibble_counts(ones, m1, m2) + (bnn_nibble_counts(twos, m1, m2) << 1);
    mid = bnn_nibble_counts(fours, m1, m2) + (bnn_nibble_counts(eights_a, m1, m2) << 1);
    high = bnn_nibble_counts(eights_b, m1, m2);
    return (int32_t)bnn_sum_bytes(bnn_nibbles_to_bytes(low, m4) +
                                  (bnn_nibbles_to_bytes(mid, m4) << 2) +
                                  (bnn_nibbles_to_bytes(high, m4) << 3));
}

/*
 * The same sum for exactly 18 words: a 3x3 receptive field of 33-64 channels per group, the
 * most common conv of these networks. The words come in pairs (one LDRD each from a and b);
 * the adder network has the fewest adders for 18 inputs (13 full, 2 half adders):
 * ones chain 1 HA + 8 FA -> 9 carries; twos chain 4 FA -> 4; fours 1 FA + 1 HA -> two words of
 * weight 8, counted as they are (a last half adder would not save a count).
 * The order keeps at most six partial sums alive (Cortex-M has 13 free registers).
 */
static BNN_ALWAYS_INLINE int32_t bnn_xor_popcount_18(const uint32_t *a, const uint32_t *b)
{
    uint32_t ones, twos, fours, eights_a, eights_b, y0, y1, c0, c1, c2, f0, f1, f2;
    BNN_XOR_PAIR(a, b, 0, y0, y1);
    c0 = y0 & y1; /* half adder */
    ones = y0 ^ y1;
    BNN_XOR_PAIR(a, b, 2, y0, y1);
    bnn_csa(&c1, &ones, ones, y0, y1);
    BNN_XOR_PAIR(a, b, 4, y0, y1);
    bnn_csa(&c2, &ones, ones, y0, y1);
    bnn_csa(&f0, &twos, c0, c1, c2);
    BNN_XOR_PAIR(a, b, 6, y0, y1);
    bnn_csa(&c0, &ones, ones, y0, y1);
    BNN_XOR_PAIR(a, b, 8, y0, y1);
    bnn_csa(&c1, &ones, ones, y0, y1);
    bnn_csa(&f1, &twos, twos, c0, c1);
    BNN_XOR_PAIR(a, b, 10, y0, y1);
    bnn_csa(&c0, &ones, ones, y0, y1);
    BNN_XOR_PAIR(a, b, 12, y0, y1);
    bnn_csa(&c1, &ones, ones, y0, y1);
    bnn_csa(&f2, &twos, twos, c0, c1);
    bnn_csa(&eights_a, &fours, f0, f1, f2);
    BNN_XOR_PAIR(a, b, 14, y0, y1);
    bnn_csa(&c0, &ones, ones, y0, y1);
    BNN_XOR_PAIR(a, b, 16, y0, y1);
    bnn_csa(&c1, &ones, ones, y0, y1);
    bnn_csa(&f0, &twos, twos, c0, c1);
    eights_b = fours & f0; /* half adder */
    fours ^= f0;
    return bnn_count_12488(ones, twos, fours, eights_a, eights_b);
}

/*
 * sum over i < n of popcount(a[i] ^ b[i]) for rows of any length (the dense layers): blocks of
 * 16 words (LDRD pairs) through a Harley-Seal network of 15 carry-save adders into running ones,
 * twos, fours and eights; only each block's carry of weight 16 is counted on its own (SWAR bytes
 * and a byte sum). The last n % 16 words go in pairs through one adder and a ripple; the
 * four running words are counted once. About 7.5 instructions per word on Cortex-M4.
 */
static BNN_ALWAYS_INLINE int32_t bnn_xor_popcount_row(const uint32_t *a, const uint32_t *b,
                                                      int32_t n)
{
#if defined(__arm__) && !defined(__thumb2__)
    /* v6-M (Cortex-M0): no LDRD and 8 low registers; the 8-word blocks spill less */
    return bnn_xor_popcount_inline(a, b, n);
#else
    uint32_t ones = 0u, twos = 0u, fours = 0u, eights = 0u, total = 0u;
    for (; n >= 16; n -= 16, a += 16, b += 16) {
        uint32_t y0, y1, t0, t1, f0, f1, e0, e1, s;
        BNN_XOR_PAIR(a, b, 0, y0, y1);
        bnn_csa(&t0, &ones, ones, y0, y1);
        BNN_XOR_PAIR(a, b, 2, y0, y1);
        bnn_csa(&t1, &ones, ones, y0, y1);
        bnn_csa(&f0, &twos, twos, t0, t1);
        BNN_XOR_PAIR(a, b, 4, y0, y1);
        bnn_csa(&t0, &ones, ones, y0, y1);
        BNN_XOR_PAIR(a, b, 6, y0, y1);
        bnn_csa(&t1, &ones, ones, y0, y1);
        bnn_csa(&f1, &twos, twos, t0, t1);
        bnn_csa(&e0, &fours, fours, f0, f1);
        BNN_XOR_PAIR(a, b, 8, y0, y1);
        bnn_csa(&t0, &ones, ones, y0, y1);
        BNN_XOR_PAIR(a, b, 10, y0, y1);
        bnn_csa(&t1, &ones, ones, y0, y1);
        bnn_csa(&f0, &twos, twos, t0, t1);
        BNN_XOR_PAIR(a, b, 12, y0, y1);
        bnn_csa(&t0, &ones, ones, y0, y1);
        BNN_XOR_PAIR(a, b, 14, y0, y1);
        bnn_csa(&t1, &ones, ones, y0, y1);
        bnn_csa(&f1, &twos, twos, t0, t1);
        bnn_csa(&e1, &fours, fours, f0, f1);
        bnn_csa(&s, &eights, eights, e0, e1);
        total += bnn_sum_bytes(bnn_byte_counts(s));
    }
    {
        bnn_counter c;
        c.ones = ones;
        c.twos = twos;
        c.fours = fours;
        c.eights = eights;
        c.sixteens = 0u;
        for (; n >= 2; n -= 2, a += 2, b += 2) { /* at most 7 pairs: the counter stays < 32 */
            uint32_t t, y0, y1;
            BNN_XOR_PAIR(a, b, 0, y0, y1);
            bnn_csa(&t, &c.ones, c.ones, y0, y1);
            bnn_counter_add_twos(&c, t);
        }
        if (n) {
            uint32_t x = a[0] ^ b[0];
            uint32_t t = c.ones & x;
            c.ones ^= x;
            bnn_counter_add_twos(&c, t);
        }
        return (int32_t)(16u * total) + bnn_counter_total(&c);
    }
#endif
}

/* ---- shared by bnn_bconv2d.c and its Helium version bnn_bconv2d_mve.c ---- */

/* Up to 32 output channels of one conv group that share one output word (same packing group,
 * same 32 bits). Channel first + i outputs bit i of the run:
 *     sign bit of (pc + add[i]) XOR bit i of invert,   pc = popcount(x XOR w)
 * over its receptive field (see channel_run() in bnn_bconv2d.c). */
typedef struct {
    int32_t first, count; /* channels [first, first + count) */
    int32_t word, shift;  /* their bits: word `word` of an output pixel, from bit `shift` up */
    uint32_t invert;
    int32_t add[BNN_WORD_BITS];
} bnn_channel_run;

/* Receptive field of output pixel (oy, ox) in conv group g, word i at col[i * stride]. */
void bnn_conv_gather_column(const bnn_bconv2d_params *p, const uint32_t *in, int32_t oy,
                            int32_t ox, int32_t g, int32_t wg, uint32_t *col, int32_t stride);

/* Bit-sliced paths: each tap's cg <= 32 input bits take 1 (cg <= 8), 2 (cg <= 16) or 4 blocks
 * of 8 inputs; a field has at most 36 blocks (3x3 taps of 32 inputs); the largest
 * K = kh*kw*cg is 510, so a channel's count and its limit (<= K + 1) fit 9 counter planes. */
#define BNN_SLICE_BLOCK 8
#define BNN_SLICE_MAX_BLOCKS 36
#define BNN_SLICE_MAX_BITS 510

/* Helium (MVE) integer vectors: Cortex-M55/M85 built with the MVE extension. BNN_MVE_DISPATCH:
 * a translation unit of such a build that generates its own code as Armv7E-M (bnn_bconv2d.c):
 * it calls the Helium paths but has no vector intrinsics. */
#if (defined(__ARM_FEATURE_MVE) && (__ARM_FEATURE_MVE & 1)) || defined(BNN_MVE_DISPATCH)
#define BNN_HAVE_MVE 1
/* Receptive fields of at most this many words take the vector path (its column of 4 pixels
 * lives on the stack: 16 bytes per word, 1 KiB). 64 takes a 7x7 kernel of up to 32 channels
 * per group, which the scalar lanes path ran as fast on Cortex-M55 as on M4. */
#define BNN_MVE_MAX_WORDS 64
/* Runs of channels handed to the vector code at once: each block of 4 pixels is gathered once
 * for all of them. */
#define BNN_MVE_RUNS 2
/* Runs runs[0..count) of group g over every output pixel, n = kh*kw*Wg <= BNN_MVE_MAX_WORDS
 * words per receptive field; ORs their bits into out (bnn_bconv2d_mve.c). */
void bnn_conv_runs_mve(const bnn_bconv2d_params *p, const uint32_t *in, int32_t g, int32_t wg,
                       int32_t n, const bnn_channel_run *runs, int32_t count, uint32_t *out);

/* Bit-sliced conv on Helium (path bitsliced_mve): one run of <= 32 channels of group g over
 * every output pixel, 4 pixels per vector (bnn_bconv2d_mve.c). One word per tap with at most
 * 16 channels per group (per_tap = 1 or 2 blocks of 8 inputs), at most BNN_SLICE_MAX_BLOCKS
 * blocks; wt: the run's transposed weights as bnn_bconv2d.c lays them out (word t*8*per_tap + j:
 * input j of tap t, bit i for channel first + i), lim: the planes of the limits -add[i] (word
 * b: bit b of each channel's limit), planes: 7, 8 or 9 (K <= 2^planes - 2). ORs into out. */
void bnn_slice_run_mve(const bnn_bconv2d_params *p, const uint32_t *in, int32_t g,
                       const bnn_channel_run *run, const uint32_t *wt, const uint32_t *lim,
                       int32_t per_tap, int32_t planes, uint32_t *out);

#if defined(__ARM_FEATURE_MVE) && (__ARM_FEATURE_MVE & 1)
#include <arm_mve.h>

/* popcount of every byte value (bnn_bconv2d_mve.c). MVE has no population count instruction
 * (no VCNT, unlike Neon): a byte gather from this table (VLDRB gather, one instruction for 16
 * bytes) stands in for it. */
extern const uint8_t bnn_byte_popcount[256];

/* Popcount of each of the 16 bytes of x (0..8), by one table gather. */
static inline uint8x16_t bnn_vbyte_counts(uint32x4_t x)
{
    return vldrbq_gather_offset_u8(bnn_byte_popcount, vreinterpretq_u8_u32(x));
}
#endif /* vector intrinsics */
#endif

/* Shape checks shared by the kernels. */
static inline int bnn_splits(int32_t channels, int32_t groups)
{
    return channels > 0 && groups > 0 && channels % groups == 0;
}

#endif /* BNN_INTERNAL_H */
