/* Lowest-priority threads that keep a host's CPUs running while a CPU
 * device (lavapipe) works through a submit.  lavapipe wakes its worker
 * threads for every dispatch; a CPU that went idle between two dispatches
 * (a halted virtual CPU above all) takes longer to wake than a small
 * dispatch runs, so the first worker awake does all of it.  A spinner on
 * each CPU keeps them awake.  It spins on sched_yield, so a waking worker
 * waits one system call for its CPU, not a scheduler tick (Linux's EEVDF
 * lets even a nice-19 thread finish its slice).  It runs at nice 19, not
 * SCHED_IDLE: a CPU running only SCHED_IDLE threads counts as idle to
 * Linux's wake-up placement, which then sent both workers to it.  Where
 * the workers run is cpu_pin.h's business.  docs/RUNTIME.md, "lavapipe's
 * threads". */
#ifndef DAM_CPU_SPIN_H
#define DAM_CPU_SPIN_H

#include <stdbool.h>
#include <stdint.h>

typedef struct dam_cpu_spin dam_cpu_spin;

/* The spinners' thread name (ps, top). */
#define DAM_CPU_SPIN_NAME "dam-spin"

/* Start `threads` spinners, asleep until dam_cpu_spin_busy, spinner i
 * pinned to the i-th CPU the process may use; NULL (nothing spins) when
 * threads is 0 or $DIFFAUTOML_CPU_SPIN is "0".  A spinner the host cannot
 * give nice 19 ends at once. */
dam_cpu_spin *dam_cpu_spin_start(uint32_t threads);

/* Spin (busy) or sleep (not); s may be NULL. */
void dam_cpu_spin_busy(dam_cpu_spin *s, bool busy);

/* Stop and join the spinners; s may be NULL. */
void dam_cpu_spin_stop(dam_cpu_spin *s);

#endif
