#!/usr/bin/python3
"""Saves what the X display shows inside a rectangle as a PNG.

    xshot.py FILE X Y WIDTH HEIGHT

The desktop end-to-end tests take their screenshots with this instead of WebDriver's: the
app paints its page without accelerated compositing, and WebKitWebDriver's screenshot
command (WebKitGTK 2.50) then never answers. Reading the display shows the real window,
native menu bar included. Needs python3-gi and gir1.2-gtk-3.0 (scripts/setup-desktop.sh).
"""

import sys

import gi

gi.require_version("Gdk", "3.0")
from gi.repository import Gdk  # noqa: E402


def main(argv: list[str]) -> int:
    if len(argv) != 6:
        print(__doc__.strip().splitlines()[2].strip(), file=sys.stderr)
        return 2
    path = argv[1]
    x, y, width, height = (int(float(v)) for v in argv[2:])
    root = Gdk.get_default_root_window()
    if root is None:
        print("no X display (is DISPLAY set?)", file=sys.stderr)
        return 1
    # Keep the rectangle on the screen.
    x, y = max(x, 0), max(y, 0)
    width = min(width, root.get_width() - x)
    height = min(height, root.get_height() - y)
    if width <= 0 or height <= 0:
        print(f"the rectangle is off the screen: {argv[2:]}", file=sys.stderr)
        return 1
    pixbuf = Gdk.pixbuf_get_from_window(root, x, y, width, height)
    if pixbuf is None:
        print("could not read the display", file=sys.stderr)
        return 1
    pixbuf.savev(path, "png", [], [])
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
