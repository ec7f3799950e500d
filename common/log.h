/* Leveled logging to stderr: one line per event, UTC timestamp, module tag. */
#ifndef LC_COMMON_LOG_H
#define LC_COMMON_LOG_H

enum lc_log_level {
    LC_LOG_DEBUG,
    LC_LOG_INFO,
    LC_LOG_WARN,
    LC_LOG_ERROR,
    LC_LOG_OFF, /* only as a level to print from: nothing */
};

/* Set the lowest level that is printed (default LC_LOG_INFO). */
void lc_log_set_level(enum lc_log_level level);

/* Set the lowest level printed for lines of @module alone (overrides the
 * global level; LC_LOG_OFF silences it). Return 0, or -1 when too many
 * modules have their own level. */
int lc_log_set_module_level(const char *module, enum lc_log_level level);

/* Parse "debug", "info", "warn" or "error"; return -1 if unknown. */
int lc_log_parse_level(const char *name);

void lc_log(enum lc_log_level level, const char *module, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#define lc_debugf(module, ...) lc_log(LC_LOG_DEBUG, module, __VA_ARGS__)
#define lc_infof(module, ...) lc_log(LC_LOG_INFO, module, __VA_ARGS__)
#define lc_warnf(module, ...) lc_log(LC_LOG_WARN, module, __VA_ARGS__)
#define lc_errorf(module, ...) lc_log(LC_LOG_ERROR, module, __VA_ARGS__)

#endif /* LC_COMMON_LOG_H */
