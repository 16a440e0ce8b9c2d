/* icount.c - deterministic instruction counter from SysTick (see bnn_platform.h).
 *
 * SysTick runs from the board's clock (BNN_SYSTICK_CLKSOURCE) with the longest reload whose period
 * lasts a whole number of instructions (BNN_SYSTICK_RELOAD); its wrap interrupt extends the
 * 24-bit count in software. Under QEMU `-icount shift=S` one instruction lasts 2^S ns and the
 * board's S makes one instruction span >= 8 ticks, so
 *     instructions = round(ticks * BNN_ICOUNT_NUM / BNN_ICOUNT_DEN)
 * with NUM/DEN = 1e9 / (clock_hz * 2^S) reduced (build.py computes it) is exact. The wrap
 * handler's own instructions are removed. On hardware-only boards NUM = DEN = 1: cycles. */
#include "bnn_platform.h"

#ifndef BNN_ICOUNT_NUM
#error "BNN_ICOUNT_NUM / BNN_ICOUNT_DEN come from the board (pipeline/build.py)"
#endif
#ifndef BNN_SYSTICK_RELOAD
/* build.py sets it from the board: the longest period that lasts a whole number of
 * instructions under QEMU (the emulated timer is re-armed with the period rounded to whole
 * nanoseconds; such a period does not drift). Tests lower it to force many wraps. */
#error "BNN_SYSTICK_RELOAD comes from the board (pipeline/build.py)"
#endif

#define SYST_CSR (*(volatile uint32_t *)0xE000E010u)
#define SYST_RVR (*(volatile uint32_t *)0xE000E014u)
#define SYST_CVR (*(volatile uint32_t *)0xE000E018u)
#define SYST_CSR_ENABLE 1u
#define SYST_CSR_TICKINT 2u
#ifndef BNN_SYSTICK_CLKSOURCE
#define BNN_SYSTICK_CLKSOURCE 1 /* 1: processor clock, 0: the reference clock */
#endif
#define SYST_CSR_CLKSOURCE_CPU 4u
#define SCB_ICSR (*(volatile uint32_t *)0xE000ED04u)
#define SCB_ICSR_PENDSTSET (1u << 26)

/* Instructions SysTick_Handler executes per wrap (its asm body below). */
#define WRAP_HANDLER_INSTRUCTIONS 5u

#if BNN_COUNT_IS_CYCLES
const char bnn_count_tag[] = "ccount";
const char bnn_count_unit[] = "cycles";
#else
const char bnn_count_tag[] = "icount";
const char bnn_count_unit[] = "instructions";
#endif

volatile uint32_t bnn_icount_wraps;

/* One reading of the counter: SysTick's value, whether a wrap is pending and the wraps the
 * handler has counted, all taken with interrupts masked. */
typedef struct {
    uint32_t value;
    uint32_t icsr;
    uint32_t wraps;
} raw_time;

static raw_time start_time;
static uint64_t call_overhead;

/* Fixed-length handler, so its instructions can be subtracted exactly. */
__attribute__((naked)) void SysTick_Handler(void)
{
    __asm__ volatile(
        ".syntax unified\n\t"
        "ldr r0, =bnn_icount_wraps\n\t"
        "ldr r1, [r0]\n\t"
        "adds r1, r1, #1\n\t"
        "str r1, [r0]\n\t"
        "bx lr\n\t"
        ".ltorg\n");
}

/* Straight-line code (no retry loop, no branch), so every capture costs the same number of
 * instructions and the calibration below removes it exactly. */
static inline __attribute__((always_inline)) void capture(raw_time *t)
{
    uint32_t primask;
    __asm__ volatile("mrs %0, primask\n\tcpsid i" : "=r"(primask) : : "memory");
    t->value = SYST_CVR;
    t->icsr = SCB_ICSR;
    t->wraps = bnn_icount_wraps;
    __asm__ volatile("msr primask, %0" : : "r"(primask) : "memory");
}

/* Ticks since init. The counter runs RELOAD..1, 0, RELOAD, ... and the wrap is pended when it
 * reaches 0. A wrap pended but not yet handled counts if it happened before the value was read:
 * the value is then 0 or just below RELOAD (a wrap after the read leaves it small, non-zero). */
static uint64_t ticks_of(const raw_time *t)
{
    const uint64_t period = (uint64_t)BNN_SYSTICK_RELOAD + 1u;
    uint32_t wraps = t->wraps;
    if ((t->icsr & SCB_ICSR_PENDSTSET) != 0u &&
        (t->value == 0u || t->value > BNN_SYSTICK_RELOAD / 2u)) {
        ++wraps;
    }
    uint64_t ticks = (uint64_t)wraps * period + (BNN_SYSTICK_RELOAD - t->value);
    if (t->value == 0u && wraps != 0u) {
        ticks -= period; /* a read of 0 already carries its period's wrap */
    }
    return ticks;
}

/* Handler runs between two captures are the difference of the handled wraps: a wrap pending
 * at a capture is handled just after it, so it belongs to the following interval. */
static uint64_t count_between(const raw_time *from, const raw_time *to)
{
    const uint64_t ticks = ticks_of(to) - ticks_of(from);
    const uint64_t count = (ticks * BNN_ICOUNT_NUM + BNN_ICOUNT_DEN / 2u) / BNN_ICOUNT_DEN;
    if (BNN_COUNT_IS_CYCLES) {
        return count;
    }
    return count - (uint64_t)(to->wraps - from->wraps) * WRAP_HANDLER_INSTRUCTIONS;
}

static const raw_time init_time = {BNN_SYSTICK_RELOAD, 0u, 0u};

uint64_t bnn_icount_now(void)
{
    raw_time now;
    capture(&now);
    return count_between(&init_time, &now);
}

__attribute__((noinline)) void bnn_icount_start(void)
{
    capture(&start_time);
}

/* Captures first, converts after: the conversion's data-dependent cost stays outside. */
__attribute__((noinline)) uint64_t bnn_icount_stop(void)
{
    raw_time now;
    capture(&now);
    return count_between(&start_time, &now) - call_overhead;
}

void bnn_icount_init(void)
{
    bnn_icount_wraps = 0u;
    SYST_RVR = BNN_SYSTICK_RELOAD;
    SYST_CVR = 0u; /* any write clears it; the counter then loads RELOAD */
    SYST_CSR = SYST_CSR_ENABLE | SYST_CSR_TICKINT |
               (BNN_SYSTICK_CLKSOURCE ? SYST_CSR_CLKSOURCE_CPU : 0u);
    /* Calibrate: an empty region costs the call, return and capture sequences only. */
    call_overhead = 0u;
    bnn_icount_start();
    call_overhead = bnn_icount_stop();
}

void bnn_report_count(const char *region, uint64_t count)
{
    bnn_rec_begin(bnn_count_tag);
    bnn_rec_str("region", region);
    bnn_rec_u64(bnn_count_unit, count);
    bnn_rec_end();
}
