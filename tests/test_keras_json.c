/* io/: Keras architecture JSON, both forms, Sequential and functional,
 * Keras's defaults, every malformed case, and byte-exact writing. */
#include "test_support.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "spindle/keras.h"
#include "spindle/spindle.h"

static int parse(spd_ctx_t *ctx, const char *json, spd_model_t **m) {
  return spd_keras_json_parse(ctx, json, strlen(json), 1, m);
}

static void expect_failure(const char *json, int code, const char *const *needles) {
  spd_ctx_t ctx;
  spd_ctx_init(&ctx);
  spd_model_t *m = NULL;
  int rc = parse(&ctx, json, &m);
  if (rc != code)
    fprintf(stderr, "got %s (%s) for %s\n", spd_err_name(rc), spd_ctx_message(&ctx), json);
  assert_int_equal(rc, code);
  assert_null(m);
  for (; *needles; needles++) {
    if (!strstr(spd_ctx_message(&ctx), *needles))
      fprintf(stderr, "diagnostic '%s' lacks '%s'\n", spd_ctx_message(&ctx), *needles);
    assert_non_null(strstr(spd_ctx_message(&ctx), *needles));
  }
}

static uint64_t total_params(const spd_model_t *m) {
  uint64_t total;
  spd_model_count_params(m, &total, NULL, NULL);
  return total;
}

static spd_model_t *load_example(spd_ctx_t *ctx, const char *relative) {
  spd_model_t *m = NULL;
  int rc = spd_keras_json_load(ctx, spd_test_source_path(relative), 7, &m);
  if (rc)
    fprintf(stderr, "%s: %s\n", relative, spd_ctx_message(ctx));
  assert_int_equal(rc, 0);
  return m;
}

static void tf2_sequential_mlp(void **state) {
  (void)state;
  spd_ctx_t ctx;
  spd_ctx_init(&ctx);
  spd_model_t *m = load_example(&ctx, "examples/mlp.json");
  assert_string_equal(m->name, "sequential");
  assert_int_equal(m->n_layers, 5);
  assert_string_equal(m->layers[0].config.name, "flatten_input");
  assert_int_equal(m->layers[0].config.kind, SPD_LAYER_INPUT);
  assert_int_equal(m->layers[0].output_shape.rank, 3);
  assert_int_equal(m->layers[0].output_shape.dims[0], 28);
  assert_int_equal(m->layers[1].config.kind, SPD_LAYER_FLATTEN);
  assert_int_equal(m->layers[2].config.units, 256);
  assert_int_equal(m->layers[2].config.activation, SPD_ACT_RELU);
  assert_int_equal(m->layers[4].config.activation, SPD_ACT_SOFTMAX);
  assert_int_equal(m->layers[4].inbound[0], 3);
  assert_int_equal(m->output, 4);
  assert_int_equal(total_params(m), 235146);
  spd_model_free(m);
}

static void tf2_sequential_lenet(void **state) {
  (void)state;
  spd_ctx_t ctx;
  spd_ctx_init(&ctx);
  spd_model_t *m = load_example(&ctx, "examples/lenet5.json");
  assert_int_equal(m->n_layers, 9);
  const spd_layer_config_t *c1 = &m->layers[1].config, *p1 = &m->layers[2].config;
  assert_int_equal(c1->kind, SPD_LAYER_CONV2D);
  assert_int_equal(c1->filters, 6);
  assert_int_equal(c1->kernel_size[0], 5);
  assert_int_equal(c1->kernel_size[1], 5);
  assert_int_equal(c1->padding, SPD_PAD_SAME);
  assert_int_equal(m->layers[3].config.padding, SPD_PAD_VALID);
  assert_int_equal(p1->kind, SPD_LAYER_MAXPOOL2D);
  assert_int_equal(p1->pool_size[0], 2);
  assert_int_equal(p1->strides[1], 2);
  assert_int_equal(m->layers[3].output_shape.dims[0], 10);
  assert_int_equal(m->layers[5].output_shape.dims[0], 400);
  assert_int_equal(total_params(m), 61706);
  spd_model_free(m);
}

static void keras3_sequential_mlp(void **state) {
  (void)state;
  spd_ctx_t ctx;
  spd_ctx_init(&ctx);
  spd_model_t *m = load_example(&ctx, "tests/data/mlp_keras3.json");
  assert_int_equal(m->n_layers, 5);
  assert_string_equal(m->layers[0].config.name, "input_layer");
  assert_string_equal(m->layers[3].config.name, "dense_1");
  assert_int_equal(m->layers[3].config.units, 128);
  assert_int_equal(total_params(m), 235146);
  spd_model_free(m);
}

/* input -> a, b (a branch) -> Add -> out, with output_layers naming out. */
static const char tf2_branch[] =
    "{\"class_name\": \"Functional\", \"config\": {\"name\": \"model\", \"layers\": ["
    "{\"class_name\": \"InputLayer\", \"config\": {\"batch_input_shape\": [null, 8], \"dtype\": "
    "\"float32\", \"sparse\": false, \"ragged\": false, \"name\": \"input_1\"}, \"name\": "
    "\"input_1\", \"inbound_nodes\": []},"
    "{\"class_name\": \"Dense\", \"config\": {\"name\": \"a\", \"units\": 4, \"activation\": "
    "\"tanh\"}, \"name\": \"a\", \"inbound_nodes\": [[[\"input_1\", 0, 0, {}]]]},"
    "{\"class_name\": \"Dense\", \"config\": {\"name\": \"b\", \"units\": 4, \"use_bias\": false},"
    " \"name\": \"b\", \"inbound_nodes\": [[[\"input_1\", 0, 0, {}]]]},"
    "{\"class_name\": \"Add\", \"config\": {\"name\": \"add\"}, \"name\": \"add\", "
    "\"inbound_nodes\": [[[\"a\", 0, 0, {}], [\"b\", 0, 0, {}]]]},"
    "{\"class_name\": \"Dense\", \"config\": {\"name\": \"out\", \"units\": 2}, \"name\": \"out\","
    " \"inbound_nodes\": [[[\"add\", 0, 0, {}]]]}],"
    " \"input_layers\": [[\"input_1\", 0, 0]], \"output_layers\": [[\"out\", 0, 0]]}, "
    "\"keras_version\": \"2.11.0\", \"backend\": \"tensorflow\"}";

static const char keras3_branch[] =
    "{\"module\": \"keras.src.models.functional\", \"class_name\": \"Functional\", \"config\": "
    "{\"name\": \"functional\", \"trainable\": true, \"layers\": ["
    "{\"module\": \"keras.layers\", \"class_name\": \"InputLayer\", \"config\": {\"batch_shape\": "
    "[null, 8], \"dtype\": \"float32\", \"name\": \"input_layer\"}, \"registered_name\": null, "
    "\"name\": \"input_layer\", \"inbound_nodes\": []},"
    "{\"module\": \"keras.layers\", \"class_name\": \"Dense\", \"config\": {\"name\": \"a\", "
    "\"dtype\": {\"module\": \"keras\", \"class_name\": \"DTypePolicy\", \"config\": {\"name\": "
    "\"float32\"}, \"registered_name\": null}, \"units\": 4}, \"name\": \"a\", \"inbound_nodes\": "
    "[{\"args\": [{\"class_name\": \"__keras_tensor__\", \"config\": {\"shape\": [null, 8], "
    "\"dtype\": \"float32\", \"keras_history\": [\"input_layer\", 0, 0]}}], \"kwargs\": {}}]},"
    "{\"module\": \"keras.layers\", \"class_name\": \"Dense\", \"config\": {\"name\": \"b\", "
    "\"units\": 4}, \"name\": \"b\", \"inbound_nodes\": [{\"args\": [{\"class_name\": "
    "\"__keras_tensor__\", \"config\": {\"keras_history\": [\"input_layer\", 0, 0]}}], "
    "\"kwargs\": {}}]},"
    "{\"module\": \"keras.layers\", \"class_name\": \"Add\", \"config\": {\"name\": \"add\"}, "
    "\"name\": \"add\", \"inbound_nodes\": [{\"args\": [[{\"class_name\": \"__keras_tensor__\", "
    "\"config\": {\"keras_history\": [\"a\", 0, 0]}}, {\"class_name\": \"__keras_tensor__\", "
    "\"config\": {\"keras_history\": [\"b\", 0, 0]}}]], \"kwargs\": {}}]},"
    "{\"module\": \"keras.layers\", \"class_name\": \"Dense\", \"config\": {\"name\": \"out\", "
    "\"units\": 2}, \"name\": \"out\", \"inbound_nodes\": [{\"args\": [{\"class_name\": "
    "\"__keras_tensor__\", \"config\": {\"keras_history\": [\"add\", 0, 0]}}], \"kwargs\": {}}]}],"
    " \"input_layers\": [\"input_layer\", 0, 0], \"output_layers\": [\"out\", 0, 0]}, "
    "\"registered_name\": \"Functional\"}";

static void check_branch(const spd_model_t *m) {
  assert_int_equal(m->n_layers, 5);
  int add = spd_model_find(m, "add");
  assert_int_equal(add, 3);
  assert_int_equal(m->layers[add].config.kind, SPD_LAYER_ADD);
  assert_int_equal(m->layers[add].n_inbound, 2);
  assert_int_equal(m->layers[add].inbound[0], spd_model_find(m, "a"));
  assert_int_equal(m->layers[add].inbound[1], spd_model_find(m, "b"));
  assert_int_equal(m->layers[spd_model_find(m, "b")].inbound[0], 0);
  assert_int_equal(m->output, spd_model_find(m, "out"));
  /* a: 8*4+4, b: 8*4 (use_bias false in tf2 form) or +4, out: 4*2+2 */
  assert_true(total_params(m) == 36 + 32 + 10 || total_params(m) == 36 + 36 + 10);
}

static void functional_with_branch_and_add(void **state) {
  (void)state;
  spd_ctx_t ctx;
  spd_ctx_init(&ctx);
  spd_model_t *m = NULL;
  assert_int_equal(parse(&ctx, tf2_branch, &m), 0);
  check_branch(m);
  assert_int_equal(m->layers[1].config.activation, SPD_ACT_TANH);
  assert_false(m->layers[2].config.use_bias);
  assert_int_equal(total_params(m), 78);
  spd_model_free(m);
  assert_int_equal(parse(&ctx, keras3_branch, &m), 0);
  check_branch(m);
  assert_int_equal(total_params(m), 82);
  spd_model_free(m);
}

static void defaults_applied(void **state) {
  (void)state;
  spd_ctx_t ctx;
  spd_ctx_init(&ctx);
  spd_model_t *m = NULL;
  const char *json =
      "{\"class_name\": \"Sequential\", \"config\": {\"layers\": ["
      "{\"class_name\": \"Conv2D\", \"config\": {\"name\": \"c\", \"filters\": 3, \"kernel_size\": "
      "3, \"batch_input_shape\": [null, 9, 9, 2], \"kernel_initializer\": {\"class_name\": "
      "\"VarianceScaling\", \"config\": {\"scale\": 2.0, \"mode\": \"fan_in\", \"distribution\": "
      "\"truncated_normal\", \"seed\": null}}}},"
      "{\"class_name\": \"AveragePooling2D\", \"config\": {\"name\": \"p\", \"pool_size\": 3}},"
      "{\"class_name\": \"BatchNormalization\", \"config\": {\"name\": \"bn\", \"axis\": [3]}},"
      "{\"class_name\": \"LeakyReLU\", \"config\": {\"name\": \"lr\"}},"
      "{\"class_name\": \"Dropout\", \"config\": {\"name\": \"dr\", \"rate\": 0.25}},"
      "{\"class_name\": \"GlobalAveragePooling2D\", \"config\": {\"name\": \"g\"}},"
      "{\"class_name\": \"Reshape\", \"config\": {\"name\": \"r\", \"target_shape\": [3, -1]}},"
      "{\"class_name\": \"Flatten\", \"config\": {\"name\": \"f\"}},"
      "{\"class_name\": \"Dense\", \"config\": {\"name\": \"d\", \"units\": 2, \"activation\": "
      "\"elu\", \"kernel_initializer\": \"he_uniform\"}}]}}";
  int rc = parse(&ctx, json, &m);
  if (rc)
    fprintf(stderr, "%s\n", spd_ctx_message(&ctx));
  assert_int_equal(rc, 0);
  assert_string_equal(m->layers[0].config.name, "c_input");
  const spd_layer_config_t *c = &m->layers[1].config;
  assert_int_equal(c->strides[0], 1);
  assert_int_equal(c->dilation_rate[1], 1);
  assert_int_equal(c->padding, SPD_PAD_VALID);
  assert_true(c->use_bias);
  assert_int_equal(c->activation, SPD_ACT_LINEAR);
  assert_int_equal(c->kernel_initializer, SPD_INIT_HE_NORMAL);
  assert_int_equal(c->bias_initializer, SPD_INIT_ZEROS);
  assert_int_equal(m->layers[2].config.strides[0], 3); /* strides default to pool_size */
  assert_int_equal(m->layers[2].output_shape.dims[0], 2);
  const spd_layer_config_t *bn = &m->layers[3].config;
  assert_true(bn->momentum > 0.989f && bn->momentum < 0.991f);
  assert_true(bn->epsilon > 0.00099f && bn->epsilon < 0.00101f);
  assert_true(bn->center && bn->scale);
  assert_int_equal(m->layers[3].n_params, 4);
  assert_int_equal(m->layers[4].config.activation, SPD_ACT_LEAKY_RELU);
  assert_true(m->layers[4].config.negative_slope > 0.29f && m->layers[4].config.negative_slope < 0.31f);
  assert_true(m->layers[5].config.rate == 0.25f);
  assert_int_equal(m->layers[7].output_shape.dims[1], 1);
  assert_int_equal(m->layers[9].config.activation, SPD_ACT_ELU);
  assert_int_equal(m->layers[9].config.kernel_initializer, SPD_INIT_HE_UNIFORM);
  spd_model_free(m);
}

static void invalid_json(void **state) {
  (void)state;
  const char *at_2_9[] = {"invalid JSON", "line 2, column 11", NULL};
  expect_failure("{\"class_name\": \"Sequential\",\n \"config\" {}}", SPD_EFORMAT, at_2_9);
  const char *end[] = {"unexpected end", NULL};
  expect_failure("{\"class_name\": \"Sequential\", \"config\": {\"layers\": [", SPD_EFORMAT, end);
  const char *top[] = {"top level", NULL};
  expect_failure("[1, 2]", SPD_EFORMAT, top);
}

#define SEQ(layers)                                                                              \
  "{\"class_name\": \"Sequential\", \"config\": {\"name\": \"s\", \"layers\": [{\"class_name\": " \
  "\"InputLayer\", \"config\": {\"batch_input_shape\": [null, 6, 6, 2], \"name\": \"in\"}}, " layers "]}}"

static void unknown_layer_class(void **state) {
  (void)state;
  const char *needles[] = {"'LSTM'", "'lstm_3'", NULL};
  expect_failure(SEQ("{\"class_name\": \"LSTM\", \"config\": {\"name\": \"lstm_3\", \"units\": 3}}"),
                 SPD_EUNSUPPORTED, needles);
  const char *model[] = {"'Bidirectional'", NULL};
  expect_failure("{\"class_name\": \"Bidirectional\", \"config\": {\"layers\": []}}",
                 SPD_EUNSUPPORTED, model);
  const char *act[] = {"'mish'", "'d'", NULL};
  expect_failure(SEQ("{\"class_name\": \"Dense\", \"config\": {\"name\": \"d\", \"units\": 3, "
                     "\"activation\": \"mish\"}}"), SPD_EUNSUPPORTED, act);
}

static void missing_required_field(void **state) {
  (void)state;
  const char *units[] = {"'d'", "'units'", NULL};
  expect_failure(SEQ("{\"class_name\": \"Dense\", \"config\": {\"name\": \"d\"}}"), SPD_EFORMAT,
                 units);
  const char *kernel[] = {"'c'", "'kernel_size'", NULL};
  expect_failure(SEQ("{\"class_name\": \"Conv2D\", \"config\": {\"name\": \"c\", \"filters\": 2}}"),
                 SPD_EFORMAT, kernel);
  const char *layers[] = {"'layers'", NULL};
  expect_failure("{\"class_name\": \"Sequential\", \"config\": {\"name\": \"s\"}}", SPD_EFORMAT,
                 layers);
  const char *shape[] = {"input shape", NULL};
  expect_failure("{\"class_name\": \"Sequential\", \"config\": {\"layers\": [{\"class_name\": "
                 "\"Dense\", \"config\": {\"name\": \"d\", \"units\": 2}}]}}", SPD_EFORMAT, shape);
  const char *typed[] = {"'units'", "integer", NULL};
  expect_failure(SEQ("{\"class_name\": \"Dense\", \"config\": {\"name\": \"d\", \"units\": \"8\"}}"),
                 SPD_EFORMAT, typed);
  const char *inbound[] = {"'d'", "'inbound_nodes'", NULL};
  expect_failure("{\"class_name\": \"Functional\", \"config\": {\"layers\": [{\"class_name\": "
                 "\"InputLayer\", \"config\": {\"batch_input_shape\": [null, 3]}, \"name\": \"i\", "
                 "\"inbound_nodes\": []}, {\"class_name\": \"Dense\", \"config\": {\"units\": 2}, "
                 "\"name\": \"d\"}]}}", SPD_EFORMAT, inbound);
  const char *dangling[] = {"'nowhere'", NULL};
  expect_failure("{\"class_name\": \"Functional\", \"config\": {\"layers\": [{\"class_name\": "
                 "\"InputLayer\", \"config\": {\"batch_input_shape\": [null, 3]}, \"name\": \"i\", "
                 "\"inbound_nodes\": []}, {\"class_name\": \"Dense\", \"config\": {\"units\": 2}, "
                 "\"name\": \"d\", \"inbound_nodes\": [[[\"nowhere\", 0, 0, {}]]]}]}}",
                 SPD_EFORMAT, dangling);
}

static void unsupported_arguments(void **state) {
  (void)state;
  const char *df[] = {"'c'", "channels_first", NULL};
  expect_failure(SEQ("{\"class_name\": \"Conv2D\", \"config\": {\"name\": \"c\", \"filters\": 2, "
                     "\"kernel_size\": [3, 3], \"data_format\": \"channels_first\"}}"),
                 SPD_EUNSUPPORTED, df);
  const char *axis[] = {"'bn'", "axis 1", NULL};
  expect_failure(SEQ("{\"class_name\": \"BatchNormalization\", \"config\": {\"name\": \"bn\", "
                     "\"axis\": 1}}"), SPD_EUNSUPPORTED, axis);
  const char *reg[] = {"'d'", "kernel_regularizer", NULL};
  expect_failure(SEQ("{\"class_name\": \"Dense\", \"config\": {\"name\": \"d\", \"units\": 3, "
                     "\"kernel_regularizer\": {\"class_name\": \"L2\", \"config\": {\"l2\": 0.01}}}}"),
                 SPD_EUNSUPPORTED, reg);
  const char *shared[] = {"'d'", "2 times", NULL};
  expect_failure("{\"class_name\": \"Functional\", \"config\": {\"layers\": [{\"class_name\": "
                 "\"InputLayer\", \"config\": {\"batch_input_shape\": [null, 3]}, \"name\": \"i\", "
                 "\"inbound_nodes\": []}, {\"class_name\": \"Dense\", \"config\": {\"units\": 3}, "
                 "\"name\": \"d\", \"inbound_nodes\": [[[\"i\", 0, 0, {}]], [[\"d\", 0, 0, {}]]]}]}}",
                 SPD_EUNSUPPORTED, shared);
  const char *dtype[] = {"'d'", "float16", NULL};
  expect_failure(SEQ("{\"class_name\": \"Dense\", \"config\": {\"name\": \"d\", \"units\": 3, "
                     "\"dtype\": \"float16\"}}"), SPD_EUNSUPPORTED, dtype);
  const char *shape[] = {"'f'", NULL};
  expect_failure(SEQ("{\"class_name\": \"Conv2D\", \"config\": {\"name\": \"f\", \"filters\": 1, "
                     "\"kernel_size\": 9}}"), SPD_ESHAPE, shape);
}

static char *format(const spd_model_t *m, spd_keras_json_form_t form) {
  char *text = NULL;
  assert_int_equal(spd_keras_json_format(m, form, &text), 0);
  return text;
}

/* spindle writes what tf.keras 2 and Keras 3 write, byte for byte. */
static void writes_keras_bytes(void **state) {
  (void)state;
  static const char *const files[] = {"examples/mlp.json", "examples/lenet5.json",
                                      "tests/data/mlp_keras3.json"};
  for (int i = 0; i < 3; i++) {
    spd_ctx_t ctx;
    spd_ctx_init(&ctx);
    spd_model_t *m = load_example(&ctx, files[i]);
    size_t len;
    char *want = spd_test_read_file(spd_test_source_path(files[i]), &len);
    char *text = format(m, i == 2 ? SPD_KERAS_JSON_KERAS3 : SPD_KERAS_JSON_TF2);
    assert_string_equal(text, want);
    free(want);
    spd_free(&ctx, text);
    spd_model_free(m);
  }
}

/* Functional models survive tf2 -> text -> model and Keras 3 -> text -> model. */
static void functional_round_trip(void **state) {
  (void)state;
  spd_ctx_t ctx;
  spd_ctx_init(&ctx);
  spd_model_t *m = NULL, *back = NULL;
  assert_int_equal(parse(&ctx, tf2_branch, &m), 0);
  for (int form = SPD_KERAS_JSON_TF2; form <= SPD_KERAS_JSON_KERAS3; form++) {
    char *text = format(m, (spd_keras_json_form_t)form);
    assert_non_null(strstr(text, form == SPD_KERAS_JSON_TF2 ? "[[[\"a\", 0, 0, {}], [\"b\", 0, 0, {}]]]"
                                                            : "\"keras_history\": [\"b\", 0, 0]"));
    assert_int_equal(parse(&ctx, text, &back), 0);
    check_branch(back);
    assert_int_equal(total_params(back), 78);
    spd_model_free(back);
    spd_free(&ctx, text);
  }
  spd_model_free(m);
}

/* The activation layers and activations of issue 12 (part 4), and the
 * layers added as descriptors only: read with their arguments, written
 * back in both forms as the same classes, and read again alike. */
static void activation_and_padding_layers(void **state) {
  (void)state;
  spd_ctx_t ctx;
  spd_ctx_init(&ctx);
  spd_model_t *m = NULL, *back = NULL;
  const char *json = SEQ(
      "{\"class_name\": \"ZeroPadding2D\", \"config\": {\"name\": \"zp\", \"padding\": "
      "[[1, 2], [0, 3]]}}, "
      "{\"class_name\": \"Conv2D\", \"config\": {\"name\": \"c\", \"filters\": 4, "
      "\"kernel_size\": 3}}, "
      "{\"class_name\": \"ReLU\", \"config\": {\"name\": \"r\", \"max_value\": 4.0, "
      "\"negative_slope\": 0.1, \"threshold\": 0.5}}, "
      "{\"class_name\": \"GlobalMaxPooling2D\", \"config\": {\"name\": \"g\"}}, "
      "{\"class_name\": \"Dense\", \"config\": {\"name\": \"d\", \"units\": 8}}, "
      "{\"class_name\": \"ELU\", \"config\": {\"name\": \"e\", \"alpha\": 0.5}}, "
      "{\"class_name\": \"Activation\", \"config\": {\"name\": \"a1\", \"activation\": \"gelu\"}}, "
      "{\"class_name\": \"Activation\", \"config\": {\"name\": \"a2\", \"activation\": \"silu\"}}, "
      "{\"class_name\": \"Activation\", \"config\": {\"name\": \"a3\", \"activation\": \"selu\"}}, "
      "{\"class_name\": \"ReLU\", \"config\": {\"name\": \"r2\", \"negative_slope\": 0.25}}, "
      "{\"class_name\": \"ReLU\", \"config\": {\"name\": \"r3\", \"max_value\": 6}}, "
      "{\"class_name\": \"Softmax\", \"config\": {\"name\": \"s\"}}");
  int rc = parse(&ctx, json, &m);
  if (rc)
    fprintf(stderr, "%s\n", spd_ctx_message(&ctx));
  assert_int_equal(rc, 0);
  for (int form = SPD_KERAS_JSON_TF2; form <= SPD_KERAS_JSON_KERAS3 + 1; form++) {
    const spd_model_t *t = m;
    char *text = NULL;
    if (form <= SPD_KERAS_JSON_KERAS3) { /* the last pass checks what was read back */
      text = format(m, (spd_keras_json_form_t)form);
      assert_non_null(strstr(text, "\"class_name\": \"ZeroPadding2D\""));
      assert_non_null(strstr(text, "\"padding\": [[1, 2], [0, 3]]"));
      assert_non_null(strstr(text, "\"class_name\": \"ELU\""));
      assert_int_equal(parse(&ctx, text, &back), 0);
      t = back;
    }
    assert_int_equal(t->layers[1].config.kind, SPD_LAYER_ZEROPAD2D);
    assert_int_equal(t->layers[1].output_shape.dims[0], 9);
    assert_int_equal(t->layers[1].output_shape.dims[1], 9);
    const spd_layer_config_t *r = &t->layers[3].config;
    assert_int_equal(r->activation, SPD_ACT_RELU_ARGS);
    assert_true(r->relu_max_value == 4.0f && r->relu_threshold == 0.5f &&
                r->negative_slope == 0.1f);
    assert_int_equal(t->layers[4].config.kind, SPD_LAYER_GLOBALMAXPOOL2D);
    assert_int_equal(t->layers[4].output_shape.dims[0], 4);
    assert_int_equal(t->layers[6].config.activation, SPD_ACT_ELU);
    assert_true(t->layers[6].config.elu_alpha == 0.5f);
    assert_int_equal(t->layers[7].config.activation, SPD_ACT_GELU);
    assert_int_equal(t->layers[8].config.activation, SPD_ACT_SWISH);
    assert_int_equal(t->layers[9].config.activation, SPD_ACT_SELU);
    assert_int_equal(t->layers[10].config.activation, SPD_ACT_LEAKY_RELU);
    assert_true(t->layers[10].config.negative_slope == 0.25f);
    assert_int_equal(t->layers[11].config.activation, SPD_ACT_RELU6);
    assert_int_equal(t->layers[12].config.activation, SPD_ACT_SOFTMAX);
    if (text) {
      spd_model_free(back);
      spd_free(&ctx, text);
    }
  }
  spd_model_free(m);
  const char *neg[] = {"'r'", "'threshold'", NULL};
  expect_failure(SEQ("{\"class_name\": \"Flatten\", \"config\": {\"name\": \"f\"}}, "
                     "{\"class_name\": \"ReLU\", \"config\": {\"name\": \"r\", "
                     "\"threshold\": -1}}"), SPD_EFORMAT, neg);
  const char *pad[] = {"'zp'", "'padding'", NULL};
  expect_failure(SEQ("{\"class_name\": \"ZeroPadding2D\", \"config\": {\"name\": \"zp\", "
                     "\"padding\": [1, 2, 3]}}"), SPD_EFORMAT, pad);
}

/* Every allocation may fail: the reader reports SPD_ENOMEM and leaks nothing. */
static void allocation_failures(void **state) {
  (void)state;
  size_t len;
  char *text = spd_test_read_file(spd_test_source_path("examples/lenet5.json"), &len);
  for (uint64_t n = 1;; n++) {
    spd_ctx_t ctx;
    spd_ctx_init(&ctx);
    spd_test_alloc_t ta;
    spd_test_alloc_install(&ctx, &ta, n);
    spd_model_t *m = NULL;
    int rc = spd_keras_json_parse(&ctx, text, len, 3, &m);
    if (rc == 0) {
      char *out = NULL;
      rc = spd_keras_json_format(m, SPD_KERAS_JSON_TF2, &out);
      spd_free(&ctx, out);
      spd_model_free(m);
    }
    assert_int_equal(ta.live, 0);
    if (ta.failed == 0) {
      assert_int_equal(rc, 0);
      break;
    }
    assert_int_equal(rc, SPD_ENOMEM);
  }
  free(text);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(tf2_sequential_mlp),
      cmocka_unit_test(tf2_sequential_lenet),
      cmocka_unit_test(keras3_sequential_mlp),
      cmocka_unit_test(functional_with_branch_and_add),
      cmocka_unit_test(defaults_applied),
      cmocka_unit_test(invalid_json),
      cmocka_unit_test(unknown_layer_class),
      cmocka_unit_test(missing_required_field),
      cmocka_unit_test(unsupported_arguments),
      cmocka_unit_test(writes_keras_bytes),
      cmocka_unit_test(functional_round_trip),
      cmocka_unit_test(activation_and_padding_layers),
      cmocka_unit_test(allocation_failures),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
