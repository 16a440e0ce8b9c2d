/* bnn_bmaxpool2d.c - binary max-pooling: max of +-1 values = AND of their bits. */
#include "bnn_internal.h"

int32_t bnn_bmaxpool2d_out_h(const bnn_bmaxpool2d_params *p)
{
    return (p->in_h - p->kernel) / p->stride + 1;
}

int32_t bnn_bmaxpool2d_out_w(const bnn_bmaxpool2d_params *p)
{
    return (p->in_w - p->kernel) / p->stride + 1;
}

static bnn_status check_bmaxpool2d(const bnn_bmaxpool2d_params *p, const uint32_t *in,
                                   const uint32_t *out)
{
    if (p == 0 || in == 0 || out == 0)
        return BNN_ERR_ARGUMENT;
    if (p->in_h <= 0 || p->in_w <= 0 || p->channels <= 0 || p->kernel <= 0 || p->stride <= 0 ||
        p->pack_groups <= 0)
        return BNN_ERR_ARGUMENT;
    if (!bnn_splits(p->channels, p->pack_groups))
        return BNN_ERR_SHAPE;
    if (p->kernel > p->in_h || p->kernel > p->in_w)
        return BNN_ERR_SHAPE;
    return BNN_OK;
}

bnn_status bnn_bmaxpool2d_ref(const bnn_bmaxpool2d_params *p, const uint32_t *in, uint32_t *out)
{
    int32_t oh, ow, oy, ox, c, ky, kx, i, per_group, wg, wpp;
    bnn_status st = check_bmaxpool2d(p, in, out);
    if (st != BNN_OK)
        return st;
    oh = bnn_bmaxpool2d_out_h(p);
    ow = bnn_bmaxpool2d_out_w(p);
    per_group = p->channels / p->pack_groups;
    wg = bnn_words_per_group(per_group);
    wpp = p->pack_groups * wg;
    for (i = 0; i < oh * ow * wpp; i++)
        out[i] = 0;
    for (oy = 0; oy < oh; oy++) {
        for (ox = 0; ox < ow; ox++) {
            for (c = 0; c < p->channels; c++) {
                int32_t bit = bnn_channel_bit(c, per_group, wg);
                uint32_t all_minus = 1u; /* max is -1 only when every value is -1 */
                for (ky = 0; ky < p->kernel; ky++) {
                    for (kx = 0; kx < p->kernel; kx++) {
                        int32_t iy = oy * p->stride + ky, ix = ox * p->stride + kx;
                        all_minus &= bnn_get_bit(in + (iy * p->in_w + ix) * wpp, bit);
                    }
                }
                out[(oy * ow + ox) * wpp + bit / BNN_WORD_BITS] |= all_minus << (bit % BNN_WORD_BITS);
            }
        }
    }
    return BNN_OK;
}

/* Optimized: AND whole words (32 channels at once); zero padding bits stay zero. */
bnn_status bnn_bmaxpool2d_opt(const bnn_bmaxpool2d_params *p, const uint32_t *in, uint32_t *out)
{
    int32_t oh, ow, oy, ox, ky, kx, i, wpp;
    bnn_status st = check_bmaxpool2d(p, in, out);
    if (st != BNN_OK)
        return st;
    oh = bnn_bmaxpool2d_out_h(p);
    ow = bnn_bmaxpool2d_out_w(p);
    wpp = bnn_words_per_pixel(p->channels, p->pack_groups);
    for (oy = 0; oy < oh; oy++) {
        for (ox = 0; ox < ow; ox++) {
            const uint32_t *corner = in + ((oy * p->in_w + ox) * p->stride) * wpp;
            for (i = 0; i < wpp; i++) {
                uint32_t acc = 0xFFFFFFFFu;
                for (ky = 0; ky < p->kernel; ky++) {
                    const uint32_t *row = corner + ky * p->in_w * wpp + i;
                    for (kx = 0; kx < p->kernel; kx++)
                        acc &= row[kx * wpp];
                }
                *out++ = acc;
            }
        }
    }
    return BNN_OK;
}

bnn_status bnn_bmaxpool2d(const bnn_bmaxpool2d_params *p, const uint32_t *in, uint32_t *out)
{
    return bnn_bmaxpool2d_opt(p, in, out);
}
