/*
 * The host API table handed to plugins (sdk/diffautoml/plugin.h): the
 * core's tensors and kernels behind stable function pointers.
 */
#ifndef DAM_HOST_API_H
#define DAM_HOST_API_H

#include <diffautoml/plugin.h>

/* The process-wide table; static storage, never NULL. */
const dam_host_api *dam_host_api_get(void);

#endif
