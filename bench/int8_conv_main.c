/* int8_conv_main.c - firmware of bench/int8_first_layer.py: one call of CMSIS-NN's
 * arm_convolve_wrapper_s8 (the int8 convolution TFLite Micro's CMSIS-NN kernels run) on the
 * first layer of a Fashion-MNIST CNN, counted with the platform's instruction counter.
 *
 * Geometry (defines from the bench): a 1 x INT8_H x INT8_W x 1 int8 image, INT8_COUT filters of
 * 3 x 3 x 1, stride 1, padding 1 ("same"), per-channel requantisation, ReLU-range clamp, as the
 * TFLite int8 converter emits a Conv2D + BatchNorm + ReLU first layer. Inputs, weights, biases
 * and multipliers are pseudo-random (xorshift32, fixed seed): instruction counts of these
 * kernels do not depend on the values. Prints
 *     BNN int8 status=<arm_cmsis_nn_status> buffer=<bytes> crc=<crc32 of the output> instructions=<n>
 * and exits with the status (0 = ARM_CMSIS_NN_SUCCESS). */
#include <stdint.h>

#include "arm_nnfunctions.h"
#include "bnn_platform.h"

#define IN_SIZE (INT8_H * INT8_W)
#define OUT_SIZE (INT8_H * INT8_W * INT8_COUT)
#define SCRATCH_BYTES 8192

static int8_t input[IN_SIZE];
static int8_t filter[INT8_COUT * 9];
static int32_t bias[INT8_COUT];
static int32_t multiplier[INT8_COUT];
static int32_t shift[INT8_COUT];
static int8_t output[OUT_SIZE];
static int32_t scratch[SCRATCH_BYTES / 4];

static uint32_t state = 2463534242u;

static uint32_t next(void)
{
    state ^= state << 13;
    state ^= state >> 17;
    state ^= state << 5;
    return state;
}

static uint32_t crc32(const uint8_t *data, uint32_t n)
{
    uint32_t crc = 0xFFFFFFFFu, i;
    int bit;
    for (i = 0; i < n; i++) {
        crc ^= data[i];
        for (bit = 0; bit < 8; bit++)
            crc = (crc >> 1) ^ (0xEDB88320u & (0u - (crc & 1u)));
    }
    return ~crc;
}

int main(void)
{
    cmsis_nn_context ctx;
    cmsis_nn_conv_params conv;
    cmsis_nn_per_channel_quant_params quant;
    cmsis_nn_dims in_dims = {1, INT8_H, INT8_W, 1};
    cmsis_nn_dims filter_dims = {INT8_COUT, 3, 3, 1};
    cmsis_nn_dims bias_dims = {1, 1, 1, INT8_COUT};
    cmsis_nn_dims out_dims = {1, INT8_H, INT8_W, INT8_COUT};
    arm_cmsis_nn_status st;
    int32_t i, need;
    uint64_t n;

    for (i = 0; i < IN_SIZE; i++)
        input[i] = (int8_t)(next() & 0xFFu);
    for (i = 0; i < INT8_COUT * 9; i++)
        filter[i] = (int8_t)((int32_t)(next() % 255u) - 127);
    for (i = 0; i < INT8_COUT; i++) {
        bias[i] = (int32_t)(next() % 4096u) - 2048;
        multiplier[i] = (int32_t)(0x40000000u + (next() & 0x3FFFFFFFu)); /* [0.5, 1) in Q31 */
        shift[i] = -(int32_t)(6 + next() % 4u);
    }
    conv.input_offset = 128;   /* input zero point -128 */
    conv.output_offset = -128; /* output zero point -128 */
    conv.stride.w = conv.stride.h = 1;
    conv.padding.w = conv.padding.h = 1;
    conv.dilation.w = conv.dilation.h = 1;
    conv.activation.min = -128; /* ReLU folded into the clamp at the output zero point */
    conv.activation.max = 127;
    quant.multiplier = multiplier;
    quant.shift = shift;

    need = arm_convolve_wrapper_s8_get_buffer_size(&conv, &in_dims, &filter_dims, &out_dims);
    ctx.buf = scratch;
    ctx.size = need;
    if (need > SCRATCH_BYTES) {
        bnn_rec_begin("int8");
        bnn_rec_str("error", "scratch");
        bnn_rec_i32("buffer", need);
        bnn_rec_end();
        return 99;
    }
    bnn_icount_start();
    st = arm_convolve_wrapper_s8(&ctx, &conv, &quant, &in_dims, input, &filter_dims, filter,
                                 &bias_dims, bias, &out_dims, output);
    n = bnn_icount_stop();
    bnn_rec_begin("int8");
    bnn_rec_i32("status", (int32_t)st);
    bnn_rec_i32("buffer", need);
    bnn_rec_hex("crc", crc32((const uint8_t *)output, OUT_SIZE));
    bnn_rec_u64(bnn_count_unit, n);
    bnn_rec_end();
    return (int)st;
}
