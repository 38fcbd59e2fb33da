/* lavapipe's worker threads: the config's choice, passed on as
 * $LP_NUM_THREADS. */
#include "cpu_threads.h"

#include <stdio.h>
#include <stdlib.h>

int dam_cpu_threads_pick(int64_t configured, uint64_t cell_floats) {
  if (configured >= 0)
    return (int)configured;
  return cell_floats < DAM_CPU_INLINE_FLOATS ? 0 : -1;
}

int dam_cpu_threads_apply(int threads) {
  static int user_set = -1; /* $LP_NUM_THREADS given by the user */
  if (user_set < 0)
    user_set = getenv("LP_NUM_THREADS") != NULL;
  if (user_set)
    return atoi(getenv("LP_NUM_THREADS"));
  if (threads < 0) {
    unsetenv("LP_NUM_THREADS");
    return -1;
  }
  char text[16];
  snprintf(text, sizeof text, "%d", threads);
  setenv("LP_NUM_THREADS", text, 1);
  return threads;
}
