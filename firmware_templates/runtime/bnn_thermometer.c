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

/* Planes of one pixel value, bit k = plane k, in the packed sense (1 = -1). */
static uint32_t pixel_planes(const bnn_thermometer_params *p, uint8_t pixel, int32_t c)
{
    uint32_t bits = 0;
    int32_t k;
    if (p->mode == BNN_THERMO_BASE2) {
        /* plane k is bit 7-k of the pixel: reverse the byte's bits, keep the top planes. */
        for (k = 0; k < p->planes; k++)
            bits |= (((uint32_t)pixel >> (7 - k)) & 1u) << k;
        return ~bits & ((1u << p->planes) - 1u);
    }
    {
        const uint16_t *t = p->thresholds + c * p->planes;
        for (k = 0; k < p->planes; k++)
            bits |= (uint32_t)(pixel < t[k]) << k;
    }
    return bits;
}

static int thermometer_table_fits(const bnn_thermometer_params *p);
static void thermometer_table(const bnn_thermometer_params *p, const uint8_t *in, uint32_t *out);

/*
 * Optimized: builds each output word in a register and stores it once, instead of a
 * read-modify-write per bit. planes <= 32 is the common case; a wider thermometer (only
 * possible with more than 32 planes, which base2 cannot have) takes the reference path.
 */
bnn_status bnn_thermometer_opt(const bnn_thermometer_params *p, const uint8_t *in, uint32_t *out)
{
    int32_t pix, c, npix, per_group;
    bnn_status st = check_thermometer(p, in, out);
    if (st != BNN_OK)
        return st;
    if (p->planes > BNN_WORD_BITS - 1)
        return bnn_thermometer_ref(p, in, out);
    if (thermometer_table_fits(p)) {
        thermometer_table(p, in, out);
        return BNN_OK;
    }
    per_group = p->channels * p->planes / p->out_pack_groups;
    npix = p->height * p->width;
    for (pix = 0; pix < npix; pix++) {
        const uint8_t *px = in + pix * p->channels;
        uint32_t acc = 0;    /* word being filled */
        int32_t filled = 0;  /* bits of acc in use */
        int32_t in_group = 0; /* encoded channels already placed in the current group */
        for (c = 0; c < p->channels; c++) {
            uint32_t bits = pixel_planes(p, px[c], c);
            int32_t left = p->planes;
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
    int32_t per_group = p->channels * p->planes / p->out_pack_groups;
    if (p->planes > 8 || p->height * p->width < 64)
        return 0;
    /* one word per pixel; channel c's planes at bits c*planes .. (per group: from bit 0 of the
     * group's word, each group a whole number of channels) */
    return p->out_pack_groups == 1 ? p->channels * p->planes <= BNN_WORD_BITS
                                   : per_group == p->planes;
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

bnn_status bnn_thermometer(const bnn_thermometer_params *p, const uint8_t *in, uint32_t *out)
{
    return bnn_thermometer_opt(p, in, out);
}
