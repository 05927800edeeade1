/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/* The full-screen view of `xfertrace top` (ncursesw). See docs/top.md. */
#ifndef XT_TOP_TUI_H
#define XT_TOP_TUI_H

#include <stdbool.h>
#include "top_frame.h"

struct top_tui;

struct top_tui_opts {
	struct top_view view;		/* initial sort and filter */
	bool show_all;
	bool marks_on;
	double delay_s;
};

/* Take over the terminal. Returns 0 or -errno (nothing printed). */
int top_tui__new(const struct top_tui_opts *o, struct top_tui **out);
/* A new frame: moved in (*f is left empty); ignored while paused. */
void top_tui__frame(struct top_tui *t, struct top_frame *f);
/* Handle pending keys and resizes; true once the user asked to quit. */
bool top_tui__input(struct top_tui *t);
/* The `a` key's state: list every process, idle ones too. */
bool top_tui__show_all(const struct top_tui *t);
/* Give the terminal back. */
void top_tui__free(struct top_tui *t);

#endif
