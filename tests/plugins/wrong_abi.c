/* Test plugin: built for a future plugin ABI 2 (entry dam_plugin_entry_v2). */
#include <diffautoml/plugin.h>

DAM_PLUGIN_EXPORT const void *dam_plugin_entry_v2(const void *host,
                                                  uint32_t host_abi_minor);

DAM_PLUGIN_EXPORT const void *dam_plugin_entry_v2(const void *host,
                                                  uint32_t host_abi_minor) {
  (void)host;
  (void)host_abi_minor;
  return NULL;
}
