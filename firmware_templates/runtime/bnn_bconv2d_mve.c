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

/* popcount of every byte value (declared in bnn_internal.h: the dense layers use it too) */
#define BNN_B2(n) n, n + 1, n + 1, n + 2
#define BNN_B4(n) BNN_B2(n), BNN_B2(n + 1), BNN_B2(n + 1), BNN_B2(n + 2)
#define BNN_B6(n) BNN_B4(n), BNN_B4(n + 1), BNN_B4(n + 1), BNN_B4(n + 2)
const uint8_t bnn_byte_popcount[256] = {BNN_B6(0), BNN_B6(1), BNN_B6(1), BNN_B6(2)};

static inline uint8x16_t vbyte_counts(vec x)
{
    return bnn_vbyte_counts(x);
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
 * (<= 8 * 31 per byte), in chunks of at most 31 words. */
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

/*
 * Gather the receptive fields of pixels first .. first + lanes - 1 into colv, interleaved (word
 * i of lane l at colv[i * LANES + l]), by vector gathers: one VLDRW gather fetches a field word
 * of all 4 pixels (their input offsets in one vector; the 4 pixels may span output rows). Where
 * every lane's field lies inside the input, a tap's offsets are the pixels' first-tap offsets plus
 * a scalar; elsewhere each tap's lanes are bounds-checked by two vector compares and the lanes
 * outside (padding, 0) or past the last pixel are predicated off (0, never read).
 */
static void gather_block(const bnn_bconv2d_params *p, const uint32_t *in, int32_t g, int32_t wg,
                         int32_t first, int32_t lanes, uint32_t *colv)
{
    int32_t ow = bnn_bconv2d_out_w(p), oy = first / ow, ox = first % ow, lane, ky, kx, i;
    int32_t wpp_in = p->groups * wg, iy0[LANES], ix0[LANES], inside = lanes == LANES;
    const uint32_t *base = in + g * wg;
    int32x4_t viy0, vix0;
    for (lane = 0; lane < LANES; lane++) {
        iy0[lane] = oy * p->stride - p->padding;
        ix0[lane] = ox * p->stride - p->padding;
        inside = inside && iy0[lane] >= 0 && ix0[lane] >= 0 &&
                 iy0[lane] + p->kernel_h <= p->in_h && ix0[lane] + p->kernel_w <= p->in_w;
        if (++ox == ow) {
            ox = 0;
            oy++;
        }
    }
    viy0 = vld1q_s32(iy0);
    vix0 = vld1q_s32(ix0);
    if (inside) {
        vec offsets = vreinterpretq_u32_s32(
            vmulq_n_s32(vmlaq_n_s32(vix0, viy0, p->in_w), wpp_in)); /* first tap, words */
        for (ky = 0; ky < p->kernel_h; ky++)
            for (kx = 0; kx < p->kernel_w; kx++) {
                const uint32_t *src = base + (ky * p->in_w + kx) * wpp_in;
                for (i = 0; i < wg; i++, colv += LANES)
                    vst1q_u32(colv, vldrwq_gather_shifted_offset_u32(src + i, offsets));
            }
        return;
    }
    {
        vec in_h = vdupq_n_u32((uint32_t)p->in_h), in_w = vdupq_n_u32((uint32_t)p->in_w);
        mve_pred16_t live = vctp32q((uint32_t)lanes);
        for (ky = 0; ky < p->kernel_h; ky++) {
            int32x4_t iy = vaddq_n_s32(viy0, ky);
            /* 0 <= iy < in_h as one unsigned compare (a negative iy is above in_h) */
            mve_pred16_t row_in = live & vcmphiq_u32(in_h, vreinterpretq_u32_s32(iy));
            int32x4_t row = vmulq_n_s32(iy, p->in_w);
            for (kx = 0; kx < p->kernel_w; kx++) {
                int32x4_t ix = vaddq_n_s32(vix0, kx);
                mve_pred16_t tap_in = row_in & vcmphiq_u32(in_w, vreinterpretq_u32_s32(ix));
                vec offsets = vreinterpretq_u32_s32(vmulq_n_s32(vaddq_s32(row, ix), wpp_in));
                for (i = 0; i < wg; i++, colv += LANES)
                    vst1q_u32(colv, vldrwq_gather_shifted_offset_z_u32(base + i, offsets, tap_in));
            }
        }
    }
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
        gather_block(p, in, g, wg, first, lanes, colv);
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

/* ---- bitsliced_mve path: the bit-sliced conv of bnn_bconv2d.c with 4 output pixels per vector
 *
 * Lane l of every vector is output pixel ox + l of one row; each 32-bit lane is bit-sliced as in
 * the scalar path (bit i: channel first + i of the run). Input bit j of a tap becomes a per-lane
 * mask (VSHL to the sign, VSHR arithmetic: 2 instructions for 4 pixels), XORed with the
 * transposed weight word of that input, broadcast (VDUP). The Harley-Seal blocks of 8 inputs,
 * the carries and the bit-sliced compare against the limit planes are those of slice_run_bits()
 * on vectors. The 4 pixels' tap words of an interior block are one VLDRW (4 neighbouring input
 * words where stride * words_per_pixel is 1, a 4-word gather otherwise); blocks at the border or
 * at the end of a row with fewer than 4 pixels gather their fields into a stack column
 * (interleaved as in the mve path, idle lanes 0). */

/* Input bit j (a constant) of every lane as a mask: 0 or all ones. */
#define BNN_VMASK(v, j)                                                                        \
    vreinterpretq_u32_s32(vshrq_n_s32(vreinterpretq_s32_u32(vshlq_n_u32(v, 31 - (j))), 31))

/* Inputs S + j, S + j + 1 (constants) of the tap words v against transposed weights wt[j],
 * wt[j + 1] (one LDRD, two VDUP). */
#define BNN_VSLICE_PAIR(v, wt, S, j, y0, y1)                                                   \
    do {                                                                                       \
        uint32_t w0_, w1_;                                                                     \
        BNN_LOAD_PAIR(wt, j, w0_, w1_);                                                        \
        (y0) = veorq_u32(vdupq_n_u32(w0_), BNN_VMASK(v, (S) + (j)));                           \
        (y1) = veorq_u32(vdupq_n_u32(w1_), BNN_VMASK(v, (S) + (j) + 1));                       \
    } while (0)

/* Inputs S .. S + 7 (S a constant: 0 or 8) of v through 7 carry-save adders into ones, twos,
 * fours; the block's carry of weight 8 goes to e. */
#define BNN_VSLICE_BLOCK(v, wt, S, e)                                                          \
    do {                                                                                       \
        vec t0_, t1_, f0_, f1_, y0_, y1_;                                                      \
        BNN_VSLICE_PAIR(v, wt, S, 0, y0_, y1_);                                                \
        vcsa(&t0_, &ones, ones, y0_, y1_);                                                     \
        BNN_VSLICE_PAIR(v, wt, S, 2, y0_, y1_);                                                \
        vcsa(&t1_, &ones, ones, y0_, y1_);                                                     \
        vcsa(&f0_, &twos, twos, t0_, t1_);                                                     \
        BNN_VSLICE_PAIR(v, wt, S, 4, y0_, y1_);                                                \
        vcsa(&t0_, &ones, ones, y0_, y1_);                                                     \
        BNN_VSLICE_PAIR(v, wt, S, 6, y0_, y1_);                                                \
        vcsa(&t1_, &ones, ones, y0_, y1_);                                                     \
        vcsa(&f1_, &twos, twos, t0_, t1_);                                                     \
        vcsa(&(e), &fours, fours, f0_, f1_);                                                   \
    } while (0)

/*
 * Output bits (before invert) of one run for 4 pixels: tap (ky, kx) of lane l is
 * base[ky * row_step + kx * tap_step + l * lane_step]. wt: the run's transposed weights
 * (taps * 8 * per_tap words, per_tap 1 or 2: at most 16 channels per group), lim: the limit's
 * planes, planes: 7, 8 or 9 with K <= 2^planes - 2 (see slice_run_bits in bnn_bconv2d.c).
 */
static BNN_ALWAYS_INLINE vec vslice_bits(const uint32_t *base, int32_t row_step,
                                         int32_t tap_step, int32_t lane_step, vec offsets,
                                         int32_t kh, int32_t kw, const uint32_t *wt,
                                         int32_t per_tap, const uint32_t *lim, int32_t planes)
{
    vec ones = vdupq_n_u32(0u), twos = ones, fours = ones, e8 = ones, e16 = ones, e32 = ones;
    vec e64 = ones, e128 = ones, e256 = ones, lt, eq;
    vec carries[BNN_SLICE_MAX_BLOCKS + 1], *cy = carries;
    int32_t ky, kx, n;
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC unroll 5
#endif
    for (ky = 0; ky < kh; ky++, base += row_step) {
        const uint32_t *src = base;
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC unroll 5
#endif
        for (kx = 0; kx < kw; kx++, src += tap_step) {
            vec v = lane_step == 1 ? vldrwq_u32(src) : vldrwq_gather_shifted_offset_u32(src, offsets);
            if (per_tap == 1) {
                BNN_VSLICE_BLOCK(v, wt, 0, *cy);
                cy++;
                wt += BNN_SLICE_BLOCK;
            } else {
                vec c0, c1;
                BNN_VSLICE_BLOCK(v, wt, 0, c0);
                BNN_VSLICE_BLOCK(v, wt + BNN_SLICE_BLOCK, 8, c1);
                vcsa(cy++, &e8, e8, c0, c1);
                wt += 2 * BNN_SLICE_BLOCK;
            }
        }
    }
    /* the carries, two at a time, as in slice_run_bits */
    *cy = vdupq_n_u32(0u);
    n = (int32_t)(cy - carries);
    for (cy = carries; n > 0; n -= 2, cy += 2) {
        vec c, d;
        if (per_tap == 1) {
            vcsa(&c, &e8, e8, cy[0], cy[1]);
            d = vandq_u32(e16, c);
            e16 = veorq_u32(e16, c);
        } else {
            vcsa(&d, &e16, e16, cy[0], cy[1]);
        }
        c = vandq_u32(e32, d);
        e32 = veorq_u32(e32, d);
        if (planes == 7) {
            e64 = veorq_u32(e64, c);
        } else {
            d = vandq_u32(e64, c);
            e64 = veorq_u32(e64, c);
            if (planes == 8) {
                e128 = veorq_u32(e128, d);
            } else {
                c = vandq_u32(e128, d);
                e128 = veorq_u32(e128, d);
                e256 = veorq_u32(e256, c);
            }
        }
    }
    /* pc < limit, from the top plane down: lt the channels found less, eq those still equal */
    lt = vdupq_n_u32(0u);
    eq = vdupq_n_u32(0xFFFFFFFFu);
#define BNN_VSLICE_CMP(plane, b)                                                               \
    do {                                                                                       \
        vec l_ = vdupq_n_u32(lim[b]);                                                          \
        lt = vorrq_u32(lt, vandq_u32(eq, vbicq_u32(l_, plane)));                               \
        eq = vbicq_u32(eq, veorq_u32(plane, l_));                                              \
    } while (0)
    if (planes >= 9)
        BNN_VSLICE_CMP(e256, 8);
    if (planes >= 8)
        BNN_VSLICE_CMP(e128, 7);
    BNN_VSLICE_CMP(e64, 6);
    BNN_VSLICE_CMP(e32, 5);
    BNN_VSLICE_CMP(e16, 4);
    BNN_VSLICE_CMP(e8, 3);
    BNN_VSLICE_CMP(fours, 2);
    BNN_VSLICE_CMP(twos, 1);
#undef BNN_VSLICE_CMP
    return vorrq_u32(lt, vandq_u32(eq, vbicq_u32(vdupq_n_u32(lim[0]), ones)));
}

/* Every output pixel of one run, 4 at a time along each output row; the constants select the
 * unrolled variants (unit: stride * words_per_pixel == 1, so an interior block's taps are 4
 * neighbouring words). */
static BNN_ALWAYS_INLINE void vslice_pixels(const bnn_bconv2d_params *p, const uint32_t *in,
                                            int32_t g, const bnn_channel_run *run,
                                            const uint32_t *wt, const uint32_t *lim,
                                            int32_t per_tap, int32_t planes, int32_t kh,
                                            int32_t kw, int unit, uint32_t *out)
{
    uint32_t colv[BNN_SLICE_MAX_BLOCKS * LANES]; /* taps <= 36 (per_tap 1) */
    int32_t oh = bnn_bconv2d_out_h(p), ow = bnn_bconv2d_out_w(p), oy, ox, lane, i;
    int32_t wpp_out = bnn_words_per_pixel(p->out_c, p->out_pack_groups);
    int32_t wpp_in = p->groups, lane_step = unit ? 1 : p->stride * wpp_in;
    uint32_t keep = run->count == BNN_WORD_BITS ? 0xFFFFFFFFu : (1u << run->count) - 1u;
    vec offsets = vmulq_n_u32(vidupq_n_u32(0u, 1), (uint32_t)lane_step);
    for (oy = 0; oy < oh; oy++) {
        int32_t iy0 = oy * p->stride - p->padding;
        int rows_in = iy0 >= 0 && iy0 + kh <= p->in_h;
        uint32_t *dst = out + oy * ow * wpp_out + run->word;
        for (ox = 0; ox < ow; ox += LANES, dst += LANES * wpp_out) {
            int32_t ix0 = ox * p->stride - p->padding;
            int32_t lanes = ow - ox < LANES ? ow - ox : LANES;
            uint32_t bits[LANES];
            vec b;
            if (rows_in && lanes == LANES && ix0 >= 0 &&
                ix0 + (LANES - 1) * p->stride + kw <= p->in_w) /* interior: read the input */
                b = vslice_bits(in + (iy0 * p->in_w + ix0) * wpp_in + g, p->in_w * wpp_in,
                                wpp_in, lane_step, offsets, kh, kw, wt, per_tap, lim, planes);
            else {
                for (lane = 0; lane < lanes; lane++)
                    bnn_conv_gather_column(p, in, oy, ox + lane, g, 1, colv + lane, LANES);
                for (; lane < LANES; lane++)
                    for (i = 0; i < kh * kw; i++)
                        colv[i * LANES + lane] = 0u;
                b = vslice_bits(colv, kw * LANES, LANES, 1, offsets, kh, kw, wt, per_tap, lim,
                                planes);
            }
            b = vandq_u32(veorq_u32(b, vdupq_n_u32(run->invert)), vdupq_n_u32(keep));
            vst1q_u32(bits, vshlq_u32(b, vdupq_n_s32(run->shift)));
            for (lane = 0; lane < lanes; lane++)
                dst[lane * wpp_out] |= bits[lane];
        }
    }
}

void bnn_slice_run_mve(const bnn_bconv2d_params *p, const uint32_t *in, int32_t g,
                       const bnn_channel_run *run, const uint32_t *wt, const uint32_t *lim,
                       int32_t per_tap, int32_t planes, uint32_t *out)
{
    int three = p->kernel_h == 3 && p->kernel_w == 3;
    int unit = p->stride * p->groups == 1;
    if (three && per_tap == 1 && planes == 7 && unit) /* a first layer on 8 thermometer planes */
        vslice_pixels(p, in, g, run, wt, lim, 1, 7, 3, 3, 1, out);
    else if (per_tap == 1)
        vslice_pixels(p, in, g, run, wt, lim, 1, 9, p->kernel_h, p->kernel_w, 0, out);
    else
        vslice_pixels(p, in, g, run, wt, lim, 2, 9, p->kernel_h, p->kernel_w, 0, out);
}

#else
typedef int bnn_bconv2d_mve_unused; /* ISO C: a translation unit must not be empty */
#endif
