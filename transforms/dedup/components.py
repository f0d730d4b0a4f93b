"""Survivors of the near-duplicate graph without chaining, the Beam way, and the survivor rule.

The rule: walk the problems in survivor order (:func:`survivor_rank`); a problem is dropped
when it is a verified near-duplicate of an earlier *survivor*, naming the first such survivor,
and survives otherwise. So a dropped problem always names a problem it was itself verified
against, and A~B, B~C never make C a duplicate of A unless C~A was verified: if A survives, B
goes, and C survives (its only earlier neighbour, B, was dropped). It is the
lexicographically-first maximal independent set of the graph, a function of the verified
edges alone, so every runner finds the same survivors.

Computed in rounds, written by hand because no library does this inside a Beam pipeline
without collecting the graph on one machine: every node knows its neighbours; each round every
node tells its later neighbours its status (survivor, dropped, undecided) through one
GroupByKey, and an undecided node decides as soon as every earlier neighbour before its first
surviving one has decided. A node without earlier neighbours survives at once, so duplicate
groups (near-cliques) settle in one or two rounds; what ``max_rounds`` leaves undecided is
kept (never a wrong drop; counted in ``dedup/unresolved_nodes``).
"""
from __future__ import annotations

from collections.abc import Iterable

import apache_beam as beam
from apache_beam.metrics import Metrics

from schemas.problem import Problem
from schemas.stages import DEDUP

Node = tuple[int, str]
SURVIVES, DROPPED_AS, UNDECIDED = "survives", "dropped", "undecided"
Status = tuple[str, Node | None]
State = tuple[Status, tuple[Node, ...], tuple[Node, ...]]


def survivor_rank(problem: Problem, preferred_sources: list[str]) -> Node:
    """Sort key of the survivor rule: listed sources first (in list order), then the smallest id."""
    order = preferred_sources.index(problem.source) if problem.source in preferred_sources else len(preferred_sources)
    return order, problem.id


def decide(earlier: Iterable[Node], statuses: dict[Node, Status]) -> Status:
    """A node's status from its earlier neighbours' (in rank order): dropped as a duplicate of the
    first survivor, undecided while an earlier neighbour before it is, survives when all were dropped."""
    for node in sorted(earlier):
        status = statuses.get(node, (UNDECIDED, None))[0]
        if status == SURVIVES:
            return DROPPED_AS, node
        if status == UNDECIDED:
            return UNDECIDED, None
    return SURVIVES, None


def greedy_survivors(edges: Iterable[tuple[Node, Node]]) -> dict[Node, Node]:
    """The rule applied in one pass (for tests and single-process baselines): dropped node → its survivor."""
    earlier: dict[Node, list[Node]] = {}
    for a, b in edges:
        earlier.setdefault(max(a, b), []).append(min(a, b))
        earlier.setdefault(min(a, b), [])
    statuses: dict[Node, Status] = {}
    for node in sorted(earlier):
        statuses[node] = decide(earlier[node], statuses)
    return {node: status[1] for node, status in statuses.items() if status[0] == DROPPED_AS}


def _init(keyed) -> tuple[Node, State]:
    node, neighbours = keyed
    unique = sorted(set(neighbours))
    earlier = tuple(n for n in unique if n < node)
    later = tuple(n for n in unique if n > node)
    return node, ((UNDECIDED, None) if earlier else (SURVIVES, None), earlier, later)


def _send(keyed):
    node, state = keyed
    yield node, ("self", state)
    for other in state[2]:
        yield other, ("status", node, state[0])


def step(node: Node, messages: Iterable[tuple]) -> tuple[Node, State]:
    """One round at ``node``: its state (``("self", state)``) updated from its earlier neighbours' statuses."""
    statuses: dict[Node, Status] = {}
    state = None
    for message in messages:
        if message[0] == "self":
            state = message[1]
        else:
            statuses[message[1]] = message[2]
    status, earlier, later = state
    if status[0] == UNDECIDED:
        status = decide(earlier, statuses)
    return node, (status, earlier, later)


class _Round(beam.PTransform):
    def expand(self, states):
        return states | "Send" >> beam.FlatMap(_send) | "Gather" >> beam.GroupByKey() | "Decide" >> beam.MapTuple(step)


def _dropped(keyed, unresolved):
    node, (status, _, _) = keyed
    if status[0] == UNDECIDED:
        unresolved.inc()
    elif status[0] == DROPPED_AS:
        yield node, status[1]


class ResolveSurvivors(beam.PTransform):
    """Undirected verified edges ``(Node, Node)`` → ``(node, survivor)`` for every dropped node."""

    def __init__(self, max_rounds: int):
        super().__init__()
        self._rounds = max_rounds

    def expand(self, edges):
        states = (
            edges
            | "BothWays" >> beam.FlatMap(lambda e: [e, (e[1], e[0])])
            | "Adjacency" >> beam.GroupByKey()
            | "Init" >> beam.Map(_init)
        )
        for i in range(self._rounds):
            states = states | f"Round{i}" >> _Round()
        unresolved = Metrics.counter(DEDUP.name, "unresolved_nodes")
        return states | "Dropped" >> beam.FlatMap(_dropped, unresolved)
