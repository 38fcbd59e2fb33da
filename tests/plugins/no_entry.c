/* Test plugin: a shared object exporting a symbol, but not the entry. */
#include <diffautoml/plugin.h>

DAM_PLUGIN_EXPORT int dam_plugin_version(void);

DAM_PLUGIN_EXPORT int dam_plugin_version(void) { return 1; }
