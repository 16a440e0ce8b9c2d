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

int32_t bnn_bconv2d_get_buffer_size(const bnn_bconv2d_params *p)
{
    /* one receptive field of one group: kernel_h * kernel_w * Wg words */
    if (p == 0 || p->kernel_h <= 0 || p->kernel_w <= 0 || p->in_c <= 0 || p->groups <= 0)
        return 0;
    return (int32_t)sizeof(uint32_t) * p->kernel_h * p->kernel_w *
           bnn_words_per_group(p->in_c / p->groups);
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

/* Copy the receptive field of output pixel (oy, ox) in group g into col[kh][kw][wg],
 * writing 0 (+1) for padded taps, so that the dot is one contiguous XOR-popcount. */
static void gather_column(const bnn_bconv2d_params *p, const uint32_t *in, int32_t oy,
                          int32_t ox, int32_t g, int32_t wg, uint32_t *col)
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
                for (i = 0; i < row_words; i++)
                    *col++ = src[i];
            } else {
                for (kx = 0; kx < p->kernel_w; kx++, src += wpp_in)
                    for (i = 0; i < wg; i++)
                        *col++ = src[i];
            }
        }
        return;
    }
    for (ky = 0; ky < p->kernel_h; ky++) {
        int32_t iy = iy0 + ky;
        for (kx = 0; kx < p->kernel_w; kx++) {
            int32_t ix = ix0 + kx;
            if (iy >= 0 && iy < p->in_h && ix >= 0 && ix < p->in_w) {
                const uint32_t *src = in + (iy * p->in_w + ix) * wpp_in + g * wg;
                for (i = 0; i < wg; i++)
                    *col++ = src[i];
            } else {
                for (i = 0; i < wg; i++)
                    *col++ = 0u;
            }
        }
    }
}

/* Output channels [o, end) of one conv group against the gathered column, written into the
 * output pixel. The channels are taken in runs that share one output word (same packing group,
 * same 32 bits): each bit is shifted in at the top of a register, and the run's bits are
 * OR-ed into the word once. Only bit 0 of flip survives the shift to bit 31.
 * Always inlined so that a constant n lets the compiler unroll the popcount completely. */
static BNN_ALWAYS_INLINE void group_channels(const bnn_bconv2d_params *p, const uint32_t *col,
                                             int32_t n, int32_t k, int32_t o, int32_t end,
                                             int32_t opg, int32_t owg, uint32_t *pixel)
{
    const uint32_t *w = p->weights + o * n;
    const int32_t *thr = p->threshold + o;
    const uint8_t *flip = p->flip + o;
    while (o < end) {
        int32_t idx = o % opg; /* position inside the output packing group */
        int32_t shift = idx % BNN_WORD_BITS;
        int32_t run = end - o;
        const int32_t *run_end;
        uint32_t bits = 0u;
        if (run > BNN_WORD_BITS - shift)
            run = BNN_WORD_BITS - shift;
        if (run > opg - idx)
            run = opg - idx;
        for (run_end = thr + run; thr < run_end; w += n) {
            int32_t pc = n == 18  ? bnn_xor_popcount_18(col, w)
                         : n <= 31 ? bnn_xor_popcount_small(col, w, n)
                                   : bnn_xor_popcount_inline(col, w, n);
            uint32_t minus = (uint32_t)(k - 2 * pc < *thr++) ^ (uint32_t)*flip++;
            bits = (bits >> 1) | (minus << 31);
        }
        pixel[(o / opg) * owg + idx / BNN_WORD_BITS] |= (bits >> (BNN_WORD_BITS - run)) << shift;
        o += run;
    }
}

/*
 * Optimized: for each output pixel and group, gather the receptive field once into the scratch
 * column (its layout [kh][kw][Wg] equals that of one output channel's weights), then every
 * output channel of the group is a single carry-save XOR-popcount over n = kh*kw*Wg
 * contiguous words. The common 3x3 sizes (n = 9 and 18 words: up to 32 and up to 64 channels
 * per group) get their own fully unrolled copy; every other shape takes the same code with a
 * run-time n (n <= 31: bit-sliced counter; larger: blocks of 8 words).
 */
bnn_status bnn_bconv2d_opt(const bnn_context *ctx, const bnn_bconv2d_params *p,
                           const uint32_t *in, uint32_t *out)
{
    int32_t oh, ow, oy, ox, g, i;
    int32_t wg, n, out_per_group, opg, owg, wpp_out, k;
    uint32_t *col;
    bnn_status st = check_bconv2d(p, in, out);
    if (st != BNN_OK)
        return st;
    if (ctx == 0 || ctx->buf == 0 || ctx->size < bnn_bconv2d_get_buffer_size(p))
        return BNN_ERR_BUFFER;
    col = (uint32_t *)ctx->buf;
    oh = bnn_bconv2d_out_h(p);
    ow = bnn_bconv2d_out_w(p);
    wg = bnn_words_per_group(p->in_c / p->groups);
    n = p->kernel_h * p->kernel_w * wg;
    out_per_group = p->out_c / p->groups;
    opg = p->out_c / p->out_pack_groups;
    owg = bnn_words_per_group(opg);
    wpp_out = p->out_pack_groups * owg;
    k = p->kernel_h * p->kernel_w * (p->in_c / p->groups);
    for (oy = 0; oy < oh; oy++) {
        for (ox = 0; ox < ow; ox++) {
            uint32_t *pixel = out + (oy * ow + ox) * wpp_out;
            for (i = 0; i < wpp_out; i++)
                pixel[i] = 0u;
            for (g = 0; g < p->groups; g++) {
                int32_t first = g * out_per_group;
                gather_column(p, in, oy, ox, g, wg, col);
                switch (n) {
                case 9:
                    group_channels(p, col, 9, k, first, first + out_per_group, opg, owg, pixel);
                    break;
                case 18:
                    group_channels(p, col, 18, k, first, first + out_per_group, opg, owg, pixel);
                    break;
                default:
                    group_channels(p, col, n, k, first, first + out_per_group, opg, owg, pixel);
                    break;
                }
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
