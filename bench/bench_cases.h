/* bench_cases.h - the cases of the kernel benchmark (bench/kernels.py generates bench_cases.c).
 *
 * Each case is one layer call with its packed input and the output the numpy oracle
 * (pipeline/reference.py) computed for it. Logits of an output dense layer are stored as the
 * uint32 bit patterns of the int32 values, so every output compares as words. */
#ifndef BENCH_CASES_H
#define BENCH_CASES_H

#include "bnn.h"

typedef enum { BENCH_BCONV2D = 0, BENCH_BDENSE_HIDDEN = 1, BENCH_BDENSE_OUTPUT = 2 } bench_kind;

typedef struct {
    const char *name;
    bench_kind kind;
    const bnn_bconv2d_params *conv;          /* BENCH_BCONV2D */
    const bnn_bdense_hidden_params *hidden;  /* BENCH_BDENSE_HIDDEN */
    const bnn_bdense_output_params *output;  /* BENCH_BDENSE_OUTPUT */
    const uint32_t *input;
    const uint32_t *expected;
    int32_t out_words;
} bench_case;

extern const bench_case bench_cases[];
extern const int32_t bench_case_count;

#endif /* BENCH_CASES_H */
