/*
 * Two generated models (alpha, beta) linked into one program through their public headers.
 * Prints, as `BNN <tag>` records:
 *   vec    model=<name> i class logits: every test vector of both models;
 *   nested i logits status: alpha run on vector i+1 in a second arena from inside the hook of
 *          alpha's run on vector i (the outer run's result is printed in its vec record), and
 *          beta's class computed there too (beta_class): runs do not share state;
 *   errors misaligned null: the status of alpha_run with a misaligned and a NULL arena.
 * Exits 0 (the Python test compares everything with the oracle).
 */
#include "bnn_platform.h"
#include "alpha.h"
#include "alpha_vectors.h"
#include "beta.h"
#include "beta_vectors.h"

static uint32_t alpha_arena[ALPHA_ARENA_WORDS];
static uint32_t alpha_arena2[ALPHA_ARENA_WORDS];
static uint32_t beta_arena[BETA_ARENA_WORDS];

typedef struct {
    int32_t vector;
    int32_t logits[ALPHA_CLASSES];
    bnn_status status;
    int32_t beta_class;
} nested_run;

static void nest_hook(void *user, int32_t layer, const void *output, uint32_t bytes)
{
    nested_run *n = (nested_run *)user;
    (void)output;
    (void)bytes;
    if (layer == 1) {
        n->status = alpha_run(alpha_arena2,
                              alpha_test_vectors[(n->vector + 1) % ALPHA_TEST_VECTORS], n->logits);
        n->beta_class = beta_classify(beta_arena, beta_test_vectors[n->vector % BETA_TEST_VECTORS]);
    }
}

static void print_vec(const char *model, int32_t i, const int32_t *logits, int32_t n)
{
    int32_t cls = -1;
    bnn_argmax(logits, n, &cls);
    bnn_rec_begin("vec");
    bnn_rec_str("model", model);
    bnn_rec_i32("i", i);
    bnn_rec_i32("class", cls);
    bnn_rec_i32_list("logits", logits, (unsigned)n);
    bnn_rec_end();
}

int main(void)
{
    int32_t alpha_logits[ALPHA_CLASSES], beta_logits[BETA_CLASSES];
    int32_t i;
    uint32_t k;
    bnn_status st;

    for (i = 0; i < ALPHA_TEST_VECTORS; i++) {
        nested_run n;
        n.vector = i;
        n.status = BNN_ERR_BUFFER;
        n.beta_class = -100;
        for (k = 0; k < ALPHA_ARENA_WORDS; k++)
            alpha_arena2[k] = 0xDEADBEEFu ^ k; /* garbage: the arena needs no initialisation */
        st = alpha_run_hooked(alpha_arena, alpha_test_vectors[i], alpha_logits, nest_hook, &n);
        if (st != BNN_OK)
            return 10;
        print_vec("alpha", i, alpha_logits, ALPHA_CLASSES);
        bnn_rec_begin("nested");
        bnn_rec_i32("i", i);
        bnn_rec_i32("status", (int32_t)n.status);
        bnn_rec_i32("beta_class", n.beta_class);
        bnn_rec_i32_list("logits", n.logits, ALPHA_CLASSES);
        bnn_rec_end();
    }
    for (i = 0; i < BETA_TEST_VECTORS; i++) {
        st = beta_run(beta_arena, beta_test_vectors[i], beta_logits);
        if (st != BNN_OK)
            return 11;
        print_vec("beta", i, beta_logits, BETA_CLASSES);
    }
    bnn_rec_begin("errors");
    bnn_rec_i32("misaligned", (int32_t)alpha_run((uint8_t *)alpha_arena + 2, alpha_test_vectors[0],
                                                 alpha_logits));
    bnn_rec_i32("null", (int32_t)alpha_run(0, alpha_test_vectors[0], alpha_logits));
    bnn_rec_i32("classify_null", beta_classify(beta_arena, 0));
    bnn_rec_end();
    return 0;
}
