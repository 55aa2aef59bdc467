/// Terminal UI core: frames, layout, widgets, keys, themes and image overlays. Knows no ML.
public enum TerminalUI {}
