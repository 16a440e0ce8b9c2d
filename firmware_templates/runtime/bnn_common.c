/* bnn_common.c - packing helpers and the exported popcount building block. */
#include "bnn_internal.h"

int32_t bnn_words_per_group(int32_t channels_per_group)
{
    return (channels_per_group + BNN_WORD_BITS - 1) / BNN_WORD_BITS;
}

int32_t bnn_words_per_pixel(int32_t channels, int32_t groups)
{
    return groups * bnn_words_per_group(channels / groups);
}

int32_t bnn_xor_popcount(const uint32_t *a, const uint32_t *b, int32_t n)
{
    return bnn_xor_popcount_inline(a, b, n);
}
