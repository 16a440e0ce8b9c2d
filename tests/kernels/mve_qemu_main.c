/*
 * mve_qemu_main.c - firmware of tests/kernels/test_kernels_mve_qemu.py: runs bnn_bconv2d_opt, the
 * bnn_bconv2d wrapper and the bitsliced_mve path called directly on every conv case of the
 * generated mve_cases.h, and bnn_bdense_hidden / bnn_bdense_output (_opt and wrapper) on every
 * dense case, bnn_thermometer_opt and the wrapper on every thermometer case, and compares
 * each output with the oracle's words. One record per call:
 *     BNN conv case=<i> variant=opt|wrapper|bitsliced_mve path=<selected path> status=<bnn_status>
 *         match=0|1 crc=<CRC-32 of output>
 *     BNN dense case=<i> variant=opt|wrapper path=<bnn_bdense_hidden_path_name or output>
 *         status=<bnn_status> match=0|1 crc=<CRC-32>
 *     BNN thermo case=<i> variant=opt|wrapper path=<thermometer path> status=<bnn_status>
 *         match=0|1 crc=<CRC-32>
 * plus "BNN build mve=0|1" (whether the runtime was compiled with its Helium path) first.
 * A direct path call on a geometry its predicate refuses must return BNN_ERR_SHAPE (match=1
 * then means exactly that). Exits with the number of failed calls.
 */
#include "bnn.h"
#include "bnn_internal.h"
#include "bnn_platform.h"
#include "mve_cases.h"

#define POISON 0x5A5A5A5Au /* refilled before every call: a word the kernel skips shows up */

static uint32_t out[MVE_OUT_WORDS_MAX];
static uint32_t scratch[MVE_SCRATCH_WORDS_MAX];

/* CRC-32 (IEEE, as zlib.crc32) of n little-endian words. */
static uint32_t crc32_words(const uint32_t *w, int32_t n)
{
    uint32_t crc = 0xFFFFFFFFu;
    int32_t i, bit;
    for (i = 0; i < 4 * n; i++) {
        crc ^= (w[i / 4] >> (8 * (i % 4))) & 0xFFu;
        for (bit = 0; bit < 8; bit++)
            crc = (crc >> 1) ^ (0xEDB88320u & (0u - (crc & 1u)));
    }
    return ~crc;
}

/* The record of one kernel call: tag conv|dense|thermo, case, variant, the path it took,
 * status, whether the output equals the oracle's words, and the CRC-32 of the output. */
static void record(const char *tag, int32_t index, const char *variant, const char *path,
                   bnn_status st, int ok, int32_t out_words)
{
    bnn_rec_begin(tag);
    bnn_rec_i32("case", index);
    bnn_rec_str("variant", variant);
    bnn_rec_str("path", path);
    bnn_rec_i32("status", (int32_t)st);
    bnn_rec_u32("match", (uint32_t)ok);
    bnn_rec_hex("crc", crc32_words(out, out_words));
    bnn_rec_end();
}

/* variant 0: bnn_bconv2d_opt, 1: the wrapper, 2: bnn_bconv2d_bitsliced_mve_opt directly */
static int run_case(int32_t index, const mve_case *c, int variant)
{
    static const char *const names[] = {"opt", "wrapper", "bitsliced_mve"};
    bnn_context ctx;
    bnn_status st;
    int32_t i;
    int ok;
    ctx.buf = scratch;
    ctx.size = (int32_t)sizeof scratch;
    for (i = 0; i < MVE_OUT_WORDS_MAX; i++)
        out[i] = POISON;
    st = variant == 1   ? bnn_bconv2d(&ctx, &c->params, c->input, out)
         : variant == 2 ? bnn_bconv2d_bitsliced_mve_opt(&ctx, &c->params, c->input, out)
                        : bnn_bconv2d_opt(&ctx, &c->params, c->input, out);
    if (variant == 2 && !bnn_bconv2d_is_bitsliced_mve(&c->params)) {
        ok = st == BNN_ERR_SHAPE;
    } else {
        ok = st == BNN_OK;
        for (i = 0; i < c->out_words; i++)
            ok = ok && out[i] == c->expected[i];
    }
    record("conv", index, names[variant],
           bnn_bconv2d_path_name(bnn_bconv2d_select_path(&c->params)), st, ok, c->out_words);
    return ok;
}

/* A dense case: hidden (threshold bits) or output (int32 logits, compared as their words). */
static int run_dense(int32_t index, const mve_dense_case *c, int wrapper)
{
    bnn_status st;
    int32_t i;
    int ok;
    for (i = 0; i < MVE_OUT_WORDS_MAX; i++)
        out[i] = POISON;
    if (c->output)
        st = wrapper ? bnn_bdense_output(&c->out_params, c->input, (int32_t *)out)
                     : bnn_bdense_output_opt(&c->out_params, c->input, (int32_t *)out);
    else
        st = wrapper ? bnn_bdense_hidden(&c->hidden_params, c->input, out)
                     : bnn_bdense_hidden_opt(&c->hidden_params, c->input, out);
    ok = st == BNN_OK;
    for (i = 0; i < c->out_words; i++)
        ok = ok && out[i] == c->expected[i];
    record("dense", index, wrapper ? "wrapper" : "opt",
           c->output ? "output" : bnn_bdense_hidden_path_name(&c->hidden_params), st, ok,
           c->out_words);
    return ok;
}

/* A thermometer case: bnn_thermometer_opt or the bnn_thermometer wrapper. */
static int run_thermo(int32_t index, const mve_thermo_case *c, int wrapper)
{
    bnn_status st;
    int32_t i;
    int ok;
    for (i = 0; i < MVE_OUT_WORDS_MAX; i++)
        out[i] = POISON;
    st = wrapper ? bnn_thermometer(&c->params, c->input, out)
                 : bnn_thermometer_opt(&c->params, c->input, out);
    ok = st == BNN_OK;
    for (i = 0; i < c->out_words; i++)
        ok = ok && out[i] == c->expected[i];
    record("thermo", index, wrapper ? "wrapper" : "opt", bnn_thermometer_path_name(&c->params),
           st, ok, c->out_words);
    return ok;
}

int main(void)
{
    int32_t i;
    int failures = 0;
    bnn_rec_begin("build");
#ifdef BNN_HAVE_MVE
    bnn_rec_u32("mve", 1u);
#else
    bnn_rec_u32("mve", 0u);
#endif
    bnn_rec_end();
    for (i = 0; i < mve_case_count; i++) {
        failures += !run_case(i, &mve_cases[i], 0);
        failures += !run_case(i, &mve_cases[i], 1);
        failures += !run_case(i, &mve_cases[i], 2);
    }
    for (i = 0; i < mve_dense_count; i++) {
        failures += !run_dense(i, &mve_dense_cases[i], 0);
        failures += !run_dense(i, &mve_dense_cases[i], 1);
    }
    for (i = 0; i < mve_thermo_count; i++) {
        failures += !run_thermo(i, &mve_thermo_cases[i], 0);
        failures += !run_thermo(i, &mve_thermo_cases[i], 1);
    }
    return failures;
}
