/* ONNX import: a PyTorch (or any) model exported to ONNX becomes a spindle
 * model, read natively with protobuf-c against ONNX's own schema (compiled
 * at build time from Debian's python3-onnx). Opsets 9 to 17 of the default
 * domain (and 6 to 8, which ONNX's backend test cases use); the operators and how each maps onto spindle's Keras layers are in
 * docs/onnx.md. The graph's NCHW tensors become spindle's channels-last
 * layout with every weight permuted once at load time; the model remembers
 * that its file is channels first (spd_model_t.channels_first) so samples
 * and outputs keep the layout the file declares. */
#ifndef SPINDLE_ONNX_H
#define SPINDLE_ONNX_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "spindle/context.h"
#include "spindle/model.h"

/** True when @p path names an ONNX file (ends in .onnx). */
bool spd_onnx_path(const char *path);

/** Build a model from the serialized ModelProto @p data (@p len bytes,
 *  borrowed). Initializers stored as external data are read relative to
 *  @p base_dir (NULL: refused); their locations must stay inside it.
 *  @param seed  initialises what the file leaves out (nothing, for a graph
 *               whose weights are all initializers)
 *  @param out   a new built model owned by the caller (spd_model_free)
 *  @return 0; SPD_EFORMAT (not a ModelProto, truncated, a tensor whose data
 *          does not match its dims or type, a cyclic graph, a value used
 *          before it is produced: the diagnostic names node and value),
 *          SPD_EUNSUPPORTED (operators spindle does not read: every one is
 *          named with its node and the opset, at once; an attribute value it
 *          cannot express: names node, attribute and value; opset outside
 *          9..17), SPD_ESHAPE, SPD_EINVAL, SPD_ENOMEM. */
int spd_onnx_parse(spd_ctx_t *ctx, const uint8_t *data, size_t len, const char *base_dir,
                   uint64_t seed, spd_model_t **out);

/** spd_onnx_parse on the contents of @p path, external data beside it
 *  (SPD_EIO if unreadable). */
int spd_onnx_load(spd_ctx_t *ctx, const char *path, uint64_t seed, spd_model_t **out);

#endif
