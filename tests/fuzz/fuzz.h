/* What every fuzz harness shares: a quiet context per input, and the tiny
 * model the weights readers load into. Each harness defines
 * LLVMFuzzerTestOneInput; libFuzzer drives it in the fuzz build (make fuzz),
 * replay.c over the seed corpus and the regressions in every other build. */
#ifndef SPINDLE_TESTS_FUZZ_H
#define SPINDLE_TESTS_FUZZ_H

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "spindle/context.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv);

/* A context that formats no log messages: the library's warnings would
 * otherwise go to stderr for every input. */
static inline void fuzz_ctx_init(spd_ctx_t *ctx) {
  spd_ctx_init(ctx);
  ctx->log_level = SPD_LOG_ERROR + 1;
}

/* A property the harness checks failed: abort so libFuzzer keeps the input. */
#define FUZZ_CHECK(cond)                                                     \
  do {                                                                       \
    if (!(cond))                                                             \
      abort();                                                               \
  } while (0)

/* Read every byte of @p n at @p p, so ASan checks the buffer is that long. */
static volatile unsigned char fuzz_sink;
static inline void fuzz_touch(const void *p, size_t n) {
  for (size_t i = 0; i < n; i++)
    fuzz_sink ^= ((const unsigned char *)p)[i];
}

/* tests/fuzz/corpus/tiny.json (make_corpus.py writes the weight seeds from
 * it): every layer kind with weights, small enough to fuzz fast. */
#define FUZZ_TINY_MODEL                                                                        \
  "{\"class_name\": \"Sequential\", \"config\": {\"name\": \"tiny\", \"layers\": ["             \
  "{\"class_name\": \"InputLayer\", \"config\": {\"batch_input_shape\": [null, 6, 6, 1], "      \
  "\"name\": \"in\"}}, "                                                                       \
  "{\"class_name\": \"Conv2D\", \"config\": {\"name\": \"conv2d\", \"filters\": 2, "            \
  "\"kernel_size\": [3, 3], \"activation\": \"relu\"}}, "                                      \
  "{\"class_name\": \"BatchNormalization\", \"config\": {\"name\": \"batch_normalization\"}}, " \
  "{\"class_name\": \"MaxPooling2D\", \"config\": {\"name\": \"max_pooling2d\", "               \
  "\"pool_size\": [2, 2]}}, "                                                                  \
  "{\"class_name\": \"Flatten\", \"config\": {\"name\": \"flatten\"}}, "                        \
  "{\"class_name\": \"Dense\", \"config\": {\"name\": \"dense\", \"units\": 3, "                \
  "\"activation\": \"softmax\"}}]}}"

#endif
