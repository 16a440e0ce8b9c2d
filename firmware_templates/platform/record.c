/* record.c - "BNN <tag> key=value ..." lines and integer formatting without printf.
 *
 * Text is collected in a static line buffer and sent with one SYS_WRITE0 per flush; a full
 * buffer is flushed early, which only splits the host-side write, not the line. */
#include "bnn_platform.h"

#define LINE_CAPACITY 160u

static char line[LINE_CAPACITY + 1];
static unsigned line_len;

/* Powers of ten by subtraction: no division, so no libgcc divide on v6-M. */
static const uint64_t pow10_u64[20] = {
    10000000000000000000ull, 1000000000000000000ull, 100000000000000000ull,
    10000000000000000ull, 1000000000000000ull, 100000000000000ull, 10000000000000ull,
    1000000000000ull, 100000000000ull, 10000000000ull, 1000000000ull, 100000000ull,
    10000000ull, 1000000ull, 100000ull, 10000ull, 1000ull, 100ull, 10ull, 1ull,
};

unsigned bnn_fmt_u64(char *out, uint64_t v)
{
    unsigned n = 0;
    for (unsigned i = 0; i < 20u; ++i) {
        char digit = '0';
        while (v >= pow10_u64[i]) {
            v -= pow10_u64[i];
            ++digit;
        }
        if (digit != '0' || n != 0u || i == 19u) {
            out[n++] = digit;
        }
    }
    out[n] = '\0';
    return n;
}

unsigned bnn_fmt_u32(char *out, uint32_t v)
{
    return bnn_fmt_u64(out, v);
}

unsigned bnn_fmt_i32(char *out, int32_t v)
{
    if (v < 0) {
        out[0] = '-';
        /* negate in unsigned arithmetic: -INT32_MIN overflows int32 */
        return 1u + bnn_fmt_u32(out + 1, 0u - (uint32_t)v);
    }
    return bnn_fmt_u32(out, (uint32_t)v);
}

unsigned bnn_fmt_hex32(char *out, uint32_t v)
{
    static const char digits[] = "0123456789abcdef";
    out[0] = '0';
    out[1] = 'x';
    for (unsigned i = 0; i < 8u; ++i) {
        out[2u + i] = digits[(v >> (28u - 4u * i)) & 0xfu];
    }
    out[10] = '\0';
    return 10u;
}

void bnn_flush(void)
{
    if (line_len != 0u) {
        line[line_len] = '\0';
        bnn_write0(line);
        line_len = 0u;
    }
}

void bnn_print(const char *s)
{
    while (*s != '\0') {
        if (line_len == LINE_CAPACITY) {
            bnn_flush();
        }
        line[line_len++] = *s++;
    }
}

void bnn_rec_begin(const char *tag)
{
    bnn_print("BNN ");
    bnn_print(tag);
}

static void key_prefix(const char *key)
{
    bnn_print(" ");
    bnn_print(key);
    bnn_print("=");
}

void bnn_rec_str(const char *key, const char *value)
{
    key_prefix(key);
    bnn_print(value);
}

void bnn_rec_u64(const char *key, uint64_t value)
{
    char buf[21];
    bnn_fmt_u64(buf, value);
    bnn_rec_str(key, buf);
}

void bnn_rec_u32(const char *key, uint32_t value)
{
    bnn_rec_u64(key, value);
}

void bnn_rec_i32(const char *key, int32_t value)
{
    char buf[12];
    bnn_fmt_i32(buf, value);
    bnn_rec_str(key, buf);
}

void bnn_rec_hex(const char *key, uint32_t value)
{
    char buf[11];
    bnn_fmt_hex32(buf, value);
    bnn_rec_str(key, buf);
}

void bnn_rec_i32_list(const char *key, const int32_t *values, unsigned n)
{
    char buf[12];
    key_prefix(key);
    for (unsigned i = 0; i < n; ++i) {
        if (i != 0u) {
            bnn_print(",");
        }
        bnn_fmt_i32(buf, values[i]);
        bnn_print(buf);
    }
}

void bnn_rec_u32_list(const char *key, const uint32_t *values, unsigned n)
{
    char buf[21];
    key_prefix(key);
    for (unsigned i = 0; i < n; ++i) {
        if (i != 0u) {
            bnn_print(",");
        }
        bnn_fmt_u32(buf, values[i]);
        bnn_print(buf);
    }
}

void bnn_rec_end(void)
{
    bnn_print("\n");
    bnn_flush();
}
