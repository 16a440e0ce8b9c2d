/* bnn_bconv2d.c - binary 2-D convolution, one-padding, threshold output. */

/* GCC's first scheduling pass lengthens register lifetimes in the unrolled adder network and
 * makes it spill (measured on Cortex-M4: about 4% more executed instructions); turn it off for
 * this file only. */
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC optimize("no-schedule-insns")
#endif

/* Helium builds: this file's scalar code (the dispatch and the scalar paths, which run on
 * Cortex-M55 where a layer is too small for 4-pixel vectors) is generated as Armv7E-M code,
 * the code a Cortex-M4 runs. GCC's Armv8.1-M code for the same C ran 1-4 % more instructions
 * on those layers (per-call set-up: other register allocation, low-overhead loops around
 * loops of one or two iterations); bench/m55_vs_m4.py measured it. The vector paths are in
 * bnn_bconv2d_mve.c. The target pragma also drops __ARM_FEATURE_MVE, so BNN_MVE_DISPATCH
 * tells bnn_internal.h that the build has the Helium paths (BNN_HAVE_MVE) all the same. */
#if defined(__ARM_FEATURE_MVE) && (__ARM_FEATURE_MVE & 1) && defined(__GNUC__) && \
    !defined(__clang__) && !defined(__ARM_FEATURE_PAC_DEFAULT) && \
    !defined(__ARM_FEATURE_BTI_DEFAULT)
/* (not with branch protection: Armv7E-M code has no PAC/BTI instructions) */
#define BNN_MVE_DISPATCH 1
#if defined(__ARM_FP)
#pragma GCC target("arch=armv7e-m+fp")
#else
#pragma GCC target("arch=armv7e-m")
#endif
#endif

#include "bnn_internal.h"

int32_t bnn_bconv2d_out_h(const bnn_bconv2d_params *p)
{
    return (p->in_h + 2 * p->padding - p->kernel_h) / p->stride + 1;
}

int32_t bnn_bconv2d_out_w(const bnn_bconv2d_params *p)
{
    return (p->in_w + 2 * p->padding - p->kernel_w) / p->stride + 1;
}

static bnn_status check_bconv2d(const bnn_bconv2d_params *p, const uint32_t *in,
                                const uint32_t *out)
{
    if (p == 0 || in == 0 || out == 0 || p->weights == 0 || p->threshold == 0 || p->flip == 0)
        return BNN_ERR_ARGUMENT;
    if (p->in_h <= 0 || p->in_w <= 0 || p->in_c <= 0 || p->out_c <= 0 || p->kernel_h <= 0 ||
        p->kernel_w <= 0 || p->stride <= 0 || p->padding < 0 || p->groups <= 0 ||
        p->out_pack_groups <= 0)
        return BNN_ERR_ARGUMENT;
    if (!bnn_splits(p->in_c, p->groups) || !bnn_splits(p->out_c, p->groups) ||
        !bnn_splits(p->out_c, p->out_pack_groups))
        return BNN_ERR_SHAPE;
    if (p->in_h + 2 * p->padding < p->kernel_h || p->in_w + 2 * p->padding < p->kernel_w)
        return BNN_ERR_SHAPE;
    return BNN_OK;
}

/*
 * Dense packing (scalar builds, at most 16 channels per group, so Wg = 1): each tap's cg bits take
 * a lane of lane_bits(cg) = the next power of two >= cg bits, taps in [kh][kw] order from bit 0
 * of word 0 on, so no lane straddles a word. A 3x3 field of 8 channels then is 3 words instead
 * of 9. Returns the dense word count, or 0 where the shape keeps the word-per-tap layout (more
 * than 16 channels per group, or no fewer words).
 */
static int32_t lane_bits(int32_t cg)
{
    int32_t b = 1;
    while (b < cg)
        b *= 2;
    return b;
}

static int32_t dense_words(const bnn_bconv2d_params *p)
{
    int32_t cg = p->in_c / p->groups, taps = p->kernel_h * p->kernel_w, per_word, nd;
    if (cg > 16)
        return 0;
    per_word = BNN_WORD_BITS / lane_bits(cg);
    nd = (taps + per_word - 1) / per_word;
    return nd < taps ? nd : 0;
}

/* The dense path's scratch: the dense weights of one run of up to 32 channels (repacked once per
 * run, so once per call for every channel), then the dense field. */
#define BNN_DENSE_RUN_MAX BNN_WORD_BITS

int32_t bnn_bconv2d_get_buffer_size(const bnn_bconv2d_params *p)
{
    int32_t words, nd;
    /* one receptive field of one group: kernel_h * kernel_w * Wg words */
    if (p == 0 || p->kernel_h <= 0 || p->kernel_w <= 0 || p->in_c <= 0 || p->groups <= 0)
        return 0;
    words = p->kernel_h * p->kernel_w * bnn_words_per_group(p->in_c / p->groups);
    nd = dense_words(p);
    if (nd > 0 && (BNN_DENSE_RUN_MAX + 1) * nd > words)
        words = (BNN_DENSE_RUN_MAX + 1) * nd;
    return (int32_t)sizeof(uint32_t) * words;
}

bnn_status bnn_bconv2d_ref(const bnn_bconv2d_params *p, const uint32_t *in, uint32_t *out)
{
    int32_t oh, ow, oy, ox, o, ky, kx, i;
    int32_t wg, wpp_in, out_per_group, opg, owg, wpp_out, k;
    bnn_status st = check_bconv2d(p, in, out);
    if (st != BNN_OK)
        return st;
    oh = bnn_bconv2d_out_h(p);
    ow = bnn_bconv2d_out_w(p);
    wg = bnn_words_per_group(p->in_c / p->groups);
    wpp_in = p->groups * wg;
    out_per_group = p->out_c / p->groups;          /* output channels per conv group */
    opg = p->out_c / p->out_pack_groups;           /* output channels per packing group */
    owg = bnn_words_per_group(opg);
    wpp_out = p->out_pack_groups * owg;
    k = p->kernel_h * p->kernel_w * (p->in_c / p->groups);
    for (i = 0; i < oh * ow * wpp_out; i++)
        out[i] = 0;
    for (oy = 0; oy < oh; oy++) {
        for (ox = 0; ox < ow; ox++) {
            for (o = 0; o < p->out_c; o++) {
                int32_t g = o / out_per_group;
                int32_t pc = 0, dot, bit;
                for (ky = 0; ky < p->kernel_h; ky++) {
                    for (kx = 0; kx < p->kernel_w; kx++) {
                        int32_t iy = oy * p->stride - p->padding + ky;
                        int32_t ix = ox * p->stride - p->padding + kx;
                        int inside = iy >= 0 && iy < p->in_h && ix >= 0 && ix < p->in_w;
                        for (i = 0; i < wg; i++) {
                            /* a padded tap is +1 = bit 0, it still meets the weight bit */
                            uint32_t x = inside ? in[(iy * p->in_w + ix) * wpp_in + g * wg + i] : 0u;
                            uint32_t w = p->weights[((o * p->kernel_h + ky) * p->kernel_w + kx) * wg + i];
                            pc += bnn_popcount_ref(x ^ w);
                        }
                    }
                }
                dot = k - 2 * pc;
                bit = bnn_channel_bit(o, opg, owg);
                out[(oy * ow + ox) * wpp_out + bit / BNN_WORD_BITS] |=
                    bnn_threshold_bit(dot, p->threshold[o], p->flip[o]) << (bit % BNN_WORD_BITS);
            }
        }
    }
    return BNN_OK;
}

/* Copy the receptive field of output pixel (oy, ox) in group g into col[kh][kw][wg], word i
 * at col[i * stride], writing 0 (+1) for padded taps, so that the dot is one XOR-popcount over
 * the column (stride 1: contiguous; the Helium kernel interleaves 4 pixels with stride 4). */
void bnn_conv_gather_column(const bnn_bconv2d_params *p, const uint32_t *in, int32_t oy,
                            int32_t ox, int32_t g, int32_t wg, uint32_t *col, int32_t stride)
{
    int32_t wpp_in = p->groups * wg;
    int32_t iy0 = oy * p->stride - p->padding, ix0 = ox * p->stride - p->padding;
    int32_t ky, kx, i;
    if (iy0 >= 0 && ix0 >= 0 && iy0 + p->kernel_h <= p->in_h && ix0 + p->kernel_w <= p->in_w) {
        /* interior pixel: no bounds checks; with one group a kernel row is contiguous */
        int32_t row_words = p->kernel_w * wg;
        for (ky = 0; ky < p->kernel_h; ky++) {
            const uint32_t *src = in + ((iy0 + ky) * p->in_w + ix0) * wpp_in + g * wg;
            if (p->groups == 1) {
                for (i = 0; i < row_words; i++, col += stride)
                    *col = src[i];
            } else {
                for (kx = 0; kx < p->kernel_w; kx++, src += wpp_in)
                    for (i = 0; i < wg; i++, col += stride)
                        *col = src[i];
            }
        }
        return;
    }
    for (ky = 0; ky < p->kernel_h; ky++) {
        int32_t iy = iy0 + ky;
        for (kx = 0; kx < p->kernel_w; kx++) {
            int32_t ix = ix0 + kx;
            int inside = iy >= 0 && iy < p->in_h && ix >= 0 && ix < p->in_w;
            const uint32_t *src = in + (inside ? (iy * p->in_w + ix) * wpp_in + g * wg : 0);
            for (i = 0; i < wg; i++, col += stride)
                *col = inside ? src[i] : 0u;
        }
    }
}

/* The output bit of one channel from pc = popcount(x XOR w) over its receptive field:
 * dot = k - 2 pc < threshold  <=>  pc > L = floor((k - threshold) / 2)  <=>  pc - (L + 1) >= 0.
 * So with add = -(L + 1), the sign bit of pc + add is 1 exactly when pc <= L: that is the output
 * bit (1 = -1) when flip is 1, its inverse when flip is 0 (the run's invert mask). L is clamped
 * to [-1, k], which changes no result for 0 <= pc <= k and keeps the sum far from overflow.
 * Prepared once per run of channels, the threshold costs one add per output in the hot loop. */
static int32_t threshold_add(int32_t k, int32_t threshold)
{
    int64_t d = (int64_t)k - threshold;
    int32_t limit = d < 0 ? -1 : d > 2 * (int64_t)k ? k : (int32_t)(d / 2);
    return -limit - 1;
}

/* The run that starts at channel o and ends at most at `end`. */
static void channel_run(const bnn_bconv2d_params *p, int32_t k, int32_t o, int32_t end,
                        int32_t opg, int32_t owg, bnn_channel_run *run)
{
    int32_t idx = o % opg; /* position inside the output packing group */
    int32_t i, count = end - o;
    run->shift = idx % BNN_WORD_BITS;
    if (count > BNN_WORD_BITS - run->shift)
        count = BNN_WORD_BITS - run->shift;
    if (count > opg - idx)
        count = opg - idx;
    run->first = o;
    run->count = count;
    run->word = (o / opg) * owg + idx / BNN_WORD_BITS;
    {
        /* locals: the stores to run->add[] could alias p's arrays for the compiler */
        const int32_t *threshold = p->threshold + o;
        const uint8_t *flip = p->flip + o;
        int32_t *add = run->add;
        uint32_t invert = 0u;
        for (i = 0; i < count; i++) {
            add[i] = threshold_add(k, threshold[i]);
            invert |= (uint32_t)(~flip[i] & 1u) << i;
        }
        run->invert = invert;
    }
}

/* Whether an expression is a compile-time constant (after inlining). */
#if defined(__GNUC__)
#define BNN_IS_CONSTANT(x) __builtin_constant_p(x)
#else
#define BNN_IS_CONSTANT(x) 0
#endif

/* The run's output bits for one gathered column, bit i for channel first + i. Each bit is
 * shifted in at the top of a register. Always inlined so that a constant n unrolls the
 * popcount completely. */
static BNN_ALWAYS_INLINE uint32_t run_bits(const uint32_t *col, const uint32_t *w, int32_t n,
                                           const bnn_channel_run *run)
{
    const int32_t *add = run->add, *add_end = run->add + run->count;
    uint32_t bits = 0u;
    for (; add < add_end; add++, w += n) {
        const uint32_t *c = col;
        int32_t pc;
#ifdef __thumb2__
        /* else GCC hoists the pair addresses col + 8, col + 16, ... and spills them (on v6-M,
         * without LDRD, the plain loads fare better without this) */
        BNN_IN_REGISTER(c);
#endif
        /* the fixed networks only for a constant n: a run-time n costs one compare */
        pc = BNN_IS_CONSTANT(n) && n == 3    ? bnn_xor_popcount_3(c, w)
             : BNN_IS_CONSTANT(n) && n == 9  ? bnn_xor_popcount_9(c, w)
             : BNN_IS_CONSTANT(n) && n == 18 ? bnn_xor_popcount_18(c, w)
             : n <= 31                       ? bnn_xor_popcount_small(c, w, n)
                                             : bnn_xor_popcount_inline(c, w, n);
        bits = (bits >> 1) | ((uint32_t)(pc + *add) & 0x80000000u);
    }
    return (bits >> (BNN_WORD_BITS - run->count)) ^ run->invert;
}

/* One run of channels of group g over every output pixel. */
static BNN_ALWAYS_INLINE void conv_run(const bnn_bconv2d_params *p, const uint32_t *in,
                                       int32_t g, int32_t wg, int32_t n,
                                       const bnn_channel_run *run, uint32_t *col, uint32_t *out)
{
    int32_t oh = bnn_bconv2d_out_h(p), ow = bnn_bconv2d_out_w(p), oy, ox;
    int32_t wpp_out = bnn_words_per_pixel(p->out_c, p->out_pack_groups);
    const uint32_t *w = p->weights + run->first * n;
    uint32_t *dst = out + run->word;
    for (oy = 0; oy < oh; oy++) {
        for (ox = 0; ox < ow; ox++, dst += wpp_out) {
            bnn_conv_gather_column(p, in, oy, ox, g, wg, col, 1);
            *dst |= run_bits(col, w, n, run) << run->shift;
        }
    }
}


/* ---- lanes path: few channels per group, fields packed bit-densely ------------------------ */

/* Dense-pack `taps` words of cg bits each (src[t]) into dst: lanes of b bits, per_word lanes per
 * word. */
static void dense_weights(const uint32_t *src, int32_t taps, int32_t cg, uint32_t *dst)
{
    int32_t b = lane_bits(cg), t, sh = 0;
    uint32_t mask = cg >= BNN_WORD_BITS ? 0xFFFFFFFFu : (1u << cg) - 1u, acc = 0u;
    for (t = 0; t < taps; t++) {
        acc |= (src[t] & mask) << sh;
        sh += b;
        if (sh == BNN_WORD_BITS) {
            *dst++ = acc;
            acc = 0u;
            sh = 0;
        }
    }
    if (sh)
        *dst = acc;
}

/* The dense receptive field of output pixel (oy, ox) in group g (Wg = 1), `b`-bit lanes (b a
 * power of two) from bit 0 of col[0] on: tap (ky, kx) in lane ky*kw + kx, 0 (+1) for padded
 * taps. */
static void dense_gather(const bnn_bconv2d_params *p, const uint32_t *in, int32_t oy, int32_t ox,
                         int32_t g, int32_t b, uint32_t mask, uint32_t *col)
{
    int32_t wpp_in = p->groups;
    int32_t iy0 = oy * p->stride - p->padding, ix0 = ox * p->stride - p->padding;
    int32_t ky, kx, sh = 0;
    uint32_t acc = 0u;
    for (ky = 0; ky < p->kernel_h; ky++) {
        int32_t iy = iy0 + ky;
        int row_in = iy >= 0 && iy < p->in_h;
        for (kx = 0; kx < p->kernel_w; kx++) {
            int32_t ix = ix0 + kx;
            if (row_in && ix >= 0 && ix < p->in_w)
                acc |= (in[(iy * p->in_w + ix) * wpp_in + g] & mask) << sh;
            sh += b;
            if (sh == BNN_WORD_BITS) {
                *col++ = acc;
                acc = 0u;
                sh = 0;
            }
        }
    }
    if (sh)
        *col = acc;
}

/* One run of channels over every output pixel with dense fields of n words; w: the run's dense
 * weights, n words per channel. */
static BNN_ALWAYS_INLINE void conv_run_dense(const bnn_bconv2d_params *p, const uint32_t *in,
                                             int32_t g, int32_t n, const uint32_t *w,
                                             const bnn_channel_run *run, uint32_t *col,
                                             uint32_t *out)
{
    int32_t oh = bnn_bconv2d_out_h(p), ow = bnn_bconv2d_out_w(p), oy, ox;
    int32_t wpp_out = bnn_words_per_pixel(p->out_c, p->out_pack_groups);
    int32_t cg = p->in_c / p->groups, b = lane_bits(cg);
    uint32_t mask = (1u << cg) - 1u;
    uint32_t *dst = out + run->word;
    for (oy = 0; oy < oh; oy++) {
        for (ox = 0; ox < ow; ox++, dst += wpp_out) {
            dense_gather(p, in, oy, ox, g, b, mask, col);
            *dst |= run_bits(col, w, n, run) << run->shift;
        }
    }
}

/* One run with dense fields: repack the run's weights once into the scratch, then every pixel.
 * Not inlined, so that the word-per-tap loops keep their register use. */
#if defined(__GNUC__)
__attribute__((noinline))
#endif
static void dense_run(const bnn_bconv2d_params *p, const uint32_t *in, int32_t g, int32_t nd,
                      const bnn_channel_run *run, uint32_t *col, uint32_t *out)
{
    uint32_t *dw = col, *dcol = col + BNN_DENSE_RUN_MAX * nd;
    int32_t taps = p->kernel_h * p->kernel_w, c;
    for (c = 0; c < run->count; c++)
        dense_weights(p->weights + (run->first + c) * taps, taps, p->in_c / p->groups,
                      dw + c * nd);
    if (nd == 3)
        conv_run_dense(p, in, g, 3, dw, run, dcol, out);
    else
        conv_run_dense(p, in, g, nd, dw, run, dcol, out);
}

/* ---- bit-sliced path: a word holds the 32 output channels of a run ------------------------- */

/* BNN_SLICE_BLOCK, BNN_SLICE_MAX_BLOCKS and BNN_SLICE_MAX_BITS: bnn_internal.h (the Helium
 * version in bnn_bconv2d_mve.c shares them). */
/* Transposed weights kept on the stack where the scratch query is too small (cg > 16). */
#define BNN_SLICE_STACK_WORDS (BNN_SLICE_MAX_BLOCKS * BNN_SLICE_BLOCK)

static int32_t slice_bits(const bnn_bconv2d_params *p)
{
    return p->kernel_h * p->kernel_w * (p->in_c / p->groups);
}

/* Inputs per tap: 8, 16 or 32 (the tap's cg bits, then zeros). */
static int32_t slice_lane(const bnn_bconv2d_params *p)
{
    int32_t cg = p->in_c / p->groups;
    return cg <= BNN_SLICE_BLOCK ? BNN_SLICE_BLOCK : cg <= 16 ? 16 : BNN_WORD_BITS;
}

/* Words of the run's transposed weights: one per input (taps * lane). */
static int32_t slice_weight_words(const bnn_bconv2d_params *p)
{
    return p->kernel_h * p->kernel_w * slice_lane(p);
}

/* a[i] bit j <-> a[j] bit i: a 32x32 bit-matrix transpose in 5 rounds of block swaps (fully
 * unrolled: about 500 instructions). */
static void transpose32(uint32_t *a)
{
    int32_t j, b, i;
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC unroll 5
#endif
    for (j = 16; j != 0; j >>= 1) {
        uint32_t m = j == 16 ? 0x0000FFFFu : j == 8 ? 0x00FF00FFu : j == 4 ? 0x0F0F0F0Fu
                     : j == 2 ? 0x33333333u : 0x55555555u;
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC unroll 16
#endif
        for (b = 0; b < BNN_WORD_BITS; b += 2 * j) {
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC unroll 16
#endif
            for (i = b; i < b + j; i++) {
                uint32_t t = ((a[i] >> j) ^ a[i + j]) & m;
                a[i + j] ^= t;
                a[i] ^= t << j;
            }
        }
    }
}

/* Transposed weights of a run: word t*lane + j holds bit j of tap t of channel first + i at
 * bit i (0 for j >= cg: the input's padding bits are 0 too). One 32x32 transpose per tap. */
static void slice_weights(const bnn_bconv2d_params *p, const bnn_channel_run *run, uint32_t *wt)
{
    int32_t taps = p->kernel_h * p->kernel_w, lane = slice_lane(p), i, t;
    uint32_t block[BNN_WORD_BITS];
    for (t = 0; t < taps; t++) {
        for (i = 0; i < BNN_WORD_BITS; i++)
            block[i] = i < run->count ? p->weights[(run->first + i) * taps + t] : 0u;
        transpose32(block);
        for (i = 0; i < lane; i++)
            wt[t * lane + i] = block[i];
    }
}

/* BNN_BIT_MASK, BNN_SLICE_PAIR and bnn_slice_block8: bnn_internal.h (the dense layers' sliced
 * path shares them). */

/*
 * Output bits of a run (before invert) for one field: every input bit is broadcast to a mask
 * and XORed with its transposed weight word (bit i: channel first + i), so the 32 channels count
 * in parallel. Each block of 8 inputs goes through bnn_slice_block8 into the ones / twos / fours
 * planes; the blocks' carries of weight 8 are kept and added into the planes above at the end.
 * The planes are then pc in binary, one bit position per channel, and pc < limit is decided from
 * the most significant plane down against the limit's planes lim. `planes` (7, 8 or 9, constant
 * where inlined) bounds pc and the limit: K <= 2^planes - 2.
 * The field: tap (ky, kx) is base[ky * row_step + kx * tap_step] (the input itself for interior
 * pixels, else the gathered column).
 */
static BNN_ALWAYS_INLINE uint32_t slice_run_bits(const uint32_t *base, int32_t row_step,
                                                 int32_t tap_step, int32_t kh, int32_t kw,
                                                 const uint32_t *wt, int32_t per_tap,
                                                 const uint32_t *lim, int32_t planes)
{
    uint32_t ones = 0u, twos = 0u, fours = 0u;
    uint32_t e8 = 0u, e16 = 0u, e32 = 0u, e64 = 0u, e128 = 0u, e256 = 0u;
    uint32_t carries[BNN_SLICE_MAX_BLOCKS + 1], *cy = carries, lt, eq;
    int32_t ky, kx, s, n;
    /* the hot loop keeps only ones, twos and fours (and e8 for 16-bit or wider taps, whose
     * pairs of blocks meet in one more adder): only the carries of weight 8 (one tap of 8
     * inputs) or 16 (wider taps) are stored; constant kh, kw and per_tap unroll */
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC unroll 5
#endif
    for (ky = 0; ky < kh; ky++, base += row_step) {
        const uint32_t *src = base;
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC unroll 5
#endif
        for (kx = 0; kx < kw; kx++, src += tap_step) {
            uint32_t v = *src;
            if (per_tap == 1) {
                *cy++ = bnn_slice_block8(v, wt, &ones, &twos, &fours, 0);
                wt += BNN_SLICE_BLOCK;
                continue;
            }
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC unroll 2
#endif
            for (s = 0; s < per_tap; s += 2, wt += 2 * BNN_SLICE_BLOCK) {
                uint32_t c0 = bnn_slice_block8(v >> (BNN_SLICE_BLOCK * s), wt, &ones, &twos,
                                               &fours, 0);
                uint32_t c1 = bnn_slice_block8(v >> (BNN_SLICE_BLOCK * (s + 1)),
                                               wt + BNN_SLICE_BLOCK, &ones, &twos, &fours, 0);
                bnn_csa(cy++, &e8, e8, c0, c1);
            }
        }
    }
    /* the carries, two at a time: a full adder into the lowest plane they reach, its carry
     * rippled above (planes e8.. for 8-input taps, e16.. for wider ones) */
    *cy = 0u;
    n = (int32_t)(cy - carries);
    for (cy = carries; n > 0; n -= 2, cy += 2) {
        uint32_t c, d;
        if (per_tap == 1) {
            bnn_csa(&c, &e8, e8, cy[0], cy[1]);
            d = e16 & c;
            e16 ^= c;
        } else {
            bnn_csa(&d, &e16, e16, cy[0], cy[1]);
        }
        c = e32 & d;
        e32 ^= d;
        if (planes == 7) {
            e64 ^= c;
        } else {
            d = e64 & c;
            e64 ^= c;
            if (planes == 8) {
                e128 ^= d;
            } else {
                c = e128 & d;
                e128 ^= d;
                e256 ^= c;
            }
        }
    }
    /* pc < limit: lt collects the channels found "less", eq those still equal */
    lt = 0u;
    eq = 0xFFFFFFFFu;
#define BNN_SLICE_CMP(plane, b)                                                                \
    do {                                                                                       \
        lt |= eq & ~(plane) & lim[b];                                                          \
        eq &= ~((plane) ^ lim[b]);                                                             \
    } while (0)
    if (planes >= 9)
        BNN_SLICE_CMP(e256, 8);
    if (planes >= 8)
        BNN_SLICE_CMP(e128, 7);
    BNN_SLICE_CMP(e64, 6);
    BNN_SLICE_CMP(e32, 5);
    BNN_SLICE_CMP(e16, 4);
    BNN_SLICE_CMP(e8, 3);
    BNN_SLICE_CMP(fours, 2);
    BNN_SLICE_CMP(twos, 1);
#undef BNN_SLICE_CMP
    return lt | (eq & ~ones & lim[0]);
}

/* Every output pixel of one run; the constants select the unrolled variants. */
static BNN_ALWAYS_INLINE void slice_pixels(const bnn_bconv2d_params *p, const uint32_t *in,
                                           int32_t g, const bnn_channel_run *run,
                                           const uint32_t *wt, uint32_t *col,
                                           const uint32_t *lim, int32_t per_tap, int32_t planes,
                                           int32_t kh, int32_t kw, uint32_t *out)
{
    int32_t oh = bnn_bconv2d_out_h(p), ow = bnn_bconv2d_out_w(p), oy, ox;
    int32_t wpp_out = bnn_words_per_pixel(p->out_c, p->out_pack_groups);
    int32_t wpp_in = p->groups;
    uint32_t keep = run->count == BNN_WORD_BITS ? 0xFFFFFFFFu : (1u << run->count) - 1u;
    uint32_t *dst = out + run->word;
    for (oy = 0; oy < oh; oy++) {
        int32_t iy0 = oy * p->stride - p->padding;
        int rows_in = iy0 >= 0 && iy0 + kh <= p->in_h;
        for (ox = 0; ox < ow; ox++, dst += wpp_out) {
            int32_t ix0 = ox * p->stride - p->padding;
            uint32_t bits;
            if (rows_in && ix0 >= 0 && ix0 + kw <= p->in_w) /* interior: read the input */
                bits = slice_run_bits(in + (iy0 * p->in_w + ix0) * wpp_in + g,
                                      p->in_w * wpp_in, wpp_in, kh, kw, wt, per_tap, lim,
                                      planes);
            else {
                bnn_conv_gather_column(p, in, oy, ox, g, 1, col, 1);
                bits = slice_run_bits(col, kw, 1, kh, kw, wt, per_tap, lim, planes);
            }
            *dst |= ((bits ^ run->invert) & keep) << run->shift;
        }
    }
}

/* One run over every output pixel on the bit-sliced path: wt holds slice_weight_words() words,
 * col kh*kw words. */
/* A run's limit planes into lim (32 words) and transposed weights into wt; returns the planes
 * its counts need. limit[i] = -add[i] in [0, K + 1] (the output bit before invert is
 * pc < limit); its planes lim[b], bit i for channel first + i, by the same transpose. */
static int32_t slice_prepare(const bnn_bconv2d_params *p, const bnn_channel_run *run,
                             uint32_t *wt, uint32_t *lim)
{
    int32_t k = slice_bits(p), i;
    for (i = 0; i < BNN_WORD_BITS; i++)
        lim[i] = i < run->count ? (uint32_t)-run->add[i] : 0u;
    transpose32(lim);
    slice_weights(p, run, wt);
    return k <= 126 ? 7 : k <= 254 ? 8 : 9; /* pc and limit < 2^planes */
}

static void slice_run_with(const bnn_bconv2d_params *p, const uint32_t *in, int32_t g,
                           const bnn_channel_run *run, uint32_t *wt, uint32_t *col,
                           uint32_t *out)
{
    int32_t per_tap = slice_lane(p) / BNN_SLICE_BLOCK;
    int three = p->kernel_h == 3 && p->kernel_w == 3;
    uint32_t lim[BNN_WORD_BITS];
    int32_t planes = slice_prepare(p, run, wt, lim);
    if (three && per_tap == 1 && planes == 7) /* e.g. a first layer on 8 thermometer planes */
        slice_pixels(p, in, g, run, wt, col, lim, 1, 7, 3, 3, out);
    else if (three && per_tap == 4 && planes == 9) /* 3x3, 17-32 channels per group */
        slice_pixels(p, in, g, run, wt, col, lim, 4, 9, 3, 3, out);
    else
        slice_pixels(p, in, g, run, wt, col, lim, per_tap, 9, p->kernel_h, p->kernel_w, out);
}

/* The transposed weights in the scratch (after the column) where the query leaves room. */
#if defined(__GNUC__)
__attribute__((noinline))
#endif
static void slice_run(const bnn_bconv2d_params *p, const uint32_t *in, int32_t g,
                      const bnn_channel_run *run, uint32_t *scratch, uint32_t *out)
{
    slice_run_with(p, in, g, run, scratch + p->kernel_h * p->kernel_w, scratch, out);
}

/* Else on the stack (1152 bytes; cg > 16, where the query holds one field only). */
#if defined(__GNUC__)
__attribute__((noinline))
#endif
static void slice_run_stack(const bnn_bconv2d_params *p, const uint32_t *in, int32_t g,
                            const bnn_channel_run *run, uint32_t *scratch, uint32_t *out)
{
    uint32_t wt[BNN_SLICE_STACK_WORDS];
    slice_run_with(p, in, g, run, wt, scratch, out);
}

#ifdef BNN_HAVE_MVE
/* The Helium version (bnn_slice_run_mve): transposed weights in wt (slice_weight_words()
 * words); the column of the border pixels is on its stack. */
static void slice_run_mve_with(const bnn_bconv2d_params *p, const uint32_t *in, int32_t g,
                               const bnn_channel_run *run, uint32_t *wt, uint32_t *out)
{
    uint32_t lim[BNN_WORD_BITS];
    int32_t planes = slice_prepare(p, run, wt, lim);
    bnn_slice_run_mve(p, in, g, run, wt, lim, slice_lane(p) / BNN_SLICE_BLOCK, planes, out);
}

/* The transposed weights in the scratch where the query leaves room, else on the stack. */
#if defined(__GNUC__)
__attribute__((noinline))
#endif
static void slice_run_mve_stack(const bnn_bconv2d_params *p, const uint32_t *in, int32_t g,
                                const bnn_channel_run *run, uint32_t *out)
{
    uint32_t wt[BNN_SLICE_STACK_WORDS];
    slice_run_mve_with(p, in, g, run, wt, out);
}
#endif

/* ---- predicates: which path a geometry takes ------------------------------------------------ */

static int shape_ok(const bnn_bconv2d_params *p)
{
    return p != 0 && p->kernel_h > 0 && p->kernel_w > 0 && p->in_c > 0 && p->groups > 0 &&
           p->out_c > 0 && bnn_splits(p->in_c, p->groups) && bnn_splits(p->out_c, p->groups);
}

static int32_t field_words(const bnn_bconv2d_params *p)
{
    return p->kernel_h * p->kernel_w * bnn_words_per_group(p->in_c / p->groups);
}

/* Helium paths put 4 output pixels in a vector: with fewer than 4 pixels in the whole output
 * every vector has idle lanes and the vector set-up is not repaid; bench/m55_vs_m4.py measured
 * such layers running more instructions on Cortex-M55 than the scalar paths on Cortex-M4. */
#define BNN_MVE_MIN_PIXELS 4

#ifdef BNN_HAVE_MVE
/* Tested first by the Helium predicates: on a tiny layer they then cost a few instructions
 * before the scalar path's own (the dispatch runs on every call). */
static int mve_pixels(const bnn_bconv2d_params *p)
{
    return p != 0 && p->stride > 0 &&
           ((p->in_h + 2 * p->padding - p->kernel_h) / p->stride + 1) *
                   ((p->in_w + 2 * p->padding - p->kernel_w) / p->stride + 1) >=
               BNN_MVE_MIN_PIXELS;
}

/* The mve path's geometry, pixels aside. */
static int mve_fits(const bnn_bconv2d_params *p)
{
    return shape_ok(p) && field_words(p) <= BNN_MVE_MAX_WORDS;
}
#endif

int bnn_bconv2d_is_mve(const bnn_bconv2d_params *p)
{
#ifdef BNN_HAVE_MVE
    return mve_pixels(p) && mve_fits(p);
#else
    (void)p;
    return 0;
#endif
}

int bnn_bconv2d_is_lanes(const bnn_bconv2d_params *p)
{
    return shape_ok(p) && dense_words(p) > 0;
}

/* Cost model of the path choice: instructions per pixel and run, measured on Cortex-M4 (Thumb-2:
 * SBFX, LDRD) and Cortex-M0 (v6-M: neither, so the bit-sliced inputs cost more). */
#if defined(__arm__) && !defined(__thumb2__)
#define BNN_COST_SLICE_INPUT 19 /* per input of the bit-sliced path */
#define BNN_COST_WORDS_N 15     /* per field word and channel on the word-per-tap paths */
#define BNN_COST_LANES_ND 24    /* per dense word and channel on the lanes path */
#else
#define BNN_COST_SLICE_INPUT 8
#define BNN_COST_WORDS_N 8
#define BNN_COST_LANES_ND 12
#endif

/* Bit-sliced (scalar builds only: on Helium builds bitsliced_mve or mve wins, see below) where
 * the field is one word per tap (at most 32 channels per group), at most 36 blocks of 8 inputs and
 * K <= 510, and where it beats the path that would run otherwise by the cost model: about
 * BNN_COST_SLICE_INPUT per input (8, 16 or 32 per tap) + 100 per run of up to 32 channels,
 * against about BNN_COST_LANES_ND nd + 14 (lanes) or BNN_COST_WORDS_N n + 20 (word-per-tap) per
 * channel, over the group's channels. */
/* The bit-sliced geometry: one word per tap of at most max_cg channels per group, at most
 * BNN_SLICE_MAX_BLOCKS blocks of 8 inputs and K <= BNN_SLICE_MAX_BITS. */
static int slice_fits(const bnn_bconv2d_params *p, int32_t max_cg)
{
    return shape_ok(p) && p->in_c / p->groups <= max_cg &&
           slice_weight_words(p) / BNN_SLICE_BLOCK <= BNN_SLICE_MAX_BLOCKS &&
           slice_bits(p) <= BNN_SLICE_MAX_BITS;
}

#ifdef BNN_HAVE_MVE
/* Channels of one run: at most 32, those of a group (the Helium cost model's unit). */
static int32_t slice_run_channels(const bnn_bconv2d_params *p)
{
    int32_t per_run = p->out_c / p->groups;
    return per_run > BNN_WORD_BITS ? BNN_WORD_BITS : per_run;
}
#endif

#ifndef BNN_HAVE_MVE
/* The scalar bit-sliced path's geometry and cost model (builds without Helium). */
static int bitsliced_fits(const bnn_bconv2d_params *p)
{
    int32_t taps, kin, out_g, runs, nd, other;
    if (!slice_fits(p, BNN_WORD_BITS))
        return 0;
    taps = p->kernel_h * p->kernel_w;
    kin = slice_weight_words(p);
    /* Per group: a run of up to 32 channels costs the same however few it holds (48 channels
     * are two runs, the second half empty), the other paths cost per channel. */
    out_g = p->out_c / p->groups;
    runs = (out_g + BNN_WORD_BITS - 1) / BNN_WORD_BITS;
    nd = dense_words(p);
    other = nd > 0 ? BNN_COST_LANES_ND * nd + 14 : BNN_COST_WORDS_N * taps + 20;
    return runs * (BNN_COST_SLICE_INPUT * kin + 100) < out_g * other;
}
#endif

int bnn_bconv2d_is_bitsliced(const bnn_bconv2d_params *p)
{
#ifdef BNN_HAVE_MVE
    /* Never on Helium builds: a geometry the scalar bit-sliced path fits (at most 16 channels
     * per group) fits bitsliced_mve and mve too, tried first and right after it. Where
     * bitsliced_mve lost to mve by the Helium cost model, the scalar path (about 4x the
     * instructions of bitsliced_mve per input) loses to mve as well: bench/m55_vs_m4.py
     * measured it running more instructions on Cortex-M55 than on Cortex-M4. Below 4 output
     * pixels the word-per-tap paths run instead: a Helium build that may take the scalar
     * bit-sliced path links its 37 KB of unrolled code. */
    (void)p;
    return 0;
#else
    return bitsliced_fits(p);
#endif
}

/* Helium cost model, instructions per block of 4 output pixels measured on Cortex-M55 (QEMU):
 * bitsliced_mve about BNN_COST_VSLICE_INPUT per input (8 or 16 per tap) + BNN_COST_VSLICE_RUN
 * per run, its blocks 4 pixels of one output row, and once per run and call
 * BNN_COST_VSLICE_PREPARE per tap (the 32x32 weight transposition and the limits' planes); the
 * mve path about BNN_COST_MVE_N per field word + BNN_COST_MVE_CHANNEL per channel, its blocks
 * any 4 consecutive pixels. Per call both are summed over their blocks: on a few pixels the
 * preparation is not repaid. */
#define BNN_COST_VSLICE_INPUT 9
#define BNN_COST_VSLICE_RUN 150
#define BNN_COST_VSLICE_PREPARE 700
#define BNN_COST_MVE_N 8
#define BNN_COST_MVE_CHANNEL 12

/* Bit-sliced on Helium where the field is one word per tap of at most 16 channels per group
 * (the scalar bit-sliced geometry narrowed to 16 channels), at most 36 blocks of 8 inputs,
 * K <= 510, and where it beats the mve path by the cost model (many channels per run). */
#ifdef BNN_HAVE_MVE
/* The bitsliced_mve geometry and cost model, pixels aside (stride > 0: the caller tested
 * mve_pixels). */
static int bitsliced_mve_fits(const bnn_bconv2d_params *p)
{
    int32_t taps = p->kernel_h * p->kernel_w, oh, ow, row_blocks, blocks;
    if (!slice_fits(p, 16))
        return 0;
    oh = (p->in_h + 2 * p->padding - p->kernel_h) / p->stride + 1;
    ow = (p->in_w + 2 * p->padding - p->kernel_w) / p->stride + 1;
    row_blocks = oh * ((ow + 3) / 4); /* bitsliced_mve: 4 pixels of a row */
    blocks = (oh * ow + 3) / 4;       /* mve: any 4 pixels */
    /* 64-bit: a large layer's products pass 2^31 (about 900,000 output pixels) */
    return (int64_t)row_blocks *
                   (BNN_COST_VSLICE_INPUT * slice_weight_words(p) + BNN_COST_VSLICE_RUN) +
               (int64_t)BNN_COST_VSLICE_PREPARE * taps <
           (int64_t)blocks * slice_run_channels(p) * (BNN_COST_MVE_N * taps + BNN_COST_MVE_CHANNEL);
}
#endif

int bnn_bconv2d_is_bitsliced_mve(const bnn_bconv2d_params *p)
{
#ifdef BNN_HAVE_MVE
    return mve_pixels(p) && bitsliced_mve_fits(p);
#else
    (void)p;
    return 0;
#endif
}

int bnn_bconv2d_is_field9(const bnn_bconv2d_params *p)
{
    return shape_ok(p) && field_words(p) == 9;
}

int bnn_bconv2d_is_field18(const bnn_bconv2d_params *p)
{
    return shape_ok(p) && field_words(p) == 18;
}

/* The predicates in order (bitsliced_mve, bitsliced, mve, lanes, field9, field18, else words),
 * with the pixel test of the Helium ones made once: it runs on every call of bnn_bconv2d_opt. */
bnn_bconv2d_path bnn_bconv2d_select_path(const bnn_bconv2d_params *p)
{
#ifdef BNN_HAVE_MVE
    if (mve_pixels(p)) { /* is_bitsliced is 0 on Helium builds */
        if (bitsliced_mve_fits(p))
            return BNN_BCONV2D_PATH_BITSLICED_MVE;
        if (mve_fits(p))
            return BNN_BCONV2D_PATH_MVE;
    }
#else
    if (bitsliced_fits(p))
        return BNN_BCONV2D_PATH_BITSLICED;
#endif
    if (bnn_bconv2d_is_lanes(p))
        return BNN_BCONV2D_PATH_LANES;
    if (bnn_bconv2d_is_field9(p))
        return BNN_BCONV2D_PATH_FIELD9;
    if (bnn_bconv2d_is_field18(p))
        return BNN_BCONV2D_PATH_FIELD18;
    return BNN_BCONV2D_PATH_WORDS;
}

const char *bnn_bconv2d_path_name(bnn_bconv2d_path path)
{
    switch (path) {
    case BNN_BCONV2D_PATH_MVE: return "mve";
    case BNN_BCONV2D_PATH_BITSLICED: return "bitsliced";
    case BNN_BCONV2D_PATH_LANES: return "lanes";
    case BNN_BCONV2D_PATH_FIELD9: return "field9";
    case BNN_BCONV2D_PATH_FIELD18: return "field18";
    case BNN_BCONV2D_PATH_WORDS: return "words";
    case BNN_BCONV2D_PATH_BITSLICED_MVE: return "bitsliced_mve";
    }
    return "?";
}

/* ---- the paths ------------------------------------------------------------------------------ */

/* Common start of every path: arguments, scratch, output cleared (bits are ORed in). */
static bnn_status start(const bnn_context *ctx, const bnn_bconv2d_params *p, const uint32_t *in,
                        uint32_t *out, int fits)
{
    int32_t i, out_words;
    bnn_status st = check_bconv2d(p, in, out);
    if (st != BNN_OK)
        return st;
    if (ctx == 0 || ctx->buf == 0 || ctx->size < bnn_bconv2d_get_buffer_size(p))
        return BNN_ERR_BUFFER;
    if (!fits)
        return BNN_ERR_SHAPE;
    out_words = bnn_bconv2d_out_h(p) * bnn_bconv2d_out_w(p) *
                bnn_words_per_pixel(p->out_c, p->out_pack_groups);
    for (i = 0; i < out_words; i++)
        out[i] = 0u;
    return BNN_OK;
}

/* Runs of channels, group by group: calls body(run) for each run of up to 32 channels that
 * share an output word (the loop of every path). */
#define BNN_FOR_EACH_RUN(p, g, run, body)                                                      \
    do {                                                                                       \
        int32_t k_ = slice_bits(p), opg_ = (p)->out_c / (p)->out_pack_groups;                  \
        int32_t owg_ = bnn_words_per_group(opg_), per_ = (p)->out_c / (p)->groups;             \
        for ((g) = 0; (g) < (p)->groups; (g)++) {                                              \
            int32_t o_ = (g) * per_, end_ = o_ + per_;                                         \
            while (o_ < end_) {                                                                \
                channel_run((p), k_, o_, end_, opg_, owg_, &(run));                            \
                o_ += (run).count;                                                             \
                body;                                                                          \
            }                                                                                  \
        }                                                                                      \
    } while (0)

/* Word-per-tap fields of n words (n constant where inlined into a path). */
static BNN_ALWAYS_INLINE void conv_words(const bnn_bconv2d_params *p, const uint32_t *in,
                                         int32_t n, uint32_t *col, uint32_t *out)
{
    int32_t g, wg = bnn_words_per_group(p->in_c / p->groups);
    bnn_channel_run run;
    BNN_FOR_EACH_RUN(p, g, run, conv_run(p, in, g, wg, n, &run, col, out));
}

bnn_status bnn_bconv2d_field9_opt(const bnn_context *ctx, const bnn_bconv2d_params *p,
                                  const uint32_t *in, uint32_t *out)
{
    bnn_status st = start(ctx, p, in, out, bnn_bconv2d_is_field9(p));
    if (st == BNN_OK)
        conv_words(p, in, 9, (uint32_t *)ctx->buf, out);
    return st;
}

bnn_status bnn_bconv2d_field18_opt(const bnn_context *ctx, const bnn_bconv2d_params *p,
                                   const uint32_t *in, uint32_t *out)
{
    bnn_status st = start(ctx, p, in, out, bnn_bconv2d_is_field18(p));
    if (st == BNN_OK)
        conv_words(p, in, 18, (uint32_t *)ctx->buf, out);
    return st;
}

bnn_status bnn_bconv2d_words_opt(const bnn_context *ctx, const bnn_bconv2d_params *p,
                                 const uint32_t *in, uint32_t *out)
{
    bnn_status st = start(ctx, p, in, out, 1);
    if (st != BNN_OK)
        return st;
    if (field_words(p) == 4) /* e.g. a 1x1 conv of 97-128 channels per group: unrolled */
        conv_words(p, in, 4, (uint32_t *)ctx->buf, out);
    else
        conv_words(p, in, field_words(p), (uint32_t *)ctx->buf, out);
    return BNN_OK;
}

bnn_status bnn_bconv2d_lanes_opt(const bnn_context *ctx, const bnn_bconv2d_params *p,
                                 const uint32_t *in, uint32_t *out)
{
    int32_t g, nd;
    bnn_channel_run run;
    bnn_status st = start(ctx, p, in, out, bnn_bconv2d_is_lanes(p));
    if (st != BNN_OK)
        return st;
    nd = dense_words(p);
    BNN_FOR_EACH_RUN(p, g, run, dense_run(p, in, g, nd, &run, (uint32_t *)ctx->buf, out));
    return BNN_OK;
}

bnn_status bnn_bconv2d_bitsliced_opt(const bnn_context *ctx, const bnn_bconv2d_params *p,
                                     const uint32_t *in, uint32_t *out)
{
    int32_t g;
    bnn_channel_run run;
    bnn_status st = start(ctx, p, in, out, bnn_bconv2d_is_bitsliced(p));
    int in_scratch;
    if (st != BNN_OK)
        return st;
    /* the transposed weights go after the column where the queried size leaves room */
    in_scratch = bnn_bconv2d_get_buffer_size(p) / (int32_t)sizeof(uint32_t) >=
                 p->kernel_h * p->kernel_w + slice_weight_words(p);
    if (in_scratch)
        BNN_FOR_EACH_RUN(p, g, run, slice_run(p, in, g, &run, (uint32_t *)ctx->buf, out));
    else
        BNN_FOR_EACH_RUN(p, g, run, slice_run_stack(p, in, g, &run, (uint32_t *)ctx->buf, out));
    return BNN_OK;
}

bnn_status bnn_bconv2d_bitsliced_mve_opt(const bnn_context *ctx, const bnn_bconv2d_params *p,
                                         const uint32_t *in, uint32_t *out)
{
    bnn_status st = start(ctx, p, in, out, bnn_bconv2d_is_bitsliced_mve(p));
#ifdef BNN_HAVE_MVE
    if (st == BNN_OK) {
        int32_t g;
        bnn_channel_run run;
        /* the transposed weights at the start of the scratch where the queried size leaves
         * room (the column of border pixels is on the vector code's stack) */
        if (bnn_bconv2d_get_buffer_size(p) / (int32_t)sizeof(uint32_t) >= slice_weight_words(p))
            BNN_FOR_EACH_RUN(p, g, run,
                             slice_run_mve_with(p, in, g, &run, (uint32_t *)ctx->buf, out));
        else
            BNN_FOR_EACH_RUN(p, g, run, slice_run_mve_stack(p, in, g, &run, out));
    }
#endif
    return st;
}

bnn_status bnn_bconv2d_mve_opt(const bnn_context *ctx, const bnn_bconv2d_params *p,
                               const uint32_t *in, uint32_t *out)
{
    bnn_status st = start(ctx, p, in, out, bnn_bconv2d_is_mve(p));
#ifdef BNN_HAVE_MVE
    if (st == BNN_OK) {
        int32_t k = slice_bits(p), opg = p->out_c / p->out_pack_groups;
        int32_t owg = bnn_words_per_group(opg), per = p->out_c / p->groups, g;
        int32_t wg = bnn_words_per_group(p->in_c / p->groups), n = field_words(p);
        for (g = 0; g < p->groups; g++) {
            int32_t o = g * per, end = o + per;
            while (o < end) { /* up to BNN_MVE_RUNS runs share each gather of 4 pixels */
                bnn_channel_run runs[BNN_MVE_RUNS];
                int32_t r;
                for (r = 0; r < BNN_MVE_RUNS && o < end; o += runs[r++].count)
                    channel_run(p, k, o, end, opg, owg, &runs[r]);
                bnn_conv_runs_mve(p, in, g, wg, n, runs, r, out);
            }
        }
    }
#else
    (void)st; /* the predicate is false without Helium: st is BNN_ERR_SHAPE or an argument error */
#endif
    return st;
}

/*
 * Optimized: dispatches on the geometry, CMSIS-NN style, to the first path whose predicate holds
 * (bnn_bconv2d_select_path): Helium bit-sliced pixels (bitsliced_mve), scalar bit-sliced fields of
 * one word per tap, Helium vectors, dense lanes, the fixed 9- and 18-word networks, else
 * word-per-tap fields of any size. Every path takes the
 * output channels in runs of up to 32 that share one output word; for each run the thresholds
 * become one addend per channel (threshold_add) and an invert mask.
 */
bnn_status bnn_bconv2d_opt(const bnn_context *ctx, const bnn_bconv2d_params *p,
                           const uint32_t *in, uint32_t *out)
{
    bnn_status st = check_bconv2d(p, in, out);
    if (st != BNN_OK)
        return st;
    switch (bnn_bconv2d_select_path(p)) {
    case BNN_BCONV2D_PATH_BITSLICED_MVE: return bnn_bconv2d_bitsliced_mve_opt(ctx, p, in, out);
    case BNN_BCONV2D_PATH_BITSLICED: return bnn_bconv2d_bitsliced_opt(ctx, p, in, out);
    case BNN_BCONV2D_PATH_MVE: return bnn_bconv2d_mve_opt(ctx, p, in, out);
    case BNN_BCONV2D_PATH_LANES: return bnn_bconv2d_lanes_opt(ctx, p, in, out);
    case BNN_BCONV2D_PATH_FIELD9: return bnn_bconv2d_field9_opt(ctx, p, in, out);
    case BNN_BCONV2D_PATH_FIELD18: return bnn_bconv2d_field18_opt(ctx, p, in, out);
    case BNN_BCONV2D_PATH_WORDS: break;
    }
    return bnn_bconv2d_words_opt(ctx, p, in, out);
}

bnn_status bnn_bconv2d(const bnn_context *ctx, const bnn_bconv2d_params *p, const uint32_t *in,
                       uint32_t *out)
{
    return bnn_bconv2d_opt(ctx, p, in, out);
}
