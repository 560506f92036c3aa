/* spindle: deep learning on SpiNNaker. The umbrella header: every public
 * header of include/spindle/, grouped by layer (DESIGN.md), so a program can
 * include this one file. tests/test_spindle_h.c checks that none is missing. */
#ifndef SPINDLE_SPINDLE_H
#define SPINDLE_SPINDLE_H

/* base/: errors, the context, fixed point, the RNG. */
#include "spindle/error.h"
#include "spindle/context.h"
#include "spindle/fixed.h"
#include "spindle/fixed_math.h"
#include "spindle/rng.h"

/* machine/, core/, emu/, host/: the machine, the on-core API, the emulator
 * and the transceiver. */
#include "spindle/machine.h"
#include "spindle/route.h"
#include "spindle/provenance.h"
#include "spindle/core.h"
#include "spindle/emu.h"
#include "spindle/transceiver.h"
#include "spindle/board.h"
#include "spindle/dataspec.h"

/* nn/, io/: models, the reference executor, optimizers, datasets and Keras
 * files. */
#include "spindle/model.h"
#include "spindle/numerics.h"
#include "spindle/reference.h"
#include "spindle/optim.h"
#include "spindle/metrics.h"
#include "spindle/compile.h"
#include "spindle/dataset.h"
#include "spindle/keras.h"
#include "spindle/onnx.h"

/* map/: partition, place, route. */
#include "spindle/partition.h"
#include "spindle/place.h"
#include "spindle/map_route.h"
#include "spindle/map_svg.h"

/* run/: training and running on the host or the machine. */
#include "spindle/checkpoint.h"
#include "spindle/fit.h"
#include "spindle/fit_fixed.h"
#include "spindle/machine_run.h"
#include "spindle/api.h"

#endif
