"""The shapes of config values that the build writes into CSS and HTML attributes: a value
that does not match could break out of its declaration or link somewhere unintended."""

from __future__ import annotations

import posixpath
import re
from urllib.parse import SplitResult, urlsplit

_NUMBER = r"[-+]?(?:\d+\.?\d*|\.\d+)(?:e[-+]?\d+)?(?:%|deg|grad|rad|turn)?|none"
_ARGUMENTS = rf"(?:{_NUMBER})(?:\s*[,/]?\s*(?:{_NUMBER}))*"
_COLOR = re.compile(
    rf"#(?:[0-9a-f]{{3,4}}|[0-9a-f]{{6}}|[0-9a-f]{{8}})"
    rf"|(?:rgba?|hsla?|hwb|lab|lch|oklab|oklch)\(\s*{_ARGUMENTS}\s*\)"
    rf"|color\(\s*[a-z][a-z0-9-]*\s+{_ARGUMENTS}\s*\)",
    re.IGNORECASE,
)
# CSS's named colours, one string so the list stays readable.
NAMED_COLORS = frozenset(
    """transparent currentcolor aliceblue antiquewhite aqua aquamarine azure beige bisque black
    blanchedalmond blue blueviolet brown burlywood cadetblue chartreuse chocolate coral
    cornflowerblue cornsilk crimson cyan darkblue darkcyan darkgoldenrod darkgray darkgreen
    darkgrey darkkhaki darkmagenta darkolivegreen darkorange darkorchid darkred darksalmon
    darkseagreen darkslateblue darkslategray darkslategrey darkturquoise darkviolet deeppink
    deepskyblue dimgray dimgrey dodgerblue firebrick floralwhite forestgreen fuchsia
    gainsboro ghostwhite gold goldenrod gray green greenyellow grey honeydew hotpink
    indianred indigo ivory khaki lavender lavenderblush lawngreen lemonchiffon lightblue
    lightcoral lightcyan lightgoldenrodyellow lightgray lightgreen lightgrey lightpink
    lightsalmon lightseagreen lightskyblue lightslategray lightslategrey lightsteelblue
    lightyellow lime limegreen linen magenta maroon mediumaquamarine mediumblue mediumorchid
    mediumpurple mediumseagreen mediumslateblue mediumspringgreen mediumturquoise
    mediumvioletred midnightblue mintcream mistyrose moccasin navajowhite navy oldlace olive
    olivedrab orange orangered orchid palegoldenrod palegreen paleturquoise palevioletred
    papayawhip peachpuff peru pink plum powderblue purple rebeccapurple red rosybrown
    royalblue saddlebrown salmon sandybrown seagreen seashell sienna silver skyblue
    slateblue slategray slategrey snow springgreen steelblue tan teal thistle tomato
    turquoise violet wheat white whitesmoke yellow yellowgreen""".split()  # noqa: SIM905
)
# Characters that have no place in a URL as written: they would end an attribute or a
# declaration, or hide what the URL really is.
_UNSAFE_IN_URL = re.compile(r"[\s\"'<>\\^`{|}\x00-\x1f\x7f]")


def is_css_color(value: str) -> bool:
    """A hex colour, rgb()/hsl()/hwb()/lab()/lch()/oklab()/oklch()/color(), or a named one."""
    text = value.strip()
    return text.lower() in NAMED_COLORS or _COLOR.fullmatch(text) is not None


def is_web_url(value: str) -> bool:
    """An absolute http(s) URL with a host."""
    parts = _split(value)
    return bool(parts and parts.scheme in ("http", "https") and parts.hostname)


def is_site_url(value: str) -> bool:
    """Where a site is served: an http(s) URL, or a path from the host's root ("/repo/")."""
    if value.startswith("/") and not value.startswith("//"):
        parts = _split(value)
        return bool(parts and not parts.query)
    return is_web_url(value)


def is_docs_path(value: str) -> bool:
    """A relative path that stays inside docs_dir ("img/logo.svg"): no scheme, no root."""
    normal = posixpath.normpath(value)
    return bool(
        value
        and ":" not in value.split("/")[0]
        and not value.startswith("/")
        and not re.search(r"[\\\x00-\x1f\x7f]", value)
        and normal != ".."
        and not normal.startswith("../")
    )


def _split(value: str) -> SplitResult | None:
    """The parts of a URL free of unsafe characters; None for any other value."""
    if not value or _UNSAFE_IN_URL.search(value):
        return None
    try:
        return urlsplit(value)
    except ValueError:  # e.g. an unclosed "[" of an IPv6 host
        return None
