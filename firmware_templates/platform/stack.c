/* stack.c - stack high-water mark by painting.
 *
 * The linker script reserves [__bnn_stack_start, __bnn_stack_end) for the main stack. Reset_Handler
 * calls bnn_stack_paint() before main, which fills the region below its own frame with
 * BNN_STACK_PAINT; bnn_stack_high_water() finds the lowest word that lost the pattern. A value
 * that happens to equal the pattern at the deepest point would be missed: the mark can be
 * low by at most a few words, never high. */
#include "bnn_platform.h"

extern uint32_t __bnn_stack_start[];
extern uint32_t __bnn_stack_end[];

/* Words left unpainted below the painter's own frame (its locals and return address). */
#define PAINT_MARGIN_WORDS 16u

void bnn_stack_paint(void)
{
    uint32_t *sp;
    __asm__ volatile("mov %0, sp" : "=r"(sp));
    for (volatile uint32_t *p = __bnn_stack_start; p < sp - PAINT_MARGIN_WORDS; ++p) {
        *p = BNN_STACK_PAINT; /* volatile: keep this a plain loop (no memset, no vectors) */
    }
}

uint32_t bnn_stack_size(void)
{
    return (uint32_t)((uintptr_t)__bnn_stack_end - (uintptr_t)__bnn_stack_start);
}

uint32_t bnn_stack_high_water(void)
{
    const volatile uint32_t *p = __bnn_stack_start;
    while (p < __bnn_stack_end && *p == BNN_STACK_PAINT) {
        ++p;
    }
    return (uint32_t)((uintptr_t)__bnn_stack_end - (uintptr_t)p);
}
