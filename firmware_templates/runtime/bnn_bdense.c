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

#ifdef BNN_HAVE_MVE
/*
 * Helium path of the dense layers (Cortex-M55/M85 builds with MVE; bnn_bdense_hidden_opt and
 * bnn_bdense_output_opt take it whenever BNN_HAVE_MVE is set, for every shape):
 * pc[r] = popcount(in XOR row r) over n words for `rows` (1..BNN_DENSE_MVE_ROWS) consecutive
 * weight rows, w[r][n] as bnn.h lays them out (row r at w + r*n; no re-layout, no scratch).
 *
 * The flat input and the rows are read as 128-bit vectors of 4 words (VLDRW needs only word
 * alignment, which every uint32 array has); each input vector is loaded once for up to 4 rows.
 * Per row and vector: VLDRW, VEOR, the per-byte popcount and VADDVA.U8, which adds the 16 byte
 * counts straight into the row's 32-bit scalar total, so no byte counter can overflow however
 * long the row is. MVE has no popcount instruction (no VCNT.8, unlike Neon): the byte counts
 * come from one VLDRB gather in the 256-byte table bnn_byte_popcount (bnn_vbyte_counts). The
 * last n % 4 words are one tail-predicated vector: VCTP and zeroing predicated loads, so the
 * lanes past the row read no memory and XOR to 0. About 17 instructions per 4 words of 4 rows
 * (4.25 per row), against about 30 for the scalar Harley-Seal row (bnn_xor_popcount_row).
 *
 * The idea is the usual SIMD binary dot product (vector XOR, per-byte popcount, widening
 * accumulate: VEOR, VCNT.8 and VPADAL on Neon, as in binary GEMM kernels such as Larq Compute
 * Engine's); Helium's add-across-vector-with-accumulate does the widening sum in one step.
 * Measured with `python -m bench kernels` (docs/benchmarks.md).
 */
#define BNN_DENSE_MVE_ROWS 4

static BNN_ALWAYS_INLINE void dense_rows_mve(const uint32_t *in, const uint32_t *w, int32_t n,
                                             int32_t rows, int32_t *pc)
{
    const uint32_t *x = in;
    const uint32_t *w0 = w, *w1 = rows > 1 ? w + n : w, *w2 = rows > 2 ? w + 2 * n : w;
    const uint32_t *w3 = rows > 3 ? w + 3 * n : w;
    uint32_t t0 = 0u, t1 = 0u, t2 = 0u, t3 = 0u;
    int32_t i;
#define BNN_DENSE_MVE_ROW(t, wr, load)                                                         \
    t = vaddvaq_u8(t, bnn_vbyte_counts(veorq_u32(v, load(wr))))
#define BNN_DENSE_MVE_STEP(load)                                                               \
    do {                                                                                       \
        BNN_DENSE_MVE_ROW(t0, w0, load);                                                       \
        if (rows > 1)                                                                          \
            BNN_DENSE_MVE_ROW(t1, w1, load);                                                   \
        if (rows > 2)                                                                          \
            BNN_DENSE_MVE_ROW(t2, w2, load);                                                   \
        if (rows > 3)                                                                          \
            BNN_DENSE_MVE_ROW(t3, w3, load);                                                   \
    } while (0)
    for (i = n; i >= 4; i -= 4, x += 4, w0 += 4, w1 += 4, w2 += 4, w3 += 4) {
        uint32x4_t v = vldrwq_u32(x);
#define BNN_LOAD(ptr) vldrwq_u32(ptr)
        BNN_DENSE_MVE_STEP(BNN_LOAD);
#undef BNN_LOAD
    }
    if (i > 0) { /* the last 1..3 words: lanes past the row are not loaded (zero) */
        mve_pred16_t m = vctp32q((uint32_t)i);
        uint32x4_t v = vldrwq_z_u32(x, m);
#define BNN_LOAD(ptr) vldrwq_z_u32(ptr, m)
        BNN_DENSE_MVE_STEP(BNN_LOAD);
#undef BNN_LOAD
    }
#undef BNN_DENSE_MVE_STEP
#undef BNN_DENSE_MVE_ROW
    pc[0] = (int32_t)t0;
    pc[1] = (int32_t)t1;
    pc[2] = (int32_t)t2;
    pc[3] = (int32_t)t3;
}

/* Popcounts of the next min(left, BNN_DENSE_MVE_ROWS) rows into pc (the rest of pc: 0). */
#if defined(__GNUC__)
__attribute__((noinline))
#endif
static void dense_popcounts_mve(const uint32_t *in, const uint32_t *w, int32_t n, int32_t left,
                                int32_t *pc)
{
    if (left >= BNN_DENSE_MVE_ROWS)
        dense_rows_mve(in, w, n, BNN_DENSE_MVE_ROWS, pc);
    else if (left == 3)
        dense_rows_mve(in, w, n, 3, pc);
    else if (left == 2)
        dense_rows_mve(in, w, n, 2, pc);
    else
        dense_rows_mve(in, w, n, 1, pc);
}
#endif

/* Optimized: each row is one inlined carry-save XOR-popcount (bnn_xor_popcount_row, blocks of
 * 16 words) over the flat input, no call or division per row; each output word is assembled in
 * a register and stored once. Helium builds count the rows 4 at a time in vectors instead
 * (dense_popcounts_mve above). */
bnn_status bnn_bdense_hidden_opt(const bnn_bdense_hidden_params *p, const uint32_t *in,
                                 uint32_t *out)
{
    int32_t j, nwords, k, opg, idx, sh;
    const uint32_t *row;
    uint32_t acc;
#ifdef BNN_HAVE_MVE
    int32_t pc[BNN_DENSE_MVE_ROWS], pc_next;
#endif
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
#ifdef BNN_HAVE_MVE
    pc_next = BNN_DENSE_MVE_ROWS;
#endif
    for (j = 0; j < p->out_features; j++, row += nwords) {
        int32_t dot;
#ifdef BNN_HAVE_MVE
        if (pc_next == BNN_DENSE_MVE_ROWS) {
            dense_popcounts_mve(in, row, nwords, p->out_features - j, pc);
            pc_next = 0;
        }
        dot = k - 2 * pc[pc_next++];
#else
        dot = k - 2 * bnn_xor_popcount_row(in, row, nwords);
#endif
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
#ifdef BNN_HAVE_MVE
    for (j = 0; j < p->out_features; j += BNN_DENSE_MVE_ROWS, row += BNN_DENSE_MVE_ROWS * nwords) {
        int32_t pc[BNN_DENSE_MVE_ROWS], r;
        dense_popcounts_mve(in, row, nwords, p->out_features - j, pc);
        for (r = 0; r < BNN_DENSE_MVE_ROWS && j + r < p->out_features; r++)
            logits[j + r] = logit(k - 2 * pc[r], p->mult[j + r], p->bias[j + r]);
    }
#else
    for (j = 0; j < p->out_features; j++, row += nwords)
        logits[j] = logit(k - 2 * bnn_xor_popcount_row(in, row, nwords), p->mult[j],
                          p->bias[j]);
#endif
    return BNN_OK;
}

bnn_status bnn_bdense_output(const bnn_bdense_output_params *p, const uint32_t *in,
                             int32_t *logits)
{
    return bnn_bdense_output_opt(p, in, logits);
}
