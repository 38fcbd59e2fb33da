/* Test plugin built twice, as dup_a and dup_b (-DDUP_MODULE): both provide
 * op "dup_op", so the second one loaded is refused. */
#include "identity_op.h"

static const dam_op_desc op = {
    .hdr = {sizeof(dam_op_desc), DAM_KIND_OP, "dup_op", "identity"},
    .infer_shape = ident_shape,
    .forward = ident_forward,
    .backward = ident_backward,
};

DAM_PLUGIN_DEFINE(DUP_MODULE, "1.0", "MIT", &op.hdr)
