/* Structured logs: one JSON object per line on stderr.  Never pass a
 * secret in a field; values are copied as given. */
#ifndef KG_LOG_H
#define KG_LOG_H

enum kg_log_level { KG_LOG_DEBUG, KG_LOG_INFO, KG_LOG_WARN, KG_LOG_ERROR };

void kg_log_set_level(enum kg_log_level min);
/* kg_log(level, "event", "key1", "value1", "key2", "value2", NULL) */
void kg_log(enum kg_log_level level, const char *event, ...) __attribute__((sentinel));

#endif
