/* The ONNX reader under allocation failure: every allocation of a small
 * graph of the torchvision operators (tests/fuzz/corpus/onnx), protobuf-c's
 * decoding included, fails once in turn; each run fails with SPD_ENOMEM and
 * leaves nothing allocated, and the run without a failure loads the model.
 * Then what the loaded model holds: the channels-first door. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include <cmocka.h>

#include "spindle/model.h"
#include "spindle/onnx.h"

#define SMALL "fuzz/corpus/onnx/small_opset13.onnx"

static uint8_t *read_all(const char *path, size_t *len) {
  FILE *f = fopen(path, "rb");
  assert_non_null(f);
  fseek(f, 0, SEEK_END);
  *len = (size_t)ftell(f);
  fseek(f, 0, SEEK_SET);
  uint8_t *data = malloc(*len);
  assert_non_null(data);
  assert_int_equal(fread(data, 1, *len, f), *len);
  fclose(f);
  return data;
}

static void allocation_failures_leak_nothing(void **state) {
  (void)state;
  size_t len;
  uint8_t *data = read_all(SMALL, &len);
  int succeeded = 0;
  for (uint64_t fail_at = 1; !succeeded; fail_at++) {
    spd_ctx_t ctx;
    spd_ctx_init(&ctx);
    spd_test_alloc_t ta;
    spd_test_alloc_install(&ctx, &ta, fail_at);
    spd_model_t *m = NULL;
    int rc = spd_onnx_parse(&ctx, data, len, NULL, 0, &m);
    if (rc == 0) {
      succeeded = ta.failed == 0;
      spd_model_free(m);
    } else {
      assert_int_equal(rc, SPD_ENOMEM);
      assert_null(m);
    }
    assert_int_equal(ta.live, 0);
    assert_true(fail_at < 5000);
  }
  free(data);
}

/* The graph: (N, 3, 9, 9) in, Pad + Conv stride 2, BatchNormalization,
 * Clip(0, 6), a depthwise Conv, Relu, Concat, MaxPool ceil_mode, global
 * pooling, Gemm to 5 outputs. */
static void small_graph_as_layers(void **state) {
  (void)state;
  size_t len;
  uint8_t *data = read_all(SMALL, &len);
  spd_ctx_t ctx;
  spd_ctx_init(&ctx);
  spd_model_t *m = NULL;
  assert_int_equal(spd_onnx_parse(&ctx, data, len, NULL, 0, &m), 0);
  assert_true(m->channels_first);
  assert_int_equal(m->output_channels_last.rank, 0); /* logits: no transposition */
  const spd_shape_t *in = &m->layers[0].output_shape;
  assert_int_equal(in->rank, 3);
  assert_int_equal(in->dims[2], 3);
  int conv = spd_model_find(m, "c1"), dw = spd_model_find(m, "dw"), cat = spd_model_find(m, "cat");
  int mp = spd_model_find(m, "mp");
  assert_true(conv > 0 && dw > conv && cat > dw && mp > cat);
  const spd_layer_config_t *c = &m->layers[conv].config;
  /* Pad (1 on every side) folded into the Conv: exactly TensorFlow's same
   * for 9 positions, kernel 3, stride 2, so it is written as same. */
  assert_int_equal(c->padding, SPD_PAD_SAME);
  assert_int_equal(m->layers[conv].output_shape.dims[0], 5);
  assert_int_equal(m->layers[dw].config.groups, 4);
  assert_int_equal(m->layers[dw].config.activation, SPD_ACT_RELU);
  assert_int_equal(m->layers[cat].output_shape.dims[2], 8);
  /* 3x3 stride 2 over 5 rows: 2 windows with or without ceil_mode, which
   * adds none here and is dropped (so the model has a Keras form). */
  assert_int_equal(m->layers[mp].output_shape.dims[0], 2);
  assert_false(m->layers[mp].config.ceil_mode);
  /* The Conv kernel (M, C, kh, kw) became (kh, kw, C, M). */
  assert_int_equal(m->layers[conv].params[0].value.shape.dims[3], 4);
  assert_int_equal(m->layers[conv].params[0].value.shape.dims[2], 3);
  spd_model_free(m);
  free(data);
}

/* NCHW in, channels last to the layers: element (c, h, w) of a sample goes
 * to (h, w, c). */
static void input_door_transposes(void **state) {
  (void)state;
  size_t len;
  uint8_t *data = read_all(SMALL, &len);
  spd_ctx_t ctx;
  spd_ctx_init(&ctx);
  spd_model_t *m = NULL;
  assert_int_equal(spd_onnx_parse(&ctx, data, len, NULL, 0, &m), 0);
  float in[3 * 9 * 9], out[3 * 9 * 9];
  for (int i = 0; i < 3 * 81; i++)
    in[i] = (float)i;
  spd_model_input_channels_last(m, in, out);
  for (int c = 0; c < 3; c++)
    for (int p = 0; p < 81; p++)
      assert_true(out[p * 3 + c] == in[c * 81 + p]);
  spd_model_free(m);
  free(data);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(allocation_failures_leak_nothing),
      cmocka_unit_test(small_graph_as_layers),
      cmocka_unit_test(input_door_transposes),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
