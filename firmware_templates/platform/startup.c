/* startup.c - vector table and Reset_Handler for every Cortex-M board.
 *
 * Reset_Handler enables the FPU (and with it MVE on Cortex-M55) before any C code that the
 * compiler may have vectorised runs: the memory set-up lives in a separate noinline function,
 * called only after CPACR is written. Then .data is copied from flash, .bss zeroed, the stack
 * painted, the instruction counter started, and main's return value becomes the exit code. */
#include "bnn_platform.h"

extern uint32_t __bnn_stack_end[];
extern uint32_t __bnn_data_load[], __bnn_data_start[], __bnn_data_end[];
extern uint32_t __bnn_bss_start[], __bnn_bss_end[];

int main(void);
void Reset_Handler(void) __attribute__((noreturn));
void bnn_fault_entry(void);      /* fault.c */
void SysTick_Handler(void);      /* icount.c */

#define SCB_CPACR (*(volatile uint32_t *)0xE000ED88u)
#define SCB_VTOR (*(volatile uint32_t *)0xE000ED08u)

typedef void (*bnn_vector)(void);

/* 16 system vectors; no external interrupt is ever enabled. Every fault-class vector and the
 * unused ones go to the fault reporter, which names the exception from IPSR. */
__attribute__((section(".vectors"), used)) const bnn_vector bnn_vector_table[16] = {
    (bnn_vector)(uintptr_t)__bnn_stack_end, /* initial main stack pointer */
    Reset_Handler,
    bnn_fault_entry, /* NMI */
    bnn_fault_entry, /* HardFault */
    bnn_fault_entry, /* MemManage (v7-M / v8-M mainline) */
    bnn_fault_entry, /* BusFault */
    bnn_fault_entry, /* UsageFault */
    bnn_fault_entry, /* SecureFault (v8-M) */
    bnn_fault_entry, /* reserved */
    bnn_fault_entry, /* reserved */
    bnn_fault_entry, /* reserved */
    bnn_fault_entry, /* SVCall */
    bnn_fault_entry, /* DebugMonitor */
    bnn_fault_entry, /* reserved */
    bnn_fault_entry, /* PendSV */
    SysTick_Handler,
};

static void enable_fpu(void)
{
#if defined(BNN_CPU_HAS_FPU) && BNN_CPU_HAS_FPU
    SCB_CPACR |= (0xFu << 20); /* CP10 and CP11 full access: FPU, and MVE on v8.1-M */
    __asm__ volatile("dsb\n\tisb" ::: "memory");
#endif
}

__attribute__((noinline)) static void init_memory(void)
{
    /* volatile pointers keep these plain word loops: no memcpy call, no vector code */
    const volatile uint32_t *src = __bnn_data_load;
    for (volatile uint32_t *dst = __bnn_data_start; dst < __bnn_data_end; ++dst, ++src) {
        *dst = *src;
    }
    for (volatile uint32_t *dst = __bnn_bss_start; dst < __bnn_bss_end; ++dst) {
        *dst = 0u;
    }
}

void Reset_Handler(void)
{
    enable_fpu();
#if __ARM_ARCH_ISA_THUMB >= 2
    SCB_VTOR = (uint32_t)(uintptr_t)bnn_vector_table; /* v6-M has no VTOR */
#endif
    init_memory();
    bnn_stack_paint();
    bnn_icount_init();
    bnn_exit(main());
}
