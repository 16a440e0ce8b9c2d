/* Smoke firmware: proves console, exit code, fault reporting and the instruction counter on a
 * board. BNN_SMOKE_MODE selects the behaviour: 0 normal, 1 hang, 2 fault by `udf`, 3 fault by
 * reading an unmapped address (BNN_SMOKE_BAD_ADDRESS). It also runs float and (at -O3 on
 * Cortex-M55) MVE-vectorised code, which faults unless the startup enabled those units. */
#include "bnn_platform.h"

#ifndef BNN_SMOKE_MODE
#define BNN_SMOKE_MODE 0
#endif
#ifndef BNN_SMOKE_EXIT_CODE
#define BNN_SMOKE_EXIT_CODE 0
#endif
#ifndef BNN_SMOKE_ITERATIONS
#define BNN_SMOKE_ITERATIONS 1000u
#endif
#ifndef BNN_SMOKE_STACK_BYTES
#define BNN_SMOKE_STACK_BYTES 1024u
#endif
#ifndef BNN_SMOKE_BAD_ADDRESS
#define BNN_SMOKE_BAD_ADDRESS 0xF0000000u
#endif

/* Exactly two instructions per iteration (subs, bne), so the count is checkable. */
__attribute__((noinline)) void smoke_loop(uint32_t iterations)
{
    __asm__ volatile(".syntax unified\n"
                     "1:\n\t"
                     "subs %0, %0, #1\n\t"
                     "bne 1b\n"
                     : "+l"(iterations)
                     :
                     : "cc");
}

/* The faulting instruction is the first of the function: its address is the symbol's. */
__attribute__((naked, noinline)) void smoke_udf(void)
{
    __asm__ volatile("udf #0\n\t"
                     "bx lr\n");
}

__attribute__((noinline)) uint32_t smoke_bad_read(void)
{
    return *(volatile uint32_t *)BNN_SMOKE_BAD_ADDRESS;
}

/* Vectorisable at -O3 (MVE on Cortex-M55): proves the startup enabled the vector unit. */
__attribute__((noinline)) int32_t smoke_sum_of_squares(const int32_t *a, unsigned n)
{
    int32_t sum = 0;
    for (unsigned i = 0; i < n; ++i) {
        sum += a[i] * a[i];
    }
    return sum;
}

/* Touches BNN_SMOKE_STACK_BYTES of stack, so the high-water mark has a known lower bound. */
__attribute__((noinline)) uint32_t smoke_deep_stack(uint32_t seed)
{
    volatile uint8_t buffer[BNN_SMOKE_STACK_BYTES];
    uint32_t sum = 0u;
    for (uint32_t i = 0; i < BNN_SMOKE_STACK_BYTES; ++i) {
        buffer[i] = (uint8_t)(seed + i);
    }
    for (uint32_t i = 0; i < BNN_SMOKE_STACK_BYTES; ++i) {
        sum += buffer[i];
    }
    return sum;
}

static int32_t smoke_data[64];
static volatile float smoke_float = 1.5f;

static void check_arithmetic(void)
{
    for (unsigned i = 0; i < 64u; ++i) {
        smoke_data[i] = (int32_t)i - 20;
    }
    const float y = smoke_float * smoke_float + 0.25f; /* FPU instructions where there is one */
    bnn_rec_begin("arith");
    bnn_rec_i32("sum_squares", smoke_sum_of_squares(smoke_data, 64u));
    bnn_rec_i32("float_x4", (int32_t)(y * 4.0f));
    bnn_rec_end();
}

static void count_loop(uint32_t iterations)
{
    bnn_icount_start();
    smoke_loop(iterations);
    const uint64_t count = bnn_icount_stop();
    bnn_rec_begin(bnn_count_tag);
    bnn_rec_str("region", "loop");
    bnn_rec_u32("iterations", iterations);
    bnn_rec_u64(bnn_count_unit, count);
    bnn_rec_end();
}

static void count_empty(void)
{
    bnn_icount_start();
    bnn_report_count("empty", bnn_icount_stop());
}

int main(void)
{
    bnn_rec_begin("hello");
    bnn_rec_str("board", BNN_BOARD_NAME);
    bnn_rec_i32_list("check", (const int32_t[]){-2147483647 - 1, -1, 0, 2147483647}, 4u);
    bnn_rec_hex("hex", 0xdeadbeefu);
    bnn_rec_u64("u64", 18446744073709551615ull);
    bnn_rec_end();

    if (BNN_SMOKE_MODE == 1) {
        for (;;) {
            __asm__ volatile("" ::: "memory");
        }
    }
    if (BNN_SMOKE_MODE == 2) {
        smoke_udf();
    }
    if (BNN_SMOKE_MODE == 3) {
        const uint32_t value = smoke_bad_read();
        bnn_rec_begin("unreachable");
        bnn_rec_hex("value", value);
        bnn_rec_end();
    }

    check_arithmetic();
    count_empty();
    for (uint32_t k = 1u; k <= 3u; ++k) {
        count_loop(k * BNN_SMOKE_ITERATIONS);
    }
    const uint32_t stack_sum = smoke_deep_stack(7u);
    bnn_rec_begin("stack");
    bnn_rec_u32("sum", stack_sum);
    bnn_rec_u32("size", bnn_stack_size());
    bnn_rec_u32("used", bnn_stack_high_water());
    bnn_rec_end();
    return BNN_SMOKE_EXIT_CODE;
}
