/*
 * bnn_platform.h - the bare-metal platform every BNN firmware links against.
 *
 * Copied verbatim into each build (never templated). C99, no malloc, no printf.
 *
 * Console: ARM semihosting (bkpt 0xAB). Output goes through a small line buffer and
 * SYS_WRITE0; the exit code goes through SYS_EXIT_EXTENDED {0x20026, code}, which works
 * on v6-M, v7-M and v8-M under QEMU.
 *
 * Structured output: every line a host tool reads has the form
 *     BNN <tag> key=value key=value ...
 * values contain no spaces; lists are comma-separated. Examples:
 *     BNN fault kind=hardfault pc=0x000001a4 lr=0x00000201 psr=0x01000000
 *     BNN icount region=loop instructions=1234
 * Build a record with bnn_rec_begin(tag), bnn_rec_*(key, value)..., bnn_rec_end().
 *
 * Instruction counter (emulated boards): SysTick, clocked as the board says (processor or
 * reference clock of the QEMU machine), with QEMU run as `-icount shift=S`: every instruction
 * then advances virtual time by exactly 2^S ns. S is chosen per board so that one instruction
 * spans at least 8 SysTick ticks, so rounding ticks * (1e9 / hz) / 2^S to the nearest integer
 * gives the exact number of executed instructions (each read of SysTick is off by less than one
 * tick). The 24-bit counter is extended in software by the SysTick wrap interrupt, whose own
 * instructions are subtracted; the reload makes each wrap last a whole number of instructions.
 * The counter is read with straight-line code (interrupts masked for three loads), so the call
 * overhead is constant and calibrated away: an empty start/stop region counts 0. QEMU counts
 * instructions, not cycles. On hardware-only boards the same API counts SysTick ticks of the
 * core clock, i.e. cycles, and records say `cycles=` instead.
 *
 * Stack: Reset_Handler paints the stack region [__bnn_stack_start, __bnn_stack_end) with
 * BNN_STACK_PAINT below its own frame; bnn_stack_high_water() scans upward from the bottom
 * for the first word that is no longer the pattern (stack painting method).
 */
#ifndef BNN_PLATFORM_H
#define BNN_PLATFORM_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Exit codes the platform itself uses (firmware chooses its own for results). */
#define BNN_EXIT_OK 0
#define BNN_EXIT_FAULT 70 /* a fault handler ran; the `BNN fault` record says where */

#define BNN_STACK_PAINT 0xA5A5A5A5u

/* 1 on hardware-only boards: the counter then counts core clock cycles (build.py sets it). */
#ifndef BNN_COUNT_IS_CYCLES
#define BNN_COUNT_IS_CYCLES 0
#endif

/* ---- console and exit (semihosting.c) ---- */
void bnn_write0(const char *s);              /* raw SYS_WRITE0, unbuffered */
void bnn_exit(int code) __attribute__((noreturn));

/* ---- structured records and integer formatting without printf (record.c) ---- */
/* Formatters write a NUL-terminated string into out and return its length (without NUL).
 * out needs 21 bytes for u64, 12 for i32, 11 for hex32 ("0x" + 8 digits). */
unsigned bnn_fmt_u64(char *out, uint64_t v);
unsigned bnn_fmt_u32(char *out, uint32_t v);
unsigned bnn_fmt_i32(char *out, int32_t v);
unsigned bnn_fmt_hex32(char *out, uint32_t v);

void bnn_print(const char *s);               /* buffered text */
void bnn_flush(void);
void bnn_rec_begin(const char *tag);         /* "BNN <tag>" */
void bnn_rec_str(const char *key, const char *value);
void bnn_rec_u32(const char *key, uint32_t value);
void bnn_rec_u64(const char *key, uint64_t value);
void bnn_rec_i32(const char *key, int32_t value);
void bnn_rec_hex(const char *key, uint32_t value);
void bnn_rec_i32_list(const char *key, const int32_t *values, unsigned n);
void bnn_rec_u32_list(const char *key, const uint32_t *values, unsigned n);
void bnn_rec_end(void);                      /* newline and flush */

/* ---- instruction counter (icount.c) ---- */
void bnn_icount_init(void);                  /* called by Reset_Handler before main */
uint64_t bnn_icount_now(void);               /* instructions (cycles on hardware) since init */
void bnn_icount_start(void);
uint64_t bnn_icount_stop(void);              /* since the last start, call overhead removed */
/* Prints "BNN icount region=<region> instructions=<n>" ("BNN ccount ... cycles=" on hardware). */
void bnn_report_count(const char *region, uint64_t count);
extern const char bnn_count_tag[];           /* "icount" or "ccount" */
extern const char bnn_count_unit[];          /* "instructions" or "cycles" */

/* ---- stack high-water mark by painting (stack.c) ---- */
void bnn_stack_paint(void);                  /* called by Reset_Handler */
uint32_t bnn_stack_size(void);
uint32_t bnn_stack_high_water(void);         /* bytes of stack ever used */

#ifdef __cplusplus
}
#endif
#endif /* BNN_PLATFORM_H */
