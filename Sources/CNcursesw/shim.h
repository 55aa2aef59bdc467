// Why this exists: Swift imports ncursesw's wide-character API through this shim. SwiftPM drops
// pkg-config -D flags, so NCURSES_WIDECHAR is defined here; the static inline getters expose what
// Swift cannot import (macros and C globals that Swift 6 treats as unsafe shared state).
#define NCURSES_WIDECHAR 1
#include <locale.h>
#include <wchar.h>
#include <ncursesw/curses.h>

static inline WINDOW *sumi_stdscr(void) { return stdscr; }
static inline int sumi_lines(void) { return LINES; }
static inline int sumi_cols(void) { return COLS; }
static inline attr_t sumi_a_bold(void) { return A_BOLD; }
static inline attr_t sumi_a_reverse(void) { return A_REVERSE; }
static inline attr_t sumi_a_underline(void) { return A_UNDERLINE; }
static inline attr_t sumi_a_dim(void) { return A_DIM; }
static inline int sumi_key_resize(void) { return KEY_RESIZE; }
static inline int sumi_key_mouse(void) { return KEY_MOUSE; }
static inline void sumi_set_escdelay(int ms) { set_escdelay(ms); }
