/* Test plugin: built against a newer SDK minor whose dam_module grew by 16
 * bytes; otherwise valid. */
#include "identity_op.h"

static const dam_op_desc op = {
    .hdr = {sizeof(dam_op_desc), DAM_KIND_OP, "too_new_op", "identity"},
    .infer_shape = ident_shape,
    .forward = ident_forward,
    .backward = ident_backward,
};

static const dam_desc_header *const descs[] = {&op.hdr, NULL};

/* A 1.(N+1) module: the 1.N fields, then members this host doesn't know. */
static const struct {
  dam_module m;
  uint64_t added[2];
} module = {{sizeof(module), DAM_ABI_MAJOR, DAM_ABI_MINOR + 1, 0, "too_new",
             "1.0", "MIT", descs},
            {0, 0}};

DAM_PLUGIN_EXPORT const dam_module *DAM_PLUGIN_ENTRY(const dam_host_api *host,
                                                     uint32_t host_abi_minor);

DAM_PLUGIN_EXPORT const dam_module *DAM_PLUGIN_ENTRY(const dam_host_api *host,
                                                     uint32_t host_abi_minor) {
  (void)host;
  (void)host_abi_minor;
  return &module.m;
}
