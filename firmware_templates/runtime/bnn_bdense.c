/* bnn_bdense.c - binary fully connected layers: hidden (threshold bits) and output (logits). */

/* As in bnn_bconv2d.c: GCC's first scheduling pass makes the unrolled row network spill. */
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC optimize("no-schedule-insns")
/* and no memset/memcpy calls for the short zeroing and copy loops of the sliced path */
#pragma GCC optimize("no-tree-loop-distribute-patterns")
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

/* rows: whether the call reads weights, threshold and flip (else the sliced layout); inlined
 * so that each caller's constant `rows` leaves only its own tests. */
static BNN_ALWAYS_INLINE bnn_status check_hidden(const bnn_bdense_hidden_params *p,
                                                 const uint32_t *in, const uint32_t *out,
                                                 int rows)
{
    if (p == 0 || in == 0 || out == 0)
        return BNN_ERR_ARGUMENT;
    if (rows ? p->weights == 0 || p->threshold == 0 || p->flip == 0 : p->sliced == 0)
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
    bnn_status st = check_hidden(p, in, out, 1);
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

#ifndef BNN_HAVE_MVE
/* ---- scalar row popcount of the dense layers (every core without Helium) ---- */

/* popcount(h16) + 2 * popcount(h32): nibbles <= 12, bytes <= 24. */
static inline uint32_t dense_count_2(uint32_t h16, uint32_t h32)
{
    uint32_t m1 = 0x55555555u, m2 = 0x33333333u, m4 = 0x0F0F0F0Fu;
    BNN_IN_REGISTER(m1);
    BNN_IN_REGISTER(m2);
    BNN_IN_REGISTER(m4);
    return bnn_sum_bytes(bnn_nibbles_to_bytes(
        bnn_nibble_counts(h16, m1, m2) + (bnn_nibble_counts(h32, m1, m2) << 1), m4));
}

/* Weighted popcount of six counter words of weights 1, 2, 4, 8, 16 and 32: nibble counts
 * (<= 4) paired while a nibble stays <= 12, then bytes (<= 24 each); the low and middle bytes
 * combine to <= 24 + 4 * 24 = 120 per byte, the high ones are summed apart and weighted by 16. */
static inline uint32_t dense_count_6(uint32_t ones, uint32_t twos, uint32_t fours,
                                     uint32_t eights, uint32_t h16, uint32_t h32)
{
    uint32_t m1 = 0x55555555u, m2 = 0x33333333u, m4 = 0x0F0F0F0Fu;
    uint32_t low, mid, high;
    BNN_IN_REGISTER(m1);
    BNN_IN_REGISTER(m2);
    BNN_IN_REGISTER(m4);
    low = bnn_nibble_counts(ones, m1, m2) + (bnn_nibble_counts(twos, m1, m2) << 1);
    mid = bnn_nibble_counts(fours, m1, m2) + (bnn_nibble_counts(eights, m1, m2) << 1);
    high = bnn_nibble_counts(h16, m1, m2) + (bnn_nibble_counts(h32, m1, m2) << 1);
    return bnn_sum_bytes(bnn_nibbles_to_bytes(low, m4) + (bnn_nibbles_to_bytes(mid, m4) << 2)) +
           (bnn_sum_bytes(bnn_nibbles_to_bytes(high, m4)) << 4);
}

/* Four words at offset off of a, b (two LDRD pairs) into the running ones and twos through
 * three carry-save adders; f: the quad's carry of weight 4. */
#define DENSE_QUAD(a, b, off, f)                                                               \
    do {                                                                                       \
        uint32_t y0, y1, t0, t1;                                                               \
        BNN_XOR_PAIR(a, b, (off), y0, y1);                                                     \
        bnn_csa(&t0, &ones, ones, y0, y1);                                                     \
        BNN_XOR_PAIR(a, b, (off) + 2, y0, y1);                                                 \
        bnn_csa(&t1, &ones, ones, y0, y1);                                                     \
        bnn_csa(&(f), &twos, twos, t0, t1);                                                    \
    } while (0)

/* One block of 16 words (LDRD pairs at a, b; both advanced by 16) through a Harley-Seal
 * network of 15 carry-save adders (four quads, then fours and eights) into the running
 * ones..eights; s: the block's carry of weight 16. GCC keeps the three unrolled copies in
 * dense_xor_popcount on constant offsets. */
#define DENSE_BLOCK16(a, b, s)                                                                 \
    do {                                                                                       \
        uint32_t f0, f1, e0, e1;                                                               \
        DENSE_QUAD(a, b, 0, f0);                                                               \
        DENSE_QUAD(a, b, 4, f1);                                                               \
        bnn_csa(&e0, &fours, fours, f0, f1);                                                   \
        DENSE_QUAD(a, b, 8, f0);                                                               \
        DENSE_QUAD(a, b, 12, f1);                                                              \
        bnn_csa(&e1, &fours, fours, f0, f1);                                                   \
        bnn_csa(&(s), &eights, eights, e0, e1);                                                \
        (a) += 16;                                                                             \
        (b) += 16;                                                                             \
    } while (0)

/* A quad of the head into ones..eights, which hold at most 15 per bit there: the carry out of
 * the fours lands in eights with an XOR (no carry out of the eights). */
#define DENSE_HEAD_QUAD(a, b)                                                                  \
    do {                                                                                       \
        uint32_t f;                                                                            \
        DENSE_QUAD(a, b, 0, f);                                                                \
        eights ^= fours & f;                                                                   \
        fours ^= f;                                                                            \
        (a) += 4;                                                                              \
        (b) += 4;                                                                              \
    } while (0)

/*
 * sum over i < n of popcount(a[i] ^ (*pb)[i]) for one dense row (n >= 1 words of any length),
 * on Thumb-2 cores and the host; advances *pb past the row (rows are contiguous, so that is
 * the next row). Every word goes through carry-save adders (5 instructions each, about one
 * per word) into one exact bit-sliced counter, and the counter words are counted once per row:
 * beyond the adders a word costs half an LDRD of each operand and one EOR (about 7 instructions
 * per word, plus ~50 per row for the final count):
 *   - the head, the first n % 16 words (4, 8 or 12 words, a pair, a single), counted exactly
 *     into ones, twos, fours and eights (at most 15 per bit: nothing carries past the eights);
 *   - then blocks of 16 words through a Harley-Seal network of 15 adders into the running
 *     ones..eights; the carries s (weight 16) of up to 3 consecutive blocks are added exactly
 *     into h16 + 2 * h32 (<= 3: a half adder and an XOR); after the third block of such a
 *     group h16, h32 are counted into total when more blocks follow;
 *   - at the end the six words ones..h32 hold at most 15 + 48 = 63 per bit (the head comes
 *     first so that its words add no carries on top of a full group) and are counted together.
 * Against bnn_xor_popcount_row (a count of every block's carry, the tail in pairs through a
 * ripple; the dense layers' previous path) a 54-word row (the default model's 3x3x192 input)
 * saves the three block counts and most of the tail: 553 -> 475 instructions per row on
 * Cortex-M4 with the row loop of bnn_bdense_hidden_opt. v6-M (Cortex-M0: no LDRD, 8 low
 * registers) keeps bnn_xor_popcount_row, which it reduces to bnn_xor_popcount_inline.
 */
static BNN_ALWAYS_INLINE int32_t dense_xor_popcount(const uint32_t *a, const uint32_t **pb,
                                                    int32_t n)
{
#if defined(__arm__) && !defined(__thumb2__)
    int32_t pc = bnn_xor_popcount_row(a, *pb, n);
    *pb += n;
    return pc;
#else
    const uint32_t *b = *pb;
    uint32_t ones = 0u, twos = 0u, fours = 0u, eights = 0u, h16, h32, total = 0u, s;
    int32_t blocks = n >> 4, h = n & 15;
    /* h is tested bit by bit in every row: kept as one value (GCC would otherwise hoist one
     * flag per test out of the row loop, each a stack slot) */
    BNN_IN_REGISTER(h);
    if (h & 12) { /* 4, 8 or 12 words: the first 4 start from zero (half adders) */
        uint32_t y0, y1, y2, y3, c0, c1;
        BNN_XOR_PAIR(a, b, 0, y0, y1);
        BNN_XOR_PAIR(a, b, 2, y2, y3);
        c0 = y0 & y1;
        ones = y0 ^ y1;
        bnn_csa(&c1, &ones, ones, y2, y3);
        twos = c0 ^ c1;
        fours = c0 & c1;
        a += 4;
        b += 4;
        if (h & 8) {
            DENSE_HEAD_QUAD(a, b); /* eights is 0 here: this sets it */
            if ((h & 12) == 12)
                DENSE_HEAD_QUAD(a, b);
        }
    }
    if (h & 2) {
        uint32_t y0, y1, t, c;
        BNN_XOR_PAIR(a, b, 0, y0, y1);
        bnn_csa(&t, &ones, ones, y0, y1);
        c = twos & t;
        twos ^= t;
        eights ^= fours & c;
        fours ^= c;
        a += 2;
        b += 2;
    }
    if (h & 1) {
        uint32_t y = a[0] ^ b[0], c = ones & y, d;
        ones ^= y;
        d = twos & c;
        twos ^= c;
        eights ^= fours & d;
        fours ^= d;
        a += 1;
        b += 1;
    }
    h16 = 0u;
    h32 = 0u;
    while (blocks > 0) { /* groups of up to 3 blocks, unrolled: no group counter */
        DENSE_BLOCK16(a, b, h16);
        h32 = 0u;
        if (--blocks == 0)
            break;
        DENSE_BLOCK16(a, b, s);
        h32 = h16 & s;
        h16 ^= s;
        if (--blocks == 0)
            break;
        DENSE_BLOCK16(a, b, s);
        h32 ^= h16 & s; /* h16 + 2 * h32 <= 3: no carry out of h32 */
        h16 ^= s;
        if (--blocks == 0)
            break;
        total += dense_count_2(h16, h32);
    }
    *pb = b;
    return (int32_t)(16u * total + dense_count_6(ones, twos, fours, eights, h16, h32));
#endif
}
#undef DENSE_HEAD_QUAD
#undef DENSE_BLOCK16
#undef DENSE_QUAD
#endif


/* ---- sliced path: a word holds the 32 rows of an output word (every build) ------------------
 *
 * The threshold, derived: the IR's output bit is (dot < t) XOR flip with dot = K - 2 pc, pc the
 * popcount of input XOR row. For integers, dot < t <=> 2 pc > K - t <=> pc > floor((K - t) / 2)
 * <=> pc >= L with L = floor((K - t) / 2) + 1, so the bit is (pc < L) XOR (1 XOR flip); the
 * renderer clips L to [0, K + 1] (t in [-K, K + 1] never needs it) and stores L bit-sliced, so
 * one compare from the top plane down decides all 32 rows.
 * Sources: bit slicing (one machine word holds bit i of 32 independent values, so one logic
 * instruction works on all of them) as in Biham's "A fast new DES implementation in software"
 * (FSE 1997); the carry-save adder networks are Harley and Seal's population count as Muła,
 * Kurz and Lemire describe it ("Faster population counts using AVX2 instructions", 2018), here
 * adding 32 lanes' bits instead of a word's; Larq Compute Engine folds batch norm into
 * `accumulator > threshold` the same way (its bconv2d output transform). */

/* Planes of the sliced counts: pc <= K and the limits <= K + 1 are below 2^planes; at least 5,
 * the counter planes kept in registers (so the compare reads every limit word unconditionally). */
static int32_t sliced_planes(int32_t k)
{
    int32_t planes = 0;
    uint32_t v = (uint32_t)k + 1u;
    while (v != 0u) {
        planes++;
        v >>= 1;
    }
    return planes < 5 ? 5 : planes;
}

/* Inputs `bit` .. `bit` + 15 of x against the sliced weight words w[bit..bit + 15] (word j:
 * input j of the 32 rows): two bnn_slice_block8 networks and one more adder, 15 carry-save
 * adders into the running ones..eights; returns the block's carry of weight 16. */
static BNN_ALWAYS_INLINE uint32_t sliced_block16(uint32_t x, const uint32_t *w, uint32_t *ones,
                                                 uint32_t *twos, uint32_t *fours,
                                                 uint32_t *eights, const int32_t bit)
{
    uint32_t e0 = bnn_slice_block8(x, w, ones, twos, fours, bit);
    uint32_t e1 = bnn_slice_block8(x, w, ones, twos, fours, bit + 8);
    uint32_t s;
    bnn_csa(&s, eights, *eights, e0, e1);
    return s;
}

/* Adds the bit-sliced word c (bit r: 1 for row r) into the planes acc[0], acc[1], ... (an
 * exact bit-sliced counter: it stops where nothing carries; no plane past the final count's
 * top is reached). */
static BNN_ALWAYS_INLINE void sliced_ripple(uint32_t *acc, uint32_t c)
{
    while (c != 0u) {
        uint32_t d = *acc & c;
        *acc++ ^= c;
        c = d;
    }
}

/* Adds the m bit-sliced words c[0..m) (weight 1 relative to acc[0]) into the planes acc[]:
 * blocks of 16 through a Harley-Seal network (15 carry-save adders) into acc[0..3] held in
 * registers, the block's carry of weight 16 rippled from acc[4]; the rest one by one. */
static void sliced_add_words(uint32_t *acc, const uint32_t *c, int32_t m)
{
    uint32_t p0 = acc[0], p1 = acc[1], p2 = acc[2], p3 = acc[3];
    for (; m >= 16; m -= 16, c += 16) {
        uint32_t t0, t1, f0, f1, e0, e1, s;
        bnn_csa(&t0, &p0, p0, c[0], c[1]);
        bnn_csa(&t1, &p0, p0, c[2], c[3]);
        bnn_csa(&f0, &p1, p1, t0, t1);
        bnn_csa(&t0, &p0, p0, c[4], c[5]);
        bnn_csa(&t1, &p0, p0, c[6], c[7]);
        bnn_csa(&f1, &p1, p1, t0, t1);
        bnn_csa(&e0, &p2, p2, f0, f1);
        bnn_csa(&t0, &p0, p0, c[8], c[9]);
        bnn_csa(&t1, &p0, p0, c[10], c[11]);
        bnn_csa(&f0, &p1, p1, t0, t1);
        bnn_csa(&t0, &p0, p0, c[12], c[13]);
        bnn_csa(&t1, &p0, p0, c[14], c[15]);
        bnn_csa(&f1, &p1, p1, t0, t1);
        bnn_csa(&e1, &p2, p2, f0, f1);
        bnn_csa(&s, &p3, p3, e0, e1);
        sliced_ripple(acc + 4, s);
    }
    for (; m > 0; m--, c++) { /* ripple through the registers, then memory */
        uint32_t d = p0 & *c;
        p0 ^= *c;
        if (d != 0u) {
            uint32_t e = p1 & d;
            p1 ^= d;
            d = p2 & e;
            p2 ^= e;
            e = p3 & d;
            p3 ^= d;
            sliced_ripple(acc + 4, e);
        }
    }
    acc[0] = p0;
    acc[1] = p1;
    acc[2] = p2;
    acc[3] = p3;
}

#define BNN_DENSE_SLICE_CHUNK 64 /* input words per chunk: their carries are kept in a buffer */
#define BNN_DENSE_SLICE_MAX_PLANES 32

/*
 * One output word of the sliced path: bit r = the output bit of row r of its (up to) 32 rows.
 * s: the word's sliced block (pipeline/ops/bdense.py: sliced_blocks): 32*n weight words (word
 * 32*i + b: bit r = weight bit b of input word i of row r), then `planes` limit words (bit r of
 * word b: bit b of row r's limit L_r), then the invert word. The 32 rows count in parallel:
 * each input bit is broadcast to a mask (SBFX) and XORed with its weight word, and the words go
 * through carry-save adders into bit-sliced counters, so the per-row popcount, threshold and
 * bit packing of the rows path cost nothing per row: pc_r < L_r is decided for all 32 rows at
 * once from the most significant plane down. Output bit r = (pc_r < L_r) ^ invert_r.
 * buf: 2 * BNN_DENSE_SLICE_CHUNK words: a chunk of input words, then their carries (weight 32)
 * at the same index BNN_DENSE_SLICE_CHUNK words on, so one pointer reads the word and writes
 * its carry; `loaded`: buf already holds the whole input (n <= BNN_DENSE_SLICE_CHUNK).
 */
static BNN_ALWAYS_INLINE uint32_t dense_sliced_word(const uint32_t *in, int32_t n,
                                                   const uint32_t *s, int32_t planes,
                                                   uint32_t *buf, int loaded)
{
    uint32_t ones = 0u, twos = 0u, fours = 0u, eights = 0u, sixteens = 0u;
    uint32_t acc[BNN_DENSE_SLICE_MAX_PLANES]; /* planes of weight 32, 64, ... */
    const uint32_t *lim = s + BNN_WORD_BITS * n;
    int32_t top = planes - 5, i, q, m; /* planes >= 5 */
    uint32_t lt = 0u, eq = 0xFFFFFFFFu;
    for (q = 0; q < top + 4; q++) /* + 4: sliced_add_words loads 4 planes */
        acc[q] = 0u;
    for (i = 0; i < n; i += m) {
        uint32_t *x;
        m = n - i < BNN_DENSE_SLICE_CHUNK ? n - i : BNN_DENSE_SLICE_CHUNK;
        if (!loaded)
            for (q = 0; q < m; q++)
                buf[q] = in[i + q];
        for (x = buf; x < buf + m; x++, s += BNN_WORD_BITS) {
            uint32_t v = *x;
            uint32_t s0 = sliced_block16(v, s, &ones, &twos, &fours, &eights, 0);
            uint32_t s1 = sliced_block16(v, s, &ones, &twos, &fours, &eights, 16);
            bnn_csa(x + BNN_DENSE_SLICE_CHUNK, &sixteens, sixteens, s0, s1);
        }
        sliced_add_words(acc, buf + BNN_DENSE_SLICE_CHUNK, m);
    }
#define BNN_SLICED_CMP(plane, b)                                                               \
    do {                                                                                       \
        uint32_t l_ = lim[b];                                                                  \
        lt |= eq & ~(plane) & l_;                                                              \
        eq &= ~((plane) ^ l_);                                                                 \
    } while (0)
    for (q = top - 1; q >= 0; q--)
        BNN_SLICED_CMP(acc[q], q + 5);
    BNN_SLICED_CMP(sixteens, 4);
    BNN_SLICED_CMP(eights, 3);
    BNN_SLICED_CMP(fours, 2);
    BNN_SLICED_CMP(twos, 1);
    BNN_SLICED_CMP(ones, 0);
#undef BNN_SLICED_CMP
    return lt ^ lim[planes];
}

/* bnn_bdense_hidden_opt for params in the sliced layout: every output word. A function of its
 * own, so that a layer in the rows layout pays neither its 800 bytes of stack nor its checks
 * (inlined, its buffers and loops cost the rows loop registers on Cortex-M0). */
#if defined(__GNUC__)
__attribute__((noinline))
#endif
static bnn_status dense_sliced(const bnn_bdense_hidden_params *p, const uint32_t *in,
                               uint32_t *out)
{
    const uint32_t *s;
    int32_t j, nwords, planes, words, loaded;
    uint32_t buf[2 * BNN_DENSE_SLICE_CHUNK];
    bnn_status st = check_hidden(p, in, out, 0);
    if (st != BNN_OK)
        return st;
    s = p->sliced;
    nwords = dense_words(p->in_h, p->in_w, p->in_c, p->in_pack_groups);
    planes = sliced_planes(p->in_h * p->in_w * p->in_c);
    words = p->out_pack_groups * bnn_words_per_group(p->out_features / p->out_pack_groups);
    loaded = nwords <= BNN_DENSE_SLICE_CHUNK;
    for (j = 0; loaded && j < nwords; j++) /* once per call where the input fits */
        buf[j] = in[j];
    for (j = 0; j < words; j++, s += BNN_WORD_BITS * nwords + planes + 1)
        out[j] = dense_sliced_word(in, nwords, s, planes, buf, loaded);
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

/* Optimized. Params in the sliced layout take the sliced path (dense_sliced_word above) on
 * every build. Otherwise Helium builds count the rows 4 at a time in vectors (dense_popcounts_mve
 * above) and assemble each output word in a register. Scalar builds count each row with one inlined
 * exact carry-save XOR-popcount over the flat input (dense_xor_popcount), rows in order; per
 * output word of nb <= 32 bits (a word ends at 32 bits or with its packing group, the rest of
 * it stays 0) the bits are shifted in from the top in a register, so a row costs its popcount,
 * the threshold compare and one OR with a shift. Neither calls or divides per row. */
bnn_status bnn_bdense_hidden_opt(const bnn_bdense_hidden_params *p, const uint32_t *in,
                                 uint32_t *out)
{
    int32_t nwords, k, opg;
    const uint32_t *row;
    bnn_status st;
    if (p != 0 && p->sliced != 0)
        return dense_sliced(p, in, out);
    st = check_hidden(p, in, out, 1);
    if (st != BNN_OK)
        return st;
    nwords = dense_words(p->in_h, p->in_w, p->in_c, p->in_pack_groups);
    k = p->in_h * p->in_w * p->in_c;
    opg = p->out_features / p->out_pack_groups;
    row = p->weights;
#ifdef BNN_HAVE_MVE
    {
        int32_t j, idx = 0, sh = 0; /* output j: its place in its packing group, its bit */
        int32_t pc[BNN_DENSE_MVE_ROWS], pc_next = BNN_DENSE_MVE_ROWS;
        uint32_t acc = 0u;
        for (j = 0; j < p->out_features; j++, row += nwords) {
            int32_t dot;
            if (pc_next == BNN_DENSE_MVE_ROWS) {
                dense_popcounts_mve(in, row, nwords, p->out_features - j, pc);
                pc_next = 0;
            }
            dot = k - 2 * pc[pc_next++];
            acc |= bnn_threshold_bit(dot, p->threshold[j], p->flip[j]) << sh;
            if (++idx == opg || ++sh == BNN_WORD_BITS) {
                *out++ = acc;
                acc = 0u;
                sh = 0;
                if (idx == opg)
                    idx = 0;
            }
        }
    }
#else
    {
        const int32_t *thr = p->threshold;
        const uint8_t *flip = p->flip;
        int32_t g, left;
        for (g = 0; g < p->out_pack_groups; g++) {
            for (left = opg; left > 0; left -= BNN_WORD_BITS) {
                int32_t nb = left < BNN_WORD_BITS ? left : BNN_WORD_BITS;
                /* a sentinel bit marks the end: after nb shifts it has left the word */
                uint32_t acc = 1u << (nb - 1), last;
                do {
                    int32_t dot = k - 2 * dense_xor_popcount(in, &row, nwords);
                    last = acc & 1u;
                    /* bnn_threshold_bit at bit 31: only bit 0 of flip gets there (no AND) */
                    acc = (acc >> 1) | (((uint32_t)(dot < *thr++) ^ (uint32_t)*flip++) << 31);
                } while (!last);
                *out++ = acc >> (BNN_WORD_BITS - nb); /* row r of the word at bit r */
            }
        }
    }
#endif
    return BNN_OK;
}

bnn_status bnn_bdense_hidden(const bnn_bdense_hidden_params *p, const uint32_t *in,
                             uint32_t *out)
{
    return bnn_bdense_hidden_opt(p, in, out);
}

const char *bnn_bdense_hidden_path_name(const bnn_bdense_hidden_params *p)
{
    static const uint32_t word = 0u; /* stands in for in and out: only their NULL-ness is checked */
    if (p == 0 || check_hidden(p, &word, &word, p->sliced == 0) != BNN_OK)
        return "invalid";
    if (p->sliced != 0)
        return "sliced";
#ifdef BNN_HAVE_MVE
    return "mve";
#else
    return "rows";
#endif
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
    for (j = 0; j < p->out_features; j++)
        logits[j] = logit(k - 2 * dense_xor_popcount(in, &row, nwords), p->mult[j],
                          p->bias[j]);
#endif
    return BNN_OK;
}

bnn_status bnn_bdense_output(const bnn_bdense_output_params *p, const uint32_t *in,
                             int32_t *logits)
{
    return bnn_bdense_output_opt(p, in, logits);
}
