/* bnn_thermometer.c - uint8 image -> packed thermometer (or base-2) planes. */
#include "bnn_internal.h"

static bnn_status check_thermometer(const bnn_thermometer_params *p, const uint8_t *in,
                                    const uint32_t *out)
{
    if (p == 0 || in == 0 || out == 0)
        return BNN_ERR_ARGUMENT;
    if (p->height <= 0 || p->width <= 0 || p->channels <= 0 || p->planes <= 0)
        return BNN_ERR_ARGUMENT;
    if (p->mode == BNN_THERMO_THRESHOLDS) {
        if (p->thresholds == 0)
            return BNN_ERR_ARGUMENT;
    } else if (p->mode == BNN_THERMO_BASE2) {
        if (p->planes > 8)
            return BNN_ERR_SHAPE;
    } else {
        return BNN_ERR_ARGUMENT;
    }
    if (!bnn_splits(p->channels * p->planes, p->out_pack_groups))
        return BNN_ERR_SHAPE;
    return BNN_OK;
}

/* Bit of plane k for a pixel value of channel c: 0 (+1) when the plane is "on". */
static uint32_t plane_bit(const bnn_thermometer_params *p, uint8_t pixel, int32_t c, int32_t k)
{
    if (p->mode == BNN_THERMO_BASE2)
        return ((pixel >> (7 - k)) & 1u) ^ 1u;
    return pixel < p->thresholds[c * p->planes + k];
}

bnn_status bnn_thermometer_ref(const bnn_thermometer_params *p, const uint8_t *in, uint32_t *out)
{
    int32_t pix, c, k, i;
    int32_t per_group, wg, wpp, npix;
    bnn_status st = check_thermometer(p, in, out);
    if (st != BNN_OK)
        return st;
    per_group = p->channels * p->planes / p->out_pack_groups;
    wg = bnn_words_per_group(per_group);
    wpp = p->out_pack_groups * wg;
    npix = p->height * p->width;
    for (i = 0; i < npix * wpp; i++)
        out[i] = 0;
    for (pix = 0; pix < npix; pix++) {
        for (c = 0; c < p->channels; c++) {
            for (k = 0; k < p->planes; k++) {
                int32_t bit = bnn_channel_bit(c * p->planes + k, per_group, wg);
                uint32_t v = plane_bit(p, in[pix * p->channels + c], c, k);
                out[pix * wpp + bit / BNN_WORD_BITS] |= v << (bit % BNN_WORD_BITS);
            }
        }
    }
    return BNN_OK;
}

/* The 8 bits of b (< 256) in reverse order: RBIT on Thumb-2, elsewhere the 32-bit multiply
 * trick of Sean Anderson's "Bit Twiddling Hacks" (reverse a byte in 7 operations). */
static BNN_ALWAYS_INLINE uint32_t reverse_byte(uint32_t b)
{
#if defined(__GNUC__) && defined(__thumb2__)
    uint32_t r;
    __asm__("rbit %0, %1" : "=r"(r) : "r"(b));
    return r >> 24;
#else
    return (((b * 0x0802u & 0x22110u) | (b * 0x8020u & 0x88440u)) * 0x10101u >> 16) & 0xFFu;
#endif
}

/* Planes of one pixel value, bit k = plane k, in the packed sense (1 = -1). */
static BNN_ALWAYS_INLINE uint32_t pixel_planes(const bnn_thermometer_params *p, uint8_t pixel,
                                               int32_t c)
{
    uint32_t bits = 0;
    int32_t k;
    if (p->mode == BNN_THERMO_BASE2) /* plane k is bit 7-k of the pixel, inverted */
        return ~reverse_byte(pixel) & ((1u << p->planes) - 1u);
    {
        const uint16_t *t = p->thresholds + c * p->planes;
        for (k = 0; k < p->planes; k++)
            bits |= (uint32_t)(pixel < t[k]) << k;
    }
    return bits;
}

static int thermometer_table_fits(const bnn_thermometer_params *p);
static void thermometer_table(const bnn_thermometer_params *p, const uint8_t *in, uint32_t *out);

#ifdef BNN_HAVE_MVE
/*
 * Helium planes of one pixel value (path words_mve, thresholds mode): the <= 8 thresholds of a
 * channel sit in the 16-bit lanes of one vector, lane k for plane k, so one compare gives every
 * plane's bit as a lane predicate (pixel < t[k] is t[k] > pixel, unsigned; t <= 256 fits 16
 * bits) and one predicated across-vector add of the lane weights 1 << k packs them: VCMP +
 * VADDV instead of 8 compares, shifts and ORs. Lanes k >= planes hold threshold 0 (never on).
 */
typedef struct {
    uint16x8_t thresholds;  /* this channel's t[k] */
    uint16x8_t lane_weight; /* 1 << k */
} planes_mve;

static inline void planes_mve_channel(const bnn_thermometer_params *p, planes_mve *v, int32_t c)
{
    v->thresholds = vldrhq_z_u16(p->thresholds + c * p->planes, vctp16q((uint32_t)p->planes));
}

static inline void planes_mve_init(const bnn_thermometer_params *p, planes_mve *v)
{
    v->lane_weight = vshlq_u16(vdupq_n_u16(1u), vreinterpretq_s16_u16(vidupq_n_u16(0u, 1)));
    planes_mve_channel(p, v, 0);
}

static BNN_ALWAYS_INLINE uint32_t pixel_planes_mve(const planes_mve *v, uint8_t pixel)
{
    return vaddvq_p_u16(v->lane_weight, vcmphiq_n_u16(v->thresholds, pixel));
}
#endif

static int thermometer_words_fixed_fits(const bnn_thermometer_params *p);

/* The words path's Helium variant holds: a Helium build, at most 8 planes (one vector), and in
 * base2 mode planes at fixed places (thermometer_words_fixed_fits). */
static int thermometer_words_mve(const bnn_thermometer_params *p)
{
#ifdef BNN_HAVE_MVE
    return p->planes <= 8 &&
           (p->mode == BNN_THERMO_THRESHOLDS || thermometer_words_fixed_fits(p));
#else
    (void)p;
    return 0;
#endif
}

/* Each channel's planes inside one output word at a fixed place: at most 8 planes, and either
 * one packing group of <= 32 bits (channel c at bits c*planes.., one word per pixel) or one
 * packing group per channel (word c of the pixel, from bit 0). The table path's geometry. */
static int thermometer_word_per_channel(const bnn_thermometer_params *p)
{
    if (p->planes > 8)
        return 0;
    return p->out_pack_groups == 1 ? p->channels * p->planes <= BNN_WORD_BITS
                                   : p->out_pack_groups == p->channels;
}

/* Every plane has a fixed place in the pixel's words without bit accounting: all planes of a
 * pixel fit one word (each packing group then holds fewer than 32 bits: one word each), or one
 * packing group per channel. */
static int thermometer_words_fixed_fits(const bnn_thermometer_params *p)
{
    return p->channels * p->planes <= BNN_WORD_BITS || p->out_pack_groups == p->channels;
}

/* Planes of channel c of one pixel, scalar or (v != 0) Helium. */
#ifdef BNN_HAVE_MVE
#define PIXEL_PLANES(p, v, pixel, c) ((v) ? pixel_planes_mve(v, pixel) : pixel_planes(p, pixel, c))
#define PLANES_CHANNEL(p, v, c)                                                                \
    do {                                                                                       \
        if ((v) && (p)->channels > 1)                                                          \
            planes_mve_channel(p, v, c);                                                       \
    } while (0)
#else
typedef int planes_mve; /* no vector state */
#define PIXEL_PLANES(p, v, pixel, c) ((void)(v), pixel_planes(p, pixel, c))
#define PLANES_CHANNEL(p, v, c) ((void)(v))
#endif

/* Every pixel where the planes have fixed places (thermometer_words_fixed_fits): a group per
 * channel stores each channel's planes as its word; otherwise the pixel's planes are joined in
 * one word (channel c at bit c*planes) and packing group g is bits g*per_group.. of it. */
static BNN_ALWAYS_INLINE void thermometer_words_fixed(const bnn_thermometer_params *p,
                                                      planes_mve *v, const uint8_t *in,
                                                      uint32_t *out)
{
    int32_t npix = p->height * p->width, nch = p->channels, groups = p->out_pack_groups;
    int32_t per_group = nch * p->planes / groups, pix, c, g;
    uint32_t group_mask = per_group == BNN_WORD_BITS ? 0xFFFFFFFFu : (1u << per_group) - 1u;
    if (groups == nch) {
        for (pix = 0; pix < npix; pix++, in += nch)
            for (c = 0; c < nch; c++) {
                PLANES_CHANNEL(p, v, c);
                *out++ = PIXEL_PLANES(p, v, in[c], c);
            }
        return;
    }
    for (pix = 0; pix < npix; pix++, in += nch) {
        uint32_t all = 0;
        for (c = 0; c < nch; c++) {
            PLANES_CHANNEL(p, v, c);
            all |= PIXEL_PLANES(p, v, in[c], c) << (c * p->planes);
        }
        if (groups == 1) {
            *out++ = all;
        } else {
            for (g = 0; g < groups; g++, all >>= per_group)
                *out++ = all & group_mask;
        }
    }
}

#ifdef BNN_HAVE_MVE
/*
 * base2 on Helium (path words_mve where the planes have fixed places): 4 pixels per vector, one
 * 32-bit lane each. Plane k is bit 7-k of the pixel, inverted: shifting the pixel right by
 * 8-planes keeps the planes' bits, VBRSR (bit reverse of the low `planes` bits) puts plane k at
 * bit k, VBIC inverts them inside the planes' mask. A pixel's channels are a byte gather (stride
 * channels), its words a word scatter (stride words per pixel); the last block is predicated.
 * About 6 instructions per channel and 3 per word for 4 pixels, against about 8 per channel
 * and pixel in scalar code.
 */
static void thermometer_base2_mve(const bnn_thermometer_params *p, const uint8_t *in,
                                  uint32_t *out)
{
    int32_t npix = p->height * p->width, nch = p->channels, groups = p->out_pack_groups;
    int32_t planes = p->planes, per_group = nch * planes / groups, pix, c, g;
    uint32x4_t lane = vidupq_n_u32(0u, 1);
    uint32x4_t in_offsets = vmulq_n_u32(lane, (uint32_t)nch);     /* bytes */
    uint32x4_t out_offsets = vmulq_n_u32(lane, (uint32_t)groups); /* words */
    uint32x4_t planes_mask = vdupq_n_u32((1u << planes) - 1u);
    uint32x4_t group_mask = vdupq_n_u32(per_group == BNN_WORD_BITS ? 0xFFFFFFFFu
                                                                  : (1u << per_group) - 1u);
    for (pix = 0; pix < npix; pix += 4, in += 4 * nch, out += 4 * groups) {
        mve_pred16_t live = vctp32q((uint32_t)(npix - pix));
        uint32x4_t all = vdupq_n_u32(0u);
        for (c = 0; c < nch; c++) {
            uint32x4_t v = vldrbq_gather_offset_z_u32(in + c, in_offsets, live);
            v = vbrsrq_n_u32(vshlq_r_u32(v, planes - 8), planes); /* plane k at bit k */
            v = vbicq_u32(planes_mask, v);                       /* inverted: 1 = -1 */
            if (groups == nch)                                   /* word c of the pixel */
                vstrwq_scatter_shifted_offset_p_u32(out + c, out_offsets, v, live);
            else
                all = vorrq_u32(all, vshlq_r_u32(v, c * planes));
        }
        if (groups != nch)
            for (g = 0; g < groups; g++)
                vstrwq_scatter_shifted_offset_p_u32(
                    out + g, out_offsets, vandq_u32(vshlq_r_u32(all, -g * per_group), group_mask),
                    live);
    }
}
#endif

/* Any packing: each output word assembled in a register as the planes fill it. */
static BNN_ALWAYS_INLINE void thermometer_words_any(const bnn_thermometer_params *p,
                                                    planes_mve *v, const uint8_t *in,
                                                    uint32_t *out)
{
    int32_t per_group = p->channels * p->planes / p->out_pack_groups;
    int32_t npix = p->height * p->width, pix, c;
    for (pix = 0; pix < npix; pix++) {
        const uint8_t *px = in + pix * p->channels;
        uint32_t acc = 0;    /* word being filled */
        int32_t filled = 0;  /* bits of acc in use */
        int32_t in_group = 0; /* encoded channels already placed in the current group */
        for (c = 0; c < p->channels; c++) {
            uint32_t bits;
            int32_t left = p->planes;
            PLANES_CHANNEL(p, v, c);
            bits = PIXEL_PLANES(p, v, px[c], c);
            while (left > 0) {
                /* place as many planes as fit in the word and in the packing group */
                int32_t room = BNN_WORD_BITS - filled;
                int32_t take = left < room ? left : room;
                if (take > per_group - in_group)
                    take = per_group - in_group;
                acc |= (bits & ((1u << take) - 1u)) << filled;
                bits >>= take;
                left -= take;
                filled += take;
                in_group += take;
                if (filled == BNN_WORD_BITS || in_group == per_group) {
                    *out++ = acc;
                    acc = 0;
                    filled = 0;
                    if (in_group == per_group)
                        in_group = 0;
                }
            }
        }
    }
}

/*
 * Optimized: builds each output word in a register and stores it once, instead of a
 * read-modify-write per bit. planes <= 32 is the common case; a wider thermometer (only
 * possible with more than 32 planes, which base2 cannot have) takes the reference path.
 * Paths (bnn_thermometer_path_name): table (from 64 pixels), else words or, on Helium builds
 * with at most 8 planes, words_mve (thresholds: each pixel's planes by one vector compare;
 * base2 with fixed places: 4 pixels per vector); the words paths place the planes by fixed
 * shifts where they have fixed places.
 */
bnn_status bnn_thermometer_opt(const bnn_thermometer_params *p, const uint8_t *in, uint32_t *out)
{
    int fixed;
    bnn_status st = check_thermometer(p, in, out);
    if (st != BNN_OK)
        return st;
    if (p->planes > BNN_WORD_BITS - 1)
        return bnn_thermometer_ref(p, in, out);
    if (thermometer_table_fits(p)) {
        thermometer_table(p, in, out);
        return BNN_OK;
    }
    fixed = thermometer_words_fixed_fits(p);
#ifdef BNN_HAVE_MVE
    if (thermometer_words_mve(p) && p->mode == BNN_THERMO_BASE2) {
        thermometer_base2_mve(p, in, out);
        return BNN_OK;
    }
    if (thermometer_words_mve(p)) {
        /* a separate copy of the loops (v known non-null after inlining; the scalar copy below
         * has no per-pixel test of v) */
        planes_mve state;
        planes_mve_init(p, &state); /* channel 0's thresholds: hoisted for one channel */
        if (fixed)
            thermometer_words_fixed(p, &state, in, out);
        else
            thermometer_words_any(p, &state, in, out);
        return BNN_OK;
    }
#endif
    if (fixed)
        thermometer_words_fixed(p, 0, in, out);
    else
        thermometer_words_any(p, 0, in, out);
    return BNN_OK;
}

/*
 * The table path: at most 8 planes per channel and every channel's planes inside one output word
 * (channels*planes <= 32 and one packing group, or each channel a packing group of its own word).
 * For each channel a 256-entry table of its packed plane bits is built on the stack (256 bytes;
 * built a word of 4 entries at a time, cheaper than 8 compares per pixel from about 64 pixels
 * on), then every pixel is one byte load, one table load and a store (or an OR) into its word.
 */
static int thermometer_table_fits(const bnn_thermometer_params *p)
{
    return p->height * p->width >= 64 && thermometer_word_per_channel(p);
}

/* table[v] = planes of pixel value v for channel c (packed bit k = plane k, 1 = -1). Threshold
 * mode fills words of 4 entries: plane k is 1 for v < t[k], a run of whole words and one partial
 * word (about 1-2 thousand instructions for 8 planes, instead of 8 compares per entry). */
static void fill_table(const bnn_thermometer_params *p, int32_t c, uint32_t *table)
{
    int32_t v, k;
    if (p->mode == BNN_THERMO_BASE2) {
        uint8_t *bytes = (uint8_t *)table;
        for (v = 0; v < 256; v++)
            bytes[v] = (uint8_t)pixel_planes(p, (uint8_t)v, c);
        return;
    }
    for (v = 0; v < 64; v++)
        table[v] = 0u;
    for (k = 0; k < p->planes; k++) {
        int32_t t = p->thresholds[c * p->planes + k], w;
        uint32_t bit = 0x01010101u << k;
        if (t > 256)
            t = 256;
        for (w = 0; w < t / 4; w++)
            table[w] |= bit;
        if (t % 4) /* entries 4w .. t-1 of the word (little-endian bytes) */
            table[t / 4] |= bit & (0xFFFFFFFFu >> (8 * (4 - t % 4)));
    }
}

static void thermometer_table(const bnn_thermometer_params *p, const uint8_t *in, uint32_t *out)
{
    uint32_t words[64]; /* the 256-entry byte table, word-aligned */
    const uint8_t *table = (const uint8_t *)words;
    int32_t npix = p->height * p->width, wpp = p->out_pack_groups, nch = p->channels, c, pix;
    for (c = 0; c < nch; c++) {
        const uint8_t *px = in + c;
        fill_table(p, c, words);
        if (wpp > 1 || c == 0) { /* the channel starts its word: plain stores */
            uint32_t *dst = out + (wpp > 1 ? c : 0);
            pix = 0;
            if (nch == 1) /* 4 pixels a step */
                for (; pix + 4 <= npix; pix += 4, px += 4, dst += 4) {
                    uint32_t p0 = table[px[0]], p1 = table[px[1]], p2 = table[px[2]];
                    uint32_t p3 = table[px[3]];
                    dst[0] = p0;
                    dst[1] = p1;
                    dst[2] = p2;
                    dst[3] = p3;
                }
            for (; pix < npix; pix++, px += nch, dst += wpp)
                *dst = table[*px];
        } else {
            uint32_t *dst = out;
            int32_t shift = c * p->planes;
            for (pix = 0; pix < npix; pix++, px += nch, dst++)
                *dst |= (uint32_t)table[*px] << shift;
        }
    }
}

bnn_status bnn_thermometer_table_opt(const bnn_thermometer_params *p, const uint8_t *in,
                                     uint32_t *out)
{
    bnn_status st = check_thermometer(p, in, out);
    if (st != BNN_OK)
        return st;
    if (!thermometer_table_fits(p))
        return BNN_ERR_SHAPE;
    thermometer_table(p, in, out);
    return BNN_OK;
}

int bnn_thermometer_is_table(const bnn_thermometer_params *p)
{
    return check_thermometer(p, (const uint8_t *)p, (const uint32_t *)p) == BNN_OK &&
           thermometer_table_fits(p);
}

const char *bnn_thermometer_path_name(const bnn_thermometer_params *p)
{
    if (check_thermometer(p, (const uint8_t *)p, (const uint32_t *)p) != BNN_OK)
        return "invalid";
    if (p->planes > BNN_WORD_BITS - 1)
        return "ref";
    if (thermometer_table_fits(p))
        return "table";
    return thermometer_words_mve(p) ? "words_mve" : "words";
}

bnn_status bnn_thermometer(const bnn_thermometer_params *p, const uint8_t *in, uint32_t *out)
{
    return bnn_thermometer_opt(p, in, out);
}
