#include "spindle/error.h"

#include <stddef.h>

static const char *const messages[] = {
#define SPD_ERRNO_MSG_(name, msg) msg,
    SPD_ERRNO_MAP(SPD_ERRNO_MSG_)
#undef SPD_ERRNO_MSG_
};

static const char *const names[] = {
#define SPD_ERRNO_NAME_(name, msg) "SPD_E" #name,
    SPD_ERRNO_MAP(SPD_ERRNO_NAME_)
#undef SPD_ERRNO_NAME_
};

static int table_index(int err) {
  int index = -err - 1;
  return (index >= 0 && index < SPD_ERRNO_COUNT) ? index : -1;
}

const char *spd_strerror(int err) {
  if (err == SPD_OK)
    return "success";
  int index = table_index(err);
  return index < 0 ? "unknown error" : messages[index];
}

const char *spd_err_name(int err) {
  if (err == SPD_OK)
    return "SPD_OK";
  int index = table_index(err);
  return index < 0 ? "SPD_E_UNKNOWN" : names[index];
}
