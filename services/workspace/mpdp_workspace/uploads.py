"""What an uploaded file really is, told from its bytes (never from its name or declared type)."""

from __future__ import annotations

import re
import struct
from xml.etree.ElementTree import Element, ParseError

from defusedxml import DefusedXmlException
from defusedxml.ElementTree import fromstring as parse_xml

from mpdp_common.errors import Problem, validation_failed

PNG = "image/png"
ICO = "image/x-icon"
SVG = "image/svg+xml"
PDF = "application/pdf"

#: per purpose: the types it takes and the largest file
PURPOSES: dict[str, tuple[frozenset[str], int]] = {
    "logo": (frozenset({PNG, SVG}), 512 * 1024),
    "favicon": (frozenset({PNG, ICO, SVG}), 256 * 1024),
    "terms_of_service": (frozenset({PDF}), 5 * 1024 * 1024),
}
#: the multipart body may be a little larger than the file it carries
MULTIPART_OVERHEAD = 16 * 1024

SVG_NS = "http://www.w3.org/2000/svg"
XLINK_NS = "http://www.w3.org/1999/xlink"
XML_NS = "http://www.w3.org/XML/1998/namespace"
#: drawing tools' own bookkeeping; browsers render nothing of these namespaces
EDITOR_NAMESPACES = frozenset(
    {
        "http://www.inkscape.org/namespaces/inkscape",
        "http://sodipodi.sourceforge.net/DTD/sodipodi-0.dtd",
        "http://www.w3.org/1999/02/22-rdf-syntax-ns#",
        "http://purl.org/dc/elements/1.1/",
        "http://creativecommons.org/ns#",
        "http://ns.adobe.com/AdobeIllustrator/10.0/",
        "http://www.bohemiancoding.com/sketch/ns",
    }
)
#: SVG elements that draw, group or describe; no script, style, foreignObject, image, link or animation
SVG_ELEMENTS = frozenset(
    """svg g defs symbol use title desc metadata switch path rect circle ellipse line polyline polygon text tspan
    textPath linearGradient radialGradient stop clipPath mask pattern marker filter feBlend feColorMatrix
    feComponentTransfer feComposite feDropShadow feFlood feFuncA feFuncB feFuncG feFuncR feGaussianBlur feMerge
    feMergeNode feMorphology feOffset""".split()
)
SVG_ATTRIBUTES = frozenset(
    """id class style transform viewBox width height x y x1 x2 y1 y2 cx cy r rx ry fx fy fr d points pathLength
    fill fill-opacity fill-rule stroke stroke-width stroke-linecap stroke-linejoin stroke-miterlimit
    stroke-dasharray stroke-dashoffset stroke-opacity opacity clip-path clip-rule mask filter color visibility
    display overflow offset stop-color stop-opacity gradientUnits gradientTransform spreadMethod patternUnits
    patternContentUnits patternTransform preserveAspectRatio version baseProfile font-family font-size
    font-weight font-style font-variant text-anchor dominant-baseline alignment-baseline baseline-shift
    letter-spacing word-spacing text-decoration writing-mode dx dy rotate textLength lengthAdjust startOffset
    markerWidth markerHeight refX refY orient markerUnits marker-start marker-mid marker-end clipPathUnits
    maskUnits maskContentUnits filterUnits primitiveUnits in in2 result stdDeviation mode operator k1 k2 k3 k4
    values type tableValues slope intercept amplitude exponent flood-color flood-opacity radius
    shape-rendering text-rendering color-interpolation color-interpolation-filters vector-effect paint-order
    enable-background isolation mix-blend-mode href""".split()
)
_LOCAL_URL = re.compile(r"url\(\s*['\"]?\s*#", re.IGNORECASE)
_CSS_ACTIVE = re.compile(r"@import|expression\s*\(|javascript:|behavior\s*:|-moz-binding|\\", re.IGNORECASE)


def _png(data: bytes) -> bool:
    if not data.startswith(b"\x89PNG\r\n\x1a\n") or len(data) < 33 or data[12:16] != b"IHDR":
        return False
    width, height = struct.unpack(">II", data[16:24])
    return 0 < width <= 8192 and 0 < height <= 8192


def _ico(data: bytes) -> bool:
    if len(data) < 6 or data[:4] != b"\x00\x00\x01\x00":
        return False
    (count,) = struct.unpack("<H", data[4:6])
    if not 0 < count <= 64 or len(data) < 6 + 16 * count:
        return False
    for index in range(count):
        size, offset = struct.unpack("<II", data[6 + 16 * index + 8 : 6 + 16 * index + 16])
        if size == 0 or offset + size > len(data):
            return False
    return True


def _svg(data: bytes) -> bool:
    """An SVG is taken only when every element and attribute is on the allow-lists: parsed by a
    real XML parser without DTDs or entities (defusedxml), so that no prefix, namespace trick or
    character reference hides a script, a link or an external fetch."""
    try:
        root = parse_xml(data.decode("utf-8-sig"), forbid_dtd=True)
    except (ParseError, DefusedXmlException, UnicodeDecodeError, ValueError):
        return False
    return root.tag == f"{{{SVG_NS}}}svg" and all(_inert(element) for element in root.iter())


def _split(name: str) -> tuple[str, str]:
    namespace, _, local = name[1:].partition("}") if name.startswith("{") else ("", "", name)
    return namespace, local


def _inert(element: Element) -> bool:
    namespace, local = _split(element.tag) if isinstance(element.tag, str) else ("", "")
    if namespace in EDITOR_NAMESPACES:  # not rendered; its attributes are the tool's settings
        return not any(_split(name)[1].lower().startswith("on") for name in element.attrib)
    if namespace != SVG_NS or local not in SVG_ELEMENTS:
        return False
    return all(_inert_attribute(name, value) for name, value in element.attrib.items())


def _inert_attribute(name: str, value: str) -> bool:
    namespace, local = _split(name)
    if namespace in EDITOR_NAMESPACES or (namespace == XML_NS and local in ("space", "lang")):
        return True
    if not ((namespace == "" and (local in SVG_ATTRIBUTES or local.startswith("data-"))) or (namespace == XLINK_NS and local == "href")):
        return False
    if local == "href":
        return value.strip().startswith("#")  # a reference inside the document, never a URL
    if "url(" in value.lower() and len(_LOCAL_URL.findall(value)) != value.lower().count("url("):
        return False
    return not (local == "style" and _CSS_ACTIVE.search(value))


def _pdf(data: bytes) -> bool:
    return data.startswith(b"%PDF-") and b"%%EOF" in data[-1024:]


_SNIFFERS = ((PNG, _png), (ICO, _ico), (PDF, _pdf), (SVG, _svg))


def sniff(data: bytes) -> str | None:
    """The content type of `data`, when it is a well-formed file of a type this service takes."""
    for content_type, looks_like in _SNIFFERS:
        if looks_like(data):
            return content_type
    return None


def check_upload(purpose: str, data: bytes) -> str:
    """The sniffed content type of an upload for `purpose`, or the problem that refuses it."""
    allowed, limit = PURPOSES[purpose]
    if len(data) > limit:
        raise Problem(413, f"The file is over the limit of {limit // 1024} KiB for a {purpose.replace('_', ' ')}.")
    if not data:
        raise validation_failed({"file": ["The file is empty."]})
    content_type = sniff(data)
    if content_type not in allowed:
        names = ", ".join(sorted(name.split("/")[-1].replace("x-icon", "ico").replace("svg+xml", "svg").upper() for name in allowed))
        raise validation_failed(
            {
                "file": [
                    f"The file is not a {names} file (an SVG may hold only drawing elements: "
                    "no scripts, style sheets, links, images, animations or entities)."
                ]
            },
            detail="The upload is not a file of the accepted type.",
        )
    return content_type
