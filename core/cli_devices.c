/* `diffautoml devices`: list Vulkan devices, marking the selected one. */
#include "cli.h"
#include "device.h"
#include "error.h"

#include <stdlib.h>

int dam_cmd_devices(const dam_cli_opts *opts, int argc, char **argv) {
  FILE *out = stdout;
  if (dam_cli_no_args(argc, argv))
    return DAM_EXIT_USAGE;
  dam_device_info *infos = NULL;
  uint32_t n = 0, selected = 0;
  int err = dam_device_list(&infos, &n);
  if (err) {
    fprintf(stderr, "diffautoml: %s\n", dam_last_error());
    return DAM_EXIT_RUNTIME;
  }
  const char *spec = dam_device_spec(opts->device, NULL);
  err = dam_device_pick(infos, n, spec, &selected);
  if (err) {
    fprintf(stderr, "diffautoml: %s\n", dam_last_error());
    free(infos);
    return DAM_EXIT_USAGE;
  }
  fprintf(out, "  %-5s %-40s %-10s %10s  %s\n", "index", "name", "type",
          "memory", "driver");
  for (uint32_t i = 0; i < n; i++)
    fprintf(out, "%c %-5u %-40s %-10s %6.1f GiB  0x%08x%s\n",
            i == selected ? '*' : ' ', i, infos[i].name,
            dam_device_type_name(infos[i].type),
            (double)infos[i].memory_bytes / (1u << 30),
            infos[i].driver_version, i == selected ? "  (selected)" : "");
  free(infos);
  return DAM_EXIT_OK;
}
