/*
 * driver.c - host test driver of the runtime kernels (tests/kernels/).
 *
 * Usage: driver KERNEL VARIANT CASES_IN RESULTS_OUT
 *   KERNEL  thermometer | bconv2d | bmaxpool2d | bdense_hidden | bdense_sliced (the hidden
 *           layer in the sliced layout) | bdense_output | argmax |
 *           xor_popcount | bconv2d_paths (the conv's path choice: output words = the selected
 *           bnn_bconv2d_path, then the predicates mve, bitsliced, lanes, field9, field18,
 *           bitsliced_mve)
 *   VARIANT ref | opt | wrapper, or for bconv2d one fast path called directly:
 *           mve | bitsliced | lanes | field9 | field18 | words | bitsliced_mve; for thermometer:
 *           table
 * Cases file, little-endian int32 unless said: for each case
 *   nparams, params[nparams] (the last one is the number of output words),
 *   narrays, then per array: nbytes, bytes (padded to a multiple of 4).
 * Results file, per case: status, nwords, words[nwords] (the output buffer as the kernel left it).
 *
 * Every array is copied into its own heap block of exactly its size, and the output block is
 * exactly as large as the output, so AddressSanitizer catches any read or write out of bounds.
 * The output is pre-filled with a pattern so that words a kernel forgets to write show up.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bnn.h"

#define MAX_PARAMS 16
#define MAX_ARRAYS 8

typedef struct {
    int32_t nparams, params[MAX_PARAMS];
    int32_t narrays, nbytes[MAX_ARRAYS];
    void *arrays[MAX_ARRAYS];
} test_case;

static void die(const char *msg)
{
    fprintf(stderr, "driver: %s\n", msg);
    exit(3);
}

static int read_i32(FILE *f, int32_t *v)
{
    return fread(v, sizeof *v, 1, f) == 1;
}

static int read_case(FILE *f, test_case *tc)
{
    int32_t i;
    if (!read_i32(f, &tc->nparams))
        return 0;
    if (tc->nparams < 1 || tc->nparams > MAX_PARAMS)
        die("bad parameter count");
    if (fread(tc->params, sizeof(int32_t), (size_t)tc->nparams, f) != (size_t)tc->nparams ||
        !read_i32(f, &tc->narrays) || tc->narrays < 0 || tc->narrays > MAX_ARRAYS)
        die("truncated case header");
    for (i = 0; i < tc->narrays; i++) {
        int32_t n, padded;
        if (!read_i32(f, &n) || n < 0)
            die("bad array size");
        padded = (n + 3) / 4 * 4;
        tc->nbytes[i] = n;
        tc->arrays[i] = n ? malloc((size_t)n) : NULL; /* an empty array is passed as NULL */
        if (n && tc->arrays[i] == NULL)
            die("out of memory");
        if (n && fread(tc->arrays[i], 1, (size_t)n, f) != (size_t)n)
            die("truncated array");
        if (padded > n && fseek(f, padded - n, SEEK_CUR) != 0)
            die("truncated padding");
    }
    return 1;
}

static void free_case(test_case *tc)
{
    int32_t i;
    for (i = 0; i < tc->narrays; i++)
        free(tc->arrays[i]);
}

static void need(const test_case *tc, int32_t nparams, int32_t narrays)
{
    if (tc->nparams != nparams || tc->narrays != narrays)
        die("wrong number of parameters or arrays for this kernel");
}

typedef enum {
    REF, OPT, WRAPPER, PATH_MVE, PATH_BITSLICED, PATH_LANES, PATH_FIELD9, PATH_FIELD18, PATH_WORDS,
    PATH_BITSLICED_MVE, PATH_TABLE
} variant;

typedef bnn_status (*conv_fn)(const bnn_context *, const bnn_bconv2d_params *, const uint32_t *,
                              uint32_t *);

static bnn_status run_thermometer(const test_case *tc, variant v, void *out)
{
    const int32_t *q = tc->params;
    bnn_thermometer_params p;
    need(tc, 7, 2);
    p.height = q[0]; p.width = q[1]; p.channels = q[2]; p.planes = q[3];
    p.mode = (bnn_thermo_mode)q[4]; p.out_pack_groups = q[5];
    p.thresholds = (const uint16_t *)tc->arrays[0];
    if (v == REF) return bnn_thermometer_ref(&p, (const uint8_t *)tc->arrays[1], (uint32_t *)out);
    if (v == OPT) return bnn_thermometer_opt(&p, (const uint8_t *)tc->arrays[1], (uint32_t *)out);
    if (v == PATH_TABLE)
        return bnn_thermometer_table_opt(&p, (const uint8_t *)tc->arrays[1], (uint32_t *)out);
    return bnn_thermometer(&p, (const uint8_t *)tc->arrays[1], (uint32_t *)out);
}

/* The conv's params from a bconv2d case (12 params, 4 arrays). */
static void conv_params(const test_case *tc, bnn_bconv2d_params *p)
{
    const int32_t *q = tc->params;
    need(tc, 12, 4);
    p->in_h = q[0]; p->in_w = q[1]; p->in_c = q[2]; p->out_c = q[3];
    p->kernel_h = q[4]; p->kernel_w = q[5]; p->stride = q[6]; p->padding = q[7];
    p->groups = q[8]; p->out_pack_groups = q[9];
    p->weights = (const uint32_t *)tc->arrays[0];
    p->threshold = (const int32_t *)tc->arrays[1];
    p->flip = (const uint8_t *)tc->arrays[2];
}

static bnn_status run_bconv2d(const test_case *tc, variant v, void *out)
{
    const int32_t *q = tc->params;
    bnn_bconv2d_params p;
    bnn_context ctx;
    bnn_status st;
    conv_params(tc, &p); /* params[10]: bytes added to the scratch size (negative: too small) */
    if (v == REF)
        return bnn_bconv2d_ref(&p, (const uint32_t *)tc->arrays[3], (uint32_t *)out);
    /* scratch of exactly the size the query asks for (ASan guards its end) */
    ctx.size = bnn_bconv2d_get_buffer_size(&p) + q[10];
    ctx.buf = malloc(ctx.size > 0 ? (size_t)ctx.size : 1u);
    if (ctx.buf == NULL)
        die("out of memory");
    {
        static const conv_fn paths[] = {bnn_bconv2d_mve_opt, bnn_bconv2d_bitsliced_opt,
                                        bnn_bconv2d_lanes_opt, bnn_bconv2d_field9_opt,
                                        bnn_bconv2d_field18_opt, bnn_bconv2d_words_opt,
                                        bnn_bconv2d_bitsliced_mve_opt};
        conv_fn fn = v == OPT ? bnn_bconv2d_opt : v == WRAPPER ? bnn_bconv2d : paths[v - PATH_MVE];
        st = fn(&ctx, &p, (const uint32_t *)tc->arrays[3], (uint32_t *)out);
    }
    free(ctx.buf);
    return st;
}

/* The path bnn_bconv2d_opt takes and every predicate (same case format as bconv2d; the output
 * must be 7 words). */
static bnn_status run_bconv2d_paths(const test_case *tc, variant v, void *out)
{
    const int32_t *q = tc->params;
    uint32_t *o = (uint32_t *)out;
    bnn_bconv2d_params p;
    (void)v;
    conv_params(tc, &p);
    if (q[11] != 7)
        die("bconv2d_paths writes 7 words");
    o[0] = (uint32_t)bnn_bconv2d_select_path(&p);
    o[1] = (uint32_t)bnn_bconv2d_is_mve(&p);
    o[2] = (uint32_t)bnn_bconv2d_is_bitsliced(&p);
    o[3] = (uint32_t)bnn_bconv2d_is_lanes(&p);
    o[4] = (uint32_t)bnn_bconv2d_is_field9(&p);
    o[5] = (uint32_t)bnn_bconv2d_is_field18(&p);
    o[6] = (uint32_t)bnn_bconv2d_is_bitsliced_mve(&p);
    return BNN_OK;
}

static bnn_status run_bmaxpool2d(const test_case *tc, variant v, void *out)
{
    const int32_t *q = tc->params;
    bnn_bmaxpool2d_params p;
    need(tc, 7, 1);
    p.in_h = q[0]; p.in_w = q[1]; p.channels = q[2]; p.kernel = q[3]; p.stride = q[4];
    p.pack_groups = q[5];
    if (v == REF) return bnn_bmaxpool2d_ref(&p, (const uint32_t *)tc->arrays[0], (uint32_t *)out);
    if (v == OPT) return bnn_bmaxpool2d_opt(&p, (const uint32_t *)tc->arrays[0], (uint32_t *)out);
    return bnn_bmaxpool2d(&p, (const uint32_t *)tc->arrays[0], (uint32_t *)out);
}

/* The hidden dense params of a case: shape, the rows layout (arrays 0-2), no sliced layout. */
static bnn_bdense_hidden_params hidden_params(const test_case *tc)
{
    const int32_t *q = tc->params;
    bnn_bdense_hidden_params p;
    p.in_h = q[0]; p.in_w = q[1]; p.in_c = q[2]; p.in_pack_groups = q[3];
    p.out_features = q[4]; p.out_pack_groups = q[5];
    p.weights = (const uint32_t *)tc->arrays[0];
    p.threshold = (const int32_t *)tc->arrays[1];
    p.flip = (const uint8_t *)tc->arrays[2];
    p.sliced = 0;
    return p;
}

static bnn_status run_bdense_hidden(const test_case *tc, variant v, void *out)
{
    const uint32_t *in = (const uint32_t *)tc->arrays[3];
    bnn_bdense_hidden_params p;
    need(tc, 7, 4);
    p = hidden_params(tc);
    if (v == REF) return bnn_bdense_hidden_ref(&p, in, (uint32_t *)out);
    if (v == OPT) return bnn_bdense_hidden_opt(&p, in, (uint32_t *)out);
    return bnn_bdense_hidden(&p, in, (uint32_t *)out);
}

/* The hidden layer in the sliced layout (arrays[4]). ref: the rows layout with sliced also
 * set (the reference ignores it); opt and wrapper: weights, threshold and flip NULL, so the
 * sliced path cannot read them. */
static bnn_status run_bdense_sliced(const test_case *tc, variant v, void *out)
{
    const uint32_t *in = (const uint32_t *)tc->arrays[3];
    bnn_bdense_hidden_params p;
    need(tc, 7, 5);
    p = hidden_params(tc);
    p.sliced = (const uint32_t *)tc->arrays[4];
    if (v == REF)
        return bnn_bdense_hidden_ref(&p, in, (uint32_t *)out);
    p.weights = 0;
    p.threshold = 0;
    p.flip = 0;
    if (v == OPT) return bnn_bdense_hidden_opt(&p, in, (uint32_t *)out);
    return bnn_bdense_hidden(&p, in, (uint32_t *)out);
}

static bnn_status run_bdense_output(const test_case *tc, variant v, void *out)
{
    const int32_t *q = tc->params;
    const uint32_t *in = (const uint32_t *)tc->arrays[3];
    bnn_bdense_output_params p;
    need(tc, 6, 4);
    p.in_h = q[0]; p.in_w = q[1]; p.in_c = q[2]; p.in_pack_groups = q[3];
    p.out_features = q[4];
    p.weights = (const uint32_t *)tc->arrays[0];
    p.mult = (const int32_t *)tc->arrays[1];
    p.bias = (const int32_t *)tc->arrays[2];
    if (v == REF) return bnn_bdense_output_ref(&p, in, (int32_t *)out);
    if (v == OPT) return bnn_bdense_output_opt(&p, in, (int32_t *)out);
    return bnn_bdense_output(&p, in, (int32_t *)out);
}

static bnn_status run_argmax(const test_case *tc, variant v, void *out)
{
    const int32_t *logits = (const int32_t *)tc->arrays[0];
    need(tc, 2, 1);
    if (v == REF) return bnn_argmax_ref(logits, tc->params[0], (int32_t *)out);
    if (v == OPT) return bnn_argmax_opt(logits, tc->params[0], (int32_t *)out);
    return bnn_argmax(logits, tc->params[0], (int32_t *)out);
}

static bnn_status run_xor_popcount(const test_case *tc, variant v, void *out)
{
    (void)v; /* one implementation */
    need(tc, 2, 2);
    *(int32_t *)out = bnn_xor_popcount((const uint32_t *)tc->arrays[0],
                                       (const uint32_t *)tc->arrays[1], tc->params[0]);
    return BNN_OK;
}

typedef bnn_status (*runner)(const test_case *, variant, void *);

static runner find_runner(const char *name)
{
    static const struct { const char *name; runner fn; } table[] = {
        {"thermometer", run_thermometer}, {"bconv2d", run_bconv2d},
        {"bmaxpool2d", run_bmaxpool2d}, {"bdense_hidden", run_bdense_hidden},
        {"bdense_sliced", run_bdense_sliced}, {"bdense_output", run_bdense_output},
        {"argmax", run_argmax},
        {"xor_popcount", run_xor_popcount}, {"bconv2d_paths", run_bconv2d_paths},
    };
    size_t i;
    for (i = 0; i < sizeof table / sizeof table[0]; i++)
        if (strcmp(table[i].name, name) == 0)
            return table[i].fn;
    die("unknown kernel");
    return NULL;
}

static variant find_variant(const char *name)
{
    if (strcmp(name, "ref") == 0) return REF;
    if (strcmp(name, "opt") == 0) return OPT;
    if (strcmp(name, "wrapper") == 0) return WRAPPER;
    if (strcmp(name, "mve") == 0) return PATH_MVE;
    if (strcmp(name, "bitsliced") == 0) return PATH_BITSLICED;
    if (strcmp(name, "lanes") == 0) return PATH_LANES;
    if (strcmp(name, "field9") == 0) return PATH_FIELD9;
    if (strcmp(name, "field18") == 0) return PATH_FIELD18;
    if (strcmp(name, "words") == 0) return PATH_WORDS;
    if (strcmp(name, "bitsliced_mve") == 0) return PATH_BITSLICED_MVE;
    if (strcmp(name, "table") == 0) return PATH_TABLE;
    die("unknown variant");
    return REF;
}

int main(int argc, char **argv)
{
    FILE *fin, *fout;
    test_case tc;
    runner run;
    variant v;
    if (argc != 5)
        die("usage: driver KERNEL ref|opt|wrapper CASES_IN RESULTS_OUT");
    run = find_runner(argv[1]);
    v = find_variant(argv[2]);
    fin = fopen(argv[3], "rb");
    fout = fopen(argv[4], "wb");
    if (fin == NULL || fout == NULL)
        die("cannot open the case or result file");
    while (read_case(fin, &tc)) {
        int32_t nwords = tc.params[tc.nparams - 1];
        uint32_t *out;
        int32_t status;
        if (nwords < 0)
            die("negative output size");
        out = (uint32_t *)malloc(nwords > 0 ? (size_t)nwords * sizeof *out : 1u);
        if (out == NULL)
            die("out of memory");
        memset(out, 0xA5, (size_t)nwords * sizeof *out);
        status = (int32_t)run(&tc, v, out);
        if (fwrite(&status, sizeof status, 1, fout) != 1 || fwrite(&nwords, sizeof nwords, 1, fout) != 1 ||
            fwrite(out, sizeof *out, (size_t)nwords, fout) != (size_t)nwords)
            die("cannot write results");
        free(out);
        free_case(&tc);
    }
    if (fclose(fout) != 0)
        die("cannot close the result file");
    fclose(fin);
    return 0;
}
