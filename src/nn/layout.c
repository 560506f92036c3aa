/* Channels-first files (ONNX's NCHW) against the layers' channels-last
 * order: one transposition of each sample at the door, so no layer ever
 * sees channels first. */
#include <string.h>

#include "spindle/model.h"

/* (spatial..., channels) <-> (channels, spatial...) for shape @p cl
 * (channels last): @p to_first picks the direction. */
static void transpose(const spd_shape_t *cl, const float *in, float *out, bool to_first) {
  size_t channels = (size_t)cl->dims[cl->rank - 1];
  size_t positions = spd_shape_size(cl) / (channels ? channels : 1);
  for (size_t p = 0; p < positions; p++)
    for (size_t c = 0; c < channels; c++) {
      size_t last = p * channels + c, first = c * positions + p;
      if (to_first)
        out[first] = in[last];
      else
        out[last] = in[first];
    }
}

void spd_model_input_channels_last(const spd_model_t *m, const float *in, float *out) {
  const spd_shape_t *s = &m->layers[0].output_shape;
  if (m->channels_first && s->rank >= 2)
    transpose(s, in, out, false);
  else
    memcpy(out, in, spd_shape_size(s) * sizeof *out);
}

void spd_model_output_channels_first(const spd_model_t *m, const float *in, float *out) {
  const spd_shape_t *cl = &m->output_channels_last;
  if (cl->rank >= 2)
    transpose(cl, in, out, true);
  else
    memcpy(out, in, spd_shape_size(&m->layers[m->output].output_shape) * sizeof *out);
}
