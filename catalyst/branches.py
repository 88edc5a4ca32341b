"""Branches of a fan-out node (`parallel`): which nodes each outgoing edge starts.

A fan-out node F's branch headed by H (a direct target of F) is every node
that F reaches only through H: H and the nodes H dominates in the graph of F
and its descendants (edges and expression reads alike, the dependencies the
scheduler waits for). A node that two branches reach (a join, where branches
meet) belongs to none of F's branches, nor does anything after it that the
join dominates. Within F's descendants a branch is closed under
predecessors: a node of a branch waits only for F, for nodes of its own
branch, or for nodes upstream of F.

A fan-out inside a branch of another nests: the nodes of an inner branch
belong to the outer branch too, and their tags list the outer fan-out first.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

import networkx as nx

# (fan-out node id, branch head id): one branch a node belongs to.
BranchTag = tuple[str, str]


def branch_heads(graph: nx.DiGraph[str], fan_out: str) -> tuple[str, ...]:
    """The branches of `fan_out`, by their first node, in a stable order."""
    return tuple(sorted(graph.successors(fan_out)))


def branches_of(graph: nx.DiGraph[str], fan_out: str) -> dict[str, str]:
    """Node id -> the head of the branch of `fan_out` it belongs to (nodes in none left out)."""
    heads = set(graph.successors(fan_out))
    reach = graph.subgraph({fan_out} | nx.descendants(graph, fan_out))
    dominators = nx.immediate_dominators(reach, fan_out)
    membership: dict[str, str] = {}
    for node in sorted(reach):
        if node == fan_out:
            continue
        # Up the dominator tree to the node right below the fan-out.
        top = node
        while dominators[top] != fan_out:
            top = dominators[top]
        if top in heads:
            membership[node] = top
    return membership


def branch_tags(
    graph: nx.DiGraph[str], fan_outs: Iterable[str], order: Mapping[str, int]
) -> dict[str, tuple[BranchTag, ...]]:
    """Node id -> every branch it belongs to, outer fan-outs (earlier in `order`) first.

    The runtime takes branch slots in this order, one global order for every
    node, so slots of nested or unrelated fan-outs can never wait on each other
    in a circle."""
    tags: dict[str, list[BranchTag]] = {}
    for fan_out in sorted(fan_outs, key=order.__getitem__):
        for node, head in branches_of(graph, fan_out).items():
            tags.setdefault(node, []).append((fan_out, head))
    return {node: tuple(found) for node, found in tags.items()}
