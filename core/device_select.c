/* Choosing a device: by index or name substring, else by type preference. */
#include "device.h"
#include "error.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char *dam_device_type_name(VkPhysicalDeviceType type) {
  switch (type) {
  case VK_PHYSICAL_DEVICE_TYPE_DISCRETE_GPU: return "discrete";
  case VK_PHYSICAL_DEVICE_TYPE_INTEGRATED_GPU: return "integrated";
  case VK_PHYSICAL_DEVICE_TYPE_VIRTUAL_GPU: return "virtual";
  case VK_PHYSICAL_DEVICE_TYPE_CPU: return "cpu";
  default: return "other";
  }
}

static int type_rank(VkPhysicalDeviceType type) {
  switch (type) {
  case VK_PHYSICAL_DEVICE_TYPE_DISCRETE_GPU: return 0;
  case VK_PHYSICAL_DEVICE_TYPE_INTEGRATED_GPU: return 1;
  case VK_PHYSICAL_DEVICE_TYPE_VIRTUAL_GPU: return 2;
  case VK_PHYSICAL_DEVICE_TYPE_CPU: return 3;
  default: return 4;
  }
}

static bool contains_nocase(const char *hay, const char *needle) {
  size_t n = strlen(needle);
  for (; *hay; hay++) {
    size_t i = 0;
    while (i < n && hay[i] &&
           tolower((unsigned char)hay[i]) == tolower((unsigned char)needle[i]))
      i++;
    if (i == n)
      return true;
  }
  return false;
}

static bool parse_index(const char *spec, unsigned long *out) {
  char *end;
  if (!isdigit((unsigned char)spec[0]))
    return false;
  *out = strtoul(spec, &end, 10);
  return *end == '\0';
}

static int no_match(const dam_device_info *infos, uint32_t count,
                    const char *spec) {
  char list[512] = "";
  size_t len = 0;
  for (uint32_t i = 0; i < count && len < sizeof list; i++)
    len += (size_t)snprintf(list + len, sizeof list - len, "%s%u: %s",
                            i ? ", " : "", i, infos[i].name);
  return dam_fail(DAM_ENOTFOUND,
                  "no Vulkan device matches '%s' (devices: %s)", spec,
                  count ? list : "none");
}

int dam_device_pick(const dam_device_info *infos, uint32_t count,
                    const char *spec, uint32_t *index) {
  if (spec && spec[0]) {
    unsigned long i;
    if (parse_index(spec, &i)) {
      if (i >= count)
        return no_match(infos, count, spec);
      *index = (uint32_t)i;
      return DAM_OK;
    }
    for (uint32_t k = 0; k < count; k++) {
      if (contains_nocase(infos[k].name, spec)) {
        *index = k;
        return DAM_OK;
      }
    }
    return no_match(infos, count, spec);
  }
  if (count == 0)
    return dam_fail(DAM_ENODEV, "no Vulkan device found");
  uint32_t best = 0;
  for (uint32_t k = 1; k < count; k++)
    if (type_rank(infos[k].type) < type_rank(infos[best].type))
      best = k;
  *index = best;
  return DAM_OK;
}

const char *dam_device_spec(const char *flag, const char *config) {
  if (flag && flag[0])
    return flag;
  const char *env = getenv("DIFFAUTOML_DEVICE");
  if (env && env[0])
    return env;
  return config;
}
