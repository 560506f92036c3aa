/* The umbrella header: it compiles on its own, before anything else, and it
 * names every public header of include/spindle/. */
#include "spindle/spindle.h"

#include "test_support.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void test_includes_every_public_header(void **state) {
  (void)state;
  char *umbrella = spd_test_read_file(spd_test_source_path("include/spindle/spindle.h"), NULL);
  DIR *dir = opendir(spd_test_source_path("include/spindle"));
  assert_non_null(dir);
  int n_headers = 0;
  for (struct dirent *e; (e = readdir(dir)) != NULL;) {
    size_t len = strlen(e->d_name);
    if (len < 3 || strcmp(e->d_name + len - 2, ".h") != 0 ||
        strcmp(e->d_name, "spindle.h") == 0)
      continue;
    char line[300];
    snprintf(line, sizeof line, "#include \"spindle/%s\"", e->d_name);
    if (!strstr(umbrella, line))
      fail_msg("spindle.h does not include %s", e->d_name);
    n_headers++;
  }
  closedir(dir);
  free(umbrella);
  assert_true(n_headers >= 20);
}

/* A few declarations from different layers, reached through spindle.h only. */
static void test_declarations_reachable(void **state) {
  (void)state;
  assert_string_equal(spd_err_name(SPD_ENOMEM), "SPD_ENOMEM");
  spd_ctx_t ctx;
  spd_ctx_init(&ctx);
  assert_int_equal(spd_ctx_fail(&ctx, SPD_EINVAL, "umbrella"), SPD_EINVAL);
  assert_string_equal(spd_ctx_message(&ctx), "umbrella");
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_includes_every_public_header),
      cmocka_unit_test(test_declarations_reachable),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
