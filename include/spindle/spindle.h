/* spindle: deep learning on SpiNNaker. The umbrella header. */
#ifndef SPINDLE_SPINDLE_H
#define SPINDLE_SPINDLE_H

#include "spindle/context.h"
#include "spindle/error.h"
#include "spindle/fixed.h"
#include "spindle/rng.h"

#endif
