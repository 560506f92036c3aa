/* The kernels of the Dense and convolution pipelines (docs/dense-on-machine.md,
 * docs/conv-on-machine.md), loadable
 * by name from every emulator (src/emu/kernel_registry.c). */
#ifndef SPINDLE_KERNELS_KERNELS_H
#define SPINDLE_KERNELS_KERNELS_H

#include "spindle/core.h"

extern const spd_kernel_t spd_kernel_dense_source;    /* "spindle_source" */
extern const spd_kernel_t spd_kernel_dense_tile;      /* "spindle_tile" */
extern const spd_kernel_t spd_kernel_dense_tile_full; /* "spindle_tile_full" */
extern const spd_kernel_t spd_kernel_dense_reducer;   /* "spindle_reducer" */
extern const spd_kernel_t spd_kernel_dense_loss;      /* "spindle_loss" */
extern const spd_kernel_t spd_kernel_dense_sink;      /* "spindle_sink" */
/* docs/conv-on-machine.md */
extern const spd_kernel_t spd_kernel_conv_tile;       /* "spindle_conv" */
extern const spd_kernel_t spd_kernel_pool_tile;       /* "spindle_pool" */

#endif
