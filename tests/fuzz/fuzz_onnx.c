/* The ONNX reader (src/io/onnx_read.c, onnx_graph.c, onnx_ops.c): any bytes
 * are decoded and converted without a crash or a leak (no external data: no
 * folder is given); a model that loads is built, with every layer's output
 * shape inferred, and its summary can be written. */
#include "fuzz.h"
#include "spindle/model.h"
#include "spindle/onnx.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  spd_ctx_t ctx;
  fuzz_ctx_init(&ctx);
  spd_model_t *m = NULL;
  if (spd_onnx_parse(&ctx, data, size, NULL, 0, &m))
    return 0;
  FUZZ_CHECK(m->built && m->n_layers >= 1 && m->output >= 0 && m->output < m->n_layers);
  char *text = NULL;
  if (spd_model_summary(m, &text) == 0)
    spd_free(&ctx, text);
  spd_model_free(m);
  return 0;
}
