/*
 * bnn.h - runtime kernels of fully-binarized networks (C99, no malloc, no float).
 *
 * Copied verbatim into every firmware; the generated model code calls these functions in a
 * straight line. Contracts follow the style of CMSIS-NN: a `bnn_` prefix, a bnn_status return
 * code, one params struct per kernel (shapes + constant model data), caller-owned scratch
 * memory sized by bnn_<kernel>_get_buffer_size() where a kernel needs any.
 *
 * Every kernel has a plain reference version (`_ref`, obviously correct, the baseline) and an
 * optimized one (`_opt`); the wrapper without suffix calls `_opt`. Both give identical
 * results for every valid shape (tests/kernels/ checks them bit for bit against the numpy
 * oracle pipeline/reference.py).
 *
 * Bit conventions (those of pipeline/bits.py and Larq Compute Engine):
 *   - a binary value is +1 or -1; bit 1 means -1, bit 0 means +1.
 *   - Activations are HWC: uint32 act[H][W][words_per_pixel(C, G)]. The C channels of one
 *     pixel are split in G "packing groups" of C/G channels; each group starts a fresh word
 *     and is packed LSB-first: channel g*(C/G) + i lies at bit i%32 of word g*Wg + i/32,
 *     with Wg = words_per_group(C/G) = ceil(C/G / 32) and words_per_pixel = G*Wg.
 *     Padding bits (past the last channel of a group) are 0 on input and written as 0.
 *   - A binary dot product over K real terms is dot = K - 2*popcount(x XOR w) (the zero
 *     padding bits cancel in the XOR).
 *   - Thresholded outputs: output channel o is +1 (bit 0) when (dot >= threshold[o]) != flip[o],
 *     else -1 (bit 1). threshold is int32 in the dot domain, flip is 0 or 1 (only bit 0 is read).
 *   - Convolution padding is one-padding: a padded tap holds +1 (bit 0), but it still takes
 *     part in the dot: it XORs with the weight bits (so it adds popcount(w) there).
 *
 * Preconditions not checked (the IR validator pipeline/ir.py checks them when lowering):
 * padding bits of inputs and weights are 0, and output logits do not overflow int32.
 */
#ifndef BNN_H
#define BNN_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Version of the runtime's binary interface: kernel signatures, params structs, bnn_context and
 * bnn_layer_hook. A generated model checks it at compile time (#if/#error in <name>.h), so a
 * model rendered for another runtime fails to build instead of misbehaving. BNN_RUNTIME_VERSION
 * is the release of this folder (the same in CMakeLists.txt, library.json and
 * library.properties); its major number is the ABI version. */
#define BNN_RUNTIME_ABI_VERSION 3
#define BNN_RUNTIME_VERSION "3.0.0"

/* Return code of every kernel. */
typedef enum {
    BNN_OK = 0,
    BNN_ERR_ARGUMENT = -1, /* NULL pointer, unknown mode, or a count that must be positive is not */
    BNN_ERR_SHAPE = -2,    /* inconsistent shapes: groups do not divide channels, kernel larger
                              than the padded input, ... */
    BNN_ERR_BUFFER = -3    /* scratch buffer missing or smaller than bnn_*_get_buffer_size() */
} bnn_status;

/* Caller-owned scratch memory (like cmsis_nn_context). buf must be 4-byte aligned. */
typedef struct {
    void *buf;
    int32_t size; /* bytes */
} bnn_context;

/* Called by a generated model's <name>_run_hooked() after every layer, in the caller's thread:
 *   user   the pointer given to <name>_run_hooked(), passed through untouched;
 *   layer  0-based layer index (<NAME>_LAYERS layers);
 *   output the layer's output: packed uint32 activations inside the caller's arena, or the
 *          caller's int32 logits for the last layer; valid only during the call (read-only);
 *   bytes  its size in bytes. */
typedef void (*bnn_layer_hook)(void *user, int32_t layer, const void *output, uint32_t bytes);

/* Packing helpers: words holding `channels_per_group` bits, and words of one packed pixel. */
int32_t bnn_words_per_group(int32_t channels_per_group);
int32_t bnn_words_per_pixel(int32_t channels, int32_t groups);

/* ------------------------------------------------------------------------------------------
 * Thermometer encoder: uint8 image -> packed binary planes.
 *
 * input:  uint8 in[height][width][channels] (HWC).
 * output: uint32 out[height][width][words_per_pixel(channels*planes, out_pack_groups)].
 * Encoded channel c*planes + k is plane k of input channel c:
 *   BNN_THERMO_THRESHOLDS: +1 (bit 0) when pixel >= thresholds[c*planes + k], else -1 (bit 1);
 *                          thresholds is uint16 [channels][planes], values 0..256 (256 = never).
 *   BNN_THERMO_BASE2:      +1 when bit (7 - k) of the pixel code is set (most significant plane
 *                          first), planes 1..8; thresholds is unused (may be NULL).
 */
typedef enum { BNN_THERMO_THRESHOLDS = 0, BNN_THERMO_BASE2 = 1 } bnn_thermo_mode;

typedef struct {
    int32_t height, width, channels; /* input image */
    int32_t planes;                  /* M planes per input channel */
    bnn_thermo_mode mode;
    const uint16_t *thresholds;      /* [channels][planes] in mode BNN_THERMO_THRESHOLDS */
    int32_t out_pack_groups;         /* G of the output; must divide channels*planes */
} bnn_thermometer_params;

bnn_status bnn_thermometer_ref(const bnn_thermometer_params *p, const uint8_t *in, uint32_t *out);
bnn_status bnn_thermometer_opt(const bnn_thermometer_params *p, const uint8_t *in, uint32_t *out);
bnn_status bnn_thermometer(const bnn_thermometer_params *p, const uint8_t *in, uint32_t *out);
/* Fast path of bnn_thermometer_opt: at most 8 planes, one output word per pixel (all channels in
 * one packing group of <= 32 bits, or one group per channel) and at least 64 pixels: a 256-byte
 * table per channel on the stack, one load per pixel. Returns BNN_ERR_SHAPE where its predicate
 * bnn_thermometer_is_table() does not hold. */
int bnn_thermometer_is_table(const bnn_thermometer_params *p);
bnn_status bnn_thermometer_table_opt(const bnn_thermometer_params *p, const uint8_t *in,
                                     uint32_t *out);
/* The path bnn_thermometer_opt takes for p (shapes only; thresholds only tested for non-NULL):
 * "ref" (more than 31 planes), "table", "words_mve" (Helium builds, at most 8 planes; in
 * base2 mode only where a pixel's planes fit 32 bits or each channel is a packing group) or
 * "words"; "invalid" where p fails the checks.
 * Mirrored by pipeline.ops.thermometer.thermometer_path. */
const char *bnn_thermometer_path_name(const bnn_thermometer_params *p);

/* ------------------------------------------------------------------------------------------
 * Binary 2-D convolution with a threshold (folded BatchNorm + sign) output.
 *
 * input:   uint32 in[in_h][in_w][groups * Wg], Wg = words_per_group(in_c / groups)
 *          (the input is packed with G = groups).
 * weights: uint32 w[out_c][kernel_h][kernel_w][Wg]; output channel o reads input group
 *          o / (out_c / groups).
 * output:  uint32 out[out_h][out_w][words_per_pixel(out_c, out_pack_groups)],
 *          out_h = (in_h + 2*padding - kernel_h) / stride + 1, same for out_w.
 * dot = K - 2*popcount(x XOR w) over the receptive field, K = kernel_h*kernel_w*in_c/groups,
 * one-padding; output bit as in the header comment (threshold[out_c], flip[out_c]).
 * Scratch: bnn_bconv2d_get_buffer_size() bytes (0 for the _ref version).
 */
typedef struct {
    int32_t in_h, in_w, in_c;
    int32_t out_c;
    int32_t kernel_h, kernel_w;
    int32_t stride;          /* >= 1, same along both axes */
    int32_t padding;         /* >= 0 one-padded pixels on each side */
    int32_t groups;          /* divides in_c and out_c */
    int32_t out_pack_groups; /* G of the output; divides out_c */
    const uint32_t *weights;
    const int32_t *threshold;
    const uint8_t *flip;
} bnn_bconv2d_params;

int32_t bnn_bconv2d_out_h(const bnn_bconv2d_params *p);
int32_t bnn_bconv2d_out_w(const bnn_bconv2d_params *p);
int32_t bnn_bconv2d_get_buffer_size(const bnn_bconv2d_params *p);
bnn_status bnn_bconv2d_ref(const bnn_bconv2d_params *p, const uint32_t *in, uint32_t *out);
bnn_status bnn_bconv2d_opt(const bnn_context *ctx, const bnn_bconv2d_params *p,
                           const uint32_t *in, uint32_t *out);
bnn_status bnn_bconv2d(const bnn_context *ctx, const bnn_bconv2d_params *p,
                       const uint32_t *in, uint32_t *out);

/* Fast paths of bnn_bconv2d_opt, CMSIS-NN style: each is a function of its own, chosen by a
 * small predicate on the geometry. bnn_bconv2d_opt takes the first path, in this order, whose
 * predicate holds (bnn_bconv2d_select_path); each path can also be called directly with the same
 * arguments and scratch, and then returns BNN_ERR_SHAPE when its predicate does not hold
 * (after the argument and scratch checks of bnn_bconv2d_opt). n = kernel_h*kernel_w*Wg below.
 *   bitsliced_mve  Helium builds (Cortex-M55) only, at least 4 output pixels: the bitsliced
 *              path below with 4 output pixels per 128-bit vector (one 32-bit lane each, a row's
 *              neighbours), for its geometry with at most 16 channels per group; taken where its
 *              cost model (per call, with the weight transposition) beats the mve path (many
 *              output channels per run and pixels, e.g. a first layer on 8 thermometer
 *              planes). Transposed weights in the scratch where the queried size leaves room,
 *              else a 1152-byte stack buffer; border pixels' fields are gathered on the stack.
 *   bitsliced  scalar builds only (never chosen in Helium builds, where bitsliced_mve or mve
 *              fits the same geometry and wins, and below 4 output pixels the word-per-tap
 *              paths run; called directly there it returns BNN_ERR_SHAPE): one word per tap
 *              (at most 32 channels per group), at most 36 blocks of 8 inputs (taps * 8, 16 or 32) and K = kh*kw*cg <= 510: a word holds
 *              the 32 output channels of a run; each input bit is broadcast against the run's
 *              transposed weights (re-laid out once per run, by 32x32 bit transposes, into the
 *              scratch where the queried size leaves room, else into a 1152-byte stack buffer)
 *              and the 32 counts grow in bit-sliced carry-save planes; the threshold is a
 *              bit-sliced compare. Taken where its cost model beats the path that would run,
 *              counted per group (a run of up to 32 channels costs the same however few it holds).
 *   mve        Helium builds (Cortex-M55), n <= 64, at least 4 output pixels: 4 output pixels
 *              per vector, their fields fetched by vector gathers.
 *   lanes      at most 16 channels per group: each tap's bits in a power-of-two lane, fewer
 *              field words than taps.
 *   field9     n = 9 (3x3, 17-32 channels per group): a fixed carry-save network.
 *   field18    n = 18 (3x3, 33-64 channels per group): a fixed carry-save network.
 *   words      any geometry: a word per tap and channel word, generic counter.
 * The predicates take any pointer (0 for NULL or a shape the kernel refuses) and only read
 * shapes; their results depend on the build (Helium: BNN_HAVE_MVE; the v6-M cost model on cores
 * without Thumb-2), which pipeline/ops/bconv2d.py mirrors (tests/kernels/test_path_mirror.py). */
typedef enum {
    BNN_BCONV2D_PATH_MVE = 0,
    BNN_BCONV2D_PATH_BITSLICED = 1,
    BNN_BCONV2D_PATH_LANES = 2,
    BNN_BCONV2D_PATH_FIELD9 = 3,
    BNN_BCONV2D_PATH_FIELD18 = 4,
    BNN_BCONV2D_PATH_WORDS = 5,
    BNN_BCONV2D_PATH_BITSLICED_MVE = 6 /* first in the dispatch order; appended to keep values */
} bnn_bconv2d_path;

int bnn_bconv2d_is_bitsliced_mve(const bnn_bconv2d_params *p);
int bnn_bconv2d_is_mve(const bnn_bconv2d_params *p);
int bnn_bconv2d_is_bitsliced(const bnn_bconv2d_params *p);
int bnn_bconv2d_is_lanes(const bnn_bconv2d_params *p);
int bnn_bconv2d_is_field9(const bnn_bconv2d_params *p);
int bnn_bconv2d_is_field18(const bnn_bconv2d_params *p);
/* The path bnn_bconv2d_opt takes for p: the first predicate above, in the documented order,
 * that holds; BNN_BCONV2D_PATH_WORDS for any other shape, NULL or a refused one included. */
bnn_bconv2d_path bnn_bconv2d_select_path(const bnn_bconv2d_params *p);
/* The path's name as the report and kernels.json write it ("bitsliced_mve", "bitsliced", "mve",
 * "lanes", "field9", "field18", "words"); "?" for a value outside the enum. Static storage. */
const char *bnn_bconv2d_path_name(bnn_bconv2d_path path);

bnn_status bnn_bconv2d_bitsliced_mve_opt(const bnn_context *ctx, const bnn_bconv2d_params *p,
                                         const uint32_t *in, uint32_t *out);
bnn_status bnn_bconv2d_mve_opt(const bnn_context *ctx, const bnn_bconv2d_params *p,
                               const uint32_t *in, uint32_t *out);
bnn_status bnn_bconv2d_bitsliced_opt(const bnn_context *ctx, const bnn_bconv2d_params *p,
                                     const uint32_t *in, uint32_t *out);
bnn_status bnn_bconv2d_lanes_opt(const bnn_context *ctx, const bnn_bconv2d_params *p,
                                 const uint32_t *in, uint32_t *out);
bnn_status bnn_bconv2d_field9_opt(const bnn_context *ctx, const bnn_bconv2d_params *p,
                                  const uint32_t *in, uint32_t *out);
bnn_status bnn_bconv2d_field18_opt(const bnn_context *ctx, const bnn_bconv2d_params *p,
                                   const uint32_t *in, uint32_t *out);
bnn_status bnn_bconv2d_words_opt(const bnn_context *ctx, const bnn_bconv2d_params *p,
                                 const uint32_t *in, uint32_t *out);

/* ------------------------------------------------------------------------------------------
 * Binary max-pooling: the max of +-1 values is the AND of their bits. No padding; the
 * output size is floor((in - kernel) / stride) + 1. Input and output keep the same packing:
 * uint32 [h][w][words_per_pixel(channels, pack_groups)].
 */
typedef struct {
    int32_t in_h, in_w, channels;
    int32_t kernel; /* square window, 1 <= kernel <= min(in_h, in_w) */
    int32_t stride;
    int32_t pack_groups;
} bnn_bmaxpool2d_params;

int32_t bnn_bmaxpool2d_out_h(const bnn_bmaxpool2d_params *p);
int32_t bnn_bmaxpool2d_out_w(const bnn_bmaxpool2d_params *p);
bnn_status bnn_bmaxpool2d_ref(const bnn_bmaxpool2d_params *p, const uint32_t *in, uint32_t *out);
bnn_status bnn_bmaxpool2d_opt(const bnn_bmaxpool2d_params *p, const uint32_t *in, uint32_t *out);
bnn_status bnn_bmaxpool2d(const bnn_bmaxpool2d_params *p, const uint32_t *in, uint32_t *out);

/* ------------------------------------------------------------------------------------------
 * Binary dense (fully connected) layers.
 *
 * input:   the packed tensor uint32 in[in_h][in_w][words_per_pixel(in_c, in_pack_groups)],
 *          read flat as it lies in memory: n_words = in_h*in_w*words_per_pixel(...).
 * weights: uint32 w[out_features][n_words] (same packing as the input).
 * dot = K - 2*popcount(x XOR w), K = in_h*in_w*in_c.
 * Hidden:  output bits uint32 out[1][1][words_per_pixel(out_features, out_pack_groups)],
 *          thresholds and flip as in the header comment.
 * Output:  int32 logits[out_features] = dot * mult[j] + bias[j].
 *
 * Hidden layers have two weight layouts; bnn_bdense_hidden_opt takes the path its params hold:
 * - rows (sliced == NULL): weights, threshold and flip as above. Each row's popcount goes
 *   through carry-save adders ("rows"; Helium builds: 4 rows per vector, "mve").
 * - sliced (sliced != NULL; weights, threshold and flip may then be NULL, and the _ref kernel,
 *   which reads them, returns BNN_ERR_ARGUMENT): a word holds the 32 rows of one output word,
 *   and every input bit adds its weight word to bit-sliced counters of all 32 rows at once, so
 *   the per-row count, threshold and bit packing disappear ("sliced"; the bit-sliced scheme of
 *   the first conv layers, see bnn_bconv2d_bitsliced_opt, with the weights transposed offline).
 *   Per output word (packing group g, then its words of up to 32 rows, row r at bit r), a block
 *   of 32*n_words + planes + 1 words, planes = max(5, bit length of K + 1):
 *     word 32*i + b:    bit r = weight bit b of input word i of the word's row r;
 *     planes words:     bit r of word p = bit p of L_r (the limit below);
 *     the invert word:  bit r = 1 XOR flip of row r;
 *   the output bit of row r is (pc_r < L_r) XOR invert_r, pc = popcount(x XOR w) and
 *   L = floor((K - threshold) / 2) + 1 clipped to [0, K + 1]; lanes past the word's last row
 *   hold zeros. The renderer writes this layout (pipeline/ops/bdense.py: sliced_blocks) where
 *   its cost model says it runs fewer instructions (Thumb-2 builds; not Cortex-M0 or Helium).
 *   The sliced path uses about 800 bytes of stack (a chunk of 64 input words, their carries
 *   and the counter planes: 776-792 bytes with arm-none-eabi-gcc -O2 for Cortex-M0, M4 and
 *   M55), in a function of its own: a layer in the rows layout does not pay for it.
 */
typedef struct {
    int32_t in_h, in_w, in_c;
    int32_t in_pack_groups;
    int32_t out_features;
    int32_t out_pack_groups;
    const uint32_t *weights;
    const int32_t *threshold;
    const uint8_t *flip;
    const uint32_t *sliced; /* NULL: the rows layout; else the sliced layout (above) */
} bnn_bdense_hidden_params;

typedef struct {
    int32_t in_h, in_w, in_c;
    int32_t in_pack_groups;
    int32_t out_features;
    const uint32_t *weights;
    const int32_t *mult;
    const int32_t *bias;
} bnn_bdense_output_params;

bnn_status bnn_bdense_hidden_ref(const bnn_bdense_hidden_params *p, const uint32_t *in,
                                 uint32_t *out);
bnn_status bnn_bdense_hidden_opt(const bnn_bdense_hidden_params *p, const uint32_t *in,
                                 uint32_t *out);
bnn_status bnn_bdense_hidden(const bnn_bdense_hidden_params *p, const uint32_t *in,
                             uint32_t *out);
/* The path bnn_bdense_hidden_opt takes for p: "sliced" (p->sliced set), "mve" (Helium
 * builds) or "rows"; "invalid" where p fails the checks. Mirrored by
 * pipeline.ops.bdense.dense_path, which also decides where the renderer writes the sliced
 * layout. */
const char *bnn_bdense_hidden_path_name(const bnn_bdense_hidden_params *p);
bnn_status bnn_bdense_output_ref(const bnn_bdense_output_params *p, const uint32_t *in,
                                 int32_t *logits);
bnn_status bnn_bdense_output_opt(const bnn_bdense_output_params *p, const uint32_t *in,
                                 int32_t *logits);
bnn_status bnn_bdense_output(const bnn_bdense_output_params *p, const uint32_t *in,
                             int32_t *logits);

/* ------------------------------------------------------------------------------------------
 * argmax of n int32 logits; ties go to the lowest index. Writes the index to *index.
 */
bnn_status bnn_argmax_ref(const int32_t *logits, int32_t n, int32_t *index);
bnn_status bnn_argmax_opt(const int32_t *logits, int32_t n, int32_t *index);
bnn_status bnn_argmax(const int32_t *logits, int32_t n, int32_t *index);

/* ------------------------------------------------------------------------------------------
 * Shared building block of the optimized kernels (bnn_popcount.c): sum over i < n of
 * popcount(a[i] XOR b[i]), without libgcc's __popcountsi2 (Cortex-M has no popcount
 * instruction). Exposed so that the tests can check it directly.
 */
int32_t bnn_xor_popcount(const uint32_t *a, const uint32_t *b, int32_t n);

/* ==========================================================================================
 * bshuffle (layer kind of pipeline/ops/bshuffle.py; kernel bnn_bshuffle.c) - begin
 *
 * Channel shuffle (ShuffleNet) of binary activations: output channel o is input channel
 * (o % groups) * (channels / groups) + o / groups. Values are unchanged.
 * input:  uint32 in[in_h][in_w][words_per_pixel(channels, in_pack_groups)]
 * output: uint32 out[in_h][in_w][words_per_pixel(channels, out_pack_groups)] (padding bits 0)
 * groups, in_pack_groups and out_pack_groups must divide channels (else BNN_ERR_SHAPE);
 * in and out must not overlap. No scratch.
 */
typedef struct {
    int32_t in_h, in_w, channels;
    int32_t groups; /* shuffle groups */
    int32_t in_pack_groups;
    int32_t out_pack_groups;
} bnn_bshuffle_params;

bnn_status bnn_bshuffle_ref(const bnn_bshuffle_params *p, const uint32_t *in, uint32_t *out);
bnn_status bnn_bshuffle_opt(const bnn_bshuffle_params *p, const uint32_t *in, uint32_t *out);
bnn_status bnn_bshuffle(const bnn_bshuffle_params *p, const uint32_t *in, uint32_t *out);
/* bshuffle - end
 * ========================================================================================== */

#ifdef __cplusplus
}
#endif

#endif /* BNN_H */
