/*
 * Minimal bare-metal start-up for the MPS2 AN386 (Cortex-M4F) in QEMU: vector table, reset
 * (FPU on, .data copied, .bss zeroed), main's return value as the exit code, and a console,
 * all through Arm semihosting (QEMU: -semihosting-config enable=on,target=native).
 */
#include <stdint.h>

extern uint32_t __stack_top[], __data_load[], __data_start[], __data_end[], __bss_start[],
    __bss_end[];
int main(void);
void app_write(const char *s);
void Reset_Handler(void);
void Fault_Handler(void);

static uint32_t semihost(uint32_t op, const void *arg)
{
    register uint32_t r0 __asm__("r0") = op;
    register const void *r1 __asm__("r1") = arg;
    __asm__ volatile("bkpt 0xAB" : "+r"(r0) : "r"(r1) : "memory");
    return r0;
}

void app_write(const char *s) { semihost(0x04u, s); } /* SYS_WRITE0 */

static void app_exit(int code)
{
    uint32_t block[2];
    block[0] = 0x20026u; /* ADP_Stopped_ApplicationExit */
    block[1] = (uint32_t)code;
    semihost(0x20u, block); /* SYS_EXIT_EXTENDED */
    for (;;) {
    }
}

typedef void (*vector)(void);
__attribute__((section(".vectors"), used)) const vector vectors[16] = {
    (vector)(uintptr_t)__stack_top, Reset_Handler, Fault_Handler, Fault_Handler, Fault_Handler,
    Fault_Handler, Fault_Handler, 0, 0, 0, 0, Fault_Handler, Fault_Handler, 0, Fault_Handler,
    Fault_Handler,
};

void Fault_Handler(void)
{
    app_write("fault\n");
    app_exit(99);
}

void Reset_Handler(void)
{
    volatile uint32_t *dst;
    const volatile uint32_t *src = __data_load;
    *(volatile uint32_t *)0xE000ED88u |= 0xFu << 20; /* CPACR: FPU on (hard-float code) */
    __asm__ volatile("dsb\n\tisb" ::: "memory");
    for (dst = __data_start; dst < __data_end;)
        *dst++ = *src++;
    for (dst = __bss_start; dst < __bss_end;)
        *dst++ = 0u;
    app_exit(main());
}
