/* bnn_argmax.c - index of the largest logit, ties to the lowest index. */
#include "bnn_internal.h"

bnn_status bnn_argmax_ref(const int32_t *logits, int32_t n, int32_t *index)
{
    int32_t best = 0;
    int32_t i;
    if (logits == 0 || index == 0 || n <= 0)
        return BNN_ERR_ARGUMENT;
    for (i = 1; i < n; i++)
        if (logits[i] > logits[best]) /* strict: an equal later logit does not win */
            best = i;
    *index = best;
    return BNN_OK;
}

/* A single pass over a handful of logits leaves nothing to optimize; the _opt variant only
 * keeps the running maximum in a register instead of re-reading logits[best]. */
bnn_status bnn_argmax_opt(const int32_t *logits, int32_t n, int32_t *index)
{
    int32_t best = 0, best_value, i;
    if (logits == 0 || index == 0 || n <= 0)
        return BNN_ERR_ARGUMENT;
    best_value = logits[0];
    for (i = 1; i < n; i++) {
        if (logits[i] > best_value) {
            best_value = logits[i];
            best = i;
        }
    }
    *index = best;
    return BNN_OK;
}

bnn_status bnn_argmax(const int32_t *logits, int32_t n, int32_t *index)
{
    return bnn_argmax_opt(logits, n, index);
}
