/*
 * bnn_bconv2d_mve.c - the binary conv's inner loops in Helium (MVE) vector code, for
 * Cortex-M55/M85 builds with the MVE extension; empty elsewhere (bnn_bconv2d_opt only calls it
 * under BNN_HAVE_MVE).
 *
 * Layout: one 128-bit vector holds the same receptive-field word of 4 output pixels (one
 * 32-bit lane each), so each output channel's weight word is broadcast once and XORed with
 * 4 pixels at a time, and the carry-save adder networks of the scalar kernel work on 4 dot
 * products per instruction. The 4 receptive fields are gathered, interleaved, into a stack
 * column once per block of pixels for up to BNN_MVE_RUNS runs of <= 32 channels.
 *
 * Counting: MVE has no popcount instruction. The adder network leaves 5 counter vectors per
 * 18 words; their per-byte popcounts come from a 256-byte table with one byte gather each
 * (VLDRB gather), which replaces about 9 SWAR instructions per vector. A gather costs more
 * cycles than its single instruction suggests (QEMU counts instructions, not cycles), so the
 * table only counts the counters (5 gathers per 4 dot products of 18 words), never the raw words
 * of the specialised sizes. A per-lane byte sum follows, and the output bit is the sign of
 * pc + add, shifted in at the top of a per-lane bit register (VSRI).
 */

/* As in bnn_bconv2d.c: the first scheduling pass hoists every weight load and broadcast of the
 * unrolled networks to the top and then spills vector registers (MVE has only eight). */
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC optimize("no-schedule-insns")
#endif

#include "bnn_internal.h"

#ifdef BNN_HAVE_MVE
#include <arm_mve.h>

#define LANES 4

typedef uint32x4_t vec;

/* Carry-save adder on vectors: (high, low) bits of a + b + c. */
static inline void vcsa(vec *high, vec *low, vec a, vec b, vec c)
{
    vec u = veorq_u32(a, b);
    *high = vorrq_u32(vandq_u32(a, b), vandq_u32(u, c));
    *low = veorq_u32(u, c);
}

/* Word i of the 4 receptive fields XOR weight word w. */
static inline vec vxor_word(const uint32_t *colv, int32_t i, uint32_t w)
{
    return veorq_u32(vldrwq_u32(colv + LANES * i), vdupq_n_u32(w));
}

/* popcount of every byte value */
#define BNN_B2(n) n, n + 1, n + 1, n + 2
#define BNN_B4(n) BNN_B2(n), BNN_B2(n + 1), BNN_B2(n + 1), BNN_B2(n + 2)
#define BNN_B6(n) BNN_B4(n), BNN_B4(n + 1), BNN_B4(n + 1), BNN_B4(n + 2)
static const uint8_t byte_popcount[256] = {BNN_B6(0), BNN_B6(1), BNN_B6(1), BNN_B6(2)};

/* Popcount of each of the 16 bytes of x (0..8), by a table gather. */
static inline uint8x16_t vbyte_counts(vec x)
{
    return vldrbq_gather_offset_u8(byte_popcount, vreinterpretq_u8_u32(x));
}

/* Sum of the 4 bytes of each lane: byte pairs into halfwords (<= 510), then one multiply adds
 * the two halfwords into the top half. */
static inline vec vlane_sums(uint8x16_t bytes)
{
    uint16x8_t h = vreinterpretq_u16_u8(bytes);
    h = vmlaq_n_u16(h, vshrq_n_u16(h, 8), (uint16_t)-255); /* low byte + high byte */
    return vshrq_n_u32(vmulq_n_u32(vreinterpretq_u32_u16(h), 0x00010001u), 16);
}

/* Per-lane total of counter vectors of weights 1, 2, 4, 8 and 8 (bytes <= 8 * 23 = 184). */
static inline vec vcount_12488(vec ones, vec twos, vec fours, vec eights_a, vec eights_b)
{
    uint8x16_t b = vbyte_counts(ones);
    b = vmlaq_n_u8(b, vbyte_counts(twos), 2);
    b = vmlaq_n_u8(b, vbyte_counts(fours), 4);
    b = vmlaq_n_u8(b, vaddq_u8(vbyte_counts(eights_a), vbyte_counts(eights_b)), 8);
    return vlane_sums(b);
}

/* popcount(x ^ w) per lane over 18 words: the adder network of bnn_xor_popcount_18. */
static inline vec vpopcount_18(const uint32_t *colv, const uint32_t *w)
{
    vec ones, twos, fours, eights_a, eights_b, y0, y1, c0, c1, c2, f0, f1, f2;
    uint32_t w0, w1;
#define PAIR(i)                                                                                \
    do {                                                                                       \
        BNN_LOAD_PAIR(w, i, w0, w1);                                                           \
        y0 = vxor_word(colv, i, w0);                                                           \
        y1 = vxor_word(colv, (i) + 1, w1);                                                     \
    } while (0)
    PAIR(0);
    c0 = vandq_u32(y0, y1); /* half adder */
    ones = veorq_u32(y0, y1);
    PAIR(2);
    vcsa(&c1, &ones, ones, y0, y1);
    PAIR(4);
    vcsa(&c2, &ones, ones, y0, y1);
    vcsa(&f0, &twos, c0, c1, c2);
    PAIR(6);
    vcsa(&c0, &ones, ones, y0, y1);
    PAIR(8);
    vcsa(&c1, &ones, ones, y0, y1);
    vcsa(&f1, &twos, twos, c0, c1);
    PAIR(10);
    vcsa(&c0, &ones, ones, y0, y1);
    PAIR(12);
    vcsa(&c1, &ones, ones, y0, y1);
    vcsa(&f2, &twos, twos, c0, c1);
    vcsa(&eights_a, &fours, f0, f1, f2);
    PAIR(14);
    vcsa(&c0, &ones, ones, y0, y1);
    PAIR(16);
    vcsa(&c1, &ones, ones, y0, y1);
    vcsa(&f0, &twos, twos, c0, c1);
    eights_b = vandq_u32(fours, f0); /* half adder */
    fours = veorq_u32(fours, f0);
#undef PAIR
    return vcount_12488(ones, twos, fours, eights_a, eights_b);
}

/* popcount(x ^ w) per lane over 9 words: 4 full adders into the ones, then the 4 carries
 * through one full adder; fours_a and fours_b both weigh 4. */
static inline vec vpopcount_9(const uint32_t *colv, const uint32_t *w)
{
    vec ones, twos, fours_a, fours_b, c0, c1, c2, c3;
    vcsa(&c0, &ones, vxor_word(colv, 0, w[0]), vxor_word(colv, 1, w[1]), vxor_word(colv, 2, w[2]));
    vcsa(&c1, &ones, ones, vxor_word(colv, 3, w[3]), vxor_word(colv, 4, w[4]));
    vcsa(&c2, &ones, ones, vxor_word(colv, 5, w[5]), vxor_word(colv, 6, w[6]));
    vcsa(&c3, &ones, ones, vxor_word(colv, 7, w[7]), vxor_word(colv, 8, w[8]));
    vcsa(&fours_a, &twos, c0, c1, c2);
    fours_b = vandq_u32(twos, c3); /* half adder */
    twos = veorq_u32(twos, c3);
    {
        uint8x16_t b = vmlaq_n_u8(vbyte_counts(ones), vbyte_counts(twos), 2);
        b = vmlaq_n_u8(b, vaddq_u8(vbyte_counts(fours_a), vbyte_counts(fours_b)), 4);
        return vlane_sums(b); /* bytes <= 8 + 16 + 64 */
    }
}

/* Any n <= BNN_MVE_MAX_WORDS: the table counts every word and the byte counts add up
 * (<= 8 * 31 per byte), in halves of at most 31 words. */
static inline vec vpopcount_any(const uint32_t *colv, const uint32_t *w, int32_t n)
{
    vec total = vdupq_n_u32(0u);
    int32_t i = 0;
    while (i < n) {
        int32_t end = n - i > 31 ? i + 31 : n;
        uint8x16_t b = vdupq_n_u8(0);
        for (; i < end; i++)
            b = vaddq_u8(b, vbyte_counts(vxor_word(colv, i, w[i])));
        total = vaddq_u32(total, vlane_sums(b));
    }
    return total;
}

/* The run's output bits for 4 pixels (one lane each), bit i for channel run->first + i. */
static BNN_ALWAYS_INLINE vec run_bits(const uint32_t *colv, const uint32_t *w, int32_t n,
                                      const bnn_channel_run *run)
{
    const int32_t *add = run->add, *add_end = run->add + run->count;
    vec bits = vdupq_n_u32(0u);
    for (; add < add_end; add++, w += n) {
        const uint32_t *c = colv;
        vec pc;
        BNN_IN_REGISTER(c); /* else GCC hoists colv + 16, colv + 32, ... and spills them */
        pc = n == 18 ? vpopcount_18(c, w) : n == 9 ? vpopcount_9(c, w) : vpopcount_any(c, w, n);
        bits = vsriq_n_u32(vaddq_n_u32(pc, (uint32_t)*add), bits, 1); /* sign on top */
    }
    bits = vshlq_u32(bits, vdupq_n_s32(run->count - BNN_WORD_BITS)); /* negative: right */
    return veorq_u32(bits, vdupq_n_u32(run->invert));
}

/* Gather the receptive fields of pixels first .. first + lanes - 1 into colv, interleaved;
 * lanes past the last pixel get zeros (computed, then dropped). */
static void gather_block(const bnn_bconv2d_params *p, const uint32_t *in, int32_t g, int32_t wg,
                         int32_t n, int32_t first, int32_t lanes, uint32_t *colv)
{
    int32_t ow = bnn_bconv2d_out_w(p), oy = first / ow, ox = first % ow, lane, i;
    for (lane = 0; lane < lanes; lane++) {
        bnn_conv_gather_column(p, in, oy, ox, g, wg, colv + lane, LANES);
        if (++ox == ow) {
            ox = 0;
            oy++;
        }
    }
    for (; lane < LANES; lane++)
        for (i = 0; i < n; i++)
            colv[i * LANES + lane] = 0u;
}

static BNN_ALWAYS_INLINE void conv_runs(const bnn_bconv2d_params *p, const uint32_t *in,
                                        int32_t g, int32_t wg, int32_t n,
                                        const bnn_channel_run *runs, int32_t count, uint32_t *out)
{
    uint32_t colv[BNN_MVE_MAX_WORDS * LANES];
    int32_t pixels = bnn_bconv2d_out_h(p) * bnn_bconv2d_out_w(p);
    int32_t wpp_out = bnn_words_per_pixel(p->out_c, p->out_pack_groups);
    int32_t first, lane, r;
    for (first = 0; first < pixels; first += LANES) {
        int32_t lanes = pixels - first < LANES ? pixels - first : LANES;
        gather_block(p, in, g, wg, n, first, lanes, colv);
        for (r = 0; r < count; r++) {
            const bnn_channel_run *run = &runs[r];
            uint32_t bits[LANES], *dst = out + first * wpp_out + run->word;
            vst1q_u32(bits, run_bits(colv, p->weights + run->first * n, n, run));
            for (lane = 0; lane < lanes; lane++, dst += wpp_out)
                *dst |= bits[lane] << run->shift;
        }
    }
}

void bnn_conv_runs_mve(const bnn_bconv2d_params *p, const uint32_t *in, int32_t g, int32_t wg,
                       int32_t n, const bnn_channel_run *runs, int32_t count, uint32_t *out)
{
    switch (n) { /* constant n: the networks unroll completely */
    case 9:
        conv_runs(p, in, g, wg, 9, runs, count, out);
        break;
    case 18:
        conv_runs(p, in, g, wg, 18, runs, count, out);
        break;
    default:
        conv_runs(p, in, g, wg, n, runs, count, out);
        break;
    }
}

#else
typedef int bnn_bconv2d_mve_unused; /* ISO C: a translation unit must not be empty */
#endif
