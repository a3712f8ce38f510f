"""YAML from clients of the job server, parsed with limits.

A submitted config is read as `config.load_yaml` reads a config (YAML 1.2 numbers, safe tags only), with three
limits on top, checked while the document is composed, before anything is built from it:

- at most `MAX_ALIASES` alias uses (`*name`);
- at most `MAX_NODES` nodes once every alias is expanded: an alias counts the nodes of what it names, so nested
  aliases ("billion laughs": 9 aliases of 9 aliases of ...) are refused after a few hundred nodes of work
  instead of being validated, copied and printed as a billion-element tree;
- at most `MAX_DEPTH` levels of nesting.

The text itself is capped by the protocol schema (`config_yaml` maxLength). The server also runs the parse in a
thread with a timeout (`server.py`), so one client's config never stalls the event loop.
"""

from __future__ import annotations

from typing import Any

import yaml
from yaml.events import AliasEvent

from .config import _Yaml12Loader

MAX_ALIASES = 64
MAX_NODES = 20_000
MAX_DEPTH = 64


class YamlLimitError(yaml.YAMLError):
    """The document is over one of the limits; the message says which."""


class _LimitedLoader(_Yaml12Loader):
    def __init__(self, stream: str) -> None:
        super().__init__(stream)
        self._expanded = 0
        self._aliases = 0
        self._depth = 0
        self._weights: dict[int, int] = {}

    def compose_node(self, parent: Any, index: Any) -> Any:
        if self.check_event(AliasEvent):
            anchor = self.peek_event().anchor
            self._aliases += 1
            if self._aliases > MAX_ALIASES:
                raise YamlLimitError(f"more than {MAX_ALIASES} aliases (*name)")
            target = self.anchors.get(anchor)
            self._count(self._weights.get(id(target), 1))
            return super().compose_node(parent, index)
        self._depth += 1
        if self._depth > MAX_DEPTH:
            raise YamlLimitError(f"nested deeper than {MAX_DEPTH} levels")
        start = self._expanded
        node = super().compose_node(parent, index)
        self._depth -= 1
        self._count(1)
        self._weights[id(node)] = self._expanded - start
        return node

    def _count(self, nodes: int) -> None:
        self._expanded += nodes
        if self._expanded > MAX_NODES:
            raise YamlLimitError(f"more than {MAX_NODES} values once its aliases are expanded")


def load_client_yaml(text: str) -> Any:
    """What `config.load_yaml` reads (the same loader), with the limits above; raises yaml.YAMLError (YamlLimitError for a limit)."""
    loader = _LimitedLoader(text)
    try:
        return loader.get_single_data()
    finally:
        loader.dispose()
