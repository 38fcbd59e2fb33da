/* Test plugin: the entry exists but returns NULL (e.g. it failed to init). */
#include <diffautoml/plugin.h>

DAM_PLUGIN_EXPORT const dam_module *DAM_PLUGIN_ENTRY(const dam_host_api *host,
                                                     uint32_t host_abi_minor);

DAM_PLUGIN_EXPORT const dam_module *DAM_PLUGIN_ENTRY(const dam_host_api *host,
                                                     uint32_t host_abi_minor) {
  (void)host;
  (void)host_abi_minor;
  return NULL;
}
