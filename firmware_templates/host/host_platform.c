/*
 * host_platform.c - bnn_platform.h on a host OS, so a rendered model (with record.c and the
 * runtime) compiles and runs natively for tests: console to stdout, exit() for the exit code.
 * There is no instruction counter on the host: counts read 0. The stack is not painted.
 */
#include <stdio.h>
#include <stdlib.h>

#include "bnn_platform.h"

const char bnn_count_unit[] = "instructions";

void bnn_write0(const char *s) { fputs(s, stdout); }

void bnn_exit(int code)
{
    fflush(stdout);
    exit(code);
}

void bnn_icount_init(void) {}
uint64_t bnn_icount_now(void) { return 0; }
void bnn_icount_start(void) {}
uint64_t bnn_icount_stop(void) { return 0; }

void bnn_report_count(const char *region, uint64_t count)
{
    bnn_rec_begin("icount");
    bnn_rec_str("region", region);
    bnn_rec_u64(bnn_count_unit, count);
    bnn_rec_end();
}

void bnn_stack_paint(void) {}
uint32_t bnn_stack_size(void) { return 0; }
uint32_t bnn_stack_high_water(void) { return 0; }
