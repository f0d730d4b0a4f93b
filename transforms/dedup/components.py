"""Connected components of the duplicate graph, the Beam way, and the survivor rule.

Written by hand because no library computes components inside a Beam pipeline without
collecting the graph on one machine. Nodes are survivor ranks ``(preference, id)``; each round
every node sends its label (the smallest rank it has heard of) to its neighbours and a
GroupByKey takes the minimum, so only the edge lists move and no worker holds a global index.
After ``d`` rounds a node knows the smallest rank within distance ``d``; components from
candidate groups are mostly stars (see :func:`spanning_edges`), so a few rounds converge. A
component wider than ``max_rounds`` keeps one survivor per unconverged part (deterministic,
counted in the ``dedup/unconverged_nodes`` metric) instead of merging.
"""
from __future__ import annotations

from typing import Iterable

import apache_beam as beam
from apache_beam.metrics import Metrics

from schemas.problem import Problem

Node = tuple[int, str]


def survivor_rank(problem: Problem, preferred_sources: list[str]) -> Node:
    """Sort key of the survivor rule: listed sources first (in list order), then the smallest id."""
    order = preferred_sources.index(problem.source) if problem.source in preferred_sources else len(preferred_sources)
    return order, problem.id


def spanning_edges(pairs: Iterable[tuple[Node, Node]]) -> list[tuple[Node, Node]]:
    """Edges ``(smallest node, node)`` spanning the components of ``pairs`` (a local union-find)."""
    parent: dict[Node, Node] = {}

    def find(node: Node) -> Node:
        parent.setdefault(node, node)
        while parent[node] != node:
            parent[node] = parent[parent[node]]
            node = parent[node]
        return node

    for a, b in pairs:
        ra, rb = find(a), find(b)
        if ra != rb:
            parent[max(ra, rb)] = min(ra, rb)
    return sorted((find(n), n) for n in parent if find(n) != n)


def propagate(node: Node, messages: Iterable[tuple]) -> tuple[Node, tuple[Node, tuple[Node, ...]], bool]:
    """One round at ``node``: the new label (smallest heard), its neighbours, and whether the label changed.

    ``messages`` holds one ``("self", label, neighbours)`` and any ``("label", label)`` from neighbours.
    """
    own, neighbours, heard = node, (), []
    for message in messages:
        if message[0] == "self":
            own, neighbours = message[1], message[2]
        else:
            heard.append(message[1])
    label = min([own, *heard])
    return node, (label, neighbours), label != own


def _send(state: tuple[Node, tuple[Node, tuple[Node, ...]]]):
    node, (label, neighbours) = state
    yield node, ("self", label, neighbours)
    for other in neighbours:
        yield other, ("label", label)


class _Round(beam.PTransform):
    def __init__(self, last: bool):
        super().__init__()
        self._last = last

    def expand(self, states):
        unconverged = Metrics.counter("dedup", "unconverged_nodes")
        last = self._last

        def step(keyed):
            node, state, changed = propagate(*keyed)
            if changed and last:
                unconverged.inc()
            return node, state

        return states | "Send" >> beam.FlatMap(_send) | "Gather" >> beam.GroupByKey() | "Min" >> beam.Map(step)


class ConnectedComponents(beam.PTransform):
    """Undirected edges ``(Node, Node)`` → ``(node, survivor)`` for every node that is not its component's survivor."""

    def __init__(self, max_rounds: int):
        super().__init__()
        self._rounds = max_rounds

    def expand(self, edges):
        states = (
            edges
            | "BothWays" >> beam.FlatMap(lambda e: [e, (e[1], e[0])])
            | "Adjacency" >> beam.GroupByKey()
            | "Init" >> beam.Map(lambda kv: (kv[0], (kv[0], tuple(sorted(set(kv[1]))))))
        )
        for i in range(self._rounds):
            states = states | f"Round{i}" >> _Round(last=i == self._rounds - 1)
        return states | "NonSurvivors" >> beam.FlatMap(lambda s: [(s[0], s[1][0])] if s[1][0] != s[0] else [])
