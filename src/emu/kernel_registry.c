/* The kernels every emulator can load by name. Later layers add their
 * kernels here (one line each); tests and tools add more at run time with
 * spd_emu_register_kernel. */
#include "emu/emu_internal.h"

const spd_kernel_t *const spd__builtin_kernels[] = {
    NULL,
};
