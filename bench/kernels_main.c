/* kernels_main.c - firmware of bench/kernels.py: for every case of bench_cases.c, counts the
 * instructions of one call of the reference and/or of the optimized kernel (the case's variants;
 * QEMU -icount, exact)
 * and compares each output with the oracle's, word for word. Prints one record per call:
 *     BNN kernel case=<name> variant=ref|opt status=<bnn_status> match=0|1 instructions=<n>
 * and exits with the number of calls that failed (bad status or output). */
#include "bnn.h"
#include "bnn_platform.h"
#include "bench_cases.h"
#include "bench_sizes.h"

#define POISON 0x5A5A5A5Au /* refilled before every call: a kernel that skips a word fails */

static uint32_t out[BENCH_OUT_WORDS_MAX];
static uint32_t scratch[BENCH_SCRATCH_WORDS_MAX];

static bnn_status call(const bench_case *c, int optimized)
{
    bnn_context ctx;
    ctx.buf = scratch;
    ctx.size = (int32_t)sizeof scratch;
    switch (c->kind) {
    case BENCH_BCONV2D:
        return optimized ? bnn_bconv2d_opt(&ctx, c->conv, c->input, out)
                         : bnn_bconv2d_ref(c->conv, c->input, out);
    case BENCH_BDENSE_HIDDEN:
        return optimized ? bnn_bdense_hidden_opt(c->hidden, c->input, out)
                         : bnn_bdense_hidden_ref(c->hidden, c->input, out);
    case BENCH_BDENSE_OUTPUT:
        return optimized ? bnn_bdense_output_opt(c->output, c->input, (int32_t *)out)
                         : bnn_bdense_output_ref(c->output, c->input, (int32_t *)out);
    case BENCH_THERMOMETER:
        return optimized ? bnn_thermometer_opt(c->thermo, c->image, out)
                         : bnn_thermometer_ref(c->thermo, c->image, out);
    case BENCH_BMAXPOOL2D:
        return optimized ? bnn_bmaxpool2d_opt(c->pool, c->input, out)
                         : bnn_bmaxpool2d_ref(c->pool, c->input, out);
    }
    return BNN_ERR_ARGUMENT;
}

static int matches(const bench_case *c)
{
    int32_t i;
    for (i = 0; i < c->out_words; i++)
        if (out[i] != c->expected[i])
            return 0;
    return 1;
}

static int measure(const bench_case *c, int optimized)
{
    int32_t i;
    bnn_status st;
    uint64_t n;
    int ok;
    for (i = 0; i < BENCH_OUT_WORDS_MAX; i++)
        out[i] = POISON;
    bnn_icount_start();
    st = call(c, optimized);
    n = bnn_icount_stop();
    ok = st == BNN_OK && matches(c);
    bnn_rec_begin("kernel");
    bnn_rec_str("case", c->name);
    bnn_rec_str("variant", optimized ? "opt" : "ref");
    bnn_rec_i32("status", (int32_t)st);
#ifdef BENCH_PATHS /* runtimes with named fast paths (not the baseline one) */
    if (optimized && c->kind == BENCH_BCONV2D)
        bnn_rec_str("path", bnn_bconv2d_path_name(bnn_bconv2d_select_path(c->conv)));
    if (optimized && c->kind == BENCH_BDENSE_HIDDEN)
        bnn_rec_str("path", bnn_bdense_hidden_path_name(c->hidden));
#endif
    bnn_rec_u32("match", (uint32_t)ok);
    bnn_rec_u64(bnn_count_unit, n);
    bnn_rec_end();
    return ok;
}

int main(void)
{
    int32_t i;
    int failures = 0;
    for (i = 0; i < bench_case_count; i++) {
        if (bench_cases[i].variants & BENCH_REF)
            failures += !measure(&bench_cases[i], 0);
        if (bench_cases[i].variants & BENCH_OPT)
            failures += !measure(&bench_cases[i], 1);
    }
    bnn_rec_begin("stack");
    bnn_rec_u32("used", bnn_stack_high_water());
    bnn_rec_u32("size", bnn_stack_size());
    bnn_rec_end();
    return failures;
}
