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
static inline int sumi_colors(void) { return COLORS; }
static inline int sumi_color_pairs(void) { return COLOR_PAIRS; }
static inline int sumi_key_code_yes(void) { return KEY_CODE_YES; }
static inline int sumi_key_f0(void) { return KEY_F0; }
// Mouse masks are function-like macros (NCURSES_MOUSE_MASK), invisible to Swift.
static inline mmask_t sumi_button1_pressed(void) { return BUTTON1_PRESSED; }
static inline mmask_t sumi_button1_released(void) { return BUTTON1_RELEASED; }
static inline mmask_t sumi_button1_clicked(void) { return BUTTON1_CLICKED; }
static inline mmask_t sumi_button2_pressed(void) { return BUTTON2_PRESSED; }
static inline mmask_t sumi_button3_pressed(void) { return BUTTON3_PRESSED; }
static inline mmask_t sumi_button4_pressed(void) { return BUTTON4_PRESSED; }
static inline mmask_t sumi_button5_pressed(void) { return BUTTON5_PRESSED; }
static inline mmask_t sumi_button_shift(void) { return BUTTON_SHIFT; }
static inline mmask_t sumi_button_ctrl(void) { return BUTTON_CTRL; }
static inline mmask_t sumi_button_alt(void) { return BUTTON_ALT; }
