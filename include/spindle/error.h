/* spindle error codes: one X-macro table gives the enum, the names and the
 * messages (after libuv's uv-errno). Every library function returns 0 on
 * success or a negative SPD_E* code; on failure its outputs are untouched. */
#ifndef SPINDLE_ERROR_H
#define SPINDLE_ERROR_H

#define SPD_ERRNO_MAP(X)                                                      \
  X(NOMEM, "out of memory")                                                   \
  X(INVAL, "invalid argument")                                                \
  X(RANGE, "value out of range")                                              \
  X(IO, "input/output error")                                                 \
  X(FORMAT, "malformed file or data")                                         \
  X(UNSUPPORTED, "unsupported feature")                                       \
  X(NOTFOUND, "not found")                                                    \
  X(SHAPE, "shape mismatch")                                                  \
  X(DTCM, "core DTCM exhausted")                                              \
  X(SDRAM, "chip SDRAM exhausted")                                            \
  X(ROUTER, "router table full")                                              \
  X(NOFIT, "model does not fit the machine")                                  \
  X(QUEUE, "queue full")                                                      \
  X(TIMEOUT, "timed out")                                                     \
  X(DROPPED, "packets were dropped")                                          \
  X(STATE, "operation not valid in this state")                               \
  X(KERNEL, "kernel failed")                                                  \
  X(INTERRUPTED, "stopped on request")

/* Positions in the table; the public codes are their negatives minus one. */
enum spd_errno_index_ {
#define SPD_ERRNO_INDEX_(name, msg) SPD_EI_##name,
  SPD_ERRNO_MAP(SPD_ERRNO_INDEX_)
#undef SPD_ERRNO_INDEX_
  SPD_ERRNO_COUNT
};

typedef enum spd_errno {
  SPD_OK = 0,
#define SPD_ERRNO_ENUM_(name, msg) SPD_E##name = -(SPD_EI_##name + 1),
  SPD_ERRNO_MAP(SPD_ERRNO_ENUM_)
#undef SPD_ERRNO_ENUM_
} spd_errno_t;

/** @return a static English message for code @p err ("unknown error" if none). */
const char *spd_strerror(int err);
/** @return the symbolic name of @p err, e.g. "SPD_ENOMEM". */
const char *spd_err_name(int err);

#endif
