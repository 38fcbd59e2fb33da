/*
 * Error codes: one X-macro table gives each DAM_E... code and its message.
 * Functions return 0 or a negative code; the context of the last failure
 * (file:line, plugin file and symbol, VkResult name) is kept per thread and
 * read with dam_last_error().
 */
#ifndef DAM_ERROR_H
#define DAM_ERROR_H

#define DAM_ERRORS(X)                                                  \
  X(OK, 0, "success")                                                  \
  X(EIO, -1, "i/o error")                                              \
  X(EINVAL, -2, "invalid argument")                                    \
  X(ENOMEM, -3, "out of memory")                                       \
  X(ENODEV, -4, "no Vulkan device")                                    \
  X(ENOTFOUND, -5, "not found")                                        \
  X(ERANGE, -6, "value out of range")                                  \
  X(EVULKAN, -7, "Vulkan call failed")                                 \
  X(EPLUGIN, -8, "plugin refused")                                     \
  X(ECONFIG, -9, "configuration error")                                \
  X(EDATA, -10, "data error")                                          \
  X(ESHAPE, -11, "shape mismatch")                                     \
  X(EVALIDATION, -12, "Vulkan validation error")

enum dam_error {
#define DAM__ERR_ENUM(name, code, msg) DAM_##name = code,
  DAM_ERRORS(DAM__ERR_ENUM)
#undef DAM__ERR_ENUM
};

/* Static message of a code ("unknown error" for anything else). */
const char *dam_strerror(int code);

/* Record `code` with a printf-style context message for this thread and
 * return `code`, so callers write `return dam_fail(DAM_EINVAL, ...)`.
 * dam_last_error() may be an argument, to add context to a failure. */
int dam_fail(int code, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* Context of the last dam_fail on this thread, or "" if none. */
const char *dam_last_error(void);

/* Forget the last error. */
void dam_clear_error(void);

#endif
