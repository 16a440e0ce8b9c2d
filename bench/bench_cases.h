/* bench_cases.h - the cases of the kernel benchmark (bench/kernels.py generates bench_cases.c).
 *
 * Each case is one layer call with its packed input and the output the numpy oracle
 * (pipeline/reference.py) computed for it. Logits of an output dense layer are stored as the
 * uint32 bit patterns of the int32 values, so every output compares as words. The thermometer's
 * input is the uint8 image (image), every other kernel's the packed words (input). */
#ifndef BENCH_CASES_H
#define BENCH_CASES_H

#include "bnn.h"

typedef enum {
    BENCH_BCONV2D = 0,
    BENCH_BDENSE_HIDDEN = 1,
    BENCH_BDENSE_OUTPUT = 2,
    BENCH_THERMOMETER = 3,
    BENCH_BMAXPOOL2D = 4
} bench_kind;

/* bits of bench_case.variants: which kernels to measure */
#define BENCH_REF 1
#define BENCH_OPT 2

typedef struct {
    const char *name;
    bench_kind kind;
    const bnn_bconv2d_params *conv;           /* BENCH_BCONV2D */
    const bnn_bdense_hidden_params *hidden;   /* BENCH_BDENSE_HIDDEN */
    const bnn_bdense_output_params *output;   /* BENCH_BDENSE_OUTPUT */
    const bnn_thermometer_params *thermo;     /* BENCH_THERMOMETER */
    const bnn_bmaxpool2d_params *pool;        /* BENCH_BMAXPOOL2D */
    const uint32_t *input;
    const uint8_t *image;
    const uint32_t *expected;
    int32_t out_words;
    int32_t variants;
} bench_case;

extern const bench_case bench_cases[];
extern const int32_t bench_case_count;

#endif /* BENCH_CASES_H */
