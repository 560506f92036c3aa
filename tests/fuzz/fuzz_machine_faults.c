/* The machine names and fault descriptions the CLI takes (--machine,
 * --fault, --faults FILE: src/machine/machine.c, faults.c). The first byte
 * picks a machine, or (its low bits 7) takes the name from the input up to
 * the first newline; the rest is the fault description, text or JSON. Any
 * input is applied or refused without a crash, a refused description leaves
 * the machine unchanged, and faults only ever remove chips. */
#include <string.h>

#include "fuzz.h"
#include "spindle/machine.h"

static const char *const machines[] = {"spinn3", "spinn5", "3boards", "4x4", "8x6", "spinn5",
                                       "2x2"};

static uint32_t live_links(const spd_machine_t *m) {
  uint32_t n = 0;
  for (uint32_t i = 0; i < m->n_chips; i++)
    n += (uint32_t)__builtin_popcount(m->chips[i].link_mask);
  return n;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size < 1 || size > 65536)
    return 0;
  char *text = malloc(size); /* the rest, NUL-terminated */
  if (!text)
    return 0;
  memcpy(text, data + 1, size - 1);
  text[size - 1] = '\0';
  const char *name = machines[data[0] % 8 < 7 ? data[0] % 8 : 0], *faults = text;
  if (data[0] % 8 == 7) {
    char *nl = strchr(text, '\n');
    name = text;
    faults = nl ? (*nl = '\0', nl + 1) : "";
  }
  spd_ctx_t ctx;
  fuzz_ctx_init(&ctx);
  spd_machine_t *m = NULL;
  if (spd_machine_new(&ctx, name, &m) == 0) {
    uint32_t chips = m->n_chips, links = live_links(m);
    int err = spd_machine_apply_faults(m, faults);
    FUZZ_CHECK(m->n_chips <= chips && live_links(m) <= links);
    FUZZ_CHECK(!err || (m->n_chips == chips && live_links(m) == links));
    spd_machine_free(m);
  }
  free(text);
  return 0;
}
