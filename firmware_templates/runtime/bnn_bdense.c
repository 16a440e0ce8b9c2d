/* bnn_bdense.c - binary fully connected layers: hidden (threshold bits) and output (logits). */

/* As in bnn_bconv2d.c: GCC's first scheduling pass makes the unrolled row network spill. */
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC optimize("no-schedule-insns")
#endif

#include "bnn_internal.h"

static int dense_shape_ok(int32_t h, int32_t w, int32_t c, int32_t in_pack_groups, int32_t n)
{
    return h > 0 && w > 0 && n > 0 && bnn_splits(c, in_pack_groups);
}

static int32_t dense_words(int32_t h, int32_t w, int32_t c, int32_t in_pack_groups)
{
    return h * w * bnn_words_per_pixel(c, in_pack_groups);
}

static bnn_status check_hidden(const bnn_bdense_hidden_params *p, const uint32_t *in,
                               const uint32_t *out)
{
    if (p == 0 || in == 0 || out == 0 || p->weights == 0 || p->threshold == 0 || p->flip == 0)
        return BNN_ERR_ARGUMENT;
    if (p->in_h <= 0 || p->in_w <= 0 || p->in_c <= 0 || p->in_pack_groups <= 0 ||
        p->out_features <= 0 || p->out_pack_groups <= 0)
        return BNN_ERR_ARGUMENT;
    if (!dense_shape_ok(p->in_h, p->in_w, p->in_c, p->in_pack_groups, p->out_features) ||
        !bnn_splits(p->out_features, p->out_pack_groups))
        return BNN_ERR_SHAPE;
    return BNN_OK;
}

static bnn_status check_output(const bnn_bdense_output_params *p, const uint32_t *in,
                               const int32_t *logits)
{
    if (p == 0 || in == 0 || logits == 0 || p->weights == 0 || p->mult == 0 || p->bias == 0)
        return BNN_ERR_ARGUMENT;
    if (p->in_h <= 0 || p->in_w <= 0 || p->in_c <= 0 || p->in_pack_groups <= 0 ||
        p->out_features <= 0)
        return BNN_ERR_ARGUMENT;
    if (!dense_shape_ok(p->in_h, p->in_w, p->in_c, p->in_pack_groups, p->out_features))
        return BNN_ERR_SHAPE;
    return BNN_OK;
}

/* Plain dot of one weight row: K - 2 * sum of popcount(x ^ w). */
static int32_t dense_dot_ref(const uint32_t *in, const uint32_t *row, int32_t nwords, int32_t k)
{
    int32_t pc = 0, i;
    for (i = 0; i < nwords; i++)
        pc += bnn_popcount_ref(in[i] ^ row[i]);
    return k - 2 * pc;
}

/* dot*mult + bias with wrap-around (no signed-overflow UB); the IR rules out overflow. */
static int32_t logit(int32_t dot, int32_t mult, int32_t bias)
{
    return (int32_t)((uint32_t)dot * (uint32_t)mult + (uint32_t)bias);
}

bnn_status bnn_bdense_hidden_ref(const bnn_bdense_hidden_params *p, const uint32_t *in,
                                 uint32_t *out)
{
    int32_t j, nwords, k, opg, owg, wpp_out;
    bnn_status st = check_hidden(p, in, out);
    if (st != BNN_OK)
        return st;
    nwords = dense_words(p->in_h, p->in_w, p->in_c, p->in_pack_groups);
    k = p->in_h * p->in_w * p->in_c;
    opg = p->out_features / p->out_pack_groups;
    owg = bnn_words_per_group(opg);
    wpp_out = p->out_pack_groups * owg;
    for (j = 0; j < wpp_out; j++)
        out[j] = 0;
    for (j = 0; j < p->out_features; j++) {
        int32_t dot = dense_dot_ref(in, p->weights + j * nwords, nwords, k);
        int32_t bit = bnn_channel_bit(j, opg, owg);
        out[bit / BNN_WORD_BITS] |=
            bnn_threshold_bit(dot, p->threshold[j], p->flip[j]) << (bit % BNN_WORD_BITS);
    }
    return BNN_OK;
}

/* Optimized: each row is one inlined carry-save XOR-popcount (bnn_xor_popcount_row, blocks of
 * 16 words) over the flat input, no call or division per row; each output word is assembled in
 * a register and stored once. */
bnn_status bnn_bdense_hidden_opt(const bnn_bdense_hidden_params *p, const uint32_t *in,
                                 uint32_t *out)
{
    int32_t j, nwords, k, opg, idx, sh;
    const uint32_t *row;
    uint32_t acc;
    bnn_status st = check_hidden(p, in, out);
    if (st != BNN_OK)
        return st;
    nwords = dense_words(p->in_h, p->in_w, p->in_c, p->in_pack_groups);
    k = p->in_h * p->in_w * p->in_c;
    opg = p->out_features / p->out_pack_groups;
    row = p->weights;
    acc = 0u;
    idx = 0; /* position of output j inside its packing group */
    sh = 0;  /* its bit in the current output word */
    for (j = 0; j < p->out_features; j++, row += nwords) {
        int32_t dot = k - 2 * bnn_xor_popcount_row(in, row, nwords);
        acc |= bnn_threshold_bit(dot, p->threshold[j], p->flip[j]) << sh;
        /* a word ends at 32 bits or with its packing group (the rest of it stays 0) */
        if (++idx == opg || ++sh == BNN_WORD_BITS) {
            *out++ = acc;
            acc = 0u;
            sh = 0;
            if (idx == opg)
                idx = 0;
        }
    }
    return BNN_OK;
}

bnn_status bnn_bdense_hidden(const bnn_bdense_hidden_params *p, const uint32_t *in,
                             uint32_t *out)
{
    return bnn_bdense_hidden_opt(p, in, out);
}

bnn_status bnn_bdense_output_ref(const bnn_bdense_output_params *p, const uint32_t *in,
                                 int32_t *logits)
{
    int32_t j, nwords, k;
    bnn_status st = check_output(p, in, logits);
    if (st != BNN_OK)
        return st;
    nwords = dense_words(p->in_h, p->in_w, p->in_c, p->in_pack_groups);
    k = p->in_h * p->in_w * p->in_c;
    for (j = 0; j < p->out_features; j++)
        logits[j] = logit(dense_dot_ref(in, p->weights + j * nwords, nwords, k), p->mult[j],
                          p->bias[j]);
    return BNN_OK;
}

bnn_status bnn_bdense_output_opt(const bnn_bdense_output_params *p, const uint32_t *in,
                                 int32_t *logits)
{
    int32_t j, nwords, k;
    const uint32_t *row;
    bnn_status st = check_output(p, in, logits);
    if (st != BNN_OK)
        return st;
    nwords = dense_words(p->in_h, p->in_w, p->in_c, p->in_pack_groups);
    k = p->in_h * p->in_w * p->in_c;
    row = p->weights;
    for (j = 0; j < p->out_features; j++, row += nwords)
        logits[j] = logit(k - 2 * bnn_xor_popcount_row(in, row, nwords), p->mult[j],
                          p->bias[j]);
    return BNN_OK;
}

bnn_status bnn_bdense_output(const bnn_bdense_output_params *p, const uint32_t *in,
                             int32_t *logits)
{
    return bnn_bdense_output_opt(p, in, logits);
}
