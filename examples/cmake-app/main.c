/*
 * Example application of a glt-bnn model library.
 *
 * Bare metal (APP_BARE_METAL): classifies APP_IMAGES pseudo-random images (xorshift32 from
 * seed 1, one byte per draw: image i is draws i*APP_INPUT_BYTES ... of one stream) and prints
 * one line per image, "image <i> class <c> logits <l0> <l1> ...", then exits with 0 (or 1 on
 * an error) through semihosting.
 * Host: reads each file given on the command line as one raw image (APP_INPUT_BYTES bytes,
 * HWC uint8) and prints the same line for it.
 */
#include <stdint.h>

#include "app_model.h"

#define APP_IMAGES 4

static uint32_t arena[APP_ARENA_WORDS];  /* the model's working memory: ours to place */
static uint8_t image[APP_INPUT_BYTES];

#ifdef APP_BARE_METAL
void app_write(const char *s);  /* startup.c: semihosting console */

static void put_int(int32_t v)
{
    char buf[13];
    char *p = buf + sizeof(buf) - 1;
    uint32_t u = v < 0 ? 0u - (uint32_t)v : (uint32_t)v;
    *p = '\0';
    do {
        *--p = (char)('0' + u % 10u);
        u /= 10u;
    } while (u);
    if (v < 0)
        *--p = '-';
    app_write(p);
}
#else
#include <stdio.h>
static void app_write(const char *s) { fputs(s, stdout); }
static void put_int(int32_t v) { printf("%ld", (long)v); }
#endif

static int classify_and_print(int32_t index)
{
    int32_t logits[APP_CLASSES];
    int32_t j, cls;
    if (app_model_run(arena, image, logits) != BNN_OK)
        return 1;
    cls = app_model_classify(arena, image);
    if (cls < 0)
        return 1;
    app_write("image ");
    put_int(index);
    app_write(" class ");
    put_int(cls);
    app_write(" logits");
    for (j = 0; j < APP_CLASSES; j++) {
        app_write(" ");
        put_int(logits[j]);
    }
    app_write("\n");
    return 0;
}

#ifdef APP_BARE_METAL
int main(void)
{
    uint32_t state = 1u, n;
    int32_t i;
    for (i = 0; i < APP_IMAGES; i++) {
        for (n = 0; n < APP_INPUT_BYTES; n++) {
            state ^= state << 13;
            state ^= state >> 17;
            state ^= state << 5;
            image[n] = (uint8_t)(state & 0xFFu);
        }
        if (classify_and_print(i) != 0)
            return 1;
    }
    return 0;
}
#else
int main(int argc, char **argv)
{
    int i;
    for (i = 1; i < argc; i++) {
        FILE *f = fopen(argv[i], "rb");
        size_t got;
        if (!f)
            return 2;
        got = fread(image, 1, sizeof(image), f);
        fclose(f);
        if (got != sizeof(image) || classify_and_print(i - 1) != 0)
            return 1;
    }
    return 0;
}
#endif
