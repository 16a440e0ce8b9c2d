/* bnn_bshuffle.c - channel shuffle of binary activations (ShuffleNet): output channel o is
 * input channel (o % groups) * (channels / groups) + o / groups. Values are unchanged; the
 * input is read in in_pack_groups and the output written in out_pack_groups (see bnn.h). */
#include "bnn_internal.h"

static bnn_status check_bshuffle(const bnn_bshuffle_params *p, const uint32_t *in,
                                 const uint32_t *out)
{
    if (p == 0 || in == 0 || out == 0)
        return BNN_ERR_ARGUMENT;
    if (p->in_h <= 0 || p->in_w <= 0 || p->channels <= 0 || p->groups <= 0 ||
        p->in_pack_groups <= 0 || p->out_pack_groups <= 0)
        return BNN_ERR_ARGUMENT;
    if (!bnn_splits(p->channels, p->groups) || !bnn_splits(p->channels, p->in_pack_groups) ||
        !bnn_splits(p->channels, p->out_pack_groups))
        return BNN_ERR_SHAPE;
    return BNN_OK;
}

/* Input channel that output channel o takes. */
static int32_t shuffle_source(const bnn_bshuffle_params *p, int32_t o)
{
    return (o % p->groups) * (p->channels / p->groups) + o / p->groups;
}

/* Reference: one bit at a time, OR-ed into a zeroed output pixel. */
bnn_status bnn_bshuffle_ref(const bnn_bshuffle_params *p, const uint32_t *in, uint32_t *out)
{
    int32_t px, o, i, in_per, in_wg, in_wpp, out_per, out_wg, out_wpp;
    bnn_status st = check_bshuffle(p, in, out);
    if (st != BNN_OK)
        return st;
    in_per = p->channels / p->in_pack_groups;
    in_wg = bnn_words_per_group(in_per);
    in_wpp = p->in_pack_groups * in_wg;
    out_per = p->channels / p->out_pack_groups;
    out_wg = bnn_words_per_group(out_per);
    out_wpp = p->out_pack_groups * out_wg;
    for (px = 0; px < p->in_h * p->in_w; px++) {
        const uint32_t *src = in + px * in_wpp;
        uint32_t *dst = out + px * out_wpp;
        for (i = 0; i < out_wpp; i++)
            dst[i] = 0;
        for (o = 0; o < p->channels; o++) {
            int32_t from = bnn_channel_bit(shuffle_source(p, o), in_per, in_wg);
            int32_t to = bnn_channel_bit(o, out_per, out_wg);
            dst[to / BNN_WORD_BITS] |= bnn_get_bit(src, from) << (to % BNN_WORD_BITS);
        }
    }
    return BNN_OK;
}

/* Optimized: each output word is gathered in a register and stored once; the source channel
 * advances by C/G per output channel and wraps to the next offset, with no division. */
bnn_status bnn_bshuffle_opt(const bnn_bshuffle_params *p, const uint32_t *in, uint32_t *out)
{
    int32_t px, og, w, b, in_per, in_wg, in_wpp, out_per, out_wg, block;
    bnn_status st = check_bshuffle(p, in, out);
    if (st != BNN_OK)
        return st;
    in_per = p->channels / p->in_pack_groups;
    in_wg = bnn_words_per_group(in_per);
    in_wpp = p->in_pack_groups * in_wg;
    out_per = p->channels / p->out_pack_groups;
    out_wg = bnn_words_per_group(out_per);
    block = p->channels / p->groups;
    for (px = 0; px < p->in_h * p->in_w; px++) {
        const uint32_t *src = in + px * in_wpp;
        int32_t from = 0, offset = 0; /* shuffle_source() of the next output channel */
        for (og = 0; og < p->out_pack_groups; og++) {
            for (w = 0; w < out_wg; w++) {
                uint32_t word = 0;
                for (b = 0; b < BNN_WORD_BITS && w * BNN_WORD_BITS + b < out_per; b++) {
                    int32_t bit = (from / in_per) * in_wg * BNN_WORD_BITS + from % in_per;
                    word |= bnn_get_bit(src, bit) << b;
                    from += block;
                    if (from >= p->channels)
                        from = ++offset;
                }
                *out++ = word;
            }
        }
    }
    return BNN_OK;
}

bnn_status bnn_bshuffle(const bnn_bshuffle_params *p, const uint32_t *in, uint32_t *out)
{
    return bnn_bshuffle_opt(p, in, out);
}
