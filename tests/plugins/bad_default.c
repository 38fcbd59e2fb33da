/* Test plugin: an int parameter whose default (9) is outside its own range
 * [0, 4]. */
#include "identity_op.h"

typedef struct {
  int32_t level;
} bad_params;

static const dam_param_desc params[] = {
    DAM_PARAM(bad_params, level, DAM_PARAM_INT, 9, 0, 4, "a level"),
};

static const dam_op_desc op = {
    .hdr = {sizeof(dam_op_desc), DAM_KIND_OP, "bad_default_op", "identity",
            params, 1, sizeof(bad_params)},
    .infer_shape = ident_shape,
    .forward = ident_forward,
    .backward = ident_backward,
};

DAM_PLUGIN_DEFINE("bad_default", "1.0", "MIT", &op.hdr)
