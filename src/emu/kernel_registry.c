/* The kernels every emulator can load by name. Later layers add their
 * kernels here (one line each); tests and tools add more at run time with
 * spd_emu_register_kernel. */
#include "emu/emu_internal.h"
#include "kernels/kernels.h"

const spd_kernel_t *const spd__builtin_kernels[] = {
    &spd_kernel_dense_source,  &spd_kernel_dense_tile, &spd_kernel_dense_tile_full,
    &spd_kernel_dense_reducer, &spd_kernel_dense_loss, &spd_kernel_dense_sink,
    &spd_kernel_conv_tile,     &spd_kernel_pool_tile,
    NULL,
};
