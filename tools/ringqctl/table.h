/*
 * table.h - aligned text tables for ringqctl's human-readable output, and
 * the small formatters its views share (durations, percentages).
 */
#ifndef CTL_TABLE_H
#define CTL_TABLE_H

#include <stddef.h>
#include <stdio.h>

#include <jansson.h>

#define CTL_MAX_COLS 16

struct ctl_table {
    int ncols;                  /* columns */
    const char *align;          /* per column: 'l' left, 'r' right */
    size_t width[CTL_MAX_COLS]; /* widest cell per column, in characters */
    char **cells;               /* rows x ncols strings, row 0 the header (malloc'd) */
    size_t nrows;               /* rows, header included */
    size_t cap;                 /* rows allocated */
};

/* headers: ncols names; align: ncols of 'l'/'r'. Returns 0 or -1 (no memory). */
int ctl_table_init(struct ctl_table *t, int ncols, const char *const *headers, const char *align);
/* Add a row of ncols cells (copied; NULL shows as "-"). */
int ctl_table_add(struct ctl_table *t, const char *const *cells);
/* Print it, columns two spaces apart, each line cut at max_width characters
 * (0: no cut). */
void ctl_table_print(const struct ctl_table *t, FILE *f, size_t max_width);
void ctl_table_free(struct ctl_table *t);

/* Characters (UTF-8 code points) in s. */
size_t ctl_utf8_len(const char *s);
/* "42s", "3m05s", "1h02m", "2d03h" of a JSON number of seconds; "-" when not a number. */
const char *ctl_fmt_duration(char *buf, size_t size, const json_t *seconds);
/* "85.0" of a JSON number; "-" for null. */
const char *ctl_fmt_percent(char *buf, size_t size, const json_t *v);
/* A JSON scalar as text ("-" for null or missing). */
const char *ctl_fmt_scalar(char *buf, size_t size, const json_t *v);

#endif
