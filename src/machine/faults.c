/* Fault descriptions: dead chips, cores and links, as text or JSON.
 *
 * A description is read twice: the first pass checks every fault against the
 * machine and changes nothing, the second applies them. So a description with
 * one bad line leaves the machine as it was, and applying needs no memory.
 *
 * A dead monitor (core 0) makes the whole chip unusable: the monitor runs
 * SC&MP, which boots the chip, loads its router and carries all host traffic
 * to it (SPINNAKER.md #1, §3), so the chip is treated as dead. */
#include <cjson/cJSON.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "machine/geometry.h"

typedef enum fault_kind { FAULT_CHIP, FAULT_CORE, FAULT_LINK } fault_kind_t;

typedef struct fault {
  fault_kind_t kind;
  int x, y;
  int arg; /* core number or link */
} fault_t;

#define LINE_MAX_CHARS 256

static bool chip_alive(const spd_chip_t *c) { return c->core_mask != 0; }

/* The live chip at (x, y), skipping chips killed earlier in this pass. */
static spd_chip_t *live_chip(spd_machine_t *m, int x, int y) {
  int32_t i = spd_machine_chip_index(m, x, y);
  return (i >= 0 && chip_alive(&m->chips[i])) ? &m->chips[i] : NULL;
}

/* Clears link @p l of (x, y) and the opposite link of its neighbour. */
static void cut_link(spd_machine_t *m, int x, int y, spd_link_t l) {
  spd_chip_t *c = live_chip(m, x, y);
  if (c)
    c->link_mask &= (uint8_t)~(1u << l);
  int nx, ny;
  if (!spd__machine_step(m, x, y, l, &nx, &ny))
    return;
  spd_chip_t *n = live_chip(m, nx, ny);
  if (n)
    n->link_mask &= (uint8_t)~(1u << spd_link_opposite(l));
}

/* Marks a chip dead (no cores); it leaves the dense array in compact(). */
static void kill_chip(spd_machine_t *m, int x, int y) {
  spd_chip_t *c = live_chip(m, x, y);
  if (!c)
    return;
  for (int l = 0; l < SPD_LINKS; l++)
    cut_link(m, x, y, (spd_link_t)l);
  c->core_mask = 0;
  c->link_mask = 0;
}

static void apply_fault(spd_machine_t *m, const fault_t *f) {
  spd_chip_t *c = live_chip(m, f->x, f->y);
  if (!c)
    return; /* killed by an earlier fault of the same description */
  if (f->kind == FAULT_CHIP || (f->kind == FAULT_CORE && f->arg == SPD_MONITOR_CORE))
    kill_chip(m, f->x, f->y);
  else if (f->kind == FAULT_CORE)
    c->core_mask &= ~(1u << f->arg);
  else
    cut_link(m, f->x, f->y, (spd_link_t)f->arg);
}

/* Drops dead chips from the dense array, keeping the order of the rest. */
static void compact(spd_machine_t *m) {
  uint32_t kept = 0;
  for (uint32_t i = 0; i < m->n_chips; i++) {
    spd_chip_t c = m->chips[i];
    int32_t cell = spd__machine_cell(m, c.x, c.y);
    if (!chip_alive(&c)) {
      m->chip_at[cell] = -1;
      continue;
    }
    m->chips[kept] = c;
    m->chip_at[cell] = (int32_t)kept++;
  }
  m->n_chips = kept;
}

/* Checks one fault against the machine; @p where names its source. */
static int check_fault(spd_machine_t *m, const fault_t *f, const char *where) {
  if (spd_machine_chip_index(m, f->x, f->y) < 0)
    return spd_ctx_fail(m->ctx, SPD_EINVAL,
                        "%s: chip (%d,%d) is not a working chip of machine '%s'",
                        where, f->x, f->y, m->name);
  if (f->kind == FAULT_CORE && (f->arg < 0 || f->arg >= SPD_CORES_PER_CHIP))
    return spd_ctx_fail(m->ctx, SPD_EINVAL, "%s: core %d out of range 0..%d", where,
                        f->arg, SPD_CORES_PER_CHIP - 1);
  return 0;
}

static int visit_fault(spd_machine_t *m, const fault_t *f, const char *where,
                       bool apply) {
  if (apply) {
    apply_fault(m, f);
    return 0;
  }
  return check_fault(m, f, where);
}

/* A whole base-10 int, optionally signed. */
static bool parse_int(const char *s, int *out) {
  char *end;
  errno = 0;
  long v = strtol(s, &end, 10);
  if (end == s || *end != '\0' || errno || v < INT_MIN || v > INT_MAX)
    return false;
  *out = (int)v;
  return true;
}

/* Splits @p line (modified in place) into at most @p max tokens; returns how
 * many there were, or max + 1 when there were more. */
static int split(char *line, char **tokens, int max) {
  int n = 0;
  char *save = NULL;
  for (char *t = strtok_r(line, " \t\r", &save); t; t = strtok_r(NULL, " \t\r", &save)) {
    if (n == max)
      return max + 1;
    tokens[n++] = t;
  }
  return n;
}

static bool parse_fault_tokens(char **tok, int n, fault_t *f) {
  if (n < 3 || !parse_int(tok[1], &f->x) || !parse_int(tok[2], &f->y))
    return false;
  if (!strcmp(tok[0], "chip")) {
    f->kind = FAULT_CHIP;
    return n == 3;
  }
  if (n != 4)
    return false;
  if (!strcmp(tok[0], "core")) {
    f->kind = FAULT_CORE;
    return parse_int(tok[3], &f->arg);
  }
  if (!strcmp(tok[0], "link")) {
    f->kind = FAULT_LINK;
    f->arg = spd_link_parse(tok[3]);
    return f->arg >= 0;
  }
  return false;
}

/* Handles one line (without its newline); blank and comment lines pass. */
static int text_line(spd_machine_t *m, const char *text, size_t len, int lineno,
                     bool apply) {
  char line[LINE_MAX_CHARS + 1], where[LINE_MAX_CHARS + 32];
  if (len > LINE_MAX_CHARS)
    return spd_ctx_fail(m->ctx, SPD_EFORMAT, "fault line %d: longer than %d characters",
                        lineno, LINE_MAX_CHARS);
  memcpy(line, text, len);
  line[len] = '\0';
  snprintf(where, sizeof where, "fault line %d '%s'", lineno, line);
  char *hash = strchr(line, '#');
  if (hash)
    *hash = '\0';
  char *tok[4];
  int n = split(line, tok, 4);
  if (n == 0)
    return 0;
  fault_t f;
  if (!parse_fault_tokens(tok, n, &f))
    return spd_ctx_fail(m->ctx, SPD_EFORMAT,
                        "%s: expected 'chip X Y', 'core X Y C' or 'link X Y DIR' "
                        "(DIR one of E NE N W SW S)", where);
  return visit_fault(m, &f, where, apply);
}

static int text_faults(spd_machine_t *m, const char *text, bool apply) {
  int lineno = 1;
  for (const char *p = text;; lineno++) {
    const char *nl = strchr(p, '\n');
    size_t len = nl ? (size_t)(nl - p) : strlen(p);
    int err = text_line(m, p, len, lineno, apply);
    if (err || !nl)
      return err;
    p = nl + 1;
  }
}

/* Reads one JSON fault entry such as [1, 2, "NE"] (two numbers for a chip). */
static bool json_fault(const cJSON *entry, fault_kind_t kind, fault_t *f) {
  int arity = kind == FAULT_CHIP ? 2 : 3;
  if (!cJSON_IsArray(entry) || cJSON_GetArraySize(entry) != arity)
    return false;
  const cJSON *item[3];
  for (int i = 0; i < arity; i++) {
    item[i] = cJSON_GetArrayItem(entry, i);
    bool is_int = cJSON_IsNumber(item[i]) && item[i]->valuedouble == (double)item[i]->valueint;
    if (!is_int && !(kind == FAULT_LINK && i == 2 && cJSON_IsString(item[i])))
      return false;
  }
  *f = (fault_t){.kind = kind, .x = item[0]->valueint, .y = item[1]->valueint};
  if (kind == FAULT_CORE)
    f->arg = item[2]->valueint;
  if (kind != FAULT_LINK)
    return true;
  if (cJSON_IsString(item[2]))
    f->arg = spd_link_parse(item[2]->valuestring);
  else
    f->arg = (item[2]->valueint >= 0 && item[2]->valueint < SPD_LINKS) ? item[2]->valueint : -1;
  return f->arg >= 0;
}

static const char *const json_keys[] = {"dead_chips", "dead_cores", "dead_links"};
static const char *const json_forms[] = {"[x, y]", "[x, y, core]", "[x, y, \"DIR\"]"};

static int json_list(spd_machine_t *m, const cJSON *list, fault_kind_t kind, bool apply) {
  const char *key = json_keys[kind];
  if (!cJSON_IsArray(list))
    return spd_ctx_fail(m->ctx, SPD_EFORMAT, "fault JSON: \"%s\" must be an array", key);
  int i = 0;
  for (const cJSON *entry = list->child; entry; entry = entry->next, i++) {
    char where[96];
    snprintf(where, sizeof where, "fault JSON %s[%d]", key, i);
    fault_t f;
    if (!json_fault(entry, kind, &f))
      return spd_ctx_fail(m->ctx, SPD_EFORMAT, "%s: expected %s", where, json_forms[kind]);
    int err = visit_fault(m, &f, where, apply);
    if (err)
      return err;
  }
  return 0;
}

static int json_faults(spd_machine_t *m, const cJSON *root, bool apply) {
  if (!cJSON_IsObject(root))
    return spd_ctx_fail(m->ctx, SPD_EFORMAT, "fault JSON: expected an object");
  for (const cJSON *item = root->child; item; item = item->next) {
    int kind = -1;
    for (int k = 0; k < 3; k++)
      if (!strcmp(item->string, json_keys[k]))
        kind = k;
    if (kind < 0)
      return spd_ctx_fail(m->ctx, SPD_EFORMAT,
                          "fault JSON: unknown key \"%s\" (expected dead_chips, "
                          "dead_cores, dead_links)", item->string);
    int err = json_list(m, item, (fault_kind_t)kind, apply);
    if (err)
      return err;
  }
  return 0;
}

/* cJSON allocates through its own process-wide hooks, not the context's
 * allocator; the tree lives only inside this call. */
static int apply_json(spd_machine_t *m, const char *description) {
  cJSON *root = cJSON_Parse(description);
  if (!root) {
    const char *at = cJSON_GetErrorPtr();
    return spd_ctx_fail(m->ctx, SPD_EFORMAT, "fault JSON: syntax error near '%.20s'",
                        at ? at : "");
  }
  int err = json_faults(m, root, false);
  if (!err)
    json_faults(m, root, true);
  cJSON_Delete(root);
  return err;
}

int spd_machine_apply_faults(spd_machine_t *m, const char *description) {
  if (!description)
    return spd_ctx_fail(m->ctx, SPD_EINVAL, "no fault description");
  size_t skip = strspn(description, " \t\r\n");
  int err;
  if (description[skip] == '{') {
    err = apply_json(m, description);
  } else {
    err = text_faults(m, description, false);
    if (!err)
      text_faults(m, description, true);
  }
  if (!err)
    compact(m);
  return err;
}

static int read_text_file(spd_ctx_t *ctx, const char *path, char **out) {
  FILE *f = fopen(path, "rb");
  if (!f)
    return spd_ctx_fail(ctx, SPD_EIO, "cannot open fault file '%s': %s", path,
                        strerror(errno));
  char *text = NULL;
  size_t len = 0, cap = 0;
  int err = 0;
  for (;;) {
    if (len + 1 >= cap) {
      size_t ncap = cap ? cap * 2 : 4096;
      char *grown = spd_realloc(ctx, text, ncap);
      if (!grown) {
        err = spd_ctx_fail(ctx, SPD_ENOMEM, "reading fault file '%s': out of memory",
                           path);
        break;
      }
      text = grown;
      cap = ncap;
    }
    size_t got = fread(text + len, 1, cap - len - 1, f);
    len += got;
    if (got == 0)
      break;
  }
  if (!err && ferror(f))
    err = spd_ctx_fail(ctx, SPD_EIO, "cannot read fault file '%s'", path);
  fclose(f);
  if (err) {
    spd_free(ctx, text);
    return err;
  }
  text[len] = '\0';
  *out = text;
  return 0;
}

int spd_machine_apply_fault_file(spd_machine_t *m, const char *path) {
  char *text = NULL;
  int err = read_text_file(m->ctx, path, &text);
  if (err)
    return err;
  err = spd_machine_apply_faults(m, text);
  spd_free(m->ctx, text);
  return err;
}
