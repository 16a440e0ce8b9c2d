/* fault.c - report a fault as one structured line and exit with BNN_EXIT_FAULT.
 *
 * bnn_fault_entry picks the stack the exception frame was pushed to (EXC_RETURN bit 2) and
 * passes it to bnn_fault_report; frame[6] is the PC of the faulting instruction. Written with
 * v6-M instructions only, so one handler serves Cortex-M0 to M55. */
#include "bnn_platform.h"

void bnn_fault_report(const uint32_t *frame) __attribute__((noreturn, used));

__attribute__((naked)) void bnn_fault_entry(void)
{
    __asm__ volatile(
        ".syntax unified\n\t"
        "movs r0, #4\n\t"
        "mov r1, lr\n\t"
        "tst r0, r1\n\t"
        "beq 1f\n\t"
        "mrs r0, psp\n\t"
        "b 2f\n"
        "1:\n\t"
        "mrs r0, msp\n"
        "2:\n\t"
        "ldr r2, =bnn_fault_report\n\t"
        "bx r2\n\t"
        ".ltorg\n");
}

static const char *exception_name(uint32_t number)
{
    switch (number) {
    case 2u: return "nmi";
    case 3u: return "hardfault";
    case 4u: return "memmanage";
    case 5u: return "busfault";
    case 6u: return "usagefault";
    case 7u: return "securefault";
    case 11u: return "svcall";
    case 14u: return "pendsv";
    default: return "unexpected";
    }
}

void bnn_fault_report(const uint32_t *frame)
{
    uint32_t ipsr;
    __asm__ volatile("mrs %0, ipsr" : "=r"(ipsr));
    bnn_flush(); /* end any half-written line first; the fault record starts a new one */
    bnn_print("\n");
    bnn_rec_begin("fault");
    bnn_rec_str("kind", exception_name(ipsr & 0x1ffu));
    bnn_rec_hex("pc", frame[6]);
    bnn_rec_hex("lr", frame[5]);
    bnn_rec_hex("psr", frame[7]);
#if __ARM_ARCH_ISA_THUMB >= 2
    bnn_rec_hex("cfsr", *(volatile uint32_t *)0xE000ED28u);
    bnn_rec_hex("hfsr", *(volatile uint32_t *)0xE000ED2Cu);
#endif
    bnn_rec_end();
    bnn_exit(BNN_EXIT_FAULT);
}
