/* semihosting.c - console and exit code over ARM semihosting (bkpt 0xAB, M-profile). */
#include "bnn_platform.h"

#define SYS_WRITE0 0x04u
#define SYS_EXIT_EXTENDED 0x20u
#define ADP_STOPPED_APPLICATION_EXIT 0x20026u

static uint32_t semihost_call(uint32_t op, const void *arg)
{
    register uint32_t r0 __asm__("r0") = op;
    register const void *r1 __asm__("r1") = arg;
    __asm__ volatile("bkpt 0xAB" : "+r"(r0) : "r"(r1) : "memory");
    return r0;
}

void bnn_write0(const char *s)
{
    semihost_call(SYS_WRITE0, s);
}

void bnn_exit(int code)
{
    /* SYS_EXIT_EXTENDED takes a pointer to {reason, subcode} on every architecture, so the
     * code survives on v6-M and v8-M too (plain SYS_EXIT on AArch32 carries no code). */
    static uint32_t block[2];
    bnn_flush();
    block[0] = ADP_STOPPED_APPLICATION_EXIT;
    block[1] = (uint32_t)code;
    semihost_call(SYS_EXIT_EXTENDED, block);
    for (;;) {
        /* not reached under QEMU; on a board without a debugger, halt here */
    }
}
