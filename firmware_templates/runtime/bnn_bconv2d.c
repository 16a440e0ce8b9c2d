/* bnn_bconv2d.c - binary 2-D convolution, one-padding, threshold output. */

/* GCC's first scheduling pass lengthens register lifetimes in the unrolled adder network and
 * makes it spill (measured on Cortex-M4: about 4% more executed instructions); turn it off for
 * this file only. */
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC optimize("no-schedule-insns")
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
#ifdef BNN_HAVE_MVE
    (void)p;
    return 0; /* Helium builds keep their vector path */
#else
    int32_t cg = p->in_c / p->groups, taps = p->kernel_h * p->kernel_w, per_word, nd;
    if (cg > 16)
        return 0;
    per_word = BNN_WORD_BITS / lane_bits(cg);
    nd = (taps + per_word - 1) / per_word;
    return nd < taps ? nd : 0;
#endif
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
    run->invert = 0u;
    for (i = 0; i < count; i++) {
        run->add[i] = threshold_add(k, p->threshold[o + i]);
        run->invert |= (uint32_t)(~p->flip[o + i] & 1u) << i;
    }
}

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
        pc = n == 3   ? bnn_xor_popcount_3(c, w)
             : n == 18 ? bnn_xor_popcount_18(c, w)
             : n <= 31 ? bnn_xor_popcount_small(c, w, n)
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

/* Dense-pack `taps` words of cg bits each (src[i * src_stride], 0 for a null src entry handled by
 * the caller) into dst: lanes of b bits, per_word lanes per word. */
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

/* The dense receptive field of output pixel (oy, ox) in group g (Wg = 1): tap (ky, kx) in lane
 * ky*kw + kx, 0 (+1) for padded taps. */
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
 * Not inlined, so that the word-per-tap loops of bnn_bconv2d_opt keep their register use. */
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

/*
 * Optimized: the output channels are taken in runs that share one output word; for each run,
 * the per-channel thresholds are first turned into one addend each (threshold_add), then for each
 * output pixel the receptive field is gathered into the scratch column (its layout [kh][kw][Wg]
 * equals that of one output channel's weights), so every channel is a single carry-save
 * XOR-popcount over n = kh*kw*Wg contiguous words. The common 3x3 sizes (n = 9 and 18 words:
 * up to 32 and up to 64 channels per group) get their own fully unrolled copy; every other shape
 * takes the same code with a run-time n (n <= 31: bit-sliced counter; larger: blocks of 8 words).
 * Gathering once per run instead of once per pixel repeats it out_c/32 times, about 1% of the
 * work of a 3x3 conv. Builds with Helium (MVE) hand receptive fields of up to BNN_MVE_MAX_WORDS
 * words to the vector code of bnn_bconv2d_mve.c instead.
 */
bnn_status bnn_bconv2d_opt(const bnn_context *ctx, const bnn_bconv2d_params *p,
                           const uint32_t *in, uint32_t *out)
{
    int32_t g, o, i, wg, n, nd, out_per_group, opg, owg, k, out_words;
    uint32_t *col;
    bnn_channel_run run;
    bnn_status st = check_bconv2d(p, in, out);
    if (st != BNN_OK)
        return st;
    if (ctx == 0 || ctx->buf == 0 || ctx->size < bnn_bconv2d_get_buffer_size(p))
        return BNN_ERR_BUFFER;
    col = (uint32_t *)ctx->buf;
    wg = bnn_words_per_group(p->in_c / p->groups);
    n = p->kernel_h * p->kernel_w * wg;
    nd = dense_words(p);
    out_per_group = p->out_c / p->groups;
    opg = p->out_c / p->out_pack_groups;
    owg = bnn_words_per_group(opg);
    k = p->kernel_h * p->kernel_w * (p->in_c / p->groups);
    out_words = bnn_bconv2d_out_h(p) * bnn_bconv2d_out_w(p) *
                bnn_words_per_pixel(p->out_c, p->out_pack_groups);
    for (i = 0; i < out_words; i++)
        out[i] = 0u;
    for (g = 0; g < p->groups; g++) {
        int32_t end = (g + 1) * out_per_group;
        o = g * out_per_group;
        while (o < end) {
#ifdef BNN_HAVE_MVE
            if (n <= BNN_MVE_MAX_WORDS) { /* 4 output pixels per vector */
                bnn_channel_run runs[BNN_MVE_RUNS];
                int32_t r;
                for (r = 0; r < BNN_MVE_RUNS && o < end; o += runs[r++].count)
                    channel_run(p, k, o, end, opg, owg, &runs[r]);
                bnn_conv_runs_mve(p, in, g, wg, n, runs, r, out);
                continue;
            }
#endif
            channel_run(p, k, o, end, opg, owg, &run);
            o += run.count;
            if (nd > 0) { /* dense fields */
                dense_run(p, in, g, nd, &run, col, out);
                continue;
            }
            switch (n) {
            case 9:
                conv_run(p, in, g, wg, 9, &run, col, out);
                break;
            case 18:
                conv_run(p, in, g, wg, 18, &run, col, out);
                break;
            default:
                conv_run(p, in, g, wg, n, &run, col, out);
                break;
            }
        }
    }
    return BNN_OK;
}

bnn_status bnn_bconv2d(const bnn_context *ctx, const bnn_bconv2d_params *p, const uint32_t *in,
                       uint32_t *out)
{
    return bnn_bconv2d_opt(ctx, p, in, out);
}
