"""The outlets file (``config/outlets.toml``) and OPML import/export. Pure apart from reading
the file it is given."""

from __future__ import annotations

import re
import tomllib
import xml.etree.ElementTree as ET
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from aggregator.errors import ConfigError, InputError
from aggregator.types import OutletConfig

SLUG = re.compile(r"^[a-z0-9][a-z0-9_-]{0,63}$")
REQUIRED = ("id", "name", "feeds")
KNOWN = {
    "id",
    "name",
    "homepage",
    "country",
    "language",
    "labels",
    "feeds",
    "interval_minutes",
}


def load_outlets(path: str | Path) -> list[OutletConfig]:
    """Read and validate an outlets file; errors name the outlet and the key."""
    path = Path(path)
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigError(f"cannot read outlets file: {exc.strerror}", resource=str(path)) from exc
    except (UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise ConfigError(f"invalid outlets file: {exc}", resource=str(path)) from exc
    return parse_outlets(raw, where=str(path))


def parse_outlets(raw: Mapping[str, Any], *, where: str = "outlets") -> list[OutletConfig]:
    defaults = raw.get("defaults", {})
    default_interval = defaults.get("interval_minutes") if isinstance(defaults, dict) else None
    entries = raw.get("outlet", [])
    if not isinstance(entries, list):
        raise ConfigError("[[outlet]] must be an array of tables", resource=where)
    outlets = [_outlet(entry, i, where, default_interval) for i, entry in enumerate(entries)]
    seen: set[str] = set()
    for outlet in outlets:
        if outlet.id in seen:
            raise ConfigError(f"duplicate outlet id {outlet.id!r}", resource=where)
        seen.add(outlet.id)
    return outlets


def _outlet(entry: Any, index: int, where: str, default_interval: Any) -> OutletConfig:
    if not isinstance(entry, dict):
        raise ConfigError(f"outlet #{index + 1} must be a table", resource=where)
    name = f"{where}: outlet {entry.get('id', f'#{index + 1}')!r}"
    missing = [key for key in REQUIRED if key not in entry]
    if missing:
        raise ConfigError(f"missing key(s) {missing}", resource=name)
    unknown = set(entry) - KNOWN
    if unknown:
        raise ConfigError(f"unknown key(s) {sorted(unknown)}", resource=name)
    outlet_id = _string(entry, "id", name)
    if not SLUG.match(outlet_id):
        raise ConfigError("id must be a lowercase slug (a-z, 0-9, -, _)", resource=name)
    feeds = entry["feeds"]
    if not isinstance(feeds, list) or not all(isinstance(f, str) for f in feeds):
        raise ConfigError("feeds must be a list of URLs", resource=name)
    for feed in feeds:
        _check_url(feed, f"{name} feed")
    interval = entry.get("interval_minutes", default_interval)
    if interval is not None and (not isinstance(interval, int) or interval < 1):
        raise ConfigError("interval_minutes must be a positive integer", resource=name)
    return OutletConfig(
        id=outlet_id,
        name=_string(entry, "name", name),
        homepage=_string(entry, "homepage", name, default=""),
        country=_string(entry, "country", name, default=""),
        language=_string(entry, "language", name, default=""),
        feeds=tuple(feeds),
        labels=_labels(entry.get("labels", {}), name),
        interval_minutes=interval,
    )


def _string(entry: Mapping[str, Any], key: str, name: str, default: str | None = None) -> str:
    value = entry.get(key, default)
    if not isinstance(value, str):
        raise ConfigError(f"{key} must be a string", resource=name)
    return value


def _labels(value: Any, name: str) -> dict[str, str]:
    if not isinstance(value, dict) or not all(isinstance(v, str) for v in value.values()):
        raise ConfigError("labels must be a table of strings", resource=name)
    return dict(value)


def _check_url(url: str, name: str) -> None:
    parts = urlsplit(url)
    if parts.scheme not in {"http", "https"} or not parts.netloc:
        raise ConfigError(f"not an http(s) URL: {url!r}", resource=name)


# -- OPML ---------------------------------------------------------------------------------


def read_opml(data: bytes, *, where: str = "opml") -> list[OutletConfig]:
    """Outlets from an OPML subscription list: one outlet per distinct outline title (or
    host), each with the feeds listed under it. Documents with a DOCTYPE are refused (no
    entity expansion of any kind)."""
    if b"<!DOCTYPE" in data[:4096].upper() or b"<!ENTITY" in data.upper():
        raise InputError("OPML with a DOCTYPE or entities is refused", resource=where)
    try:
        root = ET.fromstring(data)  # noqa: S314 - DOCTYPE/entities refused above
    except ET.ParseError as exc:
        raise InputError(f"not valid OPML: {exc}", resource=where) from exc
    grouped: dict[str, dict[str, Any]] = {}
    for outline in root.iter("outline"):
        url = outline.get("xmlUrl")
        if not url:
            continue
        try:
            _check_url(url, where)
        except ConfigError as exc:
            raise InputError(exc.message, resource=where) from exc
        title = (
            outline.get("title") or outline.get("text") or urlsplit(url).hostname or ""
        ).strip()
        entry = grouped.setdefault(
            slugify(title) or slugify(urlsplit(url).hostname or "outlet"),
            {"name": title, "homepage": outline.get("htmlUrl") or "", "feeds": []},
        )
        if url not in entry["feeds"]:
            entry["feeds"].append(url)
    return [
        OutletConfig(
            id=oid,
            name=e["name"] or oid,
            homepage=e["homepage"],
            country="",
            language="",
            feeds=tuple(e["feeds"]),
        )
        for oid, e in grouped.items()
    ]


def write_opml(outlets: Iterable[OutletConfig], *, title: str = "newsagg outlets") -> bytes:
    """An OPML 2.0 document listing every feed under its outlet."""
    root = ET.Element("opml", version="2.0")
    head = ET.SubElement(root, "head")
    ET.SubElement(head, "title").text = title
    body = ET.SubElement(root, "body")
    for outlet in outlets:
        group = ET.SubElement(body, "outline", text=outlet.name, title=outlet.name)
        for url in outlet.feeds:
            ET.SubElement(
                group,
                "outline",
                type="rss",
                text=outlet.name,
                title=outlet.name,
                xmlUrl=url,
                htmlUrl=outlet.homepage,
            )
    ET.indent(root)
    return bytes(ET.tostring(root, encoding="utf-8", xml_declaration=True))


def slugify(text: str) -> str:
    slug = re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")
    return slug[:64].strip("-")
